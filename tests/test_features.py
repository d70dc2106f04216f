from __future__ import annotations

import itertools
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pymescore.features import (
    BY_NAME,
    FEATURE_NAMES,
    FEATURES,
    GROUP_TITLES,
    FeatureConfig,
    build_features,
    build_labels,
    feature_context,
)
from pymescore.features._payments import NEVER_DELINQUENT_MONTHS
from pymescore.features._snapshot import read_lineage
from tests.helpers import make_ruc

AS_OF = pd.Timestamp("2024-06-30")


def test_registry_entries_are_complete() -> None:
    assert len(FEATURES) >= 60
    for f in FEATURES:
        assert re.fullmatch(r"[a-z][a-z0-9_]*", f.name), f.name
        assert f.group in GROUP_TITLES
        assert f.monotone in (-1, 0, 1)
        assert f.description_es
        assert f.description_en
        assert f.rationale
        assert f.sources
        assert f.unit
        assert f.kind in ("numeric", "flag", "categorical")
        # every feature can lower some score (a free one for some of its values): each names its factor
        assert f.reason_es, f"{f.name} can lower a score: it needs reason texts"
        assert f.reason_en, f"{f.name} can lower a score: it needs reason texts"
        assert f.reason_es != f.description_es, f.name
        assert f.reason_en != f.description_en, f.name
        for source in f.sources:
            assert re.fullmatch(r"[a-z_]+\.[a-z_]+", source), source


def test_catalog_and_builder_agree(sim_lake: dict[str, object]) -> None:
    features = build_features(sim_lake["tables"], AS_OF)  # type: ignore[arg-type]
    assert list(features.columns) == ["ruc", *FEATURE_NAMES]
    assert features["ruc"].is_unique


def test_values_are_finite_and_inside_declared_ranges(sim_lake: dict[str, object]) -> None:
    # at 2025-06-30 two statements have been filed and two years of monthly history exist
    features = build_features(sim_lake["tables"], "2025-06-30")  # type: ignore[arg-type]
    for f in FEATURES:
        if f.kind == "categorical":
            continue
        values = features[f.name].to_numpy(dtype=np.float64)
        assert not np.isinf(values).any(), f.name
        lo, hi = f.valid_range
        present = values[~np.isnan(values)]
        if lo is not None:
            assert (present >= lo).all(), f.name
        if hi is not None:
            assert (present <= hi).all(), f.name
    # every feature is populated for some firm at this date (nothing is dead)
    assert [c for c in FEATURE_NAMES if features[c].isna().all()] == []


def test_one_firm_alone_equals_its_batch_row(sim_lake: dict[str, object]) -> None:
    tables: dict[str, pd.DataFrame] = sim_lake["tables"]  # type: ignore[assignment]
    batch = build_features(tables, AS_OF).set_index("ruc")
    context = feature_context(tables, AS_OF)
    rng = np.random.default_rng(3)
    for ruc in rng.choice(batch.index.to_numpy(), size=25, replace=False):
        alone_tables = {name: t[t["ruc"] == ruc] for name, t in tables.items()}
        alone = build_features(alone_tables, AS_OF, context=context).set_index("ruc")
        pd.testing.assert_frame_equal(alone, batch.loc[[ruc]], check_categorical=True)


def test_labels_agree_with_the_oracle(sim_lake: dict[str, object]) -> None:
    tables: dict[str, pd.DataFrame] = sim_lake["tables"]  # type: ignore[assignment]
    oracle: pd.DataFrame = sim_lake["oracle"]  # type: ignore[assignment]
    agree, total = 0, 0
    for as_of in sorted(oracle["as_of"].unique()):
        rucs = build_features(tables, as_of)["ruc"].to_numpy()
        labels = build_labels(tables, as_of, rucs)
        pairs = oracle[oracle["as_of"] == as_of].merge(labels, on="ruc", how="left")
        assert not pairs["in_default"].any()  # the oracle's firms are at risk
        agree += int((pairs["default_12m"].astype(float) == pairs["defaulted"].astype(float)).sum())
        total += len(pairs)
    assert agree / total >= 0.99, agree / total


def test_no_label_without_a_performance_window(sim_lake: dict[str, object]) -> None:
    tables: dict[str, pd.DataFrame] = sim_lake["tables"]  # type: ignore[assignment]
    late = pd.Timestamp("2025-06-30")  # data end in 2025-12: the 12-month window is not over
    rucs = build_features(tables, late)["ruc"].to_numpy()
    labels = build_labels(tables, late, rucs)
    labels = labels[~labels["in_default"]]
    observed = labels["default_12m"].notna()
    assert (labels.loc[observed, "default_12m"]).all()  # only defaults already seen can be labelled
    assert 0 < observed.mean() < 0.06  # six months of defaults at most, never a "good" label


def _bin_rates(frame: pd.DataFrame, column: str) -> list[float]:
    data = frame.dropna(subset=[column])
    bins = pd.qcut(data[column], 5, duplicates="drop")
    return data.groupby(bins, observed=True)["default_12m"].mean().tolist()


@pytest.fixture(scope="module")
def large_tables(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pd.DataFrame]:
    """30,000 firms: enough defaults per quintile for the sanity check to see the signal, not the noise."""
    from pymescore.features._snapshot import read_lake_tables
    from pymescore.lake import Lake
    from pymescore.simulate import SimulationConfig, simulate, write_simulation
    from pymescore.sources import ingest_folder

    root = tmp_path_factory.mktemp("large")
    write_simulation(simulate(SimulationConfig(firms=30_000, months=36, seed=5, error_rate=0.0)), root / "sim")
    lake = Lake(root / "lake")
    ingest_folder(root / "sim", lake)
    return read_lake_tables(lake)


def test_default_rate_rises_across_quintiles_without_the_oracle(large_tables: dict[str, pd.DataFrame]) -> None:
    tables = large_tables
    frames = []
    for as_of in ("2024-06-30", "2024-09-30", "2024-12-31"):
        f = build_features(tables, as_of)
        labels = build_labels(tables, as_of, f["ruc"].to_numpy())
        f = f.assign(default_12m=labels["default_12m"].astype(float).to_numpy())[~labels["in_default"].to_numpy()]
        frames.append(f.dropna(subset=["default_12m"]))
    data = pd.concat(frames)
    # equity <= 0 leaves the ratio undefined (NaN + negative_equity): for ranking, the most leveraged
    data.loc[data["negative_equity"] == 1, "debt_to_equity"] = data["debt_to_equity"].max() + 1.0
    for column in ("dpd_max_12m", "debt_to_equity"):
        rates = _bin_rates(data, column)
        assert len(rates) >= 3, (column, rates)
        assert all(b >= a for a, b in itertools.pairwise(rates)), (column, rates)


def _tiny_tables() -> dict[str, pd.DataFrame]:
    ruc = make_ruc(42)
    months = pd.date_range("2023-07-01", "2024-06-01", freq="MS")
    income = np.arange(1, 13, dtype=float) * 1000  # rising
    return {
        "firms": pd.DataFrame(
            {
                "ruc": [ruc],
                "ciiu": ["4711"],
                "ubigeo": ["200101"],
                "start_date": pd.to_datetime(["2020-06-30"]),
                "taxpayer_state": ["ACTIVO"],
                "domicile_condition": ["NO HABIDO"],
            }
        ),
        "monthly_cashflows": pd.DataFrame(
            {"ruc": ruc, "month": months, "currency": "PEN", "income_pen": income, "expenses_pen": income * 0.5}
        ),
        "payments": pd.DataFrame(
            {
                "ruc": ruc,
                "due_date": pd.to_datetime(["2024-03-10", "2024-04-10", "2024-05-10", "2024-06-10", "2024-07-10"]),
                "paid_date": pd.to_datetime(["2024-03-10", "2024-05-20", "2024-07-01", None, None]),
                "amount_due_pen": 100.0,
                "amount_paid_pen": [100.0, 100.0, 100.0, 0.0, 0.0],
                "currency": ["PEN", "PEN", "PEN", "USD", "PEN"],
            }
        ),
        "financial_statements": pd.DataFrame(
            {
                "ruc": ruc,
                "period_end": pd.to_datetime(["2022-12-31", "2023-12-31"]),
                "total_assets_pen": [800.0, 1000.0],
                "total_liabilities_pen": [500.0, 1200.0],
                "equity_pen": [300.0, -200.0],
                "revenue_pen": [400.0, 500.0],
                "cost_of_sales_pen": [300.0, 350.0],
                "net_income_pen": [10.0, -50.0],
            }
        ),
    }


def test_the_typical_month_margin_ignores_one_exceptional_month() -> None:
    """Twelve months at a 20% margin, one of them with a mistyped expense: the 24-month margin on totals turns
    negative, the typical month's margin stays at 20%. A month with expenses and no income is the worst month
    (the margins' floor, not -inf, not left out): when most months are like that, the typical month is too; a
    month with neither has no margin."""
    from pymescore.features._cashflow import MARGIN_FLOOR

    tables = _tiny_tables()
    flows = tables["monthly_cashflows"].assign(income_pen=1000.0, expenses_pen=800.0)
    flows.loc[5, "expenses_pen"] = 5000.0
    flows.loc[6, ["income_pen", "expenses_pen"]] = [0.0, 300.0]
    flows.loc[7, ["income_pen", "expenses_pen"]] = [0.0, 0.0]
    row = build_features({**tables, "monthly_cashflows": flows}, AS_OF).iloc[0]
    assert row["net_cf_margin_24m"] == pytest.approx((10_000.0 - 12_500.0) / 10_000.0)
    assert row["net_cf_margin_median_24m"] == pytest.approx(0.2)  # 11 months: 9 at 20%, one at -400%, one floor

    idle = tables["monthly_cashflows"].assign(income_pen=1000.0, expenses_pen=800.0)
    idle.loc[:6, ["income_pen", "expenses_pen"]] = [0.0, 500.0]  # 7 of 12 months with expenses and no income
    row = build_features({**tables, "monthly_cashflows": idle}, AS_OF).iloc[0]
    assert row["net_cf_margin_median_24m"] == MARGIN_FLOOR


def test_hand_computed_values() -> None:
    row = build_features(_tiny_tables(), AS_OF).iloc[0]
    assert row["income_mean_3m"] == pytest.approx(11000.0)
    assert row["income_median_12m"] == pytest.approx(6500.0)
    assert row["net_cf_margin_12m"] == pytest.approx(0.5)
    assert row["income_slope_12m"] == pytest.approx(1000.0 / 6500.0)
    assert row["months_of_history"] == 12
    log_income = np.log(np.arange(1, 13) * 1000.0)
    assert row["net_cf_margin_24m"] == pytest.approx(0.5)
    assert row["net_cf_margin_median_24m"] == pytest.approx(0.5)
    assert row["income_growth_24m"] == pytest.approx(np.polyfit(np.arange(12), log_income, 1)[0])
    assert row["income_volatility_24m"] == pytest.approx(np.std(np.diff(log_income), ddof=1))
    assert np.isnan(row["income_yoy_growth_3m"])  # a year earlier is not in the data: NaN, not 0
    # payments at 2024-06-30: the May instalment was paid on 2024-07-01, after as_of: still open (51 days)
    assert row["dpd_current"] == 51
    assert row["dpd_max_3m"] == 51  # due in Apr-Jun: 40 (paid late), 51 (open), 20 (open)
    assert row["late_payments_12m"] == 3
    assert row["pay_on_time_share_12m"] == pytest.approx(1 / 4)
    assert row["late_share_24m"] == pytest.approx(3 / 4)  # Apr paid late; May and Jun unpaid at as_of
    assert row["months_since_delinquency"] == pytest.approx((pd.Timestamp("2024-06-30") - pd.Timestamp("2024-05-10")
                                                             - pd.Timedelta(days=31)).days / 30.4375)  # fmt: skip
    assert row["usd_share_debt"] == pytest.approx(1 / 4)
    # statements: 2023-12-31 filed by 2024-04-30 (4-month lag) -> used; equity negative -> ratio NaN + flag
    assert row["negative_equity"] == 1
    assert np.isnan(row["debt_to_equity"])
    assert np.isnan(row["roe"])
    assert row["roa"] == pytest.approx(-0.05)
    assert row["revenue_growth"] == pytest.approx(0.25)
    assert row["has_statements"] == 1
    assert row["statement_age_months"] == 6
    assert row["ciiu_section"] == "G"
    assert row["department"] == "20"
    assert row["domicile_not_habido"] == 1
    assert row["taxpayer_not_active"] == 0
    assert row["firm_age_years"] == pytest.approx(4.0, abs=0.01)
    # with a 7-month lag the 2023 statement is not filed yet at as_of: the 2022 one is used
    lagged = build_features(_tiny_tables(), AS_OF, FeatureConfig(statement_lag_months=7)).iloc[0]
    assert lagged["debt_to_equity"] == pytest.approx(500 / 300)


def test_missing_inputs_give_nan_and_flags_never_zero() -> None:
    only_firms = {"firms": _tiny_tables()["firms"]}
    row = build_features(only_firms, AS_OF).iloc[0]
    assert row["has_cashflows"] == 0
    assert row["has_payments"] == 0
    assert row["has_statements"] == 0
    assert row["has_bureau"] == 0
    assert row["months_of_history"] == 0
    for name in ("income_mean_12m", "dpd_max_12m", "dpd_current", "roa", "sbs_rating_current", "late_payments_12m",
                 "months_since_delinquency", "payments_made_12m"):  # fmt: skip
        assert np.isnan(row[name]), name


def test_firms_not_started_are_left_out_and_never_delinquent_is_capped() -> None:
    tables = _tiny_tables()
    tables["payments"] = tables["payments"].assign(paid_date=tables["payments"]["due_date"])
    row = build_features(tables, AS_OF).iloc[0]
    assert row["months_since_delinquency"] == NEVER_DELINQUENT_MONTHS
    assert len(build_features(tables, "2020-06-30")) == 0


def test_snapshot_cli_writes_rows_labels_and_lineage(sim_lake: dict[str, object], tmp_path: Path) -> None:
    lake = sim_lake["lake"]
    out = tmp_path / "snap.parquet"
    cmd = [sys.executable, "-m", "pymescore", "features", "--lake", str(lake.root),  # type: ignore[attr-defined]
           "--as-of", "2024-06-30,2024-09-30", "--out", str(out)]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    snap = pd.read_parquet(out)
    assert list(snap.columns[:2]) == ["ruc", "as_of"]
    assert list(snap.columns[-2:]) == ["default_12m", "label_window_end"]
    assert set(snap["as_of"].dt.strftime("%Y-%m-%d")) == {"2024-06-30", "2024-09-30"}
    assert summary["rows"] == len(snap)
    assert summary["n_features"] == len(FEATURES)
    assert 0.02 < summary["label_rate"] < 0.12
    lineage = read_lineage(out)
    assert lineage == json.loads((tmp_path / "snap.parquet.lineage.json").read_text())
    assert set(lineage["lake_versions"]) >= {"firms", "payments", "bureau_ratings"}
    assert len(lineage["registry_hash"]) == 64
    assert (snap["label_window_end"] == snap["as_of"] + pd.DateOffset(months=12)).all()


def test_bad_as_of_is_refused() -> None:
    from pymescore.errors import ContractError

    with pytest.raises(ContractError, match="expected a date"):
        build_features(_tiny_tables(), "2024-06-30 12:00")


@pytest.mark.parametrize(
    ("name", "value", "es", "en"),
    [
        ("income_mean_12m", 12500.4, "S/ 12,500 al mes", "PEN 12,500 a month"),
        ("total_equity", -3000.0, "S/ -3,000", "PEN -3,000"),
        ("log_income_mean_12m", float(np.log1p(56000.0)), "S/ 56,000 al mes", "PEN 56,000 a month"),
        ("net_cf_margin_24m", 0.16216, "16.2%", "16.2%"),
        ("income_growth_24m", -0.012, "-1.2% mensual", "-1.2% a month"),
        ("dpd_max_12m", 15.0, "15 días", "15 days"),
        ("months_since_delinquency", 7.5, "7.5 meses", "7.5 months"),
        ("late_payments_12m", 2.0, "2", "2"),
        ("income_volatility_24m", 0.1816, "18.2%", "18.2%"),
        ("net_cf_margin_24m", float("nan"), "—", "—"),
        ("dpd_max_12m", 1.0, "1 día", "1 day"),
        ("firm_age_years", 1.004, "1 año", "1 year"),
        ("total_equity", -0.4, "S/ 0", "PEN 0"),
        ("net_cf_margin_24m", -0.0004, "0.0%", "0.0%"),
        ("dpd_mean_3m", -0.001, "0 días", "0 days"),
        ("debt_to_equity", 3.5, "3.5 veces", "3.5 times"),
        ("annual_sales_uit", 1700.0, "1,700 UIT", "1,700 UIT"),
    ],
)
def test_feature_values_are_shown_in_their_units(name: str, value: float, es: str, en: str) -> None:
    from pymescore.features._display import display_value

    assert display_value(BY_NAME[name], value, "es") == es
    assert display_value(BY_NAME[name], value, "en") == en


def test_a_log_scale_feature_is_named_by_its_amount() -> None:
    from pymescore.features._display import quantity_name

    assert quantity_name(BY_NAME["log_income_mean_12m"], "es") == "Ingreso mensual promedio (12 meses)"
    assert quantity_name(BY_NAME["log_total_assets"], "en") == "Total assets"
    assert quantity_name(BY_NAME["net_cf_margin_24m"], "es") == BY_NAME["net_cf_margin_24m"].description_es
    # every log-scale amount has the prefix the display strips: a renamed description would show "log of"
    for f in FEATURES:
        if f.unit == "log PEN":
            assert quantity_name(f, "es") != f.description_es
            assert quantity_name(f, "en") != f.description_en


def test_ratios_beyond_float64_are_missing_never_inf() -> None:
    """A statement with a tiny denominator (1e13 / 1e-300) once overflowed into inf features (schemathesis)."""
    from pymescore.features._arrays import product, ratio

    out = ratio(np.array([1.0, 1e13, 1.0, np.nan]), np.array([4.0, 1e-300, 0.0, 1.0]))
    assert out[0] == 0.25
    assert np.isnan(out[1:]).all()
    assert np.isnan(product(np.array([1e200]), np.array([1e200])))[0]
