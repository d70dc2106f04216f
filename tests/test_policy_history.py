"""``simulate --policy-history``: an earlier policy's applications and decisions, the rejected firms' outcomes
hidden from the tables (not from the oracle), the rate as asked, point in time, and nothing changed without it."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import typer
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from pymescore.cli._simulate import register
from pymescore.contracts import TABLES, validate_table
from pymescore.errors import ConfigError
from pymescore.simulate import SimulatedData, SimulationConfig, simulate, write_simulation
from pymescore.simulate._policy import POINTS, band_points

BASE = {"firms": 1500, "months": 36, "seed": 21, "error_rate": 0.0, "outlier_rate": 0.0}
#: each history, the column that dates its records
DATED = {"monthly_cashflows": "month", "bureau_ratings": "month", "financial_statements": "period_end",
         "payments": "due_date"}  # fmt: skip


@pytest.fixture(scope="module")
def full() -> SimulatedData:
    return simulate(SimulationConfig(**BASE))  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def lender() -> SimulatedData:
    return simulate(SimulationConfig(**BASE, policy_history=True, rejection_rate=0.35))  # type: ignore[arg-type]


def _rejected_dates(data: SimulatedData) -> pd.Series:
    apps = data.applications
    assert apps is not None
    rejected = apps[apps["decision"] == "rejected"]
    return rejected.set_index("ruc")["application_date"]


def digest(data: SimulatedData) -> str:
    """A fingerprint of every frame's columns, dtypes and values, floats to 6 significant digits: numpy's
    transcendental functions may differ in the last bits from one CPU to another (AVX-512 or not), which moves
    no value of the population but would move a hash of its raw bits."""
    h = hashlib.sha256()
    for name, frame in [*data.tables.items(), ("oracle", data.oracle), ("injected_errors", data.injected_errors)]:
        h.update(name.encode())
        h.update(repr(list(zip(frame.columns, map(str, frame.dtypes), strict=True))).encode())
        rounded = frame.copy()
        for c in rounded.columns:
            if rounded[c].dtype.kind == "f":
                rounded[c] = rounded[c].map(lambda x: float(f"{x:.6g}"))
        h.update(pd.util.hash_pandas_object(rounded, index=False).to_numpy().tobytes())
    return h.hexdigest()


def test_without_policy_history_the_simulation_is_unchanged() -> None:
    # the fingerprint of this population before --policy-history existed (commit 341ec54, the same there and on
    # main, floats rounded as ``digest`` says): the option must not
    # move one value of a simulation that does not ask for it, nor its simulation.json
    data = simulate(SimulationConfig(firms=300, months=24, seed=5))
    assert digest(data) == "3bfb6a8e3a33e814d6ef0dd2f2803676353c0620121374429dc5201cca1cb0ad"
    assert data.applications is None
    assert "policy" not in data.summary()
    assert set(data.config.to_dict()) == {"firms", "months", "seed", "end", "default_rate", "error_rate",
                                          "outlier_rate", "usd_share", "shock"}  # fmt: skip
    ignored = simulate(SimulationConfig(firms=300, months=24, seed=5, rejection_rate=0.6))
    assert digest(ignored) == digest(data)


def test_policy_history_is_deterministic_under_its_seed(lender: SimulatedData) -> None:
    again = simulate(SimulationConfig(**BASE, policy_history=True, rejection_rate=0.35))  # type: ignore[arg-type]
    assert digest(again) == digest(lender)
    assert lender.applications is not None
    assert again.applications is not None
    pd.testing.assert_frame_equal(again.applications, lender.applications)


def test_applications_follow_their_contract_and_one_per_firm_at_an_oracle_pair(lender: SimulatedData) -> None:
    apps = lender.applications
    assert apps is not None
    assert tuple(apps.columns) == TABLES["applications"].column_names
    assert validate_table(apps, TABLES["applications"]).rejected.empty
    assert not apps["ruc"].duplicated().any()
    oracle = lender.oracle
    marked = oracle[oracle["application"]]
    assert len(marked) == len(apps)
    keys = set(zip(apps["ruc"], apps["application_date"], strict=True))
    assert set(zip(marked["ruc"], marked["as_of"], strict=True)) == keys
    rejected = set(
        zip(*[apps.loc[apps["decision"] == "rejected", c] for c in ("ruc", "application_date")], strict=True)
    )
    assert (
        set(zip(oracle.loc[oracle["rejected"], "ruc"], oracle.loc[oracle["rejected"], "as_of"], strict=True))
        == rejected
    )
    assert not (oracle["rejected"] & ~oracle["application"]).any()


@settings(max_examples=8, deadline=None)
@given(rate=st.floats(0.0, 0.9), seed=st.integers(0, 10_000))
def test_the_rejection_rate_is_as_asked(rate: float, seed: int) -> None:
    data = simulate(SimulationConfig(firms=250, months=24, seed=seed, error_rate=0.0, policy_history=True,
                                     rejection_rate=rate))  # fmt: skip
    apps = data.applications
    assert apps is not None
    assert len(apps) > 0
    assert int((apps["decision"] == "rejected").sum()) == round(rate * len(apps))
    policy = data.summary()["policy"]
    assert isinstance(policy, dict)
    assert policy["rejected"] == round(rate * len(apps))


def test_rejected_outcomes_are_hidden_from_the_tables_and_kept_in_the_oracle(lender: SimulatedData) -> None:
    until = _rejected_dates(lender)
    assert len(until) > 300
    for name, column in DATED.items():
        frame = lender.tables[name]
        limit = frame["ruc"].map(until)
        assert not (frame[column] >= limit).any(), name
    payments = lender.payments
    assert not (payments["paid_date"] >= payments["ruc"].map(until)).any()
    # the oracle still knows every rejected application's outcome, and some of them defaulted
    oracle = lender.oracle[lender.oracle["rejected"]]
    assert len(oracle) == len(until)
    assert oracle["defaulted"].notna().all()
    assert oracle["defaulted"].any()
    assert oracle["defaulted"].mean() > lender.oracle.loc[lender.oracle["application"] & ~lender.oracle["rejected"],
                                                          "defaulted"].mean()  # fmt: skip


def test_everything_else_is_what_the_full_simulation_holds(full: SimulatedData, lender: SimulatedData) -> None:
    until = _rejected_dates(lender)
    pd.testing.assert_frame_equal(lender.firms, full.firms)
    pd.testing.assert_frame_equal(lender.oracle[list(full.oracle.columns)], full.oracle)
    for name, column in DATED.items():
        whole = full.tables[name]
        kept = whole[~(whole[column] >= whole["ruc"].map(until))].reset_index(drop=True)
        if name == "payments":  # a payment made on or after the decision was not known then
            later = (kept["paid_date"] >= kept["ruc"].map(until)).to_numpy()
            kept = kept.assign(
                paid_date=kept["paid_date"].mask(later), amount_paid=kept["amount_paid"].mask(later, 0.0)
            )
        pd.testing.assert_frame_equal(lender.tables[name], kept, obj=name)


def test_the_old_scorecard_points_move_the_right_way() -> None:
    more = np.array([0.0, 1e4, 6e4, 3e5, 1.5e6, 1e8])
    assert np.all(np.diff(band_points("sales_12m_pen", more)) >= 0)
    assert np.all(np.diff(band_points("age_years", np.array([0.0, 2.0, 5.0, 10.0, 40.0]))) >= 0)
    assert np.all(np.diff(band_points("debt_to_sales", np.array([0.0, 0.25, 0.5, 1.0, 9.0]))) <= 0)
    assert list(band_points("sbs_rating", np.array([0.0, 1.0, np.nan]))) == [30, 5, POINTS["sbs_rating"].missing]


def test_rejected_applications_scored_lower_on_average(lender: SimulatedData) -> None:
    apps = lender.applications
    assert apps is not None
    means = apps.groupby("decision")["policy_score"].mean()
    assert means["rejected"] < means["approved"]


def test_a_rejection_rate_out_of_range_is_refused() -> None:
    with pytest.raises(ConfigError, match="rejection_rate"):
        SimulationConfig(firms=10, months=24, policy_history=True, rejection_rate=0.95)


def _app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def root() -> None:
        """Test root."""

    register(app)
    return app


def test_cli_writes_the_applications_and_says_what_was_rejected(tmp_path: Path) -> None:
    out = tmp_path / "sim"
    result = CliRunner().invoke(_app(), ["simulate", "--firms", "200", "--months", "24", "--seed", "3", "--out",
                                         str(out), "--policy-history", "--rejection-rate", "0.4"])  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["policy"]["rejection_rate"] == 0.4
    assert "applications.parquet" in summary["files"]
    assert (out / "applications.parquet").exists()
    apps = pd.read_parquet(out / "applications.parquet")
    assert (apps["decision"] == "rejected").sum() == summary["policy"]["rejected"] == round(0.4 * len(apps))
    oracle = pd.read_parquet(out / "oracle.parquet")
    assert {"application", "rejected"} <= set(oracle.columns)
    argv = ["simulate", "--firms", "20", "--months", "24", "--seed", "3", "--out", str(tmp_path / "x"),
            "--policy-history", "--rejection-rate", "1.5"]  # fmt: skip
    code = "from pymescore.cli import main; main()"
    proc = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, check=False)
    assert proc.returncode == 2, proc.stderr
    assert "rejection_rate" in proc.stderr
    assert "Got 1.5 instead" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_written_and_read_back_equal(tmp_path: Path, lender: SimulatedData) -> None:
    write_simulation(lender, tmp_path / "sim")
    assert lender.applications is not None
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "sim" / "applications.parquet"), lender.applications)
