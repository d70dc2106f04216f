from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pymescore.errors import MissingColumnError, SourceEncodingError, SourceUnreadableError
from pymescore.lake import Lake
from pymescore.sources import SourceOptions, ingest, read_source
from tests.helpers import CASHFLOW_HEADER, RATES_CSV, bad_ruc, make_ruc


def lake_fingerprint(root: Path) -> dict[str, str]:
    """Every file of a lake (the lock file aside) with its SHA-256."""
    if not root.exists():
        return {}
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != ".lock"
    }


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


@pytest.fixture
def lake_with_rates(tmp_path: Path) -> Lake:
    lake = Lake(tmp_path / "lake")
    ingest(read_source(str(write(tmp_path / "rates.csv", RATES_CSV))), "exchange_rates", lake)
    return lake


def test_acceptance_bad_rows_quarantined_then_missing_column_is_fatal(tmp_path: Path, lake_with_rates: Lake) -> None:
    good = make_ruc(10)
    rows = [
        f"{good},2024-01,PEN,1000,600",
        f"{bad_ruc(11)},2024-01,PEN,1000,600",  # bad RUC
        f"{good},2024-02,PEN,-50,600",  # negative amount
        f"{good},2024-03,EUR,1000,600",  # unknown currency
        f"{good},2024-03,USD,100,50",
    ]
    src = write(tmp_path / "flows.csv", "\n".join([CASHFLOW_HEADER, *rows]) + "\n")
    summary = ingest(read_source(str(src)), "monthly_cashflows", lake_with_rates)
    assert (summary.accepted, summary.quarantined, summary.duplicates) == (2, 3, 0)
    q = lake_with_rates.quarantine("monthly_cashflows").set_index("source_row")
    assert q.loc[2, "reason_codes"] == "RUC_INVALID"
    assert q.loc[2, "reason"].startswith("ruc: expected a valid RUC")
    assert q.loc[3, "reason_codes"] == "AMOUNT_NEGATIVE"
    assert q.loc[3, "reason"] == "income: expected >= 0, got -50.0"
    assert q.loc[4, "reason_codes"] == "VALUE_UNKNOWN"
    assert q.loc[4, "reason"] == "currency: expected one of PEN, USD, got 'EUR'"
    assert q.loc[4, "currency"] == "EUR"  # the source value is kept for the fix
    before = lake_fingerprint(lake_with_rates.root)
    missing = write(tmp_path / "missing.csv", "ruc,month,currency,income\n" + f"{good},2024-04,PEN,5\n")
    with pytest.raises(MissingColumnError) as err:
        ingest(read_source(str(missing)), "monthly_cashflows", lake_with_rates)
    assert "missing.csv" in err.value.message
    assert "expenses" in err.value.message
    assert lake_fingerprint(lake_with_rates.root) == before


def test_usd_amounts_converted_at_last_published_rate(tmp_path: Path, lake_with_rates: Lake) -> None:
    src = write(
        tmp_path / "f.csv",
        f"{CASHFLOW_HEADER}\n{make_ruc(1)},2024-02,USD,100,10\n{make_ruc(1)},2024-02,PEN,5,1\n",
    )
    ingest(read_source(str(src)), "monthly_cashflows", lake_with_rates)
    data = lake_with_rates.read("monthly_cashflows").set_index("currency")
    assert data.loc["USD", "income"] == 100  # original kept
    assert data.loc["USD", "income_pen"] == pytest.approx(375.0)  # rate of 2024-02-29, the month's last day
    assert str(data.loc["USD", "fx_date"].date()) == "2024-02-29"
    assert data.loc["PEN", "income_pen"] == 5
    assert data.loc["PEN", "fx_rate"] == 1


def test_usd_before_first_rate_is_quarantined(tmp_path: Path, lake_with_rates: Lake) -> None:
    src = write(tmp_path / "f.csv", f"{CASHFLOW_HEADER}\n{make_ruc(1)},2020-02,USD,100,10\n")
    summary = ingest(read_source(str(src)), "monthly_cashflows", lake_with_rates)
    assert summary.quarantined == 1
    assert lake_with_rates.quarantine("monthly_cashflows")["reason_codes"].tolist() == ["FX_MISSING"]


def test_duplicates_keep_the_last_row_and_are_counted(tmp_path: Path, lake_with_rates: Lake) -> None:
    r = make_ruc(5)
    src = write(
        tmp_path / "f.csv",
        f"{CASHFLOW_HEADER}\n{r},2024-01,PEN,1,1\n{r},2024-01,PEN,2,1\n{r},2024-01,PEN,3,1\n",
    )
    summary = ingest(read_source(str(src)), "monthly_cashflows", lake_with_rates)
    assert (summary.rows_read, summary.accepted, summary.duplicates) == (3, 1, 2)
    assert lake_with_rates.read("monthly_cashflows")["income"].tolist() == [3.0]


def test_upsert_replaces_by_key_and_reingest_changes_nothing(tmp_path: Path, lake_with_rates: Lake) -> None:
    r = make_ruc(6)
    first = write(tmp_path / "a.csv", f"{CASHFLOW_HEADER}\n{r},2024-01,PEN,1,1\n{r},2024-02,PEN,1,1\n")
    second = write(tmp_path / "b.csv", f"{CASHFLOW_HEADER}\n{r},2024-02,PEN,9,1\n{r},2024-03,PEN,1,1\n")
    ingest(read_source(str(first)), "monthly_cashflows", lake_with_rates)
    s2 = ingest(read_source(str(second)), "monthly_cashflows", lake_with_rates)
    assert (s2.inserted, s2.updated, s2.changed) == (1, 1, True)
    assert lake_with_rates.read("monthly_cashflows")["income"].tolist() == [1.0, 9.0, 1.0]
    before = lake_fingerprint(lake_with_rates.root)
    again = ingest(read_source(str(second)), "monthly_cashflows", lake_with_rates)
    assert again.changed is False
    assert lake_fingerprint(lake_with_rates.root) == before
    assert [r["sha256"] for r in lake_with_rates.lineage("monthly_cashflows")] == [
        hashlib.sha256(first.read_bytes()).hexdigest(),
        hashlib.sha256(second.read_bytes()).hexdigest(),
    ]


def test_utf8_csv_keeps_accents(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    text = (
        "ruc,name,ciiu,ubigeo,start_date,taxpayer_state,domicile_condition\n"
        f'{make_ruc(7)},"Panadería Ñaupari, S.A.C.",1071,150132,2012-05-01,ACTIVO,HABIDO\n'
    )
    ingest(read_source(str(write(tmp_path / "firms.csv", text))), "firms", lake)
    assert lake.read("firms")["name"].tolist() == ["Panadería Ñaupari, S.A.C."]


def padron_text(rows: list[str]) -> str:
    header = (
        "RUC|NOMBRE O RAZÓN SOCIAL|ESTADO DEL CONTRIBUYENTE|CONDICIÓN DE DOMICILIO|UBIGEO|TIPO DE VÍA|"
        "NOMBRE DE VÍA|CÓDIGO DE ZONA|TIPO DE ZONA|NÚMERO|INTERIOR|LOTE|DEPARTAMENTO|MANZANA|KILÓMETRO|"
    )
    return "\n".join([header, *rows]) + "\n"


def test_sunat_padron_latin1_updates_register_columns_only(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    a, b = make_ruc(20), make_ruc(21, prefix="10")
    firms = (
        "ruc,name,ciiu,ubigeo,start_date,taxpayer_state,domicile_condition\n"
        f"{a},Old Name,4711,150101,2011-01-01,ACTIVO,HABIDO\n"
    )
    ingest(read_source(str(write(tmp_path / "firms.csv", firms))), "firms", lake)
    rows = [
        f"{a}|COMERCIAL ÑAUPARI S.A.C.|BAJA DE OFICIO|NO HABIDO|200101|AV.|GRAU|-|-|123|-|-|-|-|-|",
        f"{b}|PEÑA QUISPE JOSÉ|ACTIVO|HABIDO|-|JR.|LIMA|-|-|-|-|-|-|-|-|",
        f"{bad_ruc(22)}|MALA S.A.|ACTIVO|HABIDO|150101|-|-|-|-|-|-|-|-|-|-|",
        "20100047218|CORTADA|ACTIVO",
    ]
    src = write(tmp_path / "padron_reducido_ruc.txt", padron_text(rows), encoding="latin-1")
    summary = ingest(read_source(str(src)), "firms", lake)
    assert (summary.rows_read, summary.accepted, summary.quarantined) == (4, 2, 2)
    data = lake.read("firms").set_index("ruc")
    assert data.loc[a, "name"] == "COMERCIAL ÑAUPARI S.A.C."
    assert data.loc[a, "taxpayer_state"] == "BAJA DE OFICIO"
    assert data.loc[a, "ciiu"] == "4711"  # not in the padrón: kept from the lake
    assert data.loc[b, "name"] == "PEÑA QUISPE JOSÉ"
    assert pd.isna(data.loc[b, "ubigeo"])
    assert pd.isna(data.loc[b, "ciiu"])
    q = lake.quarantine("firms").set_index("source_row")
    assert q.loc[3, "reason_codes"] == "RUC_INVALID"
    assert q.loc[4, "reason_codes"] == "MALFORMED_LINE"
    assert q.loc[4, "raw_line"].startswith("20100047218|CORTADA")


def test_wrong_encoding_is_fatal_with_line_and_hint(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    src = write(tmp_path / "firms.csv", "ruc,name\n20512333797,Peña\n", encoding="latin-1")
    with pytest.raises(SourceEncodingError, match=r"firms.csv: expected utf-8 text, got byte 0xF1 at line 2"):
        read_source(str(src))
    assert not (lake.root / "_manifest.json").exists()


def test_unreadable_sources_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(SourceUnreadableError, match="no such file"):
        read_source(str(tmp_path / "nope.csv"))
    odd = write(tmp_path / "data.json", "{}")
    with pytest.raises(SourceUnreadableError, match=r"data.json: expected a .csv, .parquet, .xlsx"):
        read_source(str(odd))
    broken = write(tmp_path / "broken.parquet", "not parquet")
    with pytest.raises(SourceUnreadableError, match=r"broken\.parquet: expected a valid parquet file"):
        read_source(str(broken))


def test_excel_and_parquet_sources(tmp_path: Path, lake_with_rates: Lake) -> None:
    frame = pd.DataFrame(
        {"ruc": [make_ruc(30), make_ruc(31)], "month": pd.to_datetime(["2024-01-01", "2024-02-01"]),
         "currency": ["PEN", "USD"], "income": [10.0, -1.0], "expenses": [1.0, 1.0]}
    )  # fmt: skip
    frame.to_excel(tmp_path / "flows.xlsx", index=False)
    s = ingest(read_source(str(tmp_path / "flows.xlsx")), "monthly_cashflows", lake_with_rates)
    assert (s.accepted, s.quarantined) == (1, 1)
    frame.to_parquet(tmp_path / "flows.parquet")
    s = ingest(read_source(str(tmp_path / "flows.parquet")), "monthly_cashflows", lake_with_rates)
    assert (s.accepted, s.quarantined, s.changed) == (1, 1, True)  # new source: its own quarantine rows


def test_crash_during_write_leaves_lake_as_it_was(
    tmp_path: Path, lake_with_rates: Lake, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = write(
        tmp_path / "f.csv",
        f"{CASHFLOW_HEADER}\n{make_ruc(1)},2024-01,PEN,1,1\n{bad_ruc(2)},2024-01,PEN,1,1\n",
    )
    before = lake_fingerprint(lake_with_rates.root)
    manifest_before = json.loads((lake_with_rates.root / "_manifest.json").read_text())
    calls = {"n": 0}
    original = pd.DataFrame.to_parquet

    def failing(self: pd.DataFrame, *args: object, **kwargs: object) -> None:
        calls["n"] += 1
        if calls["n"] == 2:  # data written, quarantine not yet
            raise OSError("disk full")
        original(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(pd.DataFrame, "to_parquet", failing)
    with pytest.raises(OSError, match="disk full"):
        ingest(read_source(str(src)), "monthly_cashflows", lake_with_rates)
    monkeypatch.undo()
    assert lake_fingerprint(lake_with_rates.root) == before
    assert json.loads((lake_with_rates.root / "_manifest.json").read_text()) == manifest_before
    assert "monthly_cashflows" not in lake_with_rates.tables()


# -- properties ------------------------------------------------------------------------------
_cell = st.one_of(
    st.sampled_from(["", "-", "abc", "0", "1", "-3", "1,000.5", "2024-13", "2024-01", "2024-02-01", "PEN", "USD"]),
    st.integers(-10, 10_000).map(str),
)
_row = st.fixed_dictionaries(
    {
        "ruc": st.sampled_from([make_ruc(1), make_ruc(2), bad_ruc(3), "123", ""]),
        "month": st.sampled_from(["2024-01", "2024-02-01", "2024-03-15", "x", "2024-03"]),
        "currency": st.sampled_from(["PEN", "USD", "EUR", ""]),
        "income": _cell,
        "expenses": _cell,
    }
)


def _csv(rows: list[dict[str, str]]) -> str:
    body = [",".join(f'"{r[c]}"' for c in ("ruc", "month", "currency", "income", "expenses")) for r in rows]
    return "\n".join([CASHFLOW_HEADER, *body]) + "\n"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(_row, min_size=1, max_size=25))
def test_property_counts_add_up_and_ingest_is_idempotent(
    tmp_path_factory: pytest.TempPathFactory, rows: list[dict[str, str]]
) -> None:
    root = tmp_path_factory.mktemp("prop")
    lake = Lake(root / "lake")
    ingest(read_source(str(write(root / "rates.csv", RATES_CSV))), "exchange_rates", lake)
    src = write(root / "flows.csv", _csv(rows))
    first = ingest(read_source(str(src)), "monthly_cashflows", lake)
    assert first.accepted + first.quarantined + first.duplicates == first.rows_read == len(rows)
    assert len(lake.read("monthly_cashflows")) == first.accepted
    assert len(lake.quarantine("monthly_cashflows")) == first.quarantined
    snapshot = lake_fingerprint(lake.root)
    second = ingest(read_source(str(src)), "monthly_cashflows", lake)
    assert second.changed is False
    assert (second.accepted, second.quarantined, second.duplicates) == (
        first.accepted,
        first.quarantined,
        first.duplicates,
    )
    assert lake_fingerprint(lake.root) == snapshot


def test_source_options_sql_needs_table_or_query() -> None:
    with pytest.raises(SourceUnreadableError, match="exactly one of --query or --sql-table"):
        read_source("sqlite:///:memory:", SourceOptions())
