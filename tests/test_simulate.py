"""The simulator: contracts, ground truth, calibration, determinism, files and CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import typer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from stdnum.pe import ruc as stdnum_ruc
from typer.testing import CliRunner

from pymescore.cli._simulate import register
from pymescore.contracts import TABLES, validate_table
from pymescore.errors import ConfigError
from pymescore.simulate import RAW_TABLES, SimulatedData, SimulationConfig, simulate, write_simulation
from pymescore.simulate._catalog import SHOCK_DEPARTMENTS
from pymescore.simulate._config import Calendar
from pymescore.simulate._credit import auc
from pymescore.simulate._population import build_population

FIRMS, MONTHS, SEED = 2000, 36, 11


@pytest.fixture(scope="module")
def clean() -> SimulatedData:
    return simulate(SimulationConfig(firms=FIRMS, months=MONTHS, seed=SEED, error_rate=0.0, outlier_rate=0.0))


@pytest.fixture(scope="module")
def dirty() -> SimulatedData:
    return simulate(SimulationConfig(firms=FIRMS, months=MONTHS, seed=SEED))


def _numbered(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows numbered 1..n, as in the written file."""
    return frame.set_axis(pd.RangeIndex(1, len(frame) + 1))


def _first_default_month(bureau: pd.DataFrame) -> pd.Series:
    return bureau[bureau["sbs_rating"] >= 2].groupby("ruc")["month"].min()


# --- configuration ------------------------------------------------------------------------------


def test_public_names_are_locked() -> None:
    import pymescore.simulate

    assert pymescore.simulate.__all__ == [
        "DEFAULT_DEFINITION",
        "RAW_TABLES",
        "STEPS",
        "SimulatedData",
        "SimulationConfig",
        "check_output_dir",
        "simulate",
        "simulate_chunked",
        "write_simulation",
    ]


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("firms", 0, "an int in the range [1, 1000000]"),
        ("firms", True, "an int in the range"),
        ("months", 12, "an int in the range [20, 240]"),
        ("default_rate", 1.5, "a float in the range [0.001, 0.4]"),
        ("error_rate", -0.1, "a float in the range [0, 0.2]"),
        ("usd_share", float("nan"), "a float in the range [0, 1]"),
        ("end", "2025-13", "a month written YYYY-MM"),
        ("end", "2999-01", "a completed month before"),
        ("end", "1990-01", "in 1995-01 or later"),
    ],
)
def test_config_rejects_bad_values_with_expected_and_got(field: str, value: object, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        SimulationConfig(**{"firms": 10, "months": 24, "seed": 1, field: value})  # type: ignore[arg-type]
    message = info.value.message
    assert f"'{field}' parameter" in message
    assert expected in message
    assert "Got " in message
    assert info.value.code == "CONFIG_INVALID"


# --- tables and contracts -----------------------------------------------------------------------


def test_same_config_gives_identical_frames() -> None:
    config = SimulationConfig(firms=400, months=24, seed=5)
    first, second = simulate(config), simulate(config)
    for name in (*RAW_TABLES, "oracle", "injected_errors"):
        pd.testing.assert_frame_equal(getattr(first, name), getattr(second, name))
    other = simulate(SimulationConfig(firms=400, months=24, seed=6))
    assert not first.firms["ruc"].equals(other.firms["ruc"])


def test_tables_have_the_contract_columns_and_types(clean: SimulatedData) -> None:
    for name, frame in clean.tables.items():
        contract = TABLES[name]
        assert tuple(frame.columns) == contract.column_names, name
        for col in contract.columns:
            dtype = frame[col.name].dtype
            if col.kind in ("str", "code"):
                assert pd.api.types.is_string_dtype(dtype), (name, col.name, dtype)
            elif col.kind in ("date", "month"):
                assert pd.api.types.is_datetime64_dtype(dtype), (name, col.name, dtype)
                values = frame[col.name].dropna()
                assert (values == values.dt.normalize()).all()
                if col.kind == "month":
                    assert (values.dt.day == 1).all()
            elif col.kind == "int":
                assert dtype == np.int64, (name, col.name, dtype)
            else:
                assert dtype == np.float64, (name, col.name, dtype)
            if col.kind == "code" and col.width:
                assert frame[col.name].dropna().str.fullmatch(rf"\d{{{col.width}}}").all()


def test_clean_simulation_passes_every_contract(clean: SimulatedData) -> None:
    for name, frame in clean.tables.items():
        result = validate_table(_numbered(frame), TABLES[name])
        assert result.rejected.empty, (name, result.rejected.head().to_dict("records"))
    assert clean.injected_errors.empty


def test_rejected_rows_are_exactly_the_injected_errors(dirty: SimulatedData) -> None:
    injected = dirty.injected_errors
    assert set(injected.columns) == {"table", "row", "kind", "contract_violation"}
    for name, frame in dirty.tables.items():
        result = validate_table(_numbered(frame), TABLES[name])
        mine = injected[(injected["table"] == name) & injected["contract_violation"]]
        assert set(result.rejected.index) == set(mine["row"]), name
        if name != "exchange_rates":
            assert len(mine) == round(0.01 * len(frame)), name
            assert mine["kind"].nunique() >= 3, name
    outliers = injected[~injected["contract_violation"]]
    assert len(outliers) > 0
    assert set(outliers["table"]) == {"monthly_cashflows", "financial_statements", "payments", "bureau_ratings"}


def test_clean_rows_have_unique_keys(dirty: SimulatedData) -> None:
    injected = dirty.injected_errors
    for name, frame in dirty.tables.items():
        bad = injected[(injected["table"] == name) & injected["contract_violation"]]["row"].to_numpy() - 1
        rows = frame.drop(index=frame.index[bad])
        assert not rows.duplicated(list(TABLES[name].key)).any(), name


def test_firms_look_peruvian(clean: SimulatedData) -> None:
    firms = clean.firms
    assert firms["ruc"].map(stdnum_ruc.is_valid).all()
    assert firms["ruc"].is_unique
    companies = (firms["ruc"].str[:2] == "20").mean()
    assert 0.5 < companies < 0.7
    assert set(firms["ruc"].str[:2]) == {"10", "20"}
    assert firms["name"].str.contains("Ñ").any()
    assert firms["name"].str.contains(r"S\.A\.C\.|E\.I\.R\.L\.").any()
    assert (firms["ubigeo"].str[:2] == "15").mean() > 0.3
    assert (firms["taxpayer_state"] == "ACTIVO").mean() > 0.9
    assert (firms["domicile_condition"] == "HABIDO").mean() > 0.85
    assert firms["domicile_condition"].isin(["NO HABIDO", "NO HALLADO"]).any()


def test_exchange_rates_are_daily_business_days_in_band(clean: SimulatedData) -> None:
    rates = clean.exchange_rates
    assert (rates["date"].dt.day_of_week < 5).all()
    assert rates["pen_per_usd"].between(3.2, 4.1).all()
    assert rates["date"].min() < pd.Timestamp("2023-01-01") <= rates["date"].min() + pd.Timedelta(days=35)
    assert rates["date"].max() >= pd.Timestamp("2025-12-29")
    assert rates["pen_per_usd"].pct_change().abs().max() < 0.03


def test_statements_balance_and_are_missing_more_for_micro_firms(clean: SimulatedData) -> None:
    st_ = clean.financial_statements
    assert (st_["equity"] == st_["total_assets"] - st_["total_liabilities"]).all()
    assert (st_["period_end"].dt.strftime("%m-%d") == "12-31").all()
    config = clean.config
    pop = build_population(config, Calendar.from_config(config))
    size = pd.Series(pop.size, index=pop.ruc)
    filed = st_.groupby(st_["ruc"].map(size)).size() / (size.value_counts() * st_["period_end"].nunique())
    assert filed[0] < 0.3  # micro
    assert filed[2] > 0.7  # medium
    assert filed[0] < filed[1] < filed[2]


def test_young_firms_have_no_cash_flows_before_they_start(clean: SimulatedData) -> None:
    start = clean.firms.set_index("ruc")["start_date"]
    assert (start >= pd.Timestamp("2023-02-01")).mean() > 0.05  # some firms start inside the window
    flows = clean.monthly_cashflows
    assert (flows["month"] >= flows["ruc"].map(start).dt.to_period("M").dt.to_timestamp()).all()


def test_shock_cuts_income_on_the_northern_coast() -> None:
    def north_vs_rest(data: SimulatedData) -> float:
        months = [pd.Timestamp(m) for m in data.info["shock_months"]]  # type: ignore[attr-defined]
        dept = data.monthly_cashflows["ruc"].map(data.firms.set_index("ruc")["ubigeo"].str[:2])
        north = dept.isin(SHOCK_DEPARTMENTS)
        flows = data.monthly_cashflows.assign(north=north)
        in_shock = flows["month"].isin(months[1:3])
        med = flows[in_shock].groupby("north")["income"].median()
        base = flows[~in_shock].groupby("north")["income"].median()
        return float((med[True] / base[True]) / (med[False] / base[False]))

    shocked = simulate(SimulationConfig(firms=4000, months=24, seed=3, error_rate=0.0, outlier_rate=0.0))
    assert len(shocked.info["shock_months"]) == 5  # type: ignore[arg-type]
    assert north_vs_rest(shocked) < 0.8
    calm = simulate(SimulationConfig(firms=10, months=24, seed=3, shock=False))
    assert calm.info["shock_months"] == []


def test_usd_share_controls_dollarised_rows() -> None:
    none = simulate(SimulationConfig(firms=500, months=20, seed=2, usd_share=0.0, error_rate=0.0))
    assert (none.monthly_cashflows["currency"] == "PEN").all()
    assert (none.payments["currency"] == "PEN").all()
    some = simulate(SimulationConfig(firms=500, months=20, seed=2, usd_share=0.3, error_rate=0.0))
    assert (some.monthly_cashflows["currency"] == "USD").any()
    assert (some.payments["currency"] == "USD").any()


# --- ground truth -------------------------------------------------------------------------------


def test_oracle_pairs(clean: SimulatedData) -> None:
    oracle = clean.oracle
    assert list(oracle.columns) == ["ruc", "as_of", "true_pd", "defaulted"]
    assert oracle["defaulted"].dtype == bool
    assert ((oracle["true_pd"] > 0) & (oracle["true_pd"] < 1)).all()
    assert oracle["as_of"].dt.is_quarter_end.all()
    assert oracle["as_of"].min() >= pd.Timestamp("2023-06-30")  # 6 months of history
    assert oracle["as_of"].max() <= pd.Timestamp("2024-12-31")  # 12 months of performance
    assert not oracle.duplicated(["ruc", "as_of"]).any()
    assert abs(oracle["true_pd"].mean() - oracle["defaulted"].mean()) < 0.01


def test_oracle_auc_is_between_080_and_090(clean: SimulatedData) -> None:
    value = clean.summary()["oracle_auc"]
    assert isinstance(value, float)
    assert 0.80 <= value <= 0.90


def test_auc_matches_sklearn_with_ties() -> None:
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    scores = rng.integers(0, 20, 500).astype(float)
    labels = rng.random(500) < 0.2 + scores / 40
    assert auc(scores, labels) == pytest.approx(roc_auc_score(labels, scores))
    assert auc(scores, np.zeros(500, dtype=bool)) is None


@pytest.mark.parametrize("rate", [0.03, 0.06, 0.10])
def test_default_rate_is_calibrated(rate: float) -> None:
    data = simulate(SimulationConfig(firms=20_000, months=20, seed=4, default_rate=rate, error_rate=0.0))
    assert abs(data.oracle["defaulted"].mean() - rate) <= 0.01


def test_oracle_labels_agree_with_bureau_ratings(clean: SimulatedData) -> None:
    first = clean.oracle["ruc"].map(_first_default_month(clean.bureau_ratings)).dt.to_period("M")
    as_of = clean.oracle["as_of"].dt.to_period("M")
    recomputed = ((first > as_of) & (first <= as_of + 12)).fillna(False)
    assert (recomputed == clean.oracle["defaulted"]).mean() >= 0.99


def test_ratings_stay_down_after_default_and_never_reach_2_otherwise(clean: SimulatedData) -> None:
    bureau = clean.bureau_ratings
    first = bureau["ruc"].map(_first_default_month(bureau))
    assert (bureau.loc[bureau["month"] >= first, "sbs_rating"] >= 2).all()
    assert (bureau.loc[first.isna(), "sbs_rating"] <= 1).all()
    assert (bureau.loc[first.isna(), "sbs_rating"] == 1).any()
    assert ((bureau["debt_total"] == 0) | (bureau["n_lenders"] >= 1)).all()
    # a row for every month a firm exists
    start = bureau["ruc"].map(clean.firms.set_index("ruc")["start_date"]).dt.to_period("M")
    months_alive = (pd.Period("2025-12", "M") - start.clip(lower=pd.Period("2023-01", "M"))).map(lambda d: d.n + 1)
    assert (bureau.groupby("ruc").size() == months_alive.groupby(bureau["ruc"]).first()).all()


def test_payments_agree_with_defaults(clean: SimulatedData) -> None:
    pay = clean.payments
    first = pay["ruc"].map(_first_default_month(clean.bureau_ratings))
    snapshot = pd.Timestamp("2025-12-31")
    late = (pay["paid_date"].fillna(snapshot) - pay["due_date"]).dt.days
    assert (late[first.isna()] <= 30).all()  # never > 30 days past due unless defaulting
    assert (pay["paid_date"].dropna() >= pay.loc[pay["paid_date"].notna(), "disbursement_date"]).all()
    after = pay[first.notna() & (pay["due_date"] >= first)]
    assert (after["paid_date"].isna() | (late[after.index] > 90)).all()


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    firms=st.integers(1, 80),
    months=st.integers(20, 30),
    seed=st.integers(0, 2**32),
    usd=st.floats(0.0, 1.0),
)
def test_any_seed_gives_valid_rucs_and_unique_keys(firms: int, months: int, seed: int, usd: float) -> None:
    data = simulate(SimulationConfig(firms=firms, months=months, seed=seed, usd_share=usd, error_rate=0.0))
    assert data.firms["ruc"].map(stdnum_ruc.is_valid).all()
    for name, frame in data.tables.items():
        assert not frame.duplicated(list(TABLES[name].key)).any(), name
    assert set(data.bureau_ratings["ruc"]) == set(data.firms["ruc"])


# --- files and CLI ------------------------------------------------------------------------------


def test_write_simulation_writes_every_file_atomically(tmp_path: Path, dirty: SimulatedData) -> None:
    out = tmp_path / "sim"
    summary = write_simulation(dirty, out)
    names = {*(f"{t}.parquet" for t in RAW_TABLES), "oracle.parquet", "injected_errors.parquet", "simulation.json"}
    assert {p.name for p in out.iterdir()} == names
    assert set(summary["files"]) == names  # type: ignore[call-overload]
    for name in (*RAW_TABLES, "oracle", "injected_errors"):
        pd.testing.assert_frame_equal(pd.read_parquet(out / f"{name}.parquet"), getattr(dirty, name))
    manifest = json.loads((out / "simulation.json").read_text(encoding="utf-8"))
    assert manifest["config"]["seed"] == SEED
    assert "SBS rating" in manifest["summary"]["default_definition"]
    write_simulation(dirty, out)  # an earlier simulation is replaced
    assert [p.name for p in tmp_path.iterdir()] == ["sim"]  # no temporary folder left behind
    other = tmp_path / "other"
    other.mkdir()
    (other / "keep.txt").write_text("x")
    with pytest.raises(ConfigError, match="missing or empty folder"):
        write_simulation(dirty, other)
    assert (other / "keep.txt").exists()


def _app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def root() -> None:
        """Test root."""

    register(app)
    return app


def test_cli_writes_files_and_prints_the_summary_last(tmp_path: Path) -> None:
    out = tmp_path / "sim"
    args = ["simulate", "--firms", "300", "--months", "24", "--seed", "3", "--out", str(out), "--no-shock"]
    result = CliRunner().invoke(_app(), args)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["seed"] == 3
    assert summary["rows"]["firms"] == 300
    assert summary["shock_months"] == []
    assert {"default_rate", "oracle_auc", "files"} <= set(summary)
    assert all((out / name).exists() for name in summary["files"])
    assert "simulate" in CliRunner().invoke(_app(), ["simulate", "--help"]).stdout


@pytest.mark.parametrize(
    ("option", "value", "got"),
    [("--firms", "0", "Got 0 instead"), ("--default-rate", "1.5", "Got 1.5 instead")],
)
def test_cli_bad_parameter_exits_2_with_a_clear_message(tmp_path: Path, option: str, value: str, got: str) -> None:
    args = {"--firms": "10", "--months": "24", "--seed": "1", "--out": str(tmp_path / "x"), option: value}
    argv = [a for pair in args.items() for a in pair]
    code = "from pymescore.cli import main; main()"
    proc = subprocess.run([sys.executable, "-c", code, "simulate", *argv], capture_output=True, text=True, check=False)
    assert proc.returncode == 2
    assert got in proc.stderr
    assert "must be" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "x").exists()
