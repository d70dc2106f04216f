from __future__ import annotations

import pandas as pd
import pytest

from pymescore.contracts import CONTRACT_COLUMNS, TABLES, validate_table
from pymescore.contracts._reference import ciiu_classes, ubigeo_codes
from pymescore.errors import MissingColumnError
from tests.helpers import bad_ruc, make_ruc


def frame(rows: list[dict[str, object]]) -> pd.DataFrame:
    df = pd.DataFrame(rows)
    df.index = pd.RangeIndex(1, len(df) + 1)
    return df


def test_public_contract_columns_are_stable() -> None:
    assert CONTRACT_COLUMNS["firms"][:7] == (
        "ruc", "name", "ciiu", "ubigeo", "start_date", "taxpayer_state", "domicile_condition",
    )  # fmt: skip
    assert CONTRACT_COLUMNS["monthly_cashflows"] == ("ruc", "month", "currency", "income", "expenses")
    assert CONTRACT_COLUMNS["financial_statements"][:9] == (
        "ruc", "period_end", "currency", "total_assets", "total_liabilities", "equity", "revenue",
        "cost_of_sales", "net_income",
    )  # fmt: skip
    assert CONTRACT_COLUMNS["payments"][:7] == (
        "ruc", "loan_id", "due_date", "paid_date", "amount_due", "amount_paid", "currency",
    )  # fmt: skip
    assert CONTRACT_COLUMNS["bureau_ratings"] == ("ruc", "month", "sbs_rating", "debt_total", "n_lenders")
    assert CONTRACT_COLUMNS["exchange_rates"] == ("date", "pen_per_usd")


def test_every_column_is_documented() -> None:
    for table in TABLES.values():
        assert table.description
        for col in table.columns:
            assert len(col.description) > 10, (table.name, col.name)


def test_reference_tables_loaded() -> None:
    assert len(ubigeo_codes()) == 1892
    assert "150132" in ubigeo_codes()  # Lima / San Juan de Lurigancho
    assert ciiu_classes()["4663"] == "G"
    assert len(ciiu_classes()) == 419


def test_valid_firm_passes_and_register_texts_are_canonical() -> None:
    result = validate_table(
        frame(
            [
                {"ruc": "20512333797", "name": "Panadería Ñaupari S.A.C.", "ciiu": "1071", "ubigeo": "150132",
                 "start_date": "2015-03-01", "taxpayer_state": "activo", "domicile_condition": "HABIDO"},
                {"ruc": "10101174102", "name": "José Peña", "ciiu": None, "ubigeo": "159999",
                 "start_date": None, "taxpayer_state": "BAJA MULT.INSCR. Y O",
                 "domicile_condition": "NO HABIDO"},
            ]
        ),
        TABLES["firms"],
    )  # fmt: skip
    assert result.rejected.empty
    assert list(result.valid["taxpayer_state"]) == ["ACTIVO", "BAJA MULT.INSCR. Y OTROS"]
    assert list(result.valid["name"]) == ["Panadería Ñaupari S.A.C.", "José Peña"]
    # a district newer than the shipped table is kept and flagged, not rejected
    assert list(result.valid["ubigeo_known"]) == [True, False]


@pytest.mark.parametrize(
    ("table", "row", "code"),
    [
        ("firms", {"ruc": bad_ruc(1)}, "RUC_INVALID"),
        ("firms", {"ruc": "2051233379"}, "TYPE_CODE"),
        ("firms", {"ciiu": "9999"}, "CIIU_UNKNOWN"),
        ("firms", {"ubigeo": "990101"}, "UBIGEO_INVALID"),
        ("firms", {"taxpayer_state": "CERRADA"}, "VALUE_UNKNOWN"),
        ("firms", {"start_date": "2999-01-01"}, "DATE_FUTURE"),
        ("firms", {"name": ""}, "VALUE_MISSING"),
        ("monthly_cashflows", {"income": "-1"}, "AMOUNT_NEGATIVE"),
        ("monthly_cashflows", {"currency": "EUR"}, "VALUE_UNKNOWN"),
        ("monthly_cashflows", {"month": "2024-01-15"}, "TYPE_MONTH"),
        ("monthly_cashflows", {"expenses": "doce"}, "TYPE_NUMBER"),
        ("financial_statements", {"equity": "999"}, "EQUITY_MISMATCH"),
        ("payments", {"paid_date": "2023-12-01"}, "PAID_BEFORE_START"),
        ("payments", {"paid_date": None}, "PAID_WITHOUT_DATE"),
        ("bureau_ratings", {"sbs_rating": "5"}, "OUT_OF_RANGE"),
        ("bureau_ratings", {"sbs_rating": "1.5"}, "TYPE_INT"),
        ("exchange_rates", {"pen_per_usd": "372"}, "OUT_OF_RANGE"),
    ],
)
def test_each_rule_rejects_with_its_reason(table: str, row: dict[str, object], code: str) -> None:
    base = {
        "firms": {"ruc": make_ruc(1), "name": "Comercial Andina", "ciiu": "4711", "ubigeo": "200101",
                  "start_date": "2010-01-01", "taxpayer_state": "ACTIVO", "domicile_condition": "HABIDO"},
        "monthly_cashflows": {"ruc": make_ruc(1), "month": "2024-01", "currency": "PEN", "income": "10",
                              "expenses": "5"},
        "financial_statements": {"ruc": make_ruc(1), "period_end": "2023-12-31", "currency": "PEN",
                                 "total_assets": "1000", "total_liabilities": "400", "equity": "600",
                                 "revenue": "900", "cost_of_sales": "500", "net_income": "50"},
        "payments": {"ruc": make_ruc(1), "loan_id": "L1", "due_date": "2024-02-01", "paid_date": "2024-02-03",
                     "amount_due": "100", "amount_paid": "100", "currency": "PEN",
                     "disbursement_date": "2024-01-01"},
        "bureau_ratings": {"ruc": make_ruc(1), "month": "2024-01", "sbs_rating": "0", "debt_total": "5000",
                           "n_lenders": "2"},
        "exchange_rates": {"date": "2024-01-31", "pen_per_usd": "3.72"},
    }[table]  # fmt: skip
    good = validate_table(frame([base]), TABLES[table])
    assert good.rejected.empty, good.rejected["reason"].tolist()
    result = validate_table(frame([base, {**base, **row}]), TABLES[table])
    assert list(result.valid.index) == [1]
    assert list(result.rejected.index) == [2]
    assert code in result.rejected["reason_codes"].iloc[0].split(",")
    assert result.rejected["reason"].iloc[0]  # a readable reason


def test_reason_names_column_expected_and_got() -> None:
    result = validate_table(
        frame([{"ruc": make_ruc(2), "month": "2024-01", "currency": "PEN", "income": "-5", "expenses": "1"}]),
        TABLES["monthly_cashflows"],
    )
    assert result.rejected["reason"].iloc[0] == "income: expected >= 0, got -5.0"


def test_missing_required_column_is_fatal_and_named() -> None:
    raw = frame([{"ruc": make_ruc(1), "month": "2024-01", "currency": "PEN", "income": "1"}])
    with pytest.raises(MissingColumnError, match=r"needs column\(s\) expenses; got ruc, month, currency, income"):
        validate_table(raw, TABLES["monthly_cashflows"], source="flows.csv")


def test_codes_stored_as_numbers_get_their_leading_zeros_back() -> None:
    raw = frame([{"ruc": 20512333797, "name": "Agro Sur", "ciiu": 111, "ubigeo": 10101, "start_date": None,
                  "taxpayer_state": "ACTIVO", "domicile_condition": "HABIDO"}])  # fmt: skip
    result = validate_table(raw, TABLES["firms"])
    assert result.rejected.empty
    assert result.valid[["ruc", "ciiu", "ubigeo"]].iloc[0].tolist() == ["20512333797", "0111", "010101"]


def test_thousands_separators_and_month_formats() -> None:
    raw = frame(
        [
            {
                "ruc": make_ruc(3),
                "month": "2024-02",
                "currency": "USD",
                "income": "1,250.50",
                "expenses": "0",
            },
            {"ruc": make_ruc(3), "month": "2024-03-01", "currency": "PEN", "income": " 7 ", "expenses": "2"},
        ]
    )
    result = validate_table(raw, TABLES["monthly_cashflows"])
    assert result.rejected.empty
    assert result.valid["income"].tolist() == [1250.5, 7.0]
    assert result.valid["month"].dt.strftime("%Y-%m-%d").tolist() == ["2024-02-01", "2024-03-01"]
