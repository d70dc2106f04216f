"""The model families' registry: LightGBM as a family (same folds, its margins in the blend, TreeSHAP reasons, its
text model in the manifest), families named but not built, a missing extra named by the CLI, and reasons that add
up to the score for every family (property)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pymescore.bundle import Bundle, BundleError, load_bundle, save_bundle
from pymescore.errors import ConfigError
from pymescore.model import TrainConfig, score_from_pd, train
from pymescore.model._compiled import CompiledModel
from pymescore.model._families import BLEND_ORDER, FAMILIES, MissingExtraError, require, resolve
from tests.test_model import FAST, generic_table

FAMILY_SETS = [("xgboost",), ("lightgbm",), ("scorecard",), ("logistic",), ("xgboost", "lightgbm", "scorecard",
                                                                             "logistic")]  # fmt: skip
CONFIG = {"target": "status", "positive": "CHGOFF", "holdout": 0.2, **FAST}


def test_the_registry_names_every_family_and_refuses_the_ones_not_built(monkeypatch: pytest.MonkeyPatch) -> None:
    assert list(FAMILIES) == ["xgboost", "lightgbm", "scorecard", "logistic", "tf_mlp", "tf_sequence"]
    assert BLEND_ORDER == ("xgboost", "lightgbm", "scorecard", "logistic", "tf_mlp", "tf_sequence")
    pending = replace(FAMILIES["tf_sequence"], built=False, pending="not available yet (a test)")
    monkeypatch.setitem(FAMILIES, "tf_sequence", pending)
    with pytest.raises(MissingExtraError, match=r"not available yet.*pymescore\[tf\]") as caught:
        require("tf_sequence")
    assert caught.value.code == "EXTRA_MISSING"
    assert caught.value.fields["extra"] == "tf"
    monkeypatch.undo()
    with pytest.raises(ConfigError, match="families"):
        TrainConfig(target="y", families=("catboost",))
    with pytest.raises(ConfigError, match="families"):
        TrainConfig(target="y", families=())
    chosen, why = resolve(None)  # this environment installs the lightgbm and tf extras
    assert chosen == ("xgboost", "lightgbm", "scorecard", "logistic")  # the networks only when named
    assert "installed" in why
    assert "--families" in why
    assert resolve(("logistic", "lightgbm")) == (("lightgbm", "logistic"), "named by --families")


def test_training_a_family_not_built_stops_before_any_work(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(FAMILIES, "tf_sequence", replace(FAMILIES["tf_sequence"], built=False, pending="not yet"))
    with pytest.raises(MissingExtraError, match="tf_sequence"):
        train(generic_table(300), TrainConfig(families=("xgboost", "tf_sequence"), **CONFIG))  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, ...], Any]:
    """One model per family set (and the full blend), each saved as a bundle and loaded back."""
    frame = generic_table(1500)
    out = {}
    for families in FAMILY_SETS:
        result = train(frame, TrainConfig(families=families, **CONFIG))  # type: ignore[arg-type]
        path = tmp_path_factory.mktemp("fam") / "bundle"
        save_bundle(Bundle(model=result.model, metrics=result.report), path)
        out[families] = (result, load_bundle(path), path)
    return out


@pytest.mark.slow
def test_lightgbm_is_a_family_of_the_blend_stored_as_its_text_model(trained: dict[Any, Any], tmp_path: Path) -> None:
    result, loaded, path = trained[("lightgbm",)]
    report = result.report
    assert report["families"] == ["lightgbm"]
    assert report["blend_weights"]["lightgbm"] == 1.0
    assert all(row["auc_lightgbm"] is not None for row in report["cv"]["folds"])  # fitted on every fold
    assert not result.oof["margin_lightgbm"].isna().any()
    assert result.oof["margin_xgboost"].isna().all()
    manifest = json.loads((path / "manifest.json").read_text())
    assert set(manifest["files"]) >= {"lightgbm.txt", "model.json"}
    assert "booster.ubj" not in manifest["files"]
    assert (path / "lightgbm.txt").read_text().startswith("tree\n")  # LightGBM's text format, not a pickle
    assert json.loads((path / "model.json").read_text())["families"] == ["lightgbm"]
    rows = generic_table(200, seed=3)
    assert np.array_equal(loaded.model.predict_pd(rows), result.model.predict_pd(rows))
    # the full blend: the candidates name LightGBM, and the model card and the report say which blend and why
    full, _, _ = trained[FAMILY_SETS[-1]]
    names = [c["name"] for c in full.report["candidates"]]
    assert {"xgboost", "lightgbm", "scorecard", "logistic"} <= set(names)
    assert full.report["blend"]["grid_size"] == 286  # 4 families on a 0.1 simplex
    assert full.report["blend"]["selected"] in names
    assert sum(c["selected"] for c in full.report["candidates"]) == 1
    # a changed text model is refused like any other file of the bundle
    path = Path(shutil.copytree(path, tmp_path / "copy"))
    (path / "lightgbm.txt").write_text((path / "lightgbm.txt").read_text().replace("tree\n", "tree \n", 1))
    with pytest.raises(BundleError, match=r"lightgbm\.txt: SHA-256"):
        load_bundle(path)


@st.composite
def random_rows(draw: Any) -> pd.DataFrame:
    """A few rows of the generic table's columns: any amount (or text that is none), missing values, an unseen
    sector, a padded one, any date."""
    n = draw(st.integers(1, 12))
    money = st.one_of(st.none(), st.floats(0, 1e7).map(lambda v: f"${v:,.2f}"), st.just("n/a"))
    late = st.one_of(st.none(), st.floats(0, 40), st.just(float("nan")))
    sectors = ["agro", "comercio", "servicios", "manufactura", "minería", " agro "]
    sector = st.one_of(st.none(), st.sampled_from(sectors))
    opened = st.one_of(st.none(), st.dates(pd.Timestamp("2000-01-01").date(), pd.Timestamp("2030-01-01").date())
                       .map(lambda d: d.strftime("%d-%b-%y")))  # fmt: skip
    return pd.DataFrame({
        "income": draw(st.lists(money, min_size=n, max_size=n)),
        "late_payments": pd.array(draw(st.lists(late, min_size=n, max_size=n)), dtype="float64"),
        "sector": draw(st.lists(sector, min_size=n, max_size=n)),
        "opened": draw(st.lists(opened, min_size=n, max_size=n)),
        "officer_id": draw(st.lists(st.one_of(st.none(), st.integers(0, 500).map(lambda i: f"OF{i:04d}")),
                                    min_size=n, max_size=n)),
    })  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("families", FAMILY_SETS, ids=["+".join(f) for f in FAMILY_SETS])
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture], print_blob=False)
@given(rows=random_rows())
def test_reasons_add_up_to_the_score_for_every_family(
    trained: dict[Any, Any], families: tuple[str, ...], rows: pd.DataFrame
) -> None:
    """Base score + Σ points = the (unrounded, clipped) score, for each family alone and for the blend, both on the
    Python path (FittedModel.explain) and on the service's (CompiledModel), which agree with each other."""
    _, loaded, _ = trained[families]
    model = loaded.model
    summary, points = model.explain(rows)
    exact = score_from_pd(summary["pd"].to_numpy(), model.scale)
    assert np.allclose(summary["base_score"] + points.sum(axis=1), exact, atol=1e-6)
    assert np.array_equal(summary["score"].to_numpy(), np.rint(exact).astype(int))
    compiled = CompiledModel(model)
    # a booster the trainer made is walked by the compiled loops (they reproduce it), not left to xgboost
    assert (compiled.forest is not None) == (compiled.booster is not None)
    matrix = compiled.matrix({c: rows[c].to_numpy() for c in rows.columns}, len(rows))
    explained = compiled.explain(compiled.contributions(matrix))
    assert np.allclose(explained.base_score + explained.points.sum(axis=1), score_from_pd(explained.pd, model.scale),
                       atol=1e-6)  # fmt: skip
    assert np.allclose(explained.pd, summary["pd"].to_numpy(), rtol=0, atol=1e-12)
    # the compiled walks' TreeSHAP runs in float64 (exact: tests/test_trees.py), xgboost's pred_contribs in
    # float32, whose error grows on rare branches: a tree family's points agree to the 0.01 a reason shows
    tolerance = 0.01 if compiled.forest is not None else 1e-6
    assert np.allclose(explained.points, points[explained.columns].to_numpy(), atol=tolerance)


SCRIPT = """
import sys
sys.modules["lightgbm"] = None  # as if the lightgbm extra were not installed
from pymescore.cli import main
sys.argv = ["pymescore", *sys.argv[1:]]
main()
"""


@pytest.mark.slow
def test_a_bundle_needing_a_missing_extra_is_refused_naming_it(trained: dict[Any, Any], tmp_path: Path) -> None:
    """The CLI (scoring, serving) refuses a LightGBM bundle without LightGBM installed: exit 2, the extra named."""
    _, _, path = trained[("lightgbm",)]
    table = tmp_path / "rows.csv"
    generic_table(20).to_csv(table, index=False)
    for args in (
        ["score", "--bundle", str(path), "--table", str(table), "--out", str(tmp_path / "s.csv")],
        ["serve", "--bundle", str(path), "--port", "0"],
        ["train", "--table", str(table), "--target", "status", "--positive", "CHGOFF", "--families", "lightgbm",
         "--out", str(tmp_path / "b")],
    ):  # fmt: skip
        done = subprocess.run([sys.executable, "-c", SCRIPT, *args], capture_output=True, text=True, timeout=120)
        assert done.returncode == 2, (args[0], done.stderr[-2000:])
        assert "error [EXTRA_MISSING]" in done.stderr
        assert "pip install 'pymescore[lightgbm]'" in done.stderr
        assert "Traceback" not in done.stderr
