#!/usr/bin/env python3
"""TPC-H at scale factor 0.01 for `tests/tpch.rs`: the data and DuckDB's answers, never Tarn's.

    python3 tests/tpch/generate.py            # check: exit 1 if DuckDB's answers differ from answers/
    python3 tests/tpch/generate.py --write    # (re)write answers/qNN.csv from the committed data
    python3 tests/tpch/generate.py --data     # regenerate data/ with tpchgen-cli, then --write

Needs `pip install duckdb` (and `pip install tpchgen-cli` for --data). The data is committed so CI
neither generates it nor depends on the generator's version: tpchgen-cli 4.0.0, Parquet with ZSTD and
~1 MB row groups (several row groups for lineitem and orders, so scans run in parallel and prune),
one folder per table as a table LOCATION expects, about 2.5 MB in all.

The queries are `benches/queries/tpch/qNN.sql` (shared with the benchmark), the standard TPC-H texts with the validation parameters, run by
DuckDB as they are. Answers are CSV in Tarn's text form: a header of `name:TYPE` (DuckDB's column
types, so the test knows which columns are approximate doubles), decimals with their scale, dates as
`YYYY-MM-DD`, NULL as an empty field, doubles rounded to 6 places with trailing zeros trimmed.
"""

import argparse
import csv
import datetime as dt
import decimal
import io
import os
import shutil
import subprocess
import sys

import duckdb

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "data")
QUERIES = os.path.join(HERE, "..", "..", "benches", "queries", "tpch")
ANSWERS = os.path.join(HERE, "answers")
SCALE_FACTOR = "0.01"
TABLES = ["region", "nation", "part", "supplier", "partsupp", "customer", "orders", "lineitem"]


def generate_data():
    if os.path.isdir(DATA):
        shutil.rmtree(DATA)
    subprocess.run(
        [
            "tpchgen-cli", "parquet",
            "--scale-factor", SCALE_FACTOR,
            "--compression", "ZSTD(9)",
            "--row-group-bytes", "1MB",
            "--parts", "1",
            "--output-dir", DATA,
        ],
        check=True,
    )
    # `--parts 1` writes <table>/<table>.1.parquet: the folder per table is what a LOCATION names.
    for table in TABLES:
        os.rename(os.path.join(DATA, table, f"{table}.1.parquet"), os.path.join(DATA, table, f"{table}.parquet"))


def fmt_value(v):
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, decimal.Decimal):
        return format(v, "f")
    if isinstance(v, float):
        s = f"{v:.6f}".rstrip("0").rstrip(".")
        return "0" if s == "-0" else s
    if isinstance(v, dt.datetime):
        return v.strftime("%Y-%m-%d %H:%M:%S.%f").rstrip("0").rstrip(".")
    if isinstance(v, dt.date):
        return v.isoformat()
    return str(v)


def answer(con, sql):
    rel = con.sql(sql)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([f"{name}:{ty}" for name, ty in zip(rel.columns, rel.types)])
    for row in rel.fetchall():
        writer.writerow([fmt_value(v) for v in row])
    return out.getvalue()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write", action="store_true", help="rewrite answers/ from DuckDB")
    parser.add_argument("--data", action="store_true", help="regenerate data/ with tpchgen-cli, then --write")
    args = parser.parse_args()
    if args.data:
        generate_data()
    con = duckdb.connect()
    for table in TABLES:
        con.execute(f"CREATE VIEW {table} AS SELECT * FROM read_parquet('{os.path.join(DATA, table)}/*.parquet')")
    os.makedirs(ANSWERS, exist_ok=True)
    differ = []
    for n in range(1, 23):
        with open(os.path.join(QUERIES, f"q{n:02d}.sql")) as f:
            text = answer(con, f.read())
        path = os.path.join(ANSWERS, f"q{n:02d}.csv")
        if args.write or args.data:
            with open(path, "w") as f:
                f.write(text)
        else:
            old = open(path).read() if os.path.exists(path) else None
            if old != text:
                differ.append(path)
    for path in differ:
        print(f"differs from DuckDB: {os.path.relpath(path)}", file=sys.stderr)
    sys.exit(1 if differ else 0)


if __name__ == "__main__":
    main()
