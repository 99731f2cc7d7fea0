#!/usr/bin/env python3
"""Computes the expected answers of tests/slt/**/*.slt with DuckDB, never with Tarn.

    python3 tests/tools/expected.py            # check: exit 1 if any expected block differs from DuckDB
    python3 tests/tools/expected.py --write    # rewrite the expected blocks (and column types) in place
    python3 tests/tools/expected.py --write tests/slt/joins.slt   # only some files

How it mirrors Tarn:
- Every `statement ok` DDL is replayed against an in-memory DuckDB: `CREATE DATABASE d` becomes a
  schema, `CREATE EXTERNAL TABLE d.t (...)` becomes a view `d.t` over `read_parquet`/`read_csv` of
  the same files (the table's LOCATION walked the way Tarn lists it: recursively, skipping names that
  start with `_` or `.`), with each declared column cast to its declared type. Partitioned tables
  show only the partitions registered so far (`ALTER TABLE ... ADD PARTITION`, `MSCK REPAIR TABLE`),
  each with its key values as constant columns, as the catalog does. `DROP` drops the view/schema.
- Every `query` record is run through DuckDB and its rows are formatted with Tarn's CSV text rules
  (see `fmt_value`), with `NULL` for NULL and `(empty)` for the empty string (sqllogictest style).
  `rowsort` results are written sorted, as the runner sorts the actual rows.
- Annotations in the comment lines right above a record:
    # duckdb: <sql>             run this DuckDB SQL instead (dialect differences: LEFT(ts, 7),
                                integer division, ...); may continue over several `# duckdb:` lines
    # expected: hand-computed (reason)   leave the block alone (catalog output, EXPLAIN, empty sets)
  The same line in a file's opening comment marks the whole file as hand-computed: files about
  writes (INSERT, CTAS, COPY) and EXPLAIN ANALYZE, whose statements the DuckDB mirror cannot replay.
- `__DATA__` is the absolute path of tests/data; `__S3__` (files under tests/slt/s3/) is the bucket
  root, which holds the same files as tests/data.

Float columns are written rounded to 6 decimal places with trailing zeros trimmed: the runner prints
Tarn's floats the same way, so the last bits of a parallel sum do not matter.
"""

import argparse
import datetime as dt
import decimal
import os
import re
import sys

import duckdb

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(HERE)
DATA = os.path.join(TESTS, "data")
SLT = os.path.join(TESTS, "slt")


# ---------------------------------------------------------------- value formatting (Tarn's CSV rules)

def fmt_float(v):
    if v != v:
        return "NaN"
    if v in (float("inf"), float("-inf")):
        return "inf" if v > 0 else "-inf"
    s = f"{v:.6f}".rstrip("0").rstrip(".")
    return "0" if s == "-0" else s


def fmt_value(v):
    if v is None:
        return "NULL"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return fmt_float(v)
    if isinstance(v, decimal.Decimal):
        return format(v, "f")
    if isinstance(v, dt.datetime):
        text = v.strftime("%Y-%m-%d %H:%M:%S")
        return text + (f".{v.microsecond:06d}" if v.microsecond else "")
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, str):
        return "(empty)" if v == "" else v
    raise TypeError(f"no slt text form for {type(v).__name__}: {v!r}")


def type_char(duck_type):
    t = str(duck_type).upper()
    if t in ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
             "UBIGINT"):
        return "I"
    if t in ("FLOAT", "REAL", "DOUBLE") or t.startswith("DECIMAL"):
        return "R"
    return "T"


# ---------------------------------------------------------------- slt parsing

class Record:
    """One slt record: its comment lines, header line, SQL lines and (for queries) result lines."""

    def __init__(self, comments, header, sql, results, has_separator, line):
        self.comments = comments
        self.header = header
        self.sql = sql
        self.results = results
        self.has_separator = has_separator
        self.line = line

    def text(self):
        lines = self.comments + [self.header] + self.sql
        if self.has_separator:
            lines.append("----")
            lines += self.results
        return lines

    def annotation(self, key):
        parts = [c.split(":", 1)[1].strip() for c in self.comments if re.match(rf"#\s*{key}:", c)]
        return " ".join(parts) if parts else None


def parse_slt(text):
    """Splits an slt file into blocks: Record objects and runs of other lines kept verbatim."""
    lines = text.split("\n")
    blocks, i, pending = [], 0, []
    while i < len(lines):
        line = lines[i]
        if line.startswith("#"):
            pending.append(line)
            i += 1
            continue
        if line.startswith("statement") or line.startswith("query"):
            header, start = line, i + 1
            i += 1
            sql = []
            while i < len(lines) and lines[i].strip() != "" and lines[i] != "----":
                sql.append(lines[i])
                i += 1
            results, sep = [], False
            if i < len(lines) and lines[i] == "----":
                sep = True
                i += 1
                while i < len(lines) and lines[i].strip() != "":
                    results.append(lines[i])
                    i += 1
            blocks.append(Record(pending, header, sql, results, sep, start))
            pending = []
            continue
        blocks.extend(pending)
        pending = []
        blocks.append(line)
        i += 1
    blocks.extend(pending)
    return blocks


def render(blocks):
    out = []
    for b in blocks:
        out.extend(b.text() if isinstance(b, Record) else [b])
    return "\n".join(out)


# ---------------------------------------------------------------- the DDL mirror

def split_top(text, sep=","):
    parts, depth, cur, quote = [], 0, "", False
    for ch in text:
        if ch == "'":
            quote = not quote
        if not quote:
            if ch == "(":
                depth += 1
            elif ch == ")":
                depth -= 1
            elif ch == sep and depth == 0:
                parts.append(cur.strip())
                cur = ""
                continue
        cur += ch
    if cur.strip():
        parts.append(cur.strip())
    return parts


def parse_columns(text):
    cols = []
    for part in split_top(text):
        name, typ = part.split(None, 1)
        cols.append((name.strip('"`').lower(), typ.strip()))
    return cols


def balanced(text, start):
    """The text inside the parentheses opening at text[start]."""
    depth = 0
    for j in range(start, len(text)):
        if text[j] == "(":
            depth += 1
        elif text[j] == ")":
            depth -= 1
            if depth == 0:
                return text[start + 1:j], j + 1
    raise ValueError("unbalanced parentheses")


def visible_files(location):
    """Data files under a location as Tarn lists them: recursive, hidden `_`/`.` names skipped."""
    found = []
    for dirpath, dirnames, filenames in os.walk(location):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(("_", ".")))
        for f in sorted(filenames):
            if not f.startswith(("_", ".")):
                found.append(os.path.join(dirpath, f))
    return found


def sql_str(s):
    return "'" + s.replace("'", "''") + "'"


class Table:
    def __init__(self, name, cols, pcols, fmt, delim, location, props):
        self.name, self.cols, self.pcols, self.fmt = name, cols, pcols, fmt
        self.delim, self.location, self.props = delim, location, props
        self.partitions = []  # (dict key -> text value, location)

    def scan(self, files):
        if not files:
            return None
        flist = "[" + ", ".join(sql_str(f) for f in files) + "]"
        if self.fmt == "PARQUET":
            return f"read_parquet({flist}, union_by_name = true)"
        skip = int(self.props.get("skip.header.line.count", "0"))
        columns = "{" + ", ".join(f"{sql_str(c)}: {sql_str(t)}" for c, t in self.cols) + "}"
        comp = "gzip" if self.props.get("compressiontype", "").lower() == "gzip" else "none"
        return (f"read_csv({flist}, header = false, skip = {skip}, delim = {sql_str(self.delim)}, quote = '\"', "
                f"escape = '\"', columns = {columns}, auto_detect = false, compression = '{comp}')")

    def select(self, con, files, key_values):
        src = self.scan(files)
        if src is None:
            return self.empty_select()
        present = {r[0].lower() for r in con.execute(f"DESCRIBE SELECT * FROM {src}").fetchall()}
        # Parquet columns match by name; a declared column no file has reads as NULL (Athena, Hive).
        exprs = [f"CAST({c if c in present else 'NULL'} AS {t}) AS {c}" for c, t in self.cols]
        exprs += [f"CAST({sql_str(key_values[k]) if k in key_values else 'NULL'} AS {t}) AS {k}"
                  for k, t in self.pcols]
        return f"SELECT {', '.join(exprs)} FROM {src}"

    def empty_select(self):
        exprs = [f"CAST(NULL AS {t}) AS {c}" for c, t in self.cols + self.pcols]
        return "SELECT " + ", ".join(exprs) + " WHERE false"

    def view_sql(self, con):
        if not self.pcols:
            body = self.select(con, visible_files(self.location), {})
        else:
            parts = [self.select(con, visible_files(loc), kv) for kv, loc in self.partitions if visible_files(loc)]
            body = " UNION ALL ".join(parts) if parts else self.empty_select()
        return f"CREATE OR REPLACE VIEW {self.name} AS {body}"


class Mirror:
    def __init__(self, data_root):
        self.con = duckdb.connect()
        self.con.execute("SET TimeZone = 'UTC'")
        self.tables = {}
        self.data_root = data_root

    def subst(self, sql):
        return sql.replace("__DATA__", self.data_root).replace("__S3__", self.data_root + "/")

    def local_path(self, loc):
        loc = self.subst(loc)
        if loc.startswith("file://"):
            loc = loc[len("file://"):]
        return loc.rstrip("/")

    def apply(self, sql):
        text = " ".join(self.subst(sql).split())
        up = text.upper()
        if m := re.match(r"CREATE (DATABASE|SCHEMA) (IF NOT EXISTS )?(\w+)", text, re.I):
            self.con.execute(f"CREATE SCHEMA IF NOT EXISTS {m.group(3)}")
        elif up.startswith("CREATE EXTERNAL TABLE"):
            self.create_external(text)
        elif m := re.match(r"ALTER TABLE ([\w.]+) ADD (IF NOT EXISTS )?(.*)$", text, re.I):
            self.add_partitions(m.group(1).lower(), m.group(3))
        elif m := re.match(r"MSCK REPAIR TABLE ([\w.]+)", text, re.I):
            self.repair(m.group(1).lower())
        elif m := re.match(r"DROP TABLE (IF EXISTS )?([\w.]+)", text, re.I):
            self.tables.pop(m.group(2).lower(), None)
            self.con.execute(f"DROP VIEW IF EXISTS {m.group(2)}")
        elif m := re.match(r"DROP (DATABASE|SCHEMA) (IF EXISTS )?(\w+)( CASCADE)?", text, re.I):
            for name in [n for n in self.tables if n.startswith(m.group(3).lower() + ".")]:
                del self.tables[name]
            self.con.execute(f"DROP SCHEMA IF EXISTS {m.group(3)} CASCADE")

    def create_view(self, table):
        try:
            self.con.execute(table.view_sql(self.con))
        except duckdb.Error:
            # Deliberately broken data (tests/data/bad): no view; a query that expects rows from it
            # fails in DuckDB and is reported there.
            self.con.execute(f"DROP VIEW IF EXISTS {table.name}")

    def create_external(self, text):
        m = re.match(r"CREATE EXTERNAL TABLE (IF NOT EXISTS )?([\w.]+) \(", text, re.I)
        name = m.group(2).lower()
        if m.group(1) and name in self.tables:
            return
        cols_text, after = balanced(text, m.end() - 1)
        rest = text[after:]
        pcols = []
        if pm := re.match(r"\s*PARTITIONED BY \(", rest, re.I):
            ptext, after = balanced(rest, pm.end() - 1)
            pcols = parse_columns(ptext)
            rest = rest[after:]
        delim = ","
        if dm := re.search(r"FIELDS TERMINATED BY '([^']*)'", rest, re.I):
            delim = dm.group(1).encode().decode("unicode_escape")
        elif re.search(r"STORED AS TEXTFILE", rest, re.I):
            delim = "\x01"  # Hive's default field delimiter
        fmt = re.search(r"STORED AS (\w+)", rest, re.I).group(1).upper()
        location = self.local_path(re.search(r"LOCATION '([^']*)'", rest, re.I).group(1))
        props = {}
        if tm := re.search(r"TBLPROPERTIES \(", rest, re.I):
            ptext, _ = balanced(rest, tm.end() - 1)
            for kv in split_top(ptext):
                k, v = kv.split("=", 1)
                props[k.strip().strip("'").lower()] = v.strip().strip("'")
        table = Table(name, parse_columns(cols_text), pcols, fmt, delim, location, props)
        self.tables[name] = table
        self.create_view(table)

    def add_partitions(self, name, text):
        table = self.tables[name]
        for pm in re.finditer(r"PARTITION \(([^)]*)\)( LOCATION '([^']*)')?", text, re.I):
            kv = {}
            for part in split_top(pm.group(1)):
                k, v = part.split("=", 1)
                kv[k.strip().lower()] = v.strip().strip("'")
            loc = self.local_path(pm.group(3)) if pm.group(3) else os.path.join(
                table.location, *[f"{k}={kv[k]}" for k, _ in table.pcols])
            if not any(existing == kv for existing, _ in table.partitions):
                table.partitions.append((kv, loc))
        self.create_view(table)

    def repair(self, name):
        table = self.tables[name]
        keys = [k for k, _ in table.pcols]

        def walk(path, depth, kv):
            if depth == len(keys):
                if visible_files(path) and not any(existing == kv for existing, _ in table.partitions):
                    table.partitions.append((dict(kv), path))
                return
            for d in sorted(os.listdir(path)):
                if d.lower().startswith(keys[depth] + "=") and os.path.isdir(os.path.join(path, d)):
                    walk(os.path.join(path, d), depth + 1, {**kv, keys[depth]: d.split("=", 1)[1]})

        walk(table.location, 0, {})
        self.create_view(table)

    def query(self, sql):
        cur = self.con.execute(self.subst(sql))
        types = "".join(type_char(d[1]) for d in cur.description)
        rows = [[fmt_value(v) for v in row] for row in cur.fetchall()]
        return types, rows


# ---------------------------------------------------------------- driver

def hand_computed_file(text):
    """Whether the file's opening comment says its answers are hand-computed."""
    for line in text.splitlines():
        if not line.startswith("#"):
            return False
        if line.startswith("# expected: hand-computed"):
            return True
    return False


def process(path, write):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if hand_computed_file(text):
        return []
    blocks = parse_slt(text)
    mirror = Mirror(DATA)
    problems = []
    for b in blocks:
        if not isinstance(b, Record):
            continue
        sql = "\n".join(b.sql)
        words = b.header.split()
        if words[0] == "statement":
            if words[1:2] == ["ok"]:
                try:
                    mirror.apply(sql)
                except Exception as e:  # noqa: BLE001 - report and go on with the file
                    problems.append(f"{path}:{b.line}: DuckDB mirror of the statement failed: {e}")
            continue
        if len(words) > 1 and words[1] == "error":
            continue
        if b.annotation("expected") is not None:
            continue
        duck_sql = b.annotation("duckdb") or sql
        try:
            types, rows = mirror.query(duck_sql)
        except Exception as e:  # noqa: BLE001
            problems.append(f"{path}:{b.line}: DuckDB failed: {str(e).splitlines()[0]}\n    {duck_sql}")
            continue
        sort_mode = words[2] if len(words) > 2 else None
        if sort_mode == "rowsort":
            rows.sort()
        elif sort_mode == "valuesort":
            rows = sorted([[v] for r in rows for v in r])
        result_lines = [" ".join(r) for r in rows]
        new_header = " ".join(["query", types] + words[2:])
        if write:
            b.header, b.results, b.has_separator = new_header, result_lines, True
        elif b.results != result_lines or not b.has_separator:
            problems.append(f"{path}:{b.line}: expected block differs from DuckDB's answer:\n"
                            f"    file:   {b.results[:5]}{' ...' if len(b.results) > 5 else ''}\n"
                            f"    duckdb: {result_lines[:5]}{' ...' if len(result_lines) > 5 else ''}")
    if write:
        new_text = render(blocks)
        if new_text != text:
            with open(path, "w", encoding="utf-8") as f:
                f.write(new_text)
    return problems


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--write", action="store_true", help="rewrite expected blocks in place")
    ap.add_argument("files", nargs="*", help="slt files (default: tests/slt/**/*.slt)")
    args = ap.parse_args()
    files = args.files or sorted(os.path.join(d, f) for d, _, fs in os.walk(SLT) for f in fs if f.endswith(".slt"))
    problems = []
    for path in files:
        problems += process(path, args.write)
    for p in problems:
        print(p, file=sys.stderr)
    print(f"{len(files)} files, {len(problems)} problems", file=sys.stderr)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
