#!/usr/bin/env python3
"""Writes tests/data/dictionary/t/{dict,plain}.parquet with pyarrow. Run from the repository root:

    python3 tests/data/dictionary/generate.py

dict.parquet: ids 0..4095 in 2 row groups of 2048 rows, every column chunk of `mode` fully
dictionary-encoded (the footer's page encoding statistics say so). plain.parquet: ids
4096..5119 in one row group, `mode` written without a dictionary. In both, mode cycles through
AIR, MAIL, SHIP, RAIL, TRUCK by id % 5 and is NULL where id % 11 == 0; note is 'note <id>';
qty is id % 50.
"""

import os

import pyarrow as pa
import pyarrow.parquet as pq

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "t")
MODES = ["AIR", "MAIL", "SHIP", "RAIL", "TRUCK"]


def rows(ids):
    return pa.table(
        {
            "id": pa.array(ids, pa.int64()),
            "mode": pa.array([None if i % 11 == 0 else MODES[i % 5] for i in ids], pa.string()),
            "note": pa.array([f"note {i}" for i in ids], pa.string()),
            "qty": pa.array([i % 50 for i in ids], pa.int64()),
        }
    )


os.makedirs(HERE, exist_ok=True)
pq.write_table(rows(range(0, 4096)), os.path.join(HERE, "dict.parquet"), row_group_size=2048, use_dictionary=True)
pq.write_table(
    rows(range(4096, 5120)), os.path.join(HERE, "plain.parquet"), row_group_size=2048, use_dictionary=["id", "note"]
)
