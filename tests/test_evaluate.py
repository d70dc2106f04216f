from __future__ import annotations

import dataclasses
import doctest
import importlib
import itertools
import json
import random
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score

import pymescore.evaluate as ev
from pymescore.errors import PymescoreError
from pymescore.evaluate import (
    DEFAULT_BANDS,
    PSI_THRESHOLDS,
    ReportData,
    assign_bands,
    band_table,
    bands_monotone,
    binary_metrics,
    calibration_table,
    fairness_gaps,
    fairness_table,
    psi,
    psi_against_reference,
    psi_verdict,
    reference_bins,
    render_report,
    sme_slices,
    worst_verdict,
)

# --------------------------------------------------------------------------- public surface


def test_exported_names_are_locked() -> None:
    assert ev.__all__ == [
        "DEFAULT_BANDS",
        "PSI_THRESHOLDS",
        "ReportData",
        "Verdict",
        "assign_bands",
        "band_inversions",
        "band_table",
        "bands_monotone",
        "binary_metrics",
        "calibration_table",
        "fairness_gaps",
        "fairness_table",
        "psi",
        "psi_against_reference",
        "psi_verdict",
        "reference_bins",
        "render_report",
        "shadow_comparison",
        "sme_slices",
        "worst_verdict",
    ]


@pytest.mark.parametrize("module", ["_metrics", "_bands", "_fairness", "_stability", "_report"])
def test_docstring_examples(module: str) -> None:
    result = doctest.testmod(importlib.import_module(f"pymescore.evaluate.{module}"))
    assert result.attempted > 0
    assert result.failed == 0


def test_importing_the_package_loads_no_report_extra_and_no_later_stage() -> None:
    code = (
        "import sys, pymescore.evaluate\n"
        "bad = [m for m in ('matplotlib', 'jinja2', 'pymescore.model', 'pymescore.bundle', 'pymescore.cli',"
        " 'fastapi', 'mlflow') if m in sys.modules]\n"
        "print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --------------------------------------------------------------------------- metrics


def _random_outcomes(n: int = 2000, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    p = rng.beta(1.5, 12.0, n)
    y = (rng.random(n) < p).astype(np.int64)
    return y, p


def test_binary_metrics_agree_with_scikit_learn() -> None:
    y, p = _random_outcomes()
    m = binary_metrics(pd.Series(y), pd.Series(p))
    assert m["auc"] == pytest.approx(roc_auc_score(y, p), abs=1e-12)
    assert m["gini"] == pytest.approx(2 * roc_auc_score(y, p) - 1, abs=1e-12)
    assert m["brier"] == pytest.approx(brier_score_loss(y, p), abs=1e-12)
    assert m["logloss"] == pytest.approx(log_loss(y, p), abs=1e-9)
    assert m["n"] == len(y)
    assert m["positive_rate"] == pytest.approx(y.mean())
    assert m["mean_pd"] == pytest.approx(p.mean())
    assert all(type(v) in (float, int) for v in m.values())
    json.dumps(m, allow_nan=False)


def test_logloss_clips_certain_wrong_predictions() -> None:
    m = binary_metrics([0, 1], [1.0, 0.0])
    assert m["logloss"] == pytest.approx(-np.log(1e-15), rel=1e-2)  # 1 − 1e-15 is not exact in float64


def test_ks_on_a_hand_made_example() -> None:
    # thresholds 0.7 and 0.3 both give TPR − FPR = 2/3
    m = binary_metrics([0, 0, 0, 1, 1, 1], [0.1, 0.2, 0.6, 0.3, 0.7, 0.8])
    assert m["ks"] == pytest.approx(2 / 3)
    assert m["auc"] == pytest.approx(8 / 9)


def _calibrated_bins() -> tuple[np.ndarray, np.ndarray]:
    # ten groups of ten rows: PD k/10 and exactly k defaults among them
    p = np.repeat(np.arange(10) / 10, 10)
    y = np.concatenate([np.r_[np.ones(k), np.zeros(10 - k)] for k in range(10)])
    return y, p


def test_ece_is_zero_when_every_bin_is_calibrated_and_the_shift_otherwise() -> None:
    y, p = _calibrated_bins()
    assert binary_metrics(y, p)["ece"] == pytest.approx(0.0, abs=1e-12)
    assert binary_metrics(y, p + 0.05)["ece"] == pytest.approx(0.05, abs=1e-12)
    table = calibration_table(y, p + 0.05)
    assert list(table.columns) == ["bin", "n", "mean_pd", "observed_rate"]
    assert table["n"].tolist() == [10] * 10
    assert np.allclose(table["mean_pd"] - table["observed_rate"], 0.05)


def test_one_class_gives_no_auc_but_the_rest() -> None:
    m = binary_metrics(np.zeros(5), np.full(5, 0.1))
    assert (m["auc"], m["gini"], m["ks"]) == (None, None, None)
    assert m["brier"] == pytest.approx(0.01)
    assert m["ece"] == pytest.approx(0.1)
    assert m["n"] == 5
    json.dumps(m, allow_nan=False)


@pytest.mark.parametrize(
    ("y", "p"),
    [([0, 1], [0.1]), ([0, 2], [0.1, 0.2]), ([0, 1], [0.1, 1.2]), ([0, 1], [0.1, np.nan]), ([], [])],
)
def test_invalid_outcomes_raise_one_error(y: list[float], p: list[float]) -> None:
    with pytest.raises(PymescoreError) as info:
        binary_metrics(y, p)
    assert info.value.code == "EVALUATE_INVALID_INPUT"
    assert "Got" in info.value.message


# --------------------------------------------------------------------------- bands


def test_band_assignment_at_the_boundaries() -> None:
    scores = [850, 640, 639.99, 600, 599.99, 570, 569.99, 540, 539.99, 300, 250]
    assert assign_bands(scores).tolist() == ["A", "A", "B", "B", "C", "C", "D", "D", "E", "E", "E"]
    assert assign_bands(np.array([10.0, 5.0]), bands=[("hi", 10), ("lo", 0)]).tolist() == ["hi", "lo"]


@pytest.mark.parametrize("bands", [[], [("A", 500), ("B", 600)], [("A", 600), ("A", 500)]])
def test_invalid_bands_are_refused(bands: list[tuple[str, int]]) -> None:
    with pytest.raises(PymescoreError, match="bands"):
        assign_bands([600], bands=bands)


def test_band_table_counts_and_rates() -> None:
    score = [700, 650, 620, 610, 580, 575, 560, 550, 400, 350]
    y = [0, 0, 0, 1, 0, 1, 1, 0, 1, 1]
    t = band_table(y, score)
    assert list(t.columns) == [
        "band", "score_from", "score_to", "n", "share", "bads", "bad_rate", "cumulative_bad_rate",
    ]  # fmt: skip
    assert t["band"].tolist() == ["A", "B", "C", "D", "E"]
    assert t["n"].tolist() == [2, 2, 2, 2, 2]
    assert t["bads"].tolist() == [0, 1, 1, 1, 2]
    assert t["bad_rate"].tolist() == [0.0, 0.5, 0.5, 0.5, 1.0]
    assert t["cumulative_bad_rate"].tolist() == pytest.approx([0.0, 0.25, 2 / 6, 3 / 8, 5 / 10])
    assert t["share"].sum() == pytest.approx(1.0)
    assert t["score_to"].tolist() == [None, 640, 600, 570, 540]
    assert bands_monotone(t)


def test_bands_monotone_true_false_and_empty_bands_ignored() -> None:
    assert not bands_monotone(band_table([1, 0, 0, 0], [700, 700, 610, 550]))
    empty_b = band_table([0, 0, 1, 1], [700, 580, 550, 400])
    assert empty_b["n"].tolist() == [1, 0, 1, 1, 1]
    assert np.isnan(empty_b["bad_rate"].iloc[1])
    assert bands_monotone(empty_b)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(min_value=0, max_value=1000, allow_nan=False), min_size=1, max_size=60))
def test_a_higher_score_never_gets_a_worse_band(scores: list[float]) -> None:
    ordered = np.sort(np.asarray(scores))
    rank = {name: i for i, (name, _) in enumerate(DEFAULT_BANDS)}
    idx = [rank[b] for b in assign_bands(ordered)]
    assert all(a >= b for a, b in itertools.pairwise(idx))


# --------------------------------------------------------------------------- fairness


def test_fairness_table_on_a_hand_made_frame() -> None:
    y = np.array([0, 1, 0, 1, 0, 0])
    p = np.array([0.1, 0.8, 0.3, 0.2, 0.05, 0.15])
    score = np.array([650, 520, 600, 580, 700, 560])
    slices = {"region": np.array(["a", "a", "a", "b", "b", None], dtype=object)}
    t = fairness_table(None, y, p, score, cutoff=570, slices=slices)
    assert list(t.columns) == ["slice", "group", "n", "auc", "approval_rate", "observed_bad_rate", "mean_pd"]
    rows = {r.group: r for r in t.itertuples()}
    assert list(rows) == ["a", "b", "desconocido"]
    assert (rows["a"].n, rows["a"].auc) == (3, 1.0)
    assert rows["a"].approval_rate == pytest.approx(2 / 3)
    assert rows["a"].observed_bad_rate == pytest.approx(1 / 3)
    assert rows["a"].mean_pd == pytest.approx(0.4)
    assert rows["b"].auc == 1.0
    assert rows["b"].approval_rate == 1.0
    assert rows["desconocido"].auc is None
    assert rows["desconocido"].approval_rate == 0.0


def test_fairness_table_derives_sme_slices_from_the_frame() -> None:
    frame = pd.DataFrame({"department": ["15", "20"], "size_class": [0.0, 3.0]})
    t = fairness_table(frame, [0, 1], [0.1, 0.9], [600, 500], cutoff=570)
    assert t["slice"].unique().tolist() == ["lima_callao_vs_rest", "macroregion", "size_class"]
    with pytest.raises(PymescoreError, match="slices"):
        fairness_table(None, [0, 1], [0.1, 0.9], [600, 500], cutoff=570)


def test_fairness_gaps_compare_only_groups_with_enough_rows() -> None:
    table = pd.DataFrame(
        {
            "slice": ["s"] * 3 + ["t"] * 2,
            "group": ["a", "b", "c", "x", "y"],
            "n": [500, 300, 20, 400, 400],
            "auc": [0.80, 0.72, 0.30, 0.75, None],
            "approval_rate": [0.90, 0.70, 0.10, 0.60, 0.65],
        }
    )
    gaps = fairness_gaps(table)
    assert gaps["s"]["auc_gap"] == pytest.approx(0.08)
    assert gaps["s"]["approval_gap"] == pytest.approx(0.20)
    assert gaps["s"]["groups"] == 2
    assert gaps["t"]["auc_gap"] is None
    assert gaps["t"]["approval_gap"] == pytest.approx(0.05)


def test_sme_slices_mapping() -> None:
    frame = pd.DataFrame(
        {
            "department": ["15", "07", "20", "04", None, "99", "16"],
            "ciiu_section": ["G", "C", None, "G", "A", "F", "I"],
            "size_class": [0.0, 1.0, 2.0, 3.0, np.nan, 0.0, 1.0],
        }
    )
    s = sme_slices(frame)
    assert list(s) == ["lima_callao_vs_rest", "macroregion", "ciiu_section", "size_class"]
    assert list(s["lima_callao_vs_rest"]) == ["Lima/Callao", "Lima/Callao"] + ["Resto del país"] * 2 + [
        "desconocido",
        "desconocido",
        "Resto del país",
    ]
    assert list(s["macroregion"]) == [
        "LIMA METROPOLITANA", "LIMA METROPOLITANA", "NORTE", "SUR", "desconocido", "desconocido", "ORIENTE",
    ]  # fmt: skip
    assert list(s["ciiu_section"]) == ["G", "C", "desconocido", "G", "A", "F", "I"]
    assert list(s["size_class"]) == ["micro", "pequeña", "mediana", "grande", "desconocido", "micro", "pequeña"]
    assert list(sme_slices(frame[["size_class"]])) == ["size_class"]
    assert sme_slices(pd.DataFrame({"other": [1]})) == {}


def test_sme_slices_accept_numeric_department_codes() -> None:
    s = sme_slices(pd.DataFrame({"department": [7, 15.0, 20]}))
    assert list(s["lima_callao_vs_rest"]) == ["Lima/Callao", "Lima/Callao", "Resto del país"]


# --------------------------------------------------------------------------- stability


def test_psi_identical_shifted_and_verdicts() -> None:
    assert psi([100, 200, 300], [100, 200, 300]) == 0.0
    assert psi([0.2, 0.3, 0.5], [200, 300, 500]) == pytest.approx(0.0, abs=1e-12)
    shifted = psi([0.1] * 10, [0.02] * 5 + [0.18] * 5)
    assert shifted > PSI_THRESHOLDS["act"]
    assert psi_verdict(shifted) == "act"
    assert psi([10, 0], [5, 5]) > 0  # an empty bin counts as a small epsilon, no inf
    assert [psi_verdict(v) for v in (0.0, 0.0999, 0.1, 0.2499, 0.25, 3.0)] == [
        "stable", "stable", "watch", "watch", "act", "act",
    ]  # fmt: skip
    with pytest.raises(PymescoreError):
        psi([1, 2], [1, 2, 3])
    with pytest.raises(PymescoreError):
        psi_verdict(-0.1)  # not a PSI of any two distributions


@pytest.mark.parametrize("missing", [None, float("nan"), float("inf"), float("-inf")])
def test_a_missing_psi_is_unknown_an_alert_never_stable(missing: float | None) -> None:
    from pymescore.evaluate._stability import ALERTS, SEVERITY

    assert psi_verdict(missing) == "unknown"
    assert psi_verdict(missing, watch=0.2, act=0.5) == "unknown"
    assert set(ALERTS) == {"act", "unknown", "insufficient"}  # too few rows (issue 17 #5) fails closed too
    assert SEVERITY["insufficient"] > SEVERITY["unknown"] > SEVERITY["act"] > SEVERITY["watch"] > SEVERITY["stable"]
    assert worst_verdict(["stable", psi_verdict(missing)]) == "unknown"
    assert worst_verdict(["stable", "act", "watch"]) == "act"
    assert worst_verdict([]) == "unknown"  # nothing measured is not "stable"


def test_psi_verdict_thresholds_are_parameters() -> None:
    assert [psi_verdict(v, watch=0.2, act=0.3) for v in (0.19, 0.2, 0.3)] == ["stable", "watch", "act"]
    with pytest.raises(PymescoreError, match="watch < act"):
        psi_verdict(0.1, watch=0.3, act=0.2)


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.floats(min_value=0, max_value=1e6, allow_nan=False), min_size=1, max_size=12).filter(
        lambda xs: sum(xs) > 0
    ),
    st.randoms(use_true_random=False),
)
def test_psi_is_non_negative_and_zero_on_itself(expected: list[float], rnd: random.Random) -> None:
    actual = list(expected)
    rnd.shuffle(actual)
    if sum(actual) > 0:
        assert psi(expected, actual) >= 0.0
    assert psi(expected, expected) == 0.0


def test_numeric_reference_is_json_ready_and_detects_drift() -> None:
    rng = np.random.default_rng(1)
    train = np.r_[rng.normal(0, 1, 5000), [np.nan] * 250]
    ref = reference_bins(train)
    assert json.loads(json.dumps(ref, allow_nan=False)) == ref
    assert ref["kind"] == "numeric"
    assert len(ref["proportions"]) == len(ref["edges"]) + 1 == 10
    assert sum(ref["proportions"]) + ref["nan_share"] == pytest.approx(1.0)
    assert ref["nan_share"] == pytest.approx(250 / 5250)
    assert psi_against_reference(ref, train) == pytest.approx(0.0, abs=1e-12)
    same = np.r_[rng.normal(0, 1, 4000), [np.nan] * 200]
    assert psi_against_reference(ref, same) < PSI_THRESHOLDS["stable"]
    assert psi_against_reference(ref, pd.Series(same)) == psi_against_reference(ref, same)
    assert psi_against_reference(ref, np.r_[rng.normal(1.0, 1, 4000), [np.nan] * 200]) > PSI_THRESHOLDS["act"]
    # the missing share is a bin of its own: losing every missing value is drift too
    assert psi_against_reference(ref, rng.normal(0, 1, 4000)) > PSI_THRESHOLDS["stable"]


def test_categorical_reference_counts_missing_and_new_categories() -> None:
    train = np.array(["15"] * 50 + ["20"] * 30 + [None] * 20, dtype=object)
    ref = reference_bins(train)
    assert ref == {"kind": "categorical", "proportions": {"15": 0.5, "20": 0.3}, "nan_share": 0.2, "n": 100}
    assert psi_against_reference(ref, list(train)) == 0.0
    new = psi_against_reference(ref, ["15"] * 50 + ["20"] * 30 + ["04"] * 20)
    assert new > PSI_THRESHOLDS["act"]
    with pytest.raises(PymescoreError, match="kind"):
        psi_against_reference({"kind": "other"}, [1.0])


# --------------------------------------------------------------------------- report

SECTIONS = (
    "Resumen / Summary",
    "Curva ROC / ROC curve",
    "Estadístico KS / KS plot",
    "Calibración / Calibration",
    "Distribución del score / Score distribution",
    "Bandas de score / Score bands",
    "Importancia global / Global importance",
    "Equidad / Fairness",
    "Prueba del entrenamiento / Training-time test",
    "Validación cruzada / Cross-validation",
    "Comparación de candidatos / Candidate comparison",
    "Tipado de columnas / Column typing",
    "Notas y limitaciones / Notes and limitations",
)


def _report_data(n: int = 3000, **overrides: Any) -> ReportData:
    rng = np.random.default_rng(11)
    z = rng.normal(size=n)
    pd_ = 1 / (1 + np.exp(-(-2.6 + 1.2 * z)))
    y = (rng.random(n) < pd_).astype(np.int64)
    score = np.clip(np.round(600 + 20 / np.log(2) * np.log((1 - pd_) / pd_ / 20)), 300, 850)
    frame = pd.DataFrame(
        {
            "department": rng.choice(np.array(["15", "07", "20", "04", None], dtype=object), size=n),
            "size_class": rng.choice([0.0, 1.0, 2.0, np.nan], size=n),
        }
    )
    data = ReportData(
        title="Modelo <script>alert('x')</script> & co",
        model_version="pymescore-test-1",
        created="2025-01-31T12:00:00Z",
        target="default_12m",
        dataset="simulated snapshot",
        n_train=12000,
        y=y,
        pd_=pd_,
        score=score,
        approve_min_score=600,
        review_min_score=570,
        slices=sme_slices(frame),
        oot={"dates": ["2024-12-31"], "metrics": binary_metrics(y[:500], pd_[:500])},
        cv={"folds": [{"auc": 0.77}, {"auc": 0.79}, {"auc": 0.78}], "mean_auc": 0.78, "std_auc": 0.008},
        candidates=pd.DataFrame(
            {
                "family": ["xgboost", "scorecard", "logistic_baseline"],
                "oof_auc": [0.78, 0.75, 0.74],
                "test_auc": [0.77, 0.745, 0.735],
                "test_ks": [0.42, 0.39, 0.38],
                "selected": [True, False, False],
            }
        ),
        importance=pd.DataFrame(
            {"feature": [f"f{i}" for i in range(25)], "mean_abs_shap": np.linspace(0.5, 0.01, 25), "group": "bureau"}
        ),
        calibration_method="isotonic",
        typing=pd.DataFrame({"column": ["sales"], "kind": ["money_text"], "rule": ["≥95% numbers"]}),
        notes=["Datos simulados <b>no reales</b>."],
    )
    return dataclasses.replace(data, **overrides)


@pytest.fixture(scope="module")
def report_html(tmp_path_factory: pytest.TempPathFactory) -> str:
    out = render_report(_report_data(), tmp_path_factory.mktemp("report") / "sub" / "report.html")
    assert out.name == "report.html"
    return out.read_text(encoding="utf-8")


def test_report_has_every_section_and_inline_plots(report_html: str) -> None:
    for heading in SECTIONS:
        assert heading in report_html, heading
    assert report_html.count('<img src="data:image/png;base64,') >= 6
    assert "Monótona / monotone" in report_html
    assert "isotonic" in report_html
    assert "logistic_baseline" in report_html
    assert "lacks the logistic-regression scorecard baseline" not in report_html
    assert 'class="selected"' in report_html
    assert len(report_html) < 2_000_000


def test_report_is_self_contained_and_escapes_text(report_html: str) -> None:
    assert "http://" not in report_html
    assert "https://" not in report_html
    assert not re.search(r"<(script|link|iframe)\b", report_html, flags=re.IGNORECASE)
    assert "&lt;script&gt;" in report_html
    assert "&lt;b&gt;no reales&lt;/b&gt;" in report_html
    assert "&amp; co" in report_html


def test_report_with_only_the_required_parts(tmp_path: Path) -> None:
    data = _report_data(n=400, slices=None, oot=None, cv=None, candidates=None, importance=None, typing=None, notes=[])
    html = render_report(data, tmp_path / "r.html").read_text(encoding="utf-8")
    assert html.count('<img src="data:image/png;base64,') == 5
    assert html.count("No proporcionado / not provided") == 6
    for heading in SECTIONS:
        assert heading in html


def test_report_notes_a_missing_baseline_and_non_monotone_bands(tmp_path: Path) -> None:
    y = np.array([1, 0] * 100 + [0, 0] * 100)
    score = np.array([700.0, 500.0] * 100 + [560.0, 610.0] * 100)
    pd_ = np.where(score > 600, 0.05, 0.2)
    candidates = pd.DataFrame({"oof_auc": [0.8]}, index=pd.Index(["xgboost"], name="family"))
    data = _report_data(y=y, pd_=pd_, score=score, slices=None, candidates=candidates)
    html = render_report(data, tmp_path / "r.html").read_text(encoding="utf-8")
    assert "lacks the logistic-regression scorecard baseline" in html
    assert "not monotone across bands" in html
    assert '<span class="badge warn">no</span>' in html


def test_report_without_the_extra_gives_an_install_hint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "jinja2", None)
    with pytest.raises(PymescoreError) as info:
        render_report(_report_data(n=200), tmp_path / "r.html")
    assert info.value.code == "EXTRA_MISSING"
    assert "pip install pymescore[report]" in info.value.message
    assert not (tmp_path / "r.html").exists()


def test_report_refuses_misaligned_rows(tmp_path: Path) -> None:
    data = _report_data(n=200)
    data.score = data.score[:-1]
    with pytest.raises(PymescoreError, match="same length"):
        render_report(data, tmp_path / "r.html")


def test_the_report_of_a_snapshot_bundle_shows_its_out_of_time_rows(
    sme_bundle: dict[str, object], tmp_path: Path
) -> None:
    """Figures on the rows the model never trained on, in agreement with metrics.json and the model card."""
    from pymescore.bundle import load_bundle
    from pymescore.features._snapshot import build_snapshot
    from pymescore.reporting import evaluation_rows, write_report

    bundle = load_bundle(sme_bundle["bundle"])  # type: ignore[arg-type]
    snapshot, _ = build_snapshot(sme_bundle["lake"], ["2023-12-31", "2024-12-31"])  # type: ignore[arg-type]
    chosen = evaluation_rows(bundle, snapshot, "default_12m")
    assert set(pd.to_datetime(chosen.rows["as_of"]).dt.date.astype(str)) == set(bundle.metrics["test_dates"])
    assert "out-of-time test" in chosen.label
    html = write_report(bundle, snapshot, "default_12m", None, tmp_path / "r.html").read_text()
    test_auc = bundle.metrics["test_metrics"]["auc"]
    assert f"{test_auc:.4f}" in html  # the summary's AUC is the out-of-time AUC of metrics.json
    assert f"{bundle.metrics['test_metrics']['n']:,} — prueba fuera de tiempo" in html
    assert f"AUC {test_auc:.4f}</strong> — Prueba fuera de tiempo / out-of-time test" in html
    card = bundle.card
    assert "Observation dates: development 2023-12-31; test 2024-12-31" in card
    assert "Calibration in the large on the test: mean PD" in card
    assert "Largest differences between groups" in card
    assert "## Resumen en español" in card
    assert f"Prueba: AUC {bundle.metrics['test_metrics']['auc']:.4f}" in card
    rows = bundle.metrics["rows"]
    assert 0 < rows["test_groups_in_development"] <= rows["test_groups"]
    assert f"of the {rows['test_groups']:,} test groups also have development rows" in card
    assert bundle.metrics["fairness_min_group_n"] == 100


@settings(max_examples=60, deadline=None)
@given(zeros=st.integers(0, 200), rest=st.lists(st.floats(0.01, 100), min_size=1, max_size=200))
def test_reference_quartiles_are_the_exact_quartiles(zeros: int, rest: list[float]) -> None:
    """Hint targets read these: with many zero-day firms the 25th percentile is 0, whatever the bin edges."""
    values = np.array([0.0] * zeros + rest)
    ref = ev.reference_bins(values)
    assert ref["quartiles"] == pytest.approx(list(np.quantile(values, [0.25, 0.5, 0.75])))


def test_the_report_reads_a_time_column_as_the_trainer_did(sme_bundle: dict[str, object]) -> None:
    """A time column with offsets (tz-aware) or mixed formats selects the same out-of-time rows."""
    from pymescore.bundle import load_bundle
    from pymescore.runs import holdout_mask

    bundle = load_bundle(sme_bundle["bundle"])  # type: ignore[arg-type]
    frame = pd.DataFrame({"as_of": ["2023-12-31", "31/12/2024", "2024-12-31T00:00:00+00:00", None], "x": range(4)})
    mask, _ = holdout_mask(bundle, frame)
    assert frame["x"][mask].tolist() == [1, 2]
    aware = pd.DataFrame({"as_of": pd.to_datetime(["2023-12-31", "2024-12-31"]).tz_localize("UTC"), "x": [0, 1]})
    mask, _ = holdout_mask(bundle, aware)
    assert aware["x"][mask].tolist() == [1]


def test_evaluate_on_a_training_snapshot_headlines_the_out_of_time_figures(sme_bundle: dict[str, object]) -> None:
    from pymescore.bundle import load_bundle
    from pymescore.features._snapshot import build_snapshot
    from pymescore.runs import evaluate

    bundle = load_bundle(sme_bundle["bundle"])  # type: ignore[arg-type]
    snapshot, _ = build_snapshot(sme_bundle["lake"], ["2023-12-31", "2024-12-31"])  # type: ignore[arg-type]
    metrics = evaluate(bundle, snapshot, "default_12m")
    assert metrics["auc"] == pytest.approx(bundle.metrics["test_metrics"]["auc"])
    assert (metrics["sample"], metrics["n"]) == ("out_of_time", bundle.metrics["test_metrics"]["n"])
    every = evaluate(bundle, snapshot, "default_12m", rows="all")  # in-sample on request, the test beside it
    assert every["sample"] == "all"
    assert every["test"]["n"] == metrics["n"] < every["n"]
    latest = snapshot[snapshot["as_of"] == snapshot["as_of"].max()]
    assert "test" not in evaluate(bundle, latest, "default_12m")


def test_the_report_of_a_snapshot_bundle_renders_offline_in_chromium(
    sme_bundle: dict[str, object], tmp_path: Path, browser: Any
) -> None:
    """The validation report shows every plot with the network cut (it is one self-contained file); photographed
    into ``$PYMESCORE_SCREENSHOTS`` (docs/screenshots when making the site's pictures: the reviewers' guides)."""
    import os

    from pymescore.bundle import load_bundle
    from pymescore.features._snapshot import build_snapshot
    from pymescore.reporting import write_report

    bundle = load_bundle(sme_bundle["bundle"])  # type: ignore[arg-type]
    snapshot, _ = build_snapshot(sme_bundle["lake"], ["2023-12-31", "2024-12-31"])  # type: ignore[arg-type]
    out = write_report(bundle, snapshot, "default_12m", None, tmp_path / "report.html")
    shots = Path(os.environ.get("PYMESCORE_SCREENSHOTS") or tmp_path / "shots")
    shots.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    try:
        context.set_offline(True)
        page = context.new_page()
        page.goto(out.as_uri())
        drawn = page.eval_on_selector_all("img", "imgs => imgs.map(i => i.complete && i.naturalWidth > 0)")
        assert len(drawn) >= 6
        assert all(drawn)
        assert f"{bundle.metrics['test_metrics']['auc']:.4f}" in page.inner_text("body")
        page.screenshot(path=str(shots / "report.png"), full_page=False)  # the summary and the first plots
    finally:
        context.close()
    assert (shots / "report.png").stat().st_size > 10_000
