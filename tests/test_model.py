from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pymescore.bundle import BundleError, load_bundle
from pymescore.decision import current_policy
from pymescore.decision import reasons as reasons_of
from pymescore.errors import ConfigError
from pymescore.model import TrainConfig, train
from pymescore.runs import run_training
from pymescore.scoring import score

FAST = {"trials": 2, "time_budget": 5.0, "folds": 3}


def generic_table(n: int = 1500, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    income = rng.lognormal(8, 0.6, n)
    late = rng.poisson(1.0, n)
    sector = rng.choice(["agro", "comercio", "servicios", "manufactura"], n)
    logit = -2.5 + 1.2 * late - 1.5 * (np.log(income) - 8) + 1.0 * (sector == "agro")
    y = rng.random(n) < 1 / (1 + np.exp(-logit))
    frame = pd.DataFrame(
        {
            "income": [f"${v:,.2f} " for v in income],  # money as text
            "late_payments": late.astype(float),
            "sector": sector,
            "opened": pd.date_range("2015-01-01", periods=n, freq="D").strftime("%d-%b-%y"),
            "officer_id": [f"OF{i % 400:04d}" for i in range(n)],  # high cardinality
            "status": np.where(y, "CHGOFF", "P I F"),
        }
    )
    frame.loc[:9, "status"] = None  # no target: excluded, never labelled good
    return frame


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, object], pd.DataFrame]:
    frame = generic_table()
    out = tmp_path_factory.mktemp("bundle") / "b"
    config = TrainConfig(target="status", positive="CHGOFF", monotone={"late_payments": 1}, holdout=0.2, **FAST)  # type: ignore[arg-type]
    _, metrics = run_training(frame, config, out, dataset="synthetic")
    return out, metrics, frame


def test_typing_is_automatic_and_recorded(trained: tuple[Path, dict[str, object], pd.DataFrame]) -> None:
    _, metrics, _ = trained
    kinds = {t["column"]: t["kind"] for t in metrics["typing"]}  # type: ignore[attr-defined,index]
    assert kinds == {"income": "money_text", "late_payments": "numeric", "sector": "category",
                     "opened": "date_text", "officer_id": "target_encoded"}  # fmt: skip
    assert metrics["rows"]["excluded_no_target"] == 10  # type: ignore[index]
    assert metrics["test_kind"] == "holdout"
    assert 0.75 < metrics["test_metrics"]["auc"] < 1.0  # type: ignore[index]


def test_reasons_add_up_to_the_score(trained: tuple[Path, dict[str, object], pd.DataFrame]) -> None:
    out, _, frame = trained
    model = load_bundle(out).model
    summary, points = model.explain(frame.head(50))
    # explain's PD is predict's, bit for bit (it reuses the contributions for the margin)
    assert np.array_equal(summary["pd"].to_numpy(), model.predict_pd(frame.head(50)))
    raw = summary["base_score"] + points.sum(axis=1)
    assert np.allclose(np.clip(raw, 300, 850), summary["score"], atol=0.51)
    reasons = reasons_of(points.to_numpy(), points.columns.tolist(), model.features)
    assert all(len(r) <= 4 for r in reasons)
    assert all(item["impact_points"] < 0 for r in reasons for item in r)
    scored = score(load_bundle(out), frame.head(5))  # a generic bundle: no decision without a policy
    assert list(scored.columns) == ["pd", "score", "band", "reason_1", "reason_2", "reason_3", "reason_4"]
    scored = score(load_bundle(out), frame.head(5), policy=current_policy())
    assert list(scored.columns) == [
        "pd",
        "score",
        "band",
        "decision",
        "reason_1",
        "reason_2",
        "reason_3",
        "reason_4",
        "policy_rules",
    ]


def test_bundle_round_trip_predicts_the_same(trained: tuple[Path, dict[str, object], pd.DataFrame]) -> None:
    out, _, frame = trained
    a = load_bundle(out).model.predict_pd(frame)
    b = load_bundle(out).model.predict_pd(frame)
    assert np.array_equal(a, b)
    assert ((a > 0) & (a < 1)).all()


def test_loading_never_unpickles(
    trained: tuple[Path, dict[str, object], pd.DataFrame], monkeypatch: pytest.MonkeyPatch
) -> None:
    out, _, frame = trained

    def refuse(*_a: object, **_k: object) -> None:
        raise AssertionError("pickle was used")

    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "Unpickler", refuse)
    bundle = load_bundle(out)
    assert len(bundle.model.predict_pd(frame.head(3))) == 3
    assert not list(out.glob("*.pkl"))
    assert not list(out.glob("*.joblib"))


def test_flipping_one_byte_of_any_file_is_refused(
    trained: tuple[Path, dict[str, object], pd.DataFrame], tmp_path: Path
) -> None:
    import shutil

    out, _, _ = trained
    for file in sorted(out.iterdir()):
        copy = tmp_path / f"copy-{file.name}"
        shutil.copytree(out, copy)
        target = copy / file.name
        data = bytearray(target.read_bytes())
        data[len(data) // 2] ^= 0xFF
        target.write_bytes(bytes(data))
        with pytest.raises(BundleError) as err:
            load_bundle(copy)
        assert file.name in err.value.message, (file.name, err.value.message)
    missing = tmp_path / "missing"
    shutil.copytree(out, missing)
    (missing / "model_card.md").unlink()
    with pytest.raises(BundleError, match=r"model_card\.md: listed in the manifest but missing"):
        load_bundle(missing)


@settings(max_examples=30, deadline=None)
@given(row=st.integers(0, 1400), bump=st.floats(0.5, 20))
def test_monotone_feature_never_moves_pd_against_its_direction(
    trained: tuple[Path, dict[str, object], pd.DataFrame], row: int, bump: float
) -> None:
    out, _, frame = trained
    model = load_bundle(out).model
    base = frame.iloc[[row]].copy()
    more = base.copy()
    more["late_payments"] = base["late_payments"] + bump
    assert model.predict_pd(more)[0] >= model.predict_pd(base)[0] - 1e-12


def test_target_must_be_binary_or_named() -> None:
    frame = generic_table(200)
    with pytest.raises(ConfigError, match="pass --positive VALUE"):
        train(frame, TrainConfig(target="status", **FAST))  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="expected column"):
        train(frame, TrainConfig(target="nope", **FAST))  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"--trials \(trials\): expected an int in the range \[1, 10000\], got 0"):
        TrainConfig(target="status", trials=0)


def test_cli_train_evaluate_score_report_register(tmp_path: Path) -> None:
    frame = generic_table(1200, seed=3)
    table = tmp_path / "loans.csv"
    frame.to_csv(table, index=False)
    from pymescore.signing import write_key_pair

    pair = write_key_pair(tmp_path / "risk")
    env = {**os.environ, "PYMESCORE_MLFLOW_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
           "PYMESCORE_SIGNING_KEY": pair["private_key"]}  # fmt: skip

    def run(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "pymescore", *args], capture_output=True, text=True, env=env, cwd=tmp_path
        )
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout.strip().splitlines()[-1]

    import json

    train_args = ["--table", str(table), "--target", "status", "--positive", "CHGOFF", "--trials", "2"]
    summary = json.loads(run("train", *train_args, "--time-budget", "5", "--out", str(tmp_path / "b"), "--register"))
    assert summary["registry"]["alias"] == "challenger"
    assert summary["signer"] == summary["registry"]["signer"] == pair["fingerprint"]  # signed, recorded
    metrics = json.loads(run("evaluate", "--bundle", str(tmp_path / "b"), "--table", str(table), "--target", "status",
                             "--positive", "CHGOFF", "--json", str(tmp_path / "m.json")))  # fmt: skip
    assert set(metrics) >= {"auc", "gini", "ks", "brier", "logloss", "ece", "n", "positive_rate"}
    run("score", "--bundle", str(tmp_path / "b"), "--table", str(table), "--out", str(tmp_path / "s.parquet"))
    assert len(pd.read_parquet(tmp_path / "s.parquet")) == len(frame)
    run("report", "--bundle", str(tmp_path / "b"), "--table", str(table), "--target", "status", "--positive", "CHGOFF",
        "--out", str(tmp_path / "r.html"))  # fmt: skip
    html = (tmp_path / "r.html").read_text()
    assert html.count("data:image/png;base64,") >= 6
    promoted = json.loads(run("promote", "--version", str(summary["registry"]["version"])))
    assert promoted["alias"] == "champion"
    from pymescore.model_card import recalibration_warning

    assert promoted["test_metrics"]["mean_pd"] == pytest.approx(summary["test"]["mean_pd"])
    assert promoted["recalibration_warning"] == recalibration_warning(summary["test"], "champion")
    from pymescore.registry import download

    os.environ["PYMESCORE_MLFLOW_URI"] = env["PYMESCORE_MLFLOW_URI"]
    try:
        cwd = os.getcwd()
        os.chdir(tmp_path)
        local = download("models:/pymescore@champion", tmp_path / "dl")
        assert load_bundle(local).version == summary["version"]
    finally:
        os.chdir(cwd)
        del os.environ["PYMESCORE_MLFLOW_URI"]


def test_smote_adds_minority_rows_between_minority_neighbours_only() -> None:
    from pymescore.model._smote import oversample

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=200), "b": rng.normal(size=200),  # noqa: N806
                      "c": pd.Categorical(rng.choice(["x", "y"], 200))})  # fmt: skip
    X.loc[::7, "b"] = np.nan
    y = (rng.random(200) < 0.1).astype(int)
    Xs, ys = oversample(X, y, seed=1, ratio=0.5)  # noqa: N806
    assert (ys == 1).sum() == int(0.5 * (y == 0).sum())
    assert Xs.iloc[: len(X)].reset_index(drop=True).equals(X.reset_index(drop=True))
    synthetic = Xs.iloc[len(X) :]
    minority = X[y == 1]
    assert synthetic["a"].between(minority["a"].min(), minority["a"].max()).all()
    assert set(synthetic["c"].dropna()) <= set(minority["c"].dropna())
    assert Xs["c"].dtype == X["c"].dtype


def test_smote_is_an_option_compared_with_scale_pos_weight(tmp_path: Path) -> None:
    frame = generic_table()
    config = TrainConfig(target="status", positive="CHGOFF", holdout=0.2, imbalance="smote", **FAST)  # type: ignore[arg-type]
    _, metrics = run_training(frame, config, tmp_path / "b", dataset="synthetic")
    comparison = metrics["imbalance"]["oof_auc"]
    assert set(comparison) == {"smote", "scale_pos_weight"}
    assert all(0.5 < v <= 1.0 for v in comparison.values())
    names = [c["name"] for c in metrics["candidates"]]
    assert "xgboost (comparison)" in names


@settings(max_examples=40, deadline=None)
@given(
    firms=st.integers(min_value=20, max_value=60),
    rows_per_firm=st.integers(min_value=1, max_value=6),
    seed=st.integers(min_value=0, max_value=10_000),
)
def test_early_stopping_rows_are_whole_firms_or_the_row_split(firms: int, rows_per_firm: int, seed: int) -> None:
    from pymescore.model._xgb import stopping_split

    groups = np.repeat(np.arange(firms), rows_per_firm)
    y = (np.random.default_rng(seed).random(len(groups)) < 0.3).astype(int)
    y[:4] = [0, 1, 0, 1]
    fit_idx, stop_idx = stopping_split(y, groups, seed)
    assert sorted(np.concatenate([fit_idx, stop_idx]).tolist()) == list(range(len(y)))
    row_split = sorted(stopping_split(y, None, seed)[1].tolist())
    if not set(groups[stop_idx]).isdisjoint(groups[fit_idx]):  # only the row-level fallback mixes firms
        assert sorted(stop_idx.tolist()) == row_split
    elif sorted(stop_idx.tolist()) != row_split:  # the grouped split is taken only with both outcomes
        assert len(np.unique(y[stop_idx])) == 2


def test_early_stopping_on_a_firm_panel_holds_out_whole_firms() -> None:
    from pymescore.model._xgb import stopping_split

    groups = np.repeat(np.arange(400), 4)
    y = (np.random.default_rng(3).random(len(groups)) < 0.1).astype(int)
    fit_idx, stop_idx = stopping_split(y, groups, seed=11)
    assert set(groups[stop_idx]).isdisjoint(groups[fit_idx])
    assert 0.05 < len(stop_idx) / len(y) < 0.15
    assert set(y[stop_idx]) == {0, 1}


def test_mean_curve_carries_a_stopped_fold_at_its_last_value() -> None:
    from pymescore.model._xgb import mean_curve

    curves = [np.array([0.6, 0.7, 0.8, 0.75]), np.array([0.5, 0.9])]
    assert mean_curve(curves).tolist() == pytest.approx([0.55, 0.8, 0.85, 0.825])
    assert int(np.argmax(mean_curve(curves))) + 1 == 3


def test_models_fit_for_the_rounds_the_tuning_folds_chose() -> None:
    """Tuning saw every development row: the best trial's peak round is the out-of-fold and final boosters'
    round count, and no row is held out to stop on."""
    frame = generic_table(1200, seed=5)
    config = TrainConfig(target="status", positive="CHGOFF", holdout=0.2, families=("xgboost",), **FAST)  # type: ignore[arg-type]
    result = train(frame, config)
    model, metrics = result.model, result.report
    tuning = metrics["tuning"]
    best = max((t for t in tuning["history"] if t["state"] == "COMPLETE"), key=lambda t: t["value"])
    assert tuning["rounds"] == best["rounds"] >= 1
    assert tuning["stopping"] == "tuning folds"
    assert model.booster is not None
    assert model.booster.num_boosted_rounds() == tuning["rounds"]


def test_a_tuning_sample_falls_back_to_early_stopping() -> None:
    """Rounds chosen on a sample of the rows would be too few for the full folds: early stopping instead."""
    frame = generic_table(1200, seed=4)
    config = TrainConfig(
        target="status", positive="CHGOFF", holdout=0.2, tune_max_rows=600, families=("xgboost",), **FAST
    )  # type: ignore[arg-type]
    result = train(frame, config)
    model, metrics = result.model, result.report
    assert metrics["tuning"]["rounds"] is None
    assert metrics["tuning"]["stopping"] == "early stopping on 10% held out"
    assert model.booster is not None
    assert model.booster.num_boosted_rounds() >= 1


def test_tuning_returns_the_round_where_the_best_mean_validation_curve_peaks() -> None:
    """Rebuild the best trial's fold curves from its parameters: the rounds are the peak of their mean."""
    from pymescore.model._xgb import mean_curve, tune, validation_curve

    rng = np.random.default_rng(8)
    n = 900
    x = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n), "c": rng.normal(size=n)})
    y = (rng.random(n) < 1 / (1 + np.exp(-(x["a"] - 0.5 * x["b"] - 1.5)))).astype(int).to_numpy()
    folds = []
    for k in range(3):
        va = np.arange(n) % 3 == k
        folds.append((x[~va], y[~va], x[va], y[va], None))
    params, history, rounds = tune(folds, {}, 1.0, seed=3, trials=3, time_budget=60.0)
    curves = [validation_curve(Xtr, ytr, Xva, yva, params, {}, 1.0, 3) for Xtr, ytr, Xva, yva, _ in folds]
    mean = mean_curve(curves)
    assert rounds == int(np.argmax(mean)) + 1
    best = max((t for t in history if t["state"] == "COMPLETE"), key=lambda t: t["value"])
    assert best["value"] == pytest.approx(float(mean.max()))


def test_the_scoring_matrix_predicts_as_the_pandas_matrix() -> None:
    """The service's float-array DMatrix (categories as codes) gives the booster the pandas DMatrix's values."""
    from pymescore.model import _xgb

    frame = generic_table(800, seed=6)
    frame.loc[::7, "sector"] = None  # missing categories
    frame.loc[::5, "late_payments"] = np.nan
    config = TrainConfig(target="status", positive="CHGOFF", holdout=0.2, families=("xgboost",), **FAST)  # type: ignore[arg-type]
    model = train(frame, config).model
    assert model.booster is not None
    x = model.matrix(frame.drop(columns=["status"]))
    assert any(isinstance(d, pd.CategoricalDtype) for d in x.dtypes)
    pandas_way = model.booster.predict(_xgb.dmatrix(x), output_margin=True)
    array_way = model.booster.predict(_xgb.scoring_matrix(x), output_margin=True)
    assert np.array_equal(pandas_way, array_way)


def test_the_families_read_a_column_map_as_they_read_the_frame() -> None:
    """Scoring hands the scorecard and the logistic regression the matrix's columns by name (numbers taken out
    in one conversion); their contributions are the ones they give on the frame itself, categories included."""
    from pymescore.model import column_map

    frame = generic_table(800, seed=7)
    frame.loc[::6, "sector"] = None
    frame.loc[::4, "late_payments"] = np.nan
    config = TrainConfig(target="status", positive="CHGOFF", holdout=0.2, families=("scorecard", "logistic"), **FAST)  # type: ignore[arg-type]
    model = train(frame, config).model
    x = model.matrix(frame.drop(columns=["status"]))
    columns = column_map(x)
    assert isinstance(columns["sector"], pd.Categorical)
    assert columns["late_payments"].dtype == np.float64
    for family in (model.scorecard, model.linear):
        assert family is not None
        assert family.variables_
        by_frame, bias_frame = family.contributions(x)
        by_map, bias_map = family.contributions(columns)
        assert bias_frame == bias_map
        assert by_frame.keys() == by_map.keys()
        for name in by_frame:
            assert np.array_equal(by_frame[name], by_map[name]), name


def test_column_map_gives_numbers_as_floats_and_keeps_dates_text_and_categories() -> None:
    from pymescore.model import column_map

    frame = pd.DataFrame(
        {
            "x": [1.5, np.nan],
            "n": np.array([1, 2], dtype=np.int64),
            "b": [True, False],
            "nullable": pd.array([1.0, None], dtype="Float64"),
            "flag": pd.array([True, None], dtype="boolean"),
            "when": pd.to_datetime(["2024-01-31", None]),
            "text": ["a", None],
            "cat": pd.Categorical(["u", None], categories=["u", "v"]),
        }
    )
    got = column_map(frame)
    assert list(got) == frame.columns.tolist()
    for name, want in {"x": [1.5, np.nan], "n": [1.0, 2.0], "b": [1.0, 0.0], "nullable": [1.0, np.nan],
                       "flag": [1.0, np.nan]}.items():  # fmt: skip
        assert got[name].dtype == np.float64
        assert np.array_equal(got[name], np.array(want), equal_nan=True), name
    assert got["when"].tolist()[0] == pd.Timestamp("2024-01-31")
    assert pd.isna(got["when"].tolist()[1])
    assert got["text"].tolist()[0] == "a"
    assert isinstance(got["cat"], pd.Categorical)
    assert got["cat"].codes.tolist() == [0, -1]
    with pytest.raises(ValueError, match="unique column names"):
        column_map(pd.DataFrame([[1.0, 2.0]], columns=["a", "a"]))


def test_reasons_with_one_text_are_one_reason_and_the_heaviest_groups_win() -> None:
    """Columns whose reason reads the same add their points; the top is chosen after adding (two -4s beat -5)."""
    from pymescore.model._fitted import FeatureInfo, FittedModel

    model = object.__new__(FittedModel)
    model.features = [FeatureInfo("late_a", "numeric", 1, "Atrasos", "Arrears"),
                      FeatureInfo("late_b", "numeric", 1, "Atrasos", "Arrears"),
                      FeatureInfo("size", "numeric", 0, "Tamaño", "Size"),
                      FeatureInfo("margin", "numeric", -1, "Margen", "Margin")]  # fmt: skip
    points = pd.DataFrame(
        [[-4.0, -4.0, -5.0, 2.0], [-1.0, -0.5, -3.0, -2.0]], columns=["late_a", "late_b", "size", "margin"]
    )
    first, second = reasons_of(points.to_numpy(), points.columns.tolist(), model.features, top=1)
    assert first == [{"code": "late_a", "text_es": "Atrasos", "text_en": "Arrears", "impact_points": -8.0}]
    assert [r["code"] for r in second] == ["size"]
    assert [
        r["impact_points"] for r in reasons_of(points.to_numpy(), points.columns.tolist(), model.features, top=3)[1]
    ] == [-3.0, -2.0, -1.5]


def test_the_compiled_model_equals_the_fitted_one(trained: tuple[Path, dict[str, object], pd.DataFrame]) -> None:
    """Money as text, dates as text, a category, a target-encoded column: the arrays compiled at load give the
    fitted model's PD, score and points, with missing cells and unseen categories too."""
    from pymescore.model._compiled import CompiledModel

    out, _, frame = trained
    model = load_bundle(out).model
    rows = frame.drop(columns=["status"]).head(300).copy()
    rows.loc[rows.index[:20], "sector"] = None
    rows.loc[rows.index[20:30], "sector"] = "pesca"  # never seen in training
    rows.loc[rows.index[30:40], "income"] = None
    rows.loc[rows.index[40:50], "officer_id"] = "OF9999"
    summary, points = model.explain(rows)
    compiled = CompiledModel(model)
    # a booster in the blend is walked by the compiled loops, not by xgboost's calls
    assert (compiled.forest is None) == (compiled.booster is None)
    source = {c: rows[c].astype(object).where(rows[c].notna(), None).to_numpy() for c in rows.columns}
    source["late_payments"] = rows["late_payments"].to_numpy(dtype=float)
    matrix = compiled.matrix(source, len(rows))
    probes = matrix[:7].copy()
    probes[:, compiled.columns.index("late_payments")] += 3.0  # more arrears: a lower score
    explained = compiled.explain(compiled.contributions(matrix), probes)
    assert np.allclose(explained.pd, summary["pd"].to_numpy(), rtol=0, atol=1e-12)
    assert np.array_equal(explained.score, summary["score"].to_numpy())
    assert explained.columns == points.columns.tolist()
    # the walks' TreeSHAP runs in float64, xgboost's in float32: the points agree to float32 rounding
    assert np.allclose(explained.points, points.to_numpy(), rtol=0, atol=1e-4)
    # a probe row appended to the margin call scores as that row scored on its own
    alone = compiled.explain(compiled.contributions(probes))
    assert np.array_equal(np.rint(explained.probe_scores).astype(int), alone.score)
    assert not np.array_equal(alone.score, explained.score[:7])  # the probes moved something
    assert np.allclose(compiled.predict(matrix)[0], summary["pd"].to_numpy(), rtol=0, atol=1e-12)
