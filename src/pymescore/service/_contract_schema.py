"""The request's history records in the OpenAPI document, from the raw tables' contracts.

The request models (``_schemas``) read every value leniently so that the contract can report all of an
application's problems at once; the document, though, must say exactly what the contract accepts, so that a
client (or schemathesis) can build a valid request from it. Each record schema gets, from its table's contract:
bounds (``minimum``/``maximum``), allowed values (``enum``: currencies, CIIU classes, SUNAT states), code shapes
(``pattern``), date ranges (1950 to 2261; not after today where the contract says so, as a pattern rebuilt each
day) and a ``required`` value where a column is not nullable. What no JSON Schema can say — a record's fields
against each other, one record per key — is listed under ``x-pymescore-rules`` and in the description.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pymescore.contracts import TABLES
from pymescore.contracts._reference import DEPARTMENTS, DOMICILE_CONDITIONS, TAXPAYER_STATES, ciiu_classes

#: request component -> raw table
RECORDS = {
    "FirmIn": "firms",
    "CashflowIn": "monthly_cashflows",
    "StatementIn": "financial_statements",
    "PaymentIn": "payments",
    "BureauIn": "bureau_ratings",
}
FIRST_YEAR, LAST_YEAR = 1950, 2261
HISTORIES = ("monthly_cashflows", "financial_statements", "payments", "bureau_ratings")
#: the contract's rules across fields and records, which a schema cannot express (the row rules of
#: ``contracts._kernels.row_rules`` and the one-record-per-key check of ``service._applications``)
CROSS_RULES: dict[str, tuple[str, ...]] = {
    "financial_statements": (
        "equity = total_assets - total_liabilities, within 1% of the larger of the two",
        "one record per period_end",
    ),
    "payments": (
        "paid_date on or after disbursement_date; due_date after disbursement_date",
        "paid_date given when amount_paid > 0",
        "one record per (loan_id, due_date)",
    ),
    "firms": ("start_date before the request's as_of (today in Lima when as_of is not sent)",),
    "monthly_cashflows": ("one record per (month, currency)",),
    "bureau_ratings": ("one record per month",),
}
USD_RULE = (
    "USD amounts need the PEN/USD rate of their date: the service's lake or the bundle's official rates, or "
    "exchange_rates sent with the request"
)
#: a text that holds a value: not blank, not a word the contract reads as empty (``contracts._coerce._NULL_TEXT``)
_NULL_WORDS = ("-", "na", "n/a", "nan", "null", "none", "nat")
VALUE_PATTERN = (
    r"^\s*(?!("
    + "|".join("".join(f"[{c}{c.upper()}]" if c.isalpha() else c for c in w) for w in _NULL_WORDS)
    + r")\s*$)\S"
)
#: the SUNAT register's columns: their canonical texts
_REGISTER = {"taxpayer_state": TAXPAYER_STATES, "domicile_condition": DOMICILE_CONDITIONS}


def _alternatives(values: range, width: int) -> str:
    return "|".join(f"{v:0{width}d}" for v in values)


def _day_part(year: int, month: int, through: int = 31) -> str:
    return f"{year:04d}-{month:02d}-({_alternatives(range(1, through + 1), 2)})"


def date_pattern(latest: dt.date | None = None, first_year: int = FIRST_YEAR) -> str:
    """A ``YYYY-MM-DD`` date from ``first_year`` to 2261, or to ``latest`` when given (which days a month has is
    ``format: date``'s to say).

    >>> import re
    >>> p = date_pattern(dt.date(2026, 12, 4))
    >>> [bool(re.match(p, d)) for d in ("1950-01-01", "2026-11-30", "2026-12-04", "2026-12-05", "1949-12-31")]
    [True, True, True, False, False]
    """
    if latest is None:
        years = _alternatives(range(first_year, LAST_YEAR + 1), 4)
        return f"^({years})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"
    parts = []
    if latest.year > first_year:
        years = _alternatives(range(first_year, latest.year), 4)
        parts.append(f"({years})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])")
    if latest.month > 1:
        months = _alternatives(range(1, latest.month), 2)
        parts.append(f"{latest.year:04d}-({months})-(0[1-9]|[12][0-9]|3[01])")
    parts.append(_day_part(latest.year, latest.month, latest.day))
    return "^(" + "|".join(parts) + ")$"


def month_pattern() -> str:
    """A month from 1950 to 2261: ``YYYY-MM``, or its first day (also at midnight, as pandas writes it)."""
    years = _alternatives(range(FIRST_YEAR, LAST_YEAR + 1), 4)
    return rf"^({years})-(0[1-9]|1[0-2])(-01(T00:00(:00(\.0{{1,9}})?)?)?)?$"


def _constrain(prop: dict[str, Any], column: Any, today: dt.date) -> dict[str, Any]:
    """``prop`` (a record field's schema, maybe ``anyOf`` with null) narrowed to what the contract accepts."""
    rules: dict[str, Any] = {}
    name = column.name
    if column.kind in ("float", "int"):
        if column.ge is not None:
            rules["minimum"] = column.ge
        if column.le is not None:
            rules["maximum"] = column.le
    elif column.kind == "date":
        future = name in ("start_date", "paid_date")  # the contract's 'not in the future' columns
        rules["pattern"] = date_pattern(today if future else None)
    elif column.kind == "month":
        rules["pattern"] = month_pattern()
    elif column.isin is not None:
        rules["enum"] = list(column.isin)
    elif name == "ciiu":
        rules["enum"] = sorted(ciiu_classes())
    elif name == "ubigeo":
        rules["pattern"] = "^(" + "|".join(sorted(DEPARTMENTS)) + ")[0-9]{4}$"
    elif name in _REGISTER:
        rules["enum"] = list(_REGISTER[name])
    elif column.kind == "str":
        rules["pattern"] = VALUE_PATTERN
    return _narrow(prop, rules)


def _narrow(prop: dict[str, Any], rules: dict[str, Any]) -> dict[str, Any]:
    if not rules:
        return prop
    if "anyOf" in prop:  # nullable: narrow the non-null branch
        prop["anyOf"] = [_narrow(b, rules) if b.get("type") != "null" else b for b in prop["anyOf"]]
        return prop
    if "enum" in rules:
        prop.pop("maxLength", None)
    prop.update(rules)
    return prop


def constrain_records(schemas: dict[str, Any], today_local: dt.date, today_lima: dt.date) -> None:
    """Narrow the request's record components (in place) to their contracts; ``as_of`` to ``today_lima``."""
    for component, table in RECORDS.items():
        schema = schemas.get(component)
        if schema is None:
            continue
        contract = TABLES[table]
        for name, prop in schema.get("properties", {}).items():
            if name in contract.column_names:
                schema["properties"][name] = _constrain(prop, contract.column(name), today_local)
        rules = list(CROSS_RULES.get(table, ()))
        if "currency" in schema.get("properties", {}):
            rules.append(USD_RULE)
        if rules:
            schema["x-pymescore-rules"] = rules
            text = "; ".join(rules)
            schema["description"] = (schema.get("description", "") + f" Also checked: {text}.").strip()
    request = schemas.get("ScoreRequest", {}).get("properties", {})
    if request:  # 'features' or the histories, never both
        histories = [{"required": [n], "properties": {n: {"minItems": 1}}} for n in HISTORIES]
        schemas["ScoreRequest"]["not"] = {
            "required": ["features"],
            "properties": {"features": {"type": "object"}},
            "anyOf": [{"required": ["firm"], "properties": {"firm": {"type": "object"}}}, *histories],
        }
    if "as_of" in request:  # from 1990 (the request model's bound) to today in Lima (the scorer's check)
        date = {"type": "string", "format": "date", "pattern": date_pattern(today_lima, first_year=1990)}
        request["as_of"]["anyOf"] = [date, {"type": "null"}]
