"""Helpers of the workbench tests: a workbook built from simulated data, logins, CSRF tokens."""

from __future__ import annotations

import io
import re
from typing import Any

import pandas as pd

from pymescore.contracts import TABLES
from pymescore.service import application_bodies

SHEETS = ("firms", "monthly_cashflows", "financial_statements", "payments", "bureau_ratings")


def workbook_for(tables: dict[str, pd.DataFrame], ruc: str, as_of: str, spanish: bool = False) -> bytes:
    """An .xlsx with one sheet per raw table (first row the contract's column names) holding the firm's records
    of the 24 months before ``as_of``: what an officer would upload."""
    from openpyxl import Workbook

    from pymescore.service.console._workbook import SPANISH

    to_spanish = {v: k for k, v in reversed(list(SPANISH.items()))}
    (body,) = application_bodies(tables, [ruc], as_of)
    book = Workbook()
    book.remove(book.active)
    for name in SHEETS:
        ws = book.create_sheet(name)
        columns = list(TABLES[name].column_names)
        ws.append([to_spanish.get(c, c) if spanish else c for c in columns])
        records = [{"ruc": ruc, **(body.get("firm") or {}), "name": "Empresa de prueba"}] if name == "firms" else [
            {"ruc": ruc, **r} for r in body[name]]  # fmt: skip
        for r in records:
            ws.append([r.get(c) for c in columns])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html[:500]
    return found.group(1)


def log_in(client: Any, username: str, password: str) -> Any:
    token = csrf_of(client.get("/app/login").text)
    return client.post("/app/login", data={"username": username, "password": password, "csrf_token": token},
                       follow_redirects=False)  # fmt: skip
