"""CBPE: the AUC expected from calibrated PDs equals the pairwise definition, matches outcomes drawn from those
PDs, and monitoring sets each monthly cohort's estimate beside its realised figure, marking it untrustworthy
when the outcomes show calibration drift; the figures reach monitor.json, monitor.html and monitor.prom."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pymescore.bundle import Bundle
from pymescore.cbpe import CbpeConfig, estimate_cohorts
from pymescore.errors import ConfigError, PymescoreError
from pymescore.evaluate import reference_bins
from pymescore.evaluate._cbpe import draw_outcomes, estimate_performance, expected_auc
from pymescore.monitoring import monitor, write_outputs
from tests.test_monitoring import _samples


def _pairwise(p: list[float]) -> float | None:
    num = den = 0.0
    for i, j in itertools.permutations(range(len(p)), 2):
        w = p[i] * (1 - p[j])
        den += w
        num += w * ((p[i] > p[j]) + 0.5 * (p[i] == p[j]))
    return None if den <= 0 else num / den


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from([0.0, 0.01, 0.05, 0.05, 0.2, 0.5, 0.9, 1.0]) | st.floats(0, 1), min_size=1,
                max_size=25))  # fmt: skip
def test_the_sorted_computation_is_the_pairwise_definition(p: list[float]) -> None:
    got, want = expected_auc(p), _pairwise(p)
    assert (got is None) == (want is None)
    if want is not None:
        assert got == pytest.approx(want, abs=1e-9)


def test_outcomes_drawn_from_the_pds_have_the_expected_auc() -> None:
    p = 1 / (1 + np.exp(-(np.random.default_rng(3).normal(-3.0, 1.2, 3000))))
    aucs, defaults = draw_outcomes(p, 400, seed=1)
    assert np.nanmean(aucs) == pytest.approx(expected_auc(p), abs=0.003)
    assert defaults.mean() == pytest.approx(p.sum(), rel=0.02)
    est = estimate_performance(p, draws=400)
    assert est["auc_low"] < est["auc"] < est["auc_high"]
    assert est["defaults_low"] < est["expected_defaults"] < est["defaults_high"]


def test_pds_outside_0_1_and_a_bad_config_are_refused() -> None:
    with pytest.raises(PymescoreError, match="PDs in"):
        expected_auc([0.2, 1.5])
    with pytest.raises(ConfigError, match="calibration tolerance"):
        CbpeConfig(calibration_tolerance=0)


@dataclass
class _Bundle:
    reference: dict[str, Any]
    version: str = "stub"


def _cohorts(months: list[str], n: int, rng: np.random.Generator) -> list[dict[str, Any]]:
    out = []
    for m in months:
        for i in range(n):
            pd_ = float(1 / (1 + np.exp(-rng.normal(-2.8, 1.1))))
            score = 600 - 60 * np.log(pd_ / (1 - pd_))
            out.append({"id": f"{m}-{i}", "ruc": f"20{i:09d}", "created_at": f"{m}-15", "model_version": "stub",
                        "pd": pd_, "score": score, "band": "A" if pd_ < 0.05 else "B", "decision": "approve",
                        "response": {"as_of": f"{m}-28"}, "features": {}})  # fmt: skip
    return out


def _outcomes(decisions: list[dict[str, Any]], scale: dict[str, float], rng: np.random.Generator) -> np.ndarray:
    """Outcomes drawn from each decision's PD times its month's ``scale``; NaN where the month is missing (not
    yet known)."""
    y = np.full(len(decisions), np.nan)
    for k, d in enumerate(decisions):
        month = d["created_at"][:7]
        if month in scale:
            y[k] = float(rng.random() < min(1.0, d["pd"] * scale[month]))
    return y


def _estimate(decisions: list[dict[str, Any]], y: np.ndarray) -> dict[str, Any]:
    from pymescore.monitoring import Thresholds, _decision_frame

    frame = _decision_frame(decisions)
    reference = {"score": reference_bins(frame["score"].to_numpy())}
    return estimate_cohorts(frame, pd.DataFrame(index=frame.index), reference, Thresholds(), y, CbpeConfig(draws=50))


MONTHS = ["2024-01", "2024-02", "2024-03", "2024-04", "2024-05"]


def test_calibrated_cohorts_are_trusted_and_their_estimate_follows_the_realised_auc() -> None:
    rng = np.random.default_rng(5)
    decisions = _cohorts(MONTHS, 3000, rng)
    result = _estimate(decisions, _outcomes(decisions, dict.fromkeys(MONTHS[:3], 1.0), rng))
    by = {c["cohort"]: c for c in result["cohorts"]}
    assert [c["cohort"] for c in result["cohorts"]] == MONTHS
    assert result["pending"] == MONTHS[3:]
    assert not result["untrustworthy"], [c["untrustworthy_reasons"] for c in result["cohorts"]]
    for m in MONTHS[:3]:
        assert abs(by[m]["auc_gap"]) <= 0.03
        assert by[m]["realised"]["n"] == 3000
    assert by["2024-05"]["realised"] is None
    assert by["2024-05"]["estimated"]["expected_defaults"] == pytest.approx(
        sum(d["pd"] for d in decisions if d["created_at"].startswith("2024-05")), abs=0.01
    )
    band = {b["band"]: b for b in by["2024-01"]["bands"]}
    assert band["A"]["estimated_bad_rate"] < band["B"]["estimated_bad_rate"]
    assert band["A"]["realised_bad_rate"] is not None
    assert by["2024-05"]["bands"][0]["realised_bad_rate"] is None


def test_calibration_drift_marks_the_realised_cohort_and_the_pending_ones_untrustworthy() -> None:
    rng = np.random.default_rng(6)
    decisions = _cohorts(MONTHS, 3000, rng)
    scale = {"2024-01": 1.0, "2024-02": 1.0, "2024-03": 1.8}  # defaults 80% above what the PDs say
    result = _estimate(decisions, _outcomes(decisions, scale, rng))
    assert result["untrustworthy"] == ["2024-03", "2024-04", "2024-05"]
    by = {c["cohort"]: c for c in result["cohorts"]}
    assert by["2024-03"]["realised"]["calibration"]["off"]
    assert "recent realised cohorts" in by["2024-04"]["untrustworthy_reasons"][0]
    assert result["recent_calibration"]["cohorts"] == MONTHS[:3]


def test_the_estimate_reaches_json_html_and_the_textfile(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    decisions = _cohorts(MONTHS, 400, rng)
    reference = {"score": reference_bins([d["score"] for d in decisions])}
    result = monitor(cast(Bundle, _Bundle(reference)), decisions)
    assert result["cbpe"]["pending"] == MONTHS  # no lake: no outcome known
    result["cbpe"] = _estimate(decisions, _outcomes(decisions, dict.fromkeys(MONTHS[:2], 1.0), rng))
    paths = write_outputs(result, tmp_path)
    samples = _samples(paths["prom"].read_text())
    by = {c["cohort"]: c for c in result["cbpe"]["cohorts"]}
    for m in MONTHS:
        assert samples[("pymescore_monitor_estimated_auc", (("cohort", m),))] == by[m]["estimated"]["auc"]
        assert samples[("pymescore_monitor_estimate_trusted", (("cohort", m),))] == float(by[m]["trustworthy"])
    assert samples[("pymescore_monitor_realised_auc", (("cohort", "2024-01"),))] == by["2024-01"]["realised"]["auc"]
    assert ("pymescore_monitor_realised_auc", (("cohort", "2024-05"),)) not in samples
    page = paths["html"].read_text()
    assert "estimated vs realised AUC by cohort" in page
    assert "data:image/png;base64," in page
    assert json.loads(paths["json"].read_text())["cbpe"]["cohorts"][0]["cohort"] == "2024-01"


def test_the_anchor_moves_the_estimate_by_the_test_gap_and_keeps_what_the_pds_say() -> None:
    """A bundle records its out-of-time test's realised AUC and the AUC its PDs alone promise; monitoring shifts
    every cohort's estimate (and interval) by that gap — PDs compressed at the top understate the AUC by the same
    amount on the test and on a cohort like it — and keeps the unshifted figure beside it."""
    from pymescore.monitoring import Thresholds, _anchor, _decision_frame

    rng = np.random.default_rng(7)
    decisions = _cohorts(MONTHS[:2], 2000, rng)
    frame = _decision_frame(decisions)
    reference = {"score": reference_bins(frame["score"].to_numpy())}
    y = np.full(len(frame), np.nan)
    plain = estimate_cohorts(frame, pd.DataFrame(index=frame.index), reference, Thresholds(), y, CbpeConfig(draws=50))
    moved = estimate_cohorts(frame, pd.DataFrame(index=frame.index), reference, Thresholds(), y, CbpeConfig(draws=50),
                             anchor=0.04)  # fmt: skip
    for a, b in zip(plain["cohorts"], moved["cohorts"], strict=True):
        assert b["estimated"]["auc"] == pytest.approx(a["estimated"]["auc"] + 0.04, abs=1e-4)
        assert b["estimated"]["auc_from_pds"] == a["estimated"]["auc"]
        assert b["estimated"]["auc_low"] == pytest.approx(a["estimated"]["auc_low"] + 0.04, abs=1e-4)

    from types import SimpleNamespace

    recorded = SimpleNamespace(metrics={"test_metrics": {"auc": 0.81}, "test_expected_auc": 0.78})
    assert _anchor(recorded) == pytest.approx(0.03)  # type: ignore[arg-type]
    older = SimpleNamespace(metrics={"test_metrics": {"auc": 0.81}})  # trained before the figure was recorded
    assert _anchor(older) is None  # type: ignore[arg-type]
