"""Firms spread over a fixed number of buckets by their RUC, so that a worker reads only its own firms' rows.

A bucket is ``crc32(ruc) % n``: stable across processes, machines and library versions (Python's ``hash`` is
salted per process; pandas' hashing is not promised stable), and uniform over RUCs.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np
import pandas as pd

#: the column a table must have to be bucketed; tables without it (exchange_rates) stay one file
KEY = "ruc"


def bucket_of(rucs: Sequence[object] | np.ndarray | pd.Series, n: int) -> np.ndarray:
    """The bucket (0..n-1) of each RUC; a missing RUC goes to bucket 0. Hashes each distinct RUC once."""
    values = pd.Series(np.asarray(rucs, dtype=object), copy=False)
    if n <= 1 or len(values) == 0:
        return np.zeros(len(values), dtype=np.int32)
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    per_unique = np.fromiter((zlib.crc32(str(u).encode("utf-8")) % n for u in uniques), dtype=np.int32,
                             count=len(uniques))  # fmt: skip
    out = np.zeros(len(values), dtype=np.int32)
    known = codes >= 0
    out[known] = per_unique[codes[known]]
    return out


def bucket_name(bucket: int) -> str:
    return f"b{bucket:05d}.parquet"


def split(rucs: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Row order that groups the rows by bucket (stable: a bucket keeps the table's order) and the bounds of each
    bucket in it: rows ``order[bounds[b]:bounds[b + 1]]`` are bucket ``b``."""
    buckets = bucket_of(rucs, n)
    order = np.argsort(buckets, kind="stable")
    bounds = np.searchsorted(buckets[order], np.arange(n + 1), side="left")
    return order, bounds
