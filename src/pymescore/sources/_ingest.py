"""Ingestion: read → validate against the contract → quarantine → PEN → dedupe → upsert into the lake.

Counting rule, checked by property tests: ``rows_read = accepted + quarantined + duplicates``.
Duplicates are rows of the same source that share a key with a later row of it: the later row wins (a
later line is a correction), deterministically. Rows whose key already is in the lake replace it (upsert);
columns a partial source does not carry keep their lake values. Re-ingesting the same source leaves the
lake unchanged (no new version is written).
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd

from pymescore.contracts import TABLES, TableContract, validate_table
from pymescore.errors import ContractError
from pymescore.lake import Lake
from pymescore.sources._batch import RawBatch
from pymescore.sources._currency import to_pen

#: derived column -> the contract column it is computed from
_DERIVED_FROM = {"ubigeo_known": "ubigeo"}
QUARANTINE_META = ("source_row", "source", "source_sha256", "reason", "reason_codes", "raw_line")


@dataclass(frozen=True)
class IngestSummary:
    table: str
    source: str
    sha256: str
    rows_read: int
    accepted: int
    quarantined: int
    duplicates: int
    inserted: int
    updated: int
    changed: bool
    version: int | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def contract_for(table: str) -> TableContract:
    try:
        return TABLES[table]
    except KeyError:
        raise ContractError(
            f"expected --table to be one of {', '.join(TABLES)}, got {table!r}", code="CONTRACT_UNKNOWN_TABLE"
        ) from None


def normalize_dtypes(frame: pd.DataFrame) -> pd.DataFrame:
    """One dtype per kind of column, so a frame read back from Parquet compares equal to the written one."""
    out = frame.copy()
    for col in out.columns:
        s = out[col]
        if pd.api.types.is_datetime64_any_dtype(s.dtype):
            out[col] = s.astype("datetime64[us]")
        elif pd.api.types.is_bool_dtype(s.dtype):
            out[col] = s.astype("boolean")
        elif pd.api.types.is_integer_dtype(s.dtype):
            out[col] = s.astype("Int64")
        elif pd.api.types.is_float_dtype(s.dtype):
            out[col] = s.astype("float64")
        elif s.dtype == object or pd.api.types.is_string_dtype(s.dtype):
            out[col] = s.astype("string")
    return out.reset_index(drop=True)


def in_pen(
    batch: RawBatch, contract: TableContract, valid: pd.DataFrame, rejected: pd.DataFrame, rates: pd.DataFrame | None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``valid`` with its amounts in PEN, and ``rejected`` plus the rows no exchange rate covers (FX_MISSING)."""
    valid, no_rate = to_pen(valid, contract, rates)
    if no_rate.any():
        extra = batch.frame.loc[no_rate[no_rate].index, [c for c in contract.column_names if c in batch.frame]]
        extra = extra.astype("string").reindex(columns=list(contract.column_names))
        extra["reason"] = (
            f"{contract.fx_date}: expected a PEN/USD rate published on or before this date in the "
            "lake's exchange_rates, got none (ingest exchange_rates covering it first)"
        )
        extra["reason_codes"] = "FX_MISSING"
        rejected = pd.concat([rejected, extra]).sort_index()
        valid = valid[~no_rate]
    return valid, rejected


def quarantine_rows(batch: RawBatch, rejected: pd.DataFrame, contract: TableContract) -> pd.DataFrame:
    parts = []
    if len(rejected):
        q = rejected.copy()
        q.insert(0, "source_row", rejected.index.astype("int64"))
        q["raw_line"] = pd.NA
        parts.append(q)
    if len(batch.malformed):
        m = pd.DataFrame(
            {
                "source_row": batch.malformed["source_row"].astype("int64"),
                "reason": batch.malformed["reason"].str.split(": ", n=1).str[1],
                "reason_codes": batch.malformed["reason"].str.split(":", n=1).str[0],
                "raw_line": batch.malformed["text"],
            }
        )
        parts.append(m)
    columns = ["source_row", *contract.column_names, "reason", "reason_codes", "raw_line"]
    q = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)
    q = q.reindex(columns=columns)
    q.insert(1, "source", batch.source)
    q.insert(2, "source_sha256", batch.sha256)
    return normalize_dtypes(q.sort_values("source_row", kind="stable"))


def upsert(
    old: pd.DataFrame | None, new: pd.DataFrame, contract: TableContract, provided: set[str]
) -> tuple[pd.DataFrame, int, int]:
    """Merge ``new`` into ``old`` by key; returns (merged, inserted, updated)."""
    key = list(contract.key)
    if old is None or old.empty:
        merged = new
        inserted, updated = len(new), 0
    else:
        old_i = old.set_index(key)
        new_i = new.set_index(key)
        hit = new_i.index.isin(old_i.index)
        columns = [c for c in new_i.columns if c in provided or _DERIVED_FROM.get(c, c) in provided]
        columns += [c for c in new_i.columns if c not in contract.column_names and c not in _DERIVED_FROM]
        refreshed = old_i.loc[new_i.index[hit]].copy()
        refreshed[columns] = new_i.loc[hit, columns]
        kept = old_i[~old_i.index.isin(new_i.index)]
        merged = pd.concat([kept, refreshed, new_i[~hit]]).reset_index()[list(new.columns)]
        inserted, updated = int((~hit).sum()), int(hit.sum())
    merged = merged.sort_values(key, kind="stable")
    return normalize_dtypes(merged), inserted, updated


def ingest(
    batch: RawBatch,
    table: str,
    lake: Lake,
    *,
    equity_tolerance: float = 0.01,
    lineage_extra: dict[str, Any] | None = None,
    sidecars: dict[str, pd.DataFrame] | None = None,
    state_changed: bool = False,
) -> IngestSummary:
    """Validate ``batch`` against ``table``'s contract and commit it to ``lake`` atomically.

    ``lineage_extra`` joins the lineage record and ``sidecars`` the version (:meth:`Lake.write`): a source's
    state (an API watermark, a ledger) commits with its data or not at all; ``state_changed`` writes a version
    even when the rows are unchanged, so that the state advances.
    """
    contract = contract_for(table)
    provided = batch.columns
    result = validate_table(
        batch.frame, contract, equity_tolerance=equity_tolerance, source=batch.source, provided=provided
    )
    given = set(provided) if provided is not None else {c for c in contract.column_names if c in batch.frame}
    given |= set(contract.key)
    valid, rejected = result.valid, result.rejected
    with lake.locked():
        rates_version = None
        if contract.amounts:
            rates = lake.read_optional("exchange_rates")
            rates_version = lake.versions().get("exchange_rates")
            valid, rejected = in_pen(batch, contract, valid, rejected, rates)
        deduped = valid[~valid.duplicated(subset=list(contract.key), keep="last")]
        duplicates = len(valid) - len(deduped)
        quarantine = quarantine_rows(batch, rejected, contract)
        old = lake.read_optional(table)
        old_norm = None if old is None else normalize_dtypes(old)
        merged, inserted, updated = upsert(old_norm, deduped.reset_index(drop=True), contract, given)
        stored_q = lake.quarantine(table)
        if len(stored_q):
            others = stored_q[stored_q["source_sha256"] != batch.sha256]
            quarantine = normalize_dtypes(pd.concat([others, quarantine]).sort_values(["source", "source_row"]))
        unchanged = old_norm is not None and merged.equals(old_norm) and quarantine.equals(normalize_dtypes(stored_q))
        summary = {
            "table": table,
            "source": batch.source,
            "sha256": batch.sha256,
            "rows_read": batch.rows_read,
            "accepted": len(deduped),
            "quarantined": len(rejected) + len(batch.malformed),
            "duplicates": duplicates,
            "inserted": inserted,
            "updated": updated,
        }
        if unchanged and not state_changed:
            current = lake.current(table)
            return IngestSummary(**summary, changed=False, version=current.version if current else None)  # type: ignore[arg-type]
        record = {
            "ingest_id": uuid.uuid4().hex,
            "time": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "kind": batch.kind,
            "exchange_rates_version": rates_version,
            **summary,
            **(lineage_extra or {}),
        }
        version = lake.write(table, merged, quarantine, [*lake.lineage(table), record], sidecars)
    return IngestSummary(**summary, changed=True, version=version.version)  # type: ignore[arg-type]
