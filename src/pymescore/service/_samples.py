"""Build ``POST /v1/scores`` bodies from a lake, and wait for a started service: for the demo, the benchmarks
and the tests."""

from __future__ import annotations

import subprocess
import time
from typing import Any

import numpy as np
import pandas as pd

from pymescore.contracts import TABLES
from pymescore.service._scorer import FIRM_FIELDS, HISTORIES


def _json_value(value: Any) -> Any:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, pd.Timestamp):
        return str(value.date())
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    return value


def wait_until_ready(base_url: str, process: subprocess.Popen[Any], timeout_s: float) -> bool:
    """Poll ``GET /readyz`` until it answers 200 (True), the process exits or ``timeout_s`` passes (False)."""
    import httpx

    deadline = time.monotonic() + timeout_s
    while process.poll() is None and time.monotonic() < deadline:
        try:
            if httpx.get(f"{base_url}/readyz", timeout=2.0).status_code == 200:
                return True
        except httpx.TransportError:
            pass
        time.sleep(0.25)
    return False


def application_bodies(
    tables: dict[str, pd.DataFrame],
    rucs: list[str],
    as_of: str,
    months: int = 24,
    requested_amount: float = 30_000.0,
    term_months: int = 24,
) -> list[dict[str, Any]]:
    """One body per RUC with the firm's records in the ``months`` before ``as_of`` (raw contract columns)."""
    ts = pd.Timestamp(as_of)
    start = ts - pd.DateOffset(months=months)
    date_col = {"monthly_cashflows": "month", "financial_statements": "period_end", "payments": "due_date",
                "bureau_ratings": "month"}  # fmt: skip
    wanted = set(rucs)
    grouped: dict[str, dict[str, pd.DataFrame]] = {}
    for name in ("firms", *HISTORIES):
        frame = tables[name]
        frame = frame[frame["ruc"].isin(wanted)]
        if name in date_col:
            d = frame[date_col[name]]
            frame = frame[(d >= start) & (d < ts)]
        grouped[name] = {str(k): g for k, g in frame.groupby("ruc", sort=False)}
    bodies = []
    for ruc in rucs:
        body: dict[str, Any] = {
            "ruc": ruc,
            "requested_amount": requested_amount,
            "currency": "PEN",
            "term_months": term_months,
            "as_of": str(ts.date()),
        }
        firm = grouped["firms"].get(ruc)
        if firm is not None and len(firm):
            row = firm.iloc[0]
            body["firm"] = {c: _json_value(row[c]) for c in FIRM_FIELDS if c in firm.columns}
        for name in HISTORIES:
            cols = [c for c in TABLES[name].column_names if c != "ruc"]
            g = grouped[name].get(ruc)
            if g is None:
                body[name] = []
                continue
            g = g[[c for c in cols if c in g.columns]]
            records = [{k: _json_value(v) for k, v in rec.items()} for rec in g.to_dict(orient="records")]
            if name in ("monthly_cashflows", "bureau_ratings"):
                for rec in records:
                    rec["month"] = rec["month"][:7] if rec["month"] else None
            body[name] = records
        bodies.append(body)
    return bodies
