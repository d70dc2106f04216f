"""Transactions into monthly cash flows: each transaction is checked on its own, kept in a ledger, and
the months it touches are summed again from the ledger.

A transaction is money in (``income``) or out (``expenses``) of a firm's account in a currency on a date;
its month's row of ``monthly_cashflows`` is the sum over the ledger of that (RUC, month, currency). The
ledger (one row per transaction id, the last delivery winning) is committed with the table as a lake
sidecar, so that an incremental sync adds to a month without counting a transaction twice, and a
transaction corrected into another month leaves its old month. Sums run in a fixed order (by id), so the
same transactions give the same floats in whatever order they came.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from pymescore.contracts import TABLES, validate_table
from pymescore.sources._api._config import Resource
from pymescore.sources._ingest import normalize_dtypes

KEY = ["ruc", "month", "currency"]
LEDGER_COLUMNS = ["id", *KEY, "income", "expenses"]
_DATE = re.compile(r"([0-9]{4}-[0-9]{2})-[0-9]{2}(?:[T ].*)?")


@dataclass(frozen=True)
class Accounts:
    """An account's holder RUC and currency, from the ``accounts`` resource."""

    ruc: dict[str, Any]
    currency: dict[str, Any]

    @classmethod
    def from_records(cls, records: list[dict[str, Any]]) -> Accounts:
        ids = [str(r["account_id"]) for r in records]
        return cls(dict(zip(ids, (r.get("ruc") for r in records), strict=True)),
                   dict(zip(ids, (r.get("currency") for r in records), strict=True)))  # fmt: skip


def _number(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    try:
        return float(str(value))
    except (TypeError, ValueError):
        return None


def _rows(
    records: list[dict[str, Any]], resource: Resource, accounts: Accounts | None
) -> tuple[pd.DataFrame, dict[int, str]]:
    """One monthly_cashflows-shaped row per transaction (index = position + 1), and the positions refused
    before the contract sees them (an unknown account, an unknown direction, an amount that is no number),
    with their reason as ``CODE: text``."""
    credit = {v.upper() for v in resource.credit_values}
    debit = {v.upper() for v in resource.debit_values}
    out: dict[str, list[Any]] = {c: [] for c in LEDGER_COLUMNS}
    refused: dict[int, str] = {}
    for pos, rec in enumerate(records, start=1):
        tid = rec.get("id")
        account = None if rec.get("account_id") is None else str(rec["account_id"])
        ruc, currency = rec.get("ruc"), rec.get("currency")
        if accounts is not None and account is not None:
            if account not in accounts.ruc:
                refused[pos] = (
                    f"ACCOUNT_UNKNOWN: transaction {tid}: account_id: expected an account listed by the accounts "
                    f"resource, got {account!r}"
                )
            ruc = accounts.ruc.get(account) if ruc is None else ruc
            currency = accounts.currency.get(account) if currency is None else currency
        amount = _number(rec.get("amount"))
        if amount is None and pos not in refused:
            refused[pos] = f"TYPE_NUMBER: transaction {tid}: amount: expected a number, got {rec.get('amount')!r}"
        direction = rec.get("direction")
        inflow = (amount or 0) >= 0
        if direction is not None:
            d = str(direction).upper()
            if d not in credit | debit and pos not in refused:
                refused[pos] = (f"VALUE_UNKNOWN: transaction {tid}: direction: expected one of "
                                f"{', '.join(sorted(credit | debit))}, got {str(direction)[:40]!r}")  # fmt: skip
            inflow = d in credit
        size = abs(amount or 0.0)
        date = "" if rec.get("date") is None else str(rec["date"])
        m = _DATE.fullmatch(date)
        out["id"].append(None if tid is None else str(tid))
        out["ruc"].append(ruc)
        out["month"].append(m.group(1) if m else date)
        out["currency"].append(currency)
        out["income"].append(size if inflow else 0.0)
        out["expenses"].append(0.0 if inflow else size)
    frame = pd.DataFrame(out, index=pd.RangeIndex(1, len(records) + 1, name="source_row"))
    return frame, refused


def monthly_batch(
    records: list[dict[str, Any]], raw: list[Any], resource: Resource, accounts: Accounts | None,
    ledger: pd.DataFrame | None,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:  # fmt: skip
    """(monthly rows of the touched months, refused transactions as ``source_row, text, reason``, new ledger)."""
    frame, refused = _rows(records, resource, accounts)
    no_id = frame["id"].isna()
    for pos in frame.index[no_id]:
        refused.setdefault(int(pos), "VALUE_MISSING: transaction: id: expected an id, got none")
    checked = validate_table(frame.drop(columns="id"), TABLES["monthly_cashflows"], source="transactions")
    rejected = checked.rejected
    for pos, codes, reason in zip(rejected.index.tolist(), rejected["reason_codes"], rejected["reason"], strict=True):
        refused.setdefault(int(pos), f"{codes}: transaction {frame['id'].get(pos)!s}: {reason}")
    keep = ~frame.index.isin(list(refused))
    fresh = checked.valid.loc[checked.valid.index.isin(frame.index[keep])].copy()
    fresh.insert(0, "id", frame.loc[fresh.index, "id"].astype("string"))
    old = ledger if ledger is not None else pd.DataFrame({c: pd.Series(dtype=fresh[c].dtype) for c in LEDGER_COLUMNS})
    touched_ids = set(fresh["id"])
    moved = old[old["id"].isin(touched_ids)]
    new_ledger = pd.concat([old[~old["id"].isin(touched_ids)], fresh.drop_duplicates("id", keep="last")])
    new_ledger = new_ledger[LEDGER_COLUMNS].sort_values("id", kind="stable").reset_index(drop=True)
    new_ledger["month"] = new_ledger["month"].astype("datetime64[us]")
    new_ledger = normalize_dtypes(new_ledger)
    touched = pd.concat([fresh[KEY], moved[KEY]]).drop_duplicates()
    groups = new_ledger.merge(touched, on=KEY).groupby(KEY, sort=True)[["income", "expenses"]].sum().reset_index()
    emptied = touched.merge(groups[KEY], on=KEY, how="left", indicator=True)
    emptied = emptied[emptied["_merge"] == "left_only"][KEY].assign(income=0.0, expenses=0.0)
    monthly = pd.concat([groups, emptied]).sort_values(KEY, kind="stable").reset_index(drop=True)
    monthly["month"] = monthly["month"].dt.strftime("%Y-%m-01")
    monthly.index = pd.RangeIndex(1, len(monthly) + 1, name="source_row")
    bad = sorted(refused)
    malformed = pd.DataFrame({
        "source_row": np.asarray(bad, dtype="int64"),
        "text": [json.dumps(raw[p - 1], sort_keys=True, default=str)[:2000] for p in bad],
        "reason": [refused[p] for p in bad],
    })  # fmt: skip
    return monthly, malformed, new_ledger
