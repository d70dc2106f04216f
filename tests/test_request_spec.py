"""The API's request records and the contracts are one spec with two faces: every column of every table is a
field of its request record with the same type and nullability, and the record lets every value the contract
accepts through (ranges and enums are the contract's kernels' to enforce, so that a refusal names the
contract's rule with its path)."""

from __future__ import annotations

import datetime as dt
import types
import typing
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from pymescore.contracts import TABLES
from pymescore.service._schemas import BureauIn, CashflowIn, FirmIn, PaymentIn, StatementIn

FACES: dict[str, type[BaseModel]] = {
    "firms": FirmIn,
    "monthly_cashflows": CashflowIn,
    "financial_statements": StatementIn,
    "payments": PaymentIn,
    "bureau_ratings": BureauIn,
}
PYTHON_TYPE = {"float": float, "int": int, "date": dt.date, "month": str, "str": str, "code": str}


def _unwrap(annotation: Any) -> tuple[Any, bool]:
    """(the type, whether None is allowed)."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _unwrap(args[0])[0], type(None) in typing.get_args(annotation)
    if typing.get_origin(annotation) is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    return annotation, False


@pytest.mark.parametrize("table", sorted(FACES))
def test_every_column_is_a_field_with_the_same_type_and_nullability(table: str) -> None:
    contract, model = TABLES[table], FACES[table]
    columns = {c.name: c for c in contract.columns if c.name != "ruc"}  # the RUC is the application's
    assert set(model.model_fields) == set(columns), table
    for name, col in columns.items():
        field = model.model_fields[name]
        kind, optional = _unwrap(field.annotation)
        assert kind is PYTHON_TYPE[col.kind], (table, name, kind, col.kind)
        if table == "firms":  # register data is a partial source: any field may be unknown (the policy then
            assert optional, (table, name)  # sends the application to review: REVIEW_REGISTER_MISSING)
            continue
        assert optional == (col.nullable or not col.required), (table, name, "nullability")


def _valid_value(col: Any) -> list[Any]:
    if col.isin is not None:
        return list(col.isin)
    if col.kind in ("float", "int"):
        lo = col.ge if col.ge is not None else -1e6
        hi = col.le if col.le is not None else 1e6
        return [lo, hi, (lo + hi) / 2] if col.kind == "float" else [int(lo), int(hi)]
    return []


@pytest.mark.parametrize("table", sorted(FACES))
def test_the_record_lets_every_value_the_contract_accepts_through(table: str) -> None:
    contract, model = TABLES[table], FACES[table]
    base = {n: f.default for n, f in model.model_fields.items()}
    sample = {"month": "2024-01", "period_end": "2024-01-31", "due_date": "2024-02-01", "loan_id": "L",
              "income": 1.0, "expenses": 1.0, "total_assets": 1.0, "total_liabilities": 1.0, "equity": 0.0,
              "revenue": 1.0, "cost_of_sales": 1.0, "net_income": 0.0, "amount_due": 1.0, "amount_paid": 1.0,
              "sbs_rating": 0, "debt_total": 1.0, "n_lenders": 1}  # fmt: skip
    base.update({k: v for k, v in sample.items() if k in base})
    for col in contract.columns:
        if col.name == "ruc":
            continue
        for value in _valid_value(col):
            try:
                model.model_validate({**base, col.name: value})
            except ValidationError as exc:  # pragma: no cover - the assertion message is the point
                pytest.fail(f"{table}.{col.name} = {value!r} meets the contract but the request refuses it: {exc}")
