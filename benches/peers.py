#!/usr/bin/env python3
"""Runs one query on DuckDB or DataFusion (their Python packages) over the files a tarn-bench
workload describes, and prints one JSON report on stdout, the same shape the Tarn worker prints:

  {"engine", "version", "times_ms": [...], "rows": [[...], ...], "error", "peak_rss_kb"}

Tables are views (DuckDB) or registered listing tables (DataFusion) over the very files Tarn reads;
nothing is imported. Called by `tarn-bench`, one process per engine and query:

  python3 peers.py --engine duckdb --workload workload.json --query-file q01.sql --runs 3
  python3 peers.py --engine datafusion --version

The crawl workload (`tarn-bench crawl`) asks each engine to discover a Hive lake of Parquet objects
and count its rows, which reads every footer, in a new connection per run:

  python3 peers.py --engine duckdb --crawl /data/crawl/objects-100000/lake --runs 3
  python3 peers.py --engine datafusion --crawl s3://lake/ --runs 3   (AWS_* from the environment)

The write workload (`tarn-bench write`) times DuckDB's side of one write case described by a JSON
case file ({"case": "ctas" | "ctas-ship-year" | "copy-csv", "source": folder, "columns": [...]}):
`COPY (SELECT ...) TO ... (FORMAT PARQUET, COMPRESSION SNAPPY[, PARTITION_BY (ship_year)])`, or
`COPY t FROM '...csv' (HEADER)` into a file database, each run into a fresh folder under OUT that is
removed afterwards. The peak memory is read right after the last write; the read-back
[count(*), sum(l_extendedprice)] of what the last run wrote is the report's one row:

  python3 peers.py --engine duckdb --write ctas.json --out /data/runs/write-sf0.1/duckdb-run --runs 3
"""

import argparse
import datetime
import decimal
import json
import math
import re
import sys
import time


def duckdb_type(hive_type):
    """DuckDB's spelling of a Hive column type (the workload's types)."""
    t = hive_type.lower()
    return {"bigint": "BIGINT", "int": "INTEGER", "string": "VARCHAR", "date": "DATE", "double": "DOUBLE",
            "boolean": "BOOLEAN"}.get(t) or t.upper()


def arrow_type(hive_type):
    """The Arrow type DataFusion reads a CSV column of this Hive type as."""
    import pyarrow as pa
    t = hive_type.lower()
    simple = {"bigint": pa.int64(), "int": pa.int32(), "string": pa.string(), "date": pa.date32(),
              "double": pa.float64(), "boolean": pa.bool_()}
    if t in simple:
        return simple[t]
    m = re.fullmatch(r"decimal\((\d+),\s*(\d+)\)", t)
    if m:
        return pa.decimal128(int(m.group(1)), int(m.group(2)))
    raise ValueError(f"no Arrow type for {hive_type}")


class DuckDb:
    name = "duckdb"

    def __init__(self):
        import duckdb
        self.duckdb = duckdb
        self.version = duckdb.__version__
        self.con = None

    def register(self, tables):
        self.con = self.duckdb.connect()
        for t in tables:
            if t["format"] == "parquet":
                source = f"read_parquet('{t['location']}/*.parquet')"
            else:
                columns = ", ".join(f"'{n}': '{duckdb_type(ty)}'" for n, ty in t["columns"])
                source = (f"read_csv('{t['location']}/*.csv', header = true, delim = ',', quote = '\"', "
                          f"columns = {{{columns}}})")
            self.con.execute(f"CREATE VIEW {t['name']} AS SELECT * FROM {source}")

    def run(self, sql):
        return self.con.sql(sql).to_arrow_table()


class DataFusion:
    name = "datafusion"

    def __init__(self):
        import datafusion
        self.datafusion = datafusion
        self.version = datafusion.__version__
        self.ctx = None

    def register(self, tables):
        import pyarrow as pa
        self.ctx = self.datafusion.SessionContext()
        for t in tables:
            path = t["location"].rstrip("/") + "/"
            if t["format"] == "parquet":
                self.ctx.register_parquet(t["name"], path)
            else:
                schema = pa.schema([(n, arrow_type(ty)) for n, ty in t["columns"]])
                self.ctx.register_csv(t["name"], path, schema=schema, has_header=True, delimiter=",")

    def run(self, sql):
        return self.ctx.sql(sql).to_arrow_table()


ENGINES = {"duckdb": DuckDb, "datafusion": DataFusion}


def crawl_once(engine, root):
    """Discovers the lake under `root` (its `events/` Hive table) and counts its rows."""
    root = root.rstrip("/")
    if engine.name == "duckdb":
        con = engine.duckdb.connect()
        try:
            glob = f"{root}/**/*.parquet"
            return con.execute(f"SELECT count(*) FROM read_parquet('{glob}', hive_partitioning = 1)").fetchone()[0]
        finally:
            con.close()
    import os
    ctx = engine.datafusion.SessionContext()
    if root.startswith("s3://"):
        from datafusion.object_store import AmazonS3
        bucket = root[len("s3://"):].split("/")[0]
        store = AmazonS3(bucket_name=bucket, region=os.environ.get("AWS_REGION"),
                         access_key_id=os.environ.get("AWS_ACCESS_KEY_ID"),
                         secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY"),
                         endpoint=os.environ.get("AWS_ENDPOINT_URL"), allow_http=True)
        ctx.register_object_store("s3://", store, bucket)
    ctx.register_parquet("events", f"{root}/events/", table_partition_cols=[("day", "string"), ("hour", "string")])
    return ctx.sql("SELECT count(*) FROM events").to_arrow_table().column(0)[0].as_py()


def write_runs(engine, case_file, out, runs, report):
    """DuckDB's side of `tarn-bench write` (see the module docstring); fills `report`."""
    import os
    import shutil
    if engine.name != "duckdb":
        raise ValueError("the write workload runs on DuckDB only")
    with open(case_file) as f:
        spec = json.load(f)
    source, case = spec["source"].rstrip("/"), spec["case"]
    names = [n for n, _ in spec["columns"]]
    for run in range(runs):
        if os.path.exists(out):
            shutil.rmtree(out)
        os.makedirs(out)
        try:
            if case == "copy-csv":
                con = engine.duckdb.connect(os.path.join(out, "lineitem.duckdb"))
                typed = ", ".join(f"{n} {duckdb_type(t)}" for n, t in spec["columns"])
                con.execute(f"CREATE TABLE lineitem_local ({typed})")
                sql = f"COPY lineitem_local FROM '{source}/*.csv' (HEADER)"
                started = time.perf_counter()
                con.execute(sql)
                con.execute("CHECKPOINT")
                report["times_ms"].append((time.perf_counter() - started) * 1000.0)
                check = "SELECT count(*), sum(l_extendedprice) FROM lineitem_local"
            else:
                con = engine.duckdb.connect()
                select = ", ".join(names)
                options = "FORMAT PARQUET, COMPRESSION SNAPPY"
                if case == "ctas-ship-year":
                    select += ", year(l_shipdate) AS ship_year"
                    options += ", PARTITION_BY (ship_year)"
                elif case != "ctas":
                    raise ValueError(f"unknown write case {case}")
                target = os.path.join(out, "written")
                sql = (f"COPY (SELECT {select} FROM read_parquet('{source}/*.parquet')) "
                       f"TO '{target}' ({options})")
                started = time.perf_counter()
                con.execute(sql)
                report["times_ms"].append((time.perf_counter() - started) * 1000.0)
                glob = f"{target}/**/*.parquet" if case == "ctas-ship-year" else target
                check = f"SELECT count(*), sum(l_extendedprice) FROM read_parquet('{glob}')"
            if run + 1 == runs:
                report["peak_rss_kb"] = peak_rss_kb()
                report["rows"] = [[neutral(v) for v in con.execute(check).fetchone()]]
            con.close()
        finally:
            shutil.rmtree(out, ignore_errors=True)


def neutral(value):
    """A value as tarn-bench compares it: ints, floats (decimals too), ISO dates, strings, null."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, (datetime.datetime, datetime.date)):
        return value.isoformat()
    return str(value)


def rows_of(table):
    columns = [column.to_pylist() for column in table.columns]
    return [[neutral(v) for v in row] for row in zip(*columns)]


def peak_rss_kb():
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", required=True, choices=sorted(ENGINES))
    parser.add_argument("--workload")
    parser.add_argument("--query-file")
    parser.add_argument("--crawl", metavar="ROOT", help="discover the lake under ROOT and count its rows")
    parser.add_argument("--write", metavar="CASE_FILE", help="time DuckDB's side of one write case")
    parser.add_argument("--out", help="the folder the write case writes into (fresh per run)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--version", action="store_true", help="print the engine's version and exit")
    args = parser.parse_args()

    report = {"engine": args.engine, "version": "", "times_ms": [], "rows": [], "error": None,
              "peak_rss_kb": None}
    try:
        engine = ENGINES[args.engine]()
        report["version"] = engine.version
        if args.write and not args.version:
            write_runs(engine, args.write, args.out, args.runs, report)
        elif args.crawl and not args.version:
            for _ in range(args.runs):
                started = time.perf_counter()
                count = crawl_once(engine, args.crawl)
                report["times_ms"].append((time.perf_counter() - started) * 1000.0)
            report["rows"] = [[count]]
        elif not args.version:
            with open(args.workload) as f:
                tables = json.load(f)["tables"]
            with open(args.query_file) as f:
                sql = f.read().strip().rstrip(";")
            engine.register(tables)
            for _ in range(args.runs):
                started = time.perf_counter()
                table = engine.run(sql)
                report["times_ms"].append((time.perf_counter() - started) * 1000.0)
            report["rows"] = rows_of(table)
    except Exception as e:  # any engine error is a result to report, not a crash
        report["error"] = f"{type(e).__name__}: {e}".strip()
    if report["peak_rss_kb"] is None:
        report["peak_rss_kb"] = peak_rss_kb()
    json.dump(report, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
