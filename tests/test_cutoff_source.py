"""One cut-off source: a policy file's approve_min_score (and review_min_score) reaches every consumer of a cut-off
that validation has (the report, the fairness slices, the model card and metrics, the gate), and a bundle
validated with another policy is named, not refused. The service's decisions are tested with the scorer.

Each test sets PYMESCORE_POLICY_FILE (or passes --policy) to a policy whose cut-offs differ from the built-in
600/570 and from the old fixed 570, and checks figures recomputed independently at those cut-offs; each checks
too that those figures differ at the default cut-off, so that a consumer ignoring the policy fails it.
"""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from pymescore.bundle import Bundle, load_bundle
from pymescore.decision import Policy, cutoff_line, load_policy
from pymescore.evaluate import fairness_gaps, fairness_table, render_report, sme_slices
from pymescore.evaluate._report import fmt
from pymescore.features._snapshot import build_snapshot
from pymescore.gate import gate
from pymescore.model import TrainConfig
from pymescore.reporting import write_report
from pymescore.runs import evaluation_rows, run_training
from pymescore.tables import labelled
from tests.test_evaluate import _report_data

APPROVE, REVIEW = 620.0, 540.0  # the built-in policy: 600 / 570; the old fixed cut-off: 570
DEFAULT = Policy()


def write_policy(path: Path) -> Path:
    path.write_text(f'name = "test-strict"\napprove_min_score = {APPROVE}\nreview_min_score = {REVIEW}\n')
    return path


@pytest.fixture(scope="module")
def policy_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_policy(tmp_path_factory.mktemp("policy") / "policy.toml")


@pytest.fixture(scope="module")
def snapshot(sme_bundle: dict[str, Any]) -> pd.DataFrame:
    frame, _ = build_snapshot(sme_bundle["lake"], ["2023-12-31", "2024-12-31"])
    return frame


@pytest.fixture(scope="module")
def strict_bundle(snapshot: pd.DataFrame, policy_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Bundle:
    """A bundle trained while the policy file is in force (PYMESCORE_POLICY_FILE)."""
    out = tmp_path_factory.mktemp("strict") / "bundle"
    config = TrainConfig(target="default_12m", group_col="ruc", time_col="as_of", trials=1, time_budget=5.0, folds=3)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PYMESCORE_POLICY_FILE", str(policy_file))
        run_training(snapshot, config, out, dataset="sim")
    return load_bundle(out)


def approval_rates(rows: pd.DataFrame, y: np.ndarray, score: np.ndarray, cutoff: float) -> list[float]:
    table = fairness_table(rows, y, np.full(len(y), 0.5), score, cutoff, sme_slices(rows))
    return [float(r) for r in table["approval_rate"]]


# --------------------------------------------------------------------------- (a) the report


def test_the_report_states_and_applies_the_policy_files_cut_offs(
    sme_bundle: dict[str, Any], snapshot: pd.DataFrame, policy_file: Path, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    bundle = load_bundle(sme_bundle["bundle"])
    rows = evaluation_rows(bundle, snapshot, "default_12m").rows
    score = bundle.model.predict(rows)["score"].to_numpy()
    strict, default = float((score >= APPROVE).mean()), float((score >= DEFAULT.approve_min_score).mean())
    assert fmt(strict, percent=True) != fmt(default, percent=True)  # the test can tell the two apart

    monkeypatch.setenv("PYMESCORE_POLICY_FILE", str(policy_file))
    html = write_report(bundle, snapshot, "default_12m", None, tmp_path / "r.html").read_text(encoding="utf-8")
    policy = load_policy(policy_file)

    def row(label: str) -> str:
        found = re.search(rf"{label}</td><td>([^<]+)</td>", html)
        assert found is not None, label
        return found.group(1)

    assert row("cut-offs") == "aprobar si score ≥ 620, revisión si ≥ 540 / approve ≥ 620, review ≥ 540"
    assert row("policy") == policy.version
    assert row("approval rate") == fmt(strict, percent=True)
    assert row("review rate") == fmt(float(((score >= REVIEW) & (score < APPROVE)).mean()), percent=True)
    assert f"Política / policy {policy.version}: {cutoff_line(policy)}" in html
    # the bundle was validated with the built-in policy: said, not refused
    assert f"se validó con la política / was validated with policy {DEFAULT.version}" in html


def test_the_report_cli_takes_a_policy_file(sme_bundle: dict[str, Any], policy_file: Path, tmp_path: Path) -> None:
    table = tmp_path / "snapshot.parquet"
    build_snapshot(sme_bundle["lake"], ["2024-12-31"])[0].to_parquet(table)
    out = tmp_path / "r.html"
    done = subprocess.run(
        [sys.executable, "-m", "pymescore", "report", "--bundle", str(sme_bundle["bundle"]), "--table", str(table),
         "--target", "default_12m", "--policy", str(policy_file), "--out", str(out)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["policy"] == load_policy(policy_file).version
    assert DEFAULT.version in summary["policy_notice"]
    assert DEFAULT.version in done.stderr
    assert "approve ≥ 620, review ≥ 540" in out.read_text(encoding="utf-8")
    missing = subprocess.run(
        [sys.executable, "-m", "pymescore", "report", "--bundle", str(sme_bundle["bundle"]), "--table", str(table),
         "--target", "default_12m", "--policy", str(tmp_path / "nope.toml"), "--out", str(out)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert missing.returncode == 2
    assert "expected a readable TOML policy file" in missing.stderr


def test_a_bundle_from_before_policies_were_recorded_still_reports(
    sme_bundle: dict[str, Any], snapshot: pd.DataFrame, tmp_path: Path
) -> None:
    bundle = load_bundle(sme_bundle["bundle"])
    metrics = {k: v for k, v in bundle.metrics.items() if k != "policy"}
    old = dataclasses.replace(bundle, metrics={**metrics, "policy_cutoff": 570})  # what such bundles hold
    html = write_report(old, snapshot, "default_12m", None, tmp_path / "r.html", DEFAULT).read_text(encoding="utf-8")
    assert "records no policy it was validated with" in html
    assert "approve ≥ 600, review ≥ 570" in html
    same = write_report(bundle, snapshot, "default_12m", None, tmp_path / "s.html", DEFAULT)
    assert "se validó" not in same.read_text(encoding="utf-8")  # the policy it was validated with: nothing to say


def test_report_data_takes_the_cut_offs_and_draws_them(tmp_path: Path) -> None:
    fields = {f.name: f for f in dataclasses.fields(_report_data(n=10))}
    assert fields["approve_min_score"].default is dataclasses.MISSING  # no silent default cut-off
    assert fields["review_min_score"].default is dataclasses.MISSING
    data = _report_data(n=1500, approve_min_score=APPROVE, review_min_score=REVIEW, policy_version="p+1")
    html = render_report(data, tmp_path / "r.html").read_text(encoding="utf-8")
    assert "approve ≥ 620, review ≥ 540" in html
    assert "<td>p+1</td>" in html
    assert "tasa de aprobación (score ≥ 620)" in html
    strict = fairness_table(None, data.y, data.pd_, data.score, APPROVE, data.slices)["approval_rate"]
    at_default = fairness_table(None, data.y, data.pd_, data.score, 600, data.slices)["approval_rate"]
    assert not np.allclose(strict, at_default)
    for rate in strict:  # the fairness tables show the rates at 620
        assert f"<td>{fmt(float(rate), percent=True)}</td>" in html
    with pytest.raises(Exception, match="review_min_score"):
        render_report(dataclasses.replace(data, review_min_score=APPROVE + 1), tmp_path / "bad.html")
    assert cutoff_line(dataclasses.replace(DEFAULT, approve_min_score=APPROVE, review_min_score=REVIEW)) in html


# --------------------------------------------------------------------------- (b) fairness, (d) metrics and card


def test_training_computes_the_fairness_approval_rates_at_the_policys_cut_off(
    strict_bundle: Bundle, snapshot: pd.DataFrame
) -> None:
    rows, y, _, _ = evaluation_rows(strict_bundle, snapshot, "default_12m")  # the out-of-time test rows
    score = strict_bundle.model.predict(rows)["score"].to_numpy()
    expected, at_default = approval_rates(rows, y, score, APPROVE), approval_rates(rows, y, score, 600)
    assert expected != at_default
    recorded = [g["approval_rate"] for g in strict_bundle.metrics["fairness"]]
    assert recorded == pytest.approx(expected, abs=1e-12)


def test_the_bundle_records_the_policy_it_was_validated_with(strict_bundle: Bundle, policy_file: Path) -> None:
    policy = load_policy(policy_file)
    assert strict_bundle.metrics["policy"] == {
        "name": "test-strict", "version": policy.version, "approve_min_score": APPROVE, "review_min_score": REVIEW,
    }  # fmt: skip
    assert "policy_cutoff" not in strict_bundle.metrics
    card = strict_bundle.card
    assert f"Validated with policy `test-strict`, version `{policy.version}`: {cutoff_line(policy)}" in card
    assert "approval = score ≥ 620" in card
    assert f"Política de decisión `{policy.version}`: aprobar si score ≥ 620, revisión si ≥ 540" in card
    assert "≥ 570" not in card
    assert "≥ 600" not in card


# --------------------------------------------------------------------------- (c) the gate


def test_the_gate_compares_approval_gaps_at_the_policys_cut_off(
    sme_bundle: dict[str, Any], snapshot: pd.DataFrame, policy_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    champion = load_bundle(sme_bundle["bundle"])
    latest = snapshot[snapshot["as_of"] == snapshot["as_of"].max()]
    rows, y = labelled(champion, latest, "default_12m", None)
    scored = champion.model.predict(rows)

    def gaps(cutoff: float) -> dict[str, Any]:
        table = fairness_table(rows, y, scored["pd"].to_numpy(), scored["score"].to_numpy(), cutoff, sme_slices(rows))
        return fairness_gaps(table)

    assert gaps(APPROVE) != gaps(600)
    assert gaps(APPROVE) != gaps(570)
    monkeypatch.setenv("PYMESCORE_POLICY_FILE", str(policy_file))
    verdict = gate(champion, champion, snapshot, "default_12m")
    assert verdict["challenger"]["fairness_gaps"] == gaps(APPROVE)
    assert verdict["champion"]["fairness_gaps"] == gaps(APPROVE)
    assert verdict["decision_policy"]["approve_min_score"] == APPROVE
    # validated with the built-in policy: named for both bundles, never a reason to refuse
    assert verdict["promote"] is True, verdict["reasons"]
    assert len(verdict["notices"]) == 2
    assert all(DEFAULT.version in n for n in verdict["notices"])
    assert gate(champion, None, snapshot, "default_12m", decision_policy=DEFAULT)["notices"] == []
