"""Ingesting a table given as a folder of Parquet parts (``<table>/part-00000.parquet`` …), part by part.

The result is the one ingesting the parts concatenated in name order as one file would give (the same rows,
the same upsert into the lake, a later part's row winning over an earlier one with the same key, as a later row
of one file does); only the memory differs. Each part is read, validated and converted to PEN by the code that
checks a single file (its rejected rows quarantined under the part's own path and row numbers), then its
accepted rows are split by RUC bucket into a spill folder and the part is dropped. Then the table is written
bucket by bucket (``Lake.write_buckets``): bucket ``b`` is every part's rows of that bucket, de-duplicated on
the key (the key holds the RUC, so duplicates always share a bucket) and upserted into the lake's bucket ``b``.
A table keyed without the RUC (payments: loan_id, due_date) is spilled by a hash of its key instead, each
group de-duplicated and spilled again by RUC bucket. (A key whose row moves to another firm between the lake
and the parts would keep its old row in the old firm's bucket: one loan belongs to one firm.)
So no more than one part plus one bucket is in memory at a time, by construction. The spill folder
(``TMPDIR``) holds the table's accepted rows as Parquet until the write ends.

Re-ingesting the same parts (the same SHA-256s, the same exchange rates) over a table whose last version they
wrote changes nothing, like re-ingesting one file.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pymescore.contracts import TableContract, validate_table
from pymescore.errors import SourceUnreadableError
from pymescore.lake import Lake
from pymescore.lake._buckets import KEY, split
from pymescore.sources._batch import file_sha256
from pymescore.sources._ingest import IngestSummary, contract_for, in_pen, normalize_dtypes, quarantine_rows, upsert
from pymescore.sources._readers import read_source

#: the lineage ``kind`` of an ingest of parts
KIND = "parquet parts"


def part_files(folder: Path) -> list[Path]:
    """The ``part-*.parquet`` files of ``folder``, in name order (the order their rows count in)."""
    return sorted(folder.glob("part-*.parquet"))


def ingest_parts(folder: Path, table: str, lake: Lake, *, equity_tolerance: float = 0.01) -> IngestSummary:
    """Validate every part of ``folder`` against ``table``'s contract and commit them to ``lake`` as one version."""
    contract = contract_for(table)
    parts = part_files(folder)
    if not parts:
        raise SourceUnreadableError(f"{folder}: expected part-00000.parquet … in the folder, got none")
    if KEY not in contract.column_names:
        raise SourceUnreadableError(f"{folder}: expected {table} as one file ({table}.parquet): only tables with "
                                    f"a {KEY} column can be given as parts")  # fmt: skip
    shas = [file_sha256(p) for p in parts]
    sha = hashlib.sha256("\n".join(shas).encode()).hexdigest()
    with lake.locked():
        rates_version = lake.versions().get("exchange_rates")
        current = lake.current(table)
        last = (lake.lineage(table) or [{}])[-1]
        if current and last.get("kind") == KIND and last.get("sha256") == sha and (
                last.get("exchange_rates_version") == rates_version):  # fmt: skip
            fields = ("rows_read", "accepted", "quarantined", "duplicates")
            return IngestSummary(table=table, source=str(folder), sha256=sha, **{k: int(last[k]) for k in fields},
                                 inserted=0, updated=int(last["accepted"]), changed=False,
                                 version=current.version)  # fmt: skip
        rates = lake.read_optional("exchange_rates") if contract.amounts else None
        buckets = lake.buckets
        spill = Path(tempfile.mkdtemp(prefix="pymescore-parts-"))
        try:
            record, quarantine, given, empty = _spill(parts, shas, contract, rates, buckets, spill, equity_tolerance)
            duplicates = 0 if KEY in contract.key else _regroup(spill, contract, buckets)
            stored_q = lake.quarantine(table)
            if len(stored_q):
                others = stored_q[~stored_q["source_sha256"].isin(shas)]
                quarantine = pd.concat([others, quarantine])
            quarantine = normalize_dtypes(quarantine.sort_values(["source", "source_row"], kind="stable"))
            record |= {"ingest_id": uuid.uuid4().hex, "time": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                       "kind": KIND, "exchange_rates_version": rates_version, "table": table, "source": str(folder),
                       "sha256": sha, "duplicates": duplicates, "accepted": 0, "inserted": 0, "updated": 0}  # fmt: skip

            def bucket(b: int) -> pd.DataFrame:
                files = sorted((spill / str(b)).glob("*.parquet"))  # in part order
                new = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True) if files else empty
                deduped = new[~new.duplicated(subset=list(contract.key), keep="last")].reset_index(drop=True)
                old = lake.read_bucket(table, b, buckets) if current else None
                merged, inserted, updated = upsert(None if old is None else normalize_dtypes(old), deduped, contract,
                                                   given)  # fmt: skip
                # the lineage record is written after the last bucket (Lake.write_buckets): its counts add up here
                record["duplicates"] += len(new) - len(deduped)
                record["accepted"] += len(deduped)
                record["inserted"] += inserted
                record["updated"] += updated
                return merged

            lineage = [*lake.lineage(table), record]
            if buckets > 1:
                version = lake.write_buckets(table, buckets, bucket, quarantine, lineage)
            else:  # a lake without buckets: one file, so the table is in memory at once (use --buckets)
                version = lake.write(table, bucket(0), quarantine, lineage)
        finally:
            shutil.rmtree(spill, ignore_errors=True)
    summary = {k: record[k] for k in ("rows_read", "accepted", "quarantined", "duplicates", "inserted", "updated")}
    return IngestSummary(table=table, source=str(folder), sha256=sha, **summary, changed=True,
                         version=version.version)  # fmt: skip


def _spill(
    parts: list[Path],
    shas: list[str],
    contract: TableContract,
    rates: pd.DataFrame | None,
    buckets: int,
    spill: Path,
    equity_tolerance: float,
) -> tuple[dict[str, Any], pd.DataFrame, set[str], pd.DataFrame]:
    """Check each part and spill its accepted rows by bucket (``spill/<bucket>/<part>.parquet``). Returns the
    lineage record so far, the parts' quarantine, the columns given and an empty frame of the accepted rows."""
    record: dict[str, Any] = {"rows_read": 0, "quarantined": 0, "parts": []}
    quarantines: list[pd.DataFrame] = []
    given: set[str] = set(contract.key)
    empty: pd.DataFrame | None = None
    for i, (path, sha) in enumerate(zip(parts, shas, strict=True)):
        batch = read_source(str(path))
        result = validate_table(batch.frame, contract, equity_tolerance=equity_tolerance, source=batch.source,
                                provided=batch.columns)  # fmt: skip
        given |= set(batch.columns) if batch.columns is not None else {
            c for c in contract.column_names if c in batch.frame}  # fmt: skip
        valid, rejected = result.valid, result.rejected
        if contract.amounts:
            valid, rejected = in_pen(batch, contract, valid, rejected, rates)
        quarantines.append(quarantine_rows(batch, rejected, contract))
        bad = len(rejected) + len(batch.malformed)
        record["rows_read"] += batch.rows_read
        record["quarantined"] += bad
        record["parts"].append({"file": str(path), "sha256": sha, "rows_read": batch.rows_read, "quarantined": bad})
        valid = valid.reset_index(drop=True)
        empty = valid.iloc[:0] if empty is None else empty
        order, bounds = _partition(valid, contract, buckets)
        for b in range(buckets):
            rows = order[bounds[b] : bounds[b + 1]]
            if len(rows):
                (spill / str(b)).mkdir(exist_ok=True)
                valid.iloc[rows].to_parquet(spill / str(b) / f"{i:06d}.parquet", index=False)
        del batch, result, valid, rejected  # the next part is read without this one in memory
    return record, pd.concat(quarantines, ignore_index=True), given, pd.DataFrame() if empty is None else empty


def _partition(valid: pd.DataFrame, contract: TableContract, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows grouped so that rows with the same key share a group: by RUC bucket when the key holds the RUC, else
    by a hash of the key (payments: loan_id, due_date), regrouped by RUC bucket after de-duplication."""
    if KEY in contract.key or n <= 1:
        return split(valid[KEY].to_numpy(dtype=object), n)
    groups = (pd.util.hash_pandas_object(valid[list(contract.key)], index=False).to_numpy() % n).astype(np.int64)
    order = np.argsort(groups, kind="stable")
    return order, np.searchsorted(groups[order], np.arange(n + 1), side="left")


def _regroup(spill: Path, contract: TableContract, buckets: int) -> int:
    """A table keyed without the RUC: each key group of ``spill`` de-duplicated (the last row of a key wins) and
    spilled again by RUC bucket (``spill/<bucket>/g<group>.parquet``). Returns the duplicates dropped."""
    duplicates = 0
    for g in range(buckets):
        files = sorted((spill / str(g)).glob("0*.parquet"))  # in part order
        if not files:
            continue
        rows = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
        for f in files:
            f.unlink()
        deduped = rows[~rows.duplicated(subset=list(contract.key), keep="last")].reset_index(drop=True)
        duplicates += len(rows) - len(deduped)
        order, bounds = split(deduped[KEY].to_numpy(dtype=object), buckets)
        for b in range(buckets):
            at = order[bounds[b] : bounds[b + 1]]
            if len(at):
                (spill / str(b)).mkdir(exist_ok=True)
                deduped.iloc[at].to_parquet(spill / str(b) / f"g{g:06d}.parquet", index=False)
    return duplicates
