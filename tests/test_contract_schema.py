"""The OpenAPI's history records say exactly what the contracts accept (issue 18: schema-valid means accepted)."""

from __future__ import annotations

import datetime as dt
import re

from hypothesis import given
from hypothesis import strategies as st

from pymescore.contracts import TABLES
from pymescore.contracts._coerce import text_cell
from pymescore.service._contract_schema import VALUE_PATTERN, constrain_records, date_pattern, month_pattern
from pymescore.service._schemas import ScoreRequest

NULL_WORDS = st.sampled_from(["-", "na", "N/A", "nan", "NULL", "None", "nat", "", "  "])


@given(st.one_of(st.text(max_size=12), NULL_WORDS, NULL_WORDS.map(lambda w: f" {w}\t")))
def test_a_value_is_what_the_contract_reads_as_one(text: str) -> None:
    assert (re.match(VALUE_PATTERN, text) is not None) == (text_cell(text) is not None)


@given(st.dates(dt.date(1900, 1, 1), dt.date(2300, 12, 31)), st.dates(dt.date(1990, 1, 1), dt.date(2100, 12, 31)))
def test_date_patterns_bound_the_range(day: dt.date, latest: dt.date) -> None:
    text = day.isoformat()
    assert (re.match(date_pattern(), text) is not None) == (1950 <= day.year <= 2261)
    assert (re.match(date_pattern(latest), text) is not None) == (dt.date(1950, 1, 1) <= day <= latest)
    assert (re.match(date_pattern(latest, first_year=1990), text) is not None) == (dt.date(1990, 1, 1) <= day <= latest)
    month = text[:7]
    assert (re.match(month_pattern(), month) is not None) == (1950 <= day.year <= 2261)


def test_every_contract_rule_of_a_field_is_in_the_schema() -> None:
    schemas = dict(ScoreRequest.model_json_schema()["$defs"])
    schemas["ScoreRequest"] = ScoreRequest.model_json_schema()
    today = dt.date(2026, 12, 4)
    constrain_records(schemas, today, today)
    bureau = schemas["BureauIn"]["properties"]
    rating = TABLES["bureau_ratings"].column("sbs_rating")
    assert (bureau["sbs_rating"]["minimum"], bureau["sbs_rating"]["maximum"]) == (rating.ge, rating.le)
    assert bureau["n_lenders"]["maximum"] == 100
    assert schemas["CashflowIn"]["properties"]["currency"]["enum"] == ["PEN", "USD"]
    assert schemas["CashflowIn"]["properties"]["income"]["minimum"] == 0
    assert schemas["StatementIn"]["properties"]["net_income"]["minimum"] == -1e13  # a loss is a negative income
    firm = schemas["FirmIn"]["properties"]
    ciiu = next(b for b in firm["ciiu"]["anyOf"] if b.get("type") == "string")
    assert "4711" in ciiu["enum"]
    assert "9999" not in ciiu["enum"]
    paid = next(b for b in schemas["PaymentIn"]["properties"]["paid_date"]["anyOf"] if b.get("type") == "string")
    assert re.match(paid["pattern"], "2026-12-04")
    assert not re.match(paid["pattern"], "2026-12-05")
    assert any("equity" in rule for rule in schemas["StatementIn"]["x-pymescore-rules"])
    assert schemas["ScoreRequest"]["not"]["required"] == ["features"]
