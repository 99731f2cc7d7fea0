#!/usr/bin/env python3
"""Generates the test lake under tests/data/ (deterministic: fixed seeds, fixed timestamps).

Run from anywhere: `python3 tests/data/generate.py`. Needs pyarrow. The generated files are committed,
so tests never need Python; rerun this only to change the data, then rerun `tests/tools/expected.py
--write` so the expected answers in tests/slt follow.

Layout (every folder is one table's LOCATION):
  parquet/orders/            3 files x 4 row groups: int, smallint, bigint, real, double, decimal(12,2),
                             varchar, date, timestamp, boolean, with NULLs
  parquet/string_view/       one file whose `name` column is Arrow Utf8View (string_view)
  parquet/events/            Hive-partitioned year=YYYY/month=M (int keys), plus _SUCCESS and .hidden
                             files that must be ignored
  parquet/events_extra/      one partition folder outside the Hive layout, for ADD PARTITION ... LOCATION
  csv/customers/             two CSV files with a header row, quoted fields with commas and quotes,
                             empty fields (NULL)
  csv/customers_gz/          the same kind of file, gzip-compressed
  csv/pipe/                  pipe-delimited, no header
  join/left, join/right      tiny CSV tables for joins: duplicate keys, NULL keys, unmatched keys
  analytics/                 the web-analytics course tables: user_session_channel (CSV),
                             session_timestamp (Parquet), session_transaction (Parquet)
  bad/                       deliberately broken files, one folder each
  star/sales/                400 sales rows sorted by sale_date (2023-01-01..2024-12-30) in 8 row
                             groups of 50, for row-group pruning by runtime filters from a join
  star/dates/                the date dimension of every day of 2023 and 2024 (d_year, d_month)
"""

import csv
import datetime as dt
import decimal
import gzip
import io
import os
import random
import shutil

import pyarrow as pa
import pyarrow.parquet as pq

ROOT = os.path.dirname(os.path.abspath(__file__))


def out(*parts):
    path = os.path.join(ROOT, *parts)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    return path


def write_parquet(table, *parts, row_group_size=None):
    # Fixed writer settings so reruns give byte-identical files.
    pq.write_table(table, out(*parts), row_group_size=row_group_size, compression="snappy",
                   write_statistics=True)


def maybe_null(rng, value, p):
    return None if rng.random() < p else value


def gen_orders():
    rng = random.Random(1)
    statuses = ["shipped", "pending", "cancelled", "returned"]
    base = dt.datetime(2024, 1, 1, 0, 0, 0)
    order_id = 0
    for f in range(3):
        cols = {k: [] for k in ["order_id", "customer_id", "quantity", "amount", "discount", "price",
                                "status", "order_date", "created_at", "is_paid"]}
        for _ in range(200):
            order_id += 1
            created = base + dt.timedelta(seconds=rng.randrange(0, 180 * 86400))
            if order_id % 50 == 7:
                created = created.replace(microsecond=rng.randrange(1, 999999))
            cols["order_id"].append(order_id)
            cols["customer_id"].append(maybe_null(rng, rng.randrange(1, 51) + 1_000_000_000_0, 0.05))
            cols["quantity"].append(maybe_null(rng, rng.randrange(1, 20), 0.05))
            cols["amount"].append(maybe_null(rng, rng.randrange(100, 100000) / 100.0, 0.08))
            cols["discount"].append(maybe_null(rng, rng.choice([0.0, 0.5, 0.25, 0.125]), 0.1))
            cols["price"].append(maybe_null(rng, decimal.Decimal(rng.randrange(-500, 1000000)).scaleb(-2), 0.08))
            cols["status"].append(maybe_null(rng, rng.choice(statuses), 0.07))
            cols["order_date"].append(maybe_null(rng, created.date(), 0.03))
            cols["created_at"].append(maybe_null(rng, created, 0.03))
            cols["is_paid"].append(maybe_null(rng, rng.random() < 0.6, 0.1))
        table = pa.table({
            "order_id": pa.array(cols["order_id"], pa.int32()),
            "customer_id": pa.array(cols["customer_id"], pa.int64()),
            "quantity": pa.array(cols["quantity"], pa.int16()),
            "amount": pa.array(cols["amount"], pa.float64()),
            "discount": pa.array(cols["discount"], pa.float32()),
            "price": pa.array(cols["price"], pa.decimal128(12, 2)),
            "status": pa.array(cols["status"], pa.string()),
            "order_date": pa.array(cols["order_date"], pa.date32()),
            "created_at": pa.array(cols["created_at"], pa.timestamp("us")),
            "is_paid": pa.array(cols["is_paid"], pa.bool_()),
        })
        write_parquet(table, "parquet", "orders", f"part-{f}.parquet", row_group_size=64)


def gen_string_view():
    names = ["alpha", "beta", None, "a longer string that does not fit inline in a view", "gamma", ""]
    table = pa.table({
        "id": pa.array(range(1, len(names) + 1), pa.int32()),
        "name": pa.array(names, pa.string_view()),
    })
    write_parquet(table, "parquet", "string_view", "sv.parquet")


def events_table(rng, first_id, n):
    kinds = ["view", "click", "purchase"]
    return pa.table({
        "event_id": pa.array(range(first_id, first_id + n), pa.int32()),
        "user_id": pa.array([rng.randrange(1, 30) for _ in range(n)], pa.int32()),
        "kind": pa.array([rng.choice(kinds) for _ in range(n)], pa.string()),
        "amount": pa.array([maybe_null(rng, decimal.Decimal(rng.randrange(0, 10000)).scaleb(-2), 0.1)
                            for _ in range(n)], pa.decimal128(12, 2)),
    })


def gen_events():
    rng = random.Random(2)
    write_parquet(events_table(rng, 1, 40), "parquet", "events", "year=2024", "month=5", "part-0.parquet")
    write_parquet(events_table(rng, 101, 30), "parquet", "events", "year=2024", "month=6", "part-0.parquet")
    write_parquet(events_table(rng, 201, 20), "parquet", "events", "year=2025", "month=1", "part-0.parquet")
    write_parquet(events_table(rng, 301, 15), "parquet", "events", "year=2025", "month=1", "part-1.parquet")
    write_parquet(events_table(rng, 901, 10), "parquet", "events_extra", "2023-12", "part-0.parquet")
    with open(out("parquet", "events", "_SUCCESS"), "w"):
        pass
    with open(out("parquet", "events", "year=2024", "month=6", ".hidden"), "w") as f:
        f.write("not a parquet file: hidden files must be ignored\n")
    with open(out("parquet", "events", "year=2024", "month=5", "_SUCCESS"), "w"):
        pass


CUSTOMER_NAMES = ["Smith, John", 'The "Best" Co', "Ada Lovelace", "Grace Hopper", "O'Brien", "Zoë Ämter",
                  "Lee, Min-ji", "Alan Turing", "Edsger Dijkstra", "Barbara Liskov"]
CITIES = ["Seoul", "Berlin", "New York, NY", "Paris", "Tokyo"]


def customer_rows(rng, first_id, n):
    rows = []
    for i in range(first_id, first_id + n):
        signup = dt.date(2023, 1, 1) + dt.timedelta(days=rng.randrange(0, 700))
        seen = dt.datetime(2024, 6, 1) + dt.timedelta(seconds=rng.randrange(0, 30 * 86400))
        rows.append([
            str(i),
            rng.choice(CUSTOMER_NAMES) if rng.random() > 0.1 else "",
            rng.choice(CITIES) if rng.random() > 0.15 else "",
            signup.isoformat() if rng.random() > 0.1 else "",
            f"{rng.randrange(-10000, 100000) / 100:.2f}" if rng.random() > 0.1 else "",
            rng.choice(["true", "false"]) if rng.random() > 0.1 else "",
            seen.strftime("%Y-%m-%d %H:%M:%S") if rng.random() > 0.1 else "",
        ])
    return rows


def csv_text(header, rows, delimiter=","):
    buf = io.StringIO()
    # QUOTE_MINIMAL: only fields with the delimiter, quotes or newlines are quoted; empty fields stay
    # empty (unquoted), which the tables read as NULL.
    w = csv.writer(buf, delimiter=delimiter, quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
    if header:
        w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


def gen_csv():
    rng = random.Random(3)
    header = ["id", "name", "city", "signup_date", "credit", "active", "last_seen"]
    with open(out("csv", "customers", "customers-1.csv"), "w", encoding="utf-8", newline="") as f:
        f.write(csv_text(header, customer_rows(rng, 1, 20)))
    with open(out("csv", "customers", "customers-2.csv"), "w", encoding="utf-8", newline="") as f:
        f.write(csv_text(header, customer_rows(rng, 21, 15)))
    data = csv_text(header, customer_rows(rng, 101, 25)).encode("utf-8")
    with open(out("csv", "customers_gz", "customers.csv.gz"), "wb") as f:
        # mtime=0 keeps the gzip header (and so the file) identical across runs.
        with gzip.GzipFile(fileobj=f, mode="wb", mtime=0, filename="") as gz:
            gz.write(data)
    products = ["widget", "gadget", "doohickey", "sprocket"]
    rows = []
    for i in range(1, 41):
        rows.append([str(i), rng.choice(products), str(rng.randrange(1, 10)) if rng.random() > 0.1 else "",
                     f"{rng.randrange(100, 5000) / 100:.2f}"])
    with open(out("csv", "pipe", "items.txt"), "w", newline="") as f:
        f.write(csv_text(None, rows, delimiter="|"))


def gen_join():
    # Small, hand-checkable join inputs: duplicate keys on both sides, NULL keys on both sides, keys
    # that exist on one side only.
    left = [["1", "l1"], ["2", "l2"], ["2", "l2b"], ["3", "l3"], ["", "lnull"], ["5", "l5"], ["", "lnull2"]]
    right = [["1", "r1", "10"], ["2", "r2", "3"], ["2", "r2b", "8"], ["4", "r4", "7"], ["", "rnull", "1"],
             ["5", "r5", ""]]
    with open(out("join", "left", "left.csv"), "w", newline="") as f:
        f.write(csv_text(["k", "lv"], left))
    with open(out("join", "right", "right.csv"), "w", newline="") as f:
        f.write(csv_text(["k", "rv", "w"], right))


def gen_analytics():
    rng = random.Random(4)
    channels = ["Facebook", "Google", "Instagram", "Naver", "Organic", "Youtube"]
    start = dt.datetime(2019, 5, 1)
    usc, ts_rows, tx = [], [], []
    for s in range(2000):
        sid = f"{rng.getrandbits(64):016x}"
        user = rng.randrange(1, 201)
        usc.append([str(user), sid, rng.choice(channels)])
        ts = start + dt.timedelta(seconds=rng.randrange(0, 214 * 86400), microseconds=rng.choice([0, 0, 0, 250000]))
        ts_rows.append((sid, ts))
        if rng.random() < 0.08:
            tx.append((sid, rng.random() < 0.1, rng.randrange(5, 500)))
    with open(out("analytics", "user_session_channel", "user_session_channel.csv"), "w", newline="") as f:
        f.write(csv_text(["userid", "sessionid", "channel"], usc))
    write_parquet(pa.table({
        "sessionid": pa.array([r[0] for r in ts_rows], pa.string()),
        "ts": pa.array([r[1] for r in ts_rows], pa.timestamp("us")),
    }), "analytics", "session_timestamp", "session_timestamp.parquet", row_group_size=500)
    write_parquet(pa.table({
        "sessionid": pa.array([r[0] for r in tx], pa.string()),
        "refunded": pa.array([r[1] for r in tx], pa.bool_()),
        "amount": pa.array([r[2] for r in tx], pa.int32()),
    }), "analytics", "session_transaction", "session_transaction.parquet")


def gen_bad():
    with open(out("bad", "ragged", "ragged.csv"), "w", newline="") as f:
        # Line 4 has two fields instead of three.
        f.write("id,name,qty\n1,apple,3\n2,banana,5\n3,cherry\n4,date,7\n")
    with open(out("bad", "bad_int", "bad_int.csv"), "w", newline="") as f:
        # Line 5 (the header is line 1), column qty, holds a value that is not an int.
        f.write("id,name,qty\n1,apple,3\n2,banana,5\n3,cherry,8\n4,date,twelve\n5,elder,2\n")
    table = pa.table({"id": pa.array(range(1000), pa.int32()),
                      "label": pa.array([f"row-{i}" for i in range(1000)], pa.string())})
    buf = io.BytesIO()
    pq.write_table(table, buf, compression="none")
    whole = buf.getvalue()
    with open(out("bad", "truncated", "truncated.parquet"), "wb") as f:
        f.write(whole[: len(whole) // 2])
    # Keep the magic and the footer length; overwrite the Thrift footer itself with garbage.
    footer_len = int.from_bytes(whole[-8:-4], "little")
    corrupt = bytearray(whole)
    corrupt[-8 - footer_len:-8] = bytes((i * 37 + 11) % 256 for i in range(footer_len))
    with open(out("bad", "corrupt_footer", "corrupt.parquet"), "wb") as f:
        f.write(bytes(corrupt))


def gen_star():
    first = dt.date(2023, 1, 1)
    ids = list(range(1, 401))
    days = [first + dt.timedelta(days=(i - 1) * 730 // 400) for i in ids]
    write_parquet(pa.table({
        "sale_id": pa.array(ids, pa.int64()),
        "sale_date": pa.array(days, pa.date32()),
        "amount": pa.array([i % 10 for i in ids], pa.int64()),
    }), "star", "sales", "part-0.parquet", row_group_size=50)
    all_days = [first + dt.timedelta(days=d) for d in range(731)]
    write_parquet(pa.table({
        "d_date": pa.array(all_days, pa.date32()),
        "d_year": pa.array([d.year for d in all_days], pa.int32()),
        "d_month": pa.array([d.month for d in all_days], pa.int32()),
    }), "star", "dates", "dates.parquet")


def main():
    for folder in ["parquet", "csv", "join", "analytics", "bad", "star"]:
        shutil.rmtree(os.path.join(ROOT, folder), ignore_errors=True)
    gen_orders()
    gen_string_view()
    gen_events()
    gen_csv()
    gen_join()
    gen_analytics()
    gen_bad()
    gen_star()


if __name__ == "__main__":
    main()
