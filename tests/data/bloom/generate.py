#!/usr/bin/env python3
"""Writes tests/data/bloom/t/bloom.parquet with DuckDB (>= 1.2 writes bloom filters for the
dictionary-encoded column chunks; pyarrow writes none). Run from the repository root:

    python3 tests/data/bloom/generate.py

4 row groups of 2048 rows; row group g holds k = g + 8j (j = 0..124, each ~16 times), so every
group's [min, max] of k spans about [0, 995] while each value lies in one group only. s, small
(INTEGER), d9/d18 (DECIMAL stored as INT32/INT64) and day are functions of k; d38 (DECIMAL(38,2),
FIXED_LEN_BYTE_ARRAY, plain-encoded) and id (sorted) get no bloom filter.
"""

import os

import duckdb

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "t", "bloom.parquet")

K = "(g + 8 * ((r * 37) % 125))"

duckdb.connect().execute(f"""
COPY (
  SELECT g * 2048 + r AS id,
         {K} AS k,
         'key-' || {K} AS s,
         {K}::INTEGER AS small,
         ({K} / 100)::DECIMAL(9,2) AS d9,
         ({K} / 100)::DECIMAL(18,2) AS d18,
         ({K} / 100)::DECIMAL(38,2) AS d38,
         DATE '2024-01-01' + {K}::INTEGER AS day
  FROM range(4) a(g), range(2048) b(r)
  ORDER BY g, r
) TO '{OUT}' (FORMAT parquet, ROW_GROUP_SIZE 2048)
""")
