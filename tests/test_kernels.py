"""The compiled contract kernels agree with a plain-Python reading of the spec, at 1 row and at 10,000."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum.pe import ruc as stdnum_ruc

from pymescore.contracts import TABLES
from pymescore.contracts._kernels import compile_contract
from pymescore.contracts._reference import DEPARTMENTS, DOMICILE_CONDITIONS, TAXPAYER_STATES, ciiu_classes
from pymescore.contracts._spec import Column, TableContract

TODAY = dt.date.today()
_TEXT = {
    "ruc": ["20100070970", "20100070971", "10467793549", "123"],
    "currency": ["PEN", "USD", "EUR"],
    "ciiu": ["4711", "9999", "0111"],
    "ubigeo": ["150101", "990101", "250101"],
    "taxpayer_state": ["ACTIVO", "BAJA DE OFICIO", "FOO"],
    "domicile_condition": ["HABIDO", "NO HABIDO", "BAR"],
}


def _value(col: Column) -> st.SearchStrategy[Any]:
    if col.kind in ("float", "int"):
        return st.one_of(st.none(), st.sampled_from([-5.0, 0.0, 1.0, 3.0, 4.0, 7.0, 150.0, 2.4, 4.6, 1e9]))
    if col.kind in ("date", "month"):
        days = [
            dt.date(1949, 12, 1),
            dt.date(1950, 1, 1),
            dt.date(2020, 1, 1),
            TODAY,
            TODAY + dt.timedelta(days=40),
            dt.date(2261, 12, 31),
            dt.date(2262, 1, 1),
        ]
        return st.one_of(st.none(), st.sampled_from(days))
    return st.one_of(st.none(), st.sampled_from(_TEXT.get(col.name, ["x", "L-1"])))


def _reading(contract: TableContract, row: dict[str, Any], tolerance: float) -> set[tuple[str, str]]:
    """What the spec says of one row, read value by value in plain Python: {(column, code)}."""
    out: set[tuple[str, str]] = set()
    for col in contract.columns:
        v = row[col.name]
        if v is None:
            if not col.nullable:
                out.add((col.name, "VALUE_MISSING"))
            continue
        if col.ge is not None and not v >= col.ge:
            out.add((col.name, "AMOUNT_NEGATIVE" if col.ge == 0 else "OUT_OF_RANGE"))
        if col.le is not None and not v <= col.le:
            out.add((col.name, "OUT_OF_RANGE"))
        if col.isin is not None and v not in col.isin:
            out.add((col.name, "VALUE_UNKNOWN"))
        if col.name == "ruc" and not stdnum_ruc.is_valid(v):
            out.add((col.name, "RUC_INVALID"))
        if col.name == "ciiu" and v not in ciiu_classes():
            out.add((col.name, "CIIU_UNKNOWN"))
        if col.name == "ubigeo" and v[:2] not in DEPARTMENTS:
            out.add((col.name, "UBIGEO_INVALID"))
        if col.name == "taxpayer_state" and v not in TAXPAYER_STATES:
            out.add((col.name, "VALUE_UNKNOWN"))
        if col.name == "domicile_condition" and v not in DOMICILE_CONDITIONS:
            out.add((col.name, "VALUE_UNKNOWN"))
        if col.kind in ("date", "month") and not dt.date(1950, 1, 1) <= v < dt.date(2262, 1, 1):
            out.add((col.name, "DATE_RANGE"))
        if col.name in ("start_date", "paid_date") and v > TODAY:
            out.add((col.name, "DATE_FUTURE"))
    if contract.name == "financial_statements":
        a, li, e = (row[c] for c in ("total_assets", "total_liabilities", "equity"))
        if None not in (a, li, e):
            scale = max(abs(a), abs(li), 1.0)
            if abs(e - (a - li)) > tolerance * scale:
                out.add(("equity", "EQUITY_MISMATCH"))
    if contract.name == "payments":
        due, paid, start, amount = (row[c] for c in ("due_date", "paid_date", "disbursement_date", "amount_paid"))
        if paid is not None and start is not None and paid < start:
            out.add(("paid_date", "PAID_BEFORE_START"))
        if start is not None and due is not None and due <= start:
            out.add(("due_date", "DUE_BEFORE_START"))
        if amount is not None and amount > 0 and paid is None:
            out.add(("paid_date", "PAID_WITHOUT_DATE"))
    return out


def _arrays(contract: TableContract, rows: list[dict[str, Any]]) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for col in contract.columns:
        values = [r[col.name] for r in rows]
        if col.kind in ("float", "int"):
            out[col.name] = np.array([math.nan if v is None else v for v in values], dtype=np.float64)
        elif col.kind in ("date", "month"):
            out[col.name] = np.array(values, dtype="datetime64[us]")
        else:
            out[col.name] = np.array(values, dtype=object)
    return out


@st.composite
def _tables(draw: st.DrawFn) -> tuple[TableContract, list[dict[str, Any]]]:
    contract = TABLES[draw(st.sampled_from(sorted(TABLES)))]
    rows = draw(st.lists(st.fixed_dictionaries({c.name: _value(c) for c in contract.columns}), min_size=1,
                         max_size=8))  # fmt: skip
    return contract, rows


@settings(max_examples=60, deadline=None)
@given(table=_tables(), seed=st.integers(0, 2**16))
def test_kernels_agree_with_the_spec_read_in_plain_python(table: tuple[TableContract, list[dict[str, Any]]],
                                                         seed: int) -> None:  # fmt: skip
    contract, rows = table
    kernel = compile_contract(contract, 0.01)
    one = rows[:1]
    got = {(f.column, f.code) for f in kernel.check(_arrays(contract, one))}
    assert got == _reading(contract, one[0], 0.01)
    # 10,000 rows drawn from the generated ones: each row's verdict is its plain reading
    pick = np.random.default_rng(seed).integers(0, len(rows), 10_000)
    many = [rows[k] for k in pick]
    by_row: dict[int, set[tuple[str, str]]] = {}
    for f in kernel.check(_arrays(contract, many)):
        by_row.setdefault(f.row, set()).add((f.column, f.code))
    expected = [_reading(contract, r, 0.01) for r in rows]
    for i, k in enumerate(pick):
        assert by_row.get(i, set()) == expected[k], (i, many[i])


def test_a_failure_is_a_structured_record_with_a_readable_message() -> None:
    contract = TABLES["monthly_cashflows"]
    row = {"ruc": "20100070970", "month": dt.date(2024, 1, 1), "currency": "PEN", "income": -5.0, "expenses": None}
    failures = compile_contract(contract).check(_arrays(contract, [row]), rows=np.array([7]))
    assert [(f.table, f.row, f.column, f.code) for f in failures] == [
        ("monthly_cashflows", 7, "income", "AMOUNT_NEGATIVE"),
        ("monthly_cashflows", 7, "expenses", "VALUE_MISSING"),
    ]
    assert failures[0].message == "income: expected >= 0, got -5.0"
    assert failures[1].message == "expenses: expected a value, got an empty cell"


@pytest.mark.parametrize("n", [1, 10_000])
def test_a_clean_table_has_no_failures_at_any_size(n: int) -> None:
    contract = TABLES["bureau_ratings"]
    row = {"ruc": "20100070970", "month": dt.date(2024, 1, 1), "sbs_rating": 0.0, "debt_total": 10.0, "n_lenders": 1.0}
    assert compile_contract(contract).check(_arrays(contract, [row] * n)) == []


def _mostly_clean(col: Column) -> st.SearchStrategy[Any]:
    """Values that meet the spec nearly always (one draw in 50 may break it): tables whose numbers and dates are all
    within their rules, the case the stacked test lets through without a per-column look."""
    if col.kind in ("float", "int"):
        good: st.SearchStrategy[Any] = st.sampled_from([0.0, 1.0, 3.0])
    elif col.kind in ("date", "month"):
        good = st.sampled_from([dt.date(2020, 1, 1), dt.date(2021, 6, 1)])
    else:
        good = st.sampled_from(_TEXT.get(col.name, ["x"])[:1])
    return st.integers(0, 49).flatmap(lambda k: _value(col) if k == 0 else good)


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_the_stacked_test_of_numbers_and_dates_changes_no_verdict(data: st.DataObject) -> None:
    """Skipping the per-column look at numbers and dates when the stacked test finds them clean gives the same
    failures, in the same order, as looking at every column (the stacked test disabled)."""
    contract = TABLES[data.draw(st.sampled_from(sorted(TABLES)))]
    rows = data.draw(st.lists(st.fixed_dictionaries({c.name: _mostly_clean(c) for c in contract.columns}),
                              min_size=1, max_size=6))  # fmt: skip
    kernel = compile_contract(contract, 0.01)
    arrays = _arrays(contract, rows)
    checked = data.draw(st.one_of(st.none(), st.just(frozenset(c for c in contract.column_names if c != "ruc"))))
    stacked = kernel.check(arrays, checked=checked)
    plain = type(kernel)(kernel.contract, kernel.rules, kernel.row_rules, kernel.today)
    object.__setattr__(plain, "_clean", lambda columns, checked: frozenset())
    assert stacked == plain.check(arrays, checked=checked)
    assert {(f.column, f.code) for f in stacked} == set().union(*(_reading(contract, r, 0.01) for r in rows)) - (
        {("ruc", code) for code in ("RUC_INVALID", "VALUE_MISSING")} if checked is not None else set()
    )
