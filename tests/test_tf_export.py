"""The SavedModel export: ``tf.saved_model.load`` of the export gives the bundle's PD to 1e-6 (and its score) on
1,000 rows for every family alone and for a blend of all five (trees as TF operations), Platt and isotonic
calibrations; ``features.json`` names the inputs in order; the CLI writes it; and the service's TF-Serving-style
route answers the same rows with the same numbers (and 422 problem+json for a bad row)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from pymescore.bundle import Bundle, load_bundle, save_bundle
from pymescore.model import FittedModel, TrainConfig, train
from pymescore.model._compiled import CompiledModel
from pymescore.model._tf import tensorflow
from pymescore.model._tf_export import ExportDestinationError, export_savedmodel
from tests.service_support import keys, make_app
from tests.test_model import FAST, generic_table

CONFIG = {"target": "status", "positive": "CHGOFF", "holdout": 0.2, "monotone": {"late_payments": 1}, **FAST}
#: each family alone, with the calibration it is exported with
FAMILIES = {"xgboost": "isotonic", "lightgbm": "platt", "scorecard": "isotonic", "logistic": "platt",
            "tf_mlp": "isotonic"}  # fmt: skip


def _blend(models: dict[str, FittedModel]) -> FittedModel:
    """Every family at weight 0.2 (their preprocessors are the same: one table, one seed), XGBoost's calibration."""
    base = models["xgboost"]
    return replace(base, weight=0.2, scorecard=models["scorecard"].scorecard, linear=models["logistic"].linear,
                   linear_weight=0.2, lightgbm=models["lightgbm"].lightgbm, lightgbm_weight=0.2,
                   tf_mlp=models["tf_mlp"].tf_mlp, tf_mlp_weight=0.2)  # fmt: skip


@pytest.fixture(scope="module")
def models() -> dict[str, FittedModel]:
    frame = generic_table(600)
    out = {}
    for name, calibration in FAMILIES.items():
        config = TrainConfig(families=(name,), calibration=calibration, **CONFIG)  # type: ignore[arg-type]
        out[name] = train(frame, config).model
    out["blend"] = _blend(out)
    assert out["blend"].scorecard_weight == pytest.approx(0.2)
    return out


def _rows(model: FittedModel, n: int = 1000) -> np.ndarray:
    """``n`` model rows of new applications, float32 values (what the export's inputs hold)."""
    compiled = CompiledModel(model)
    frame = generic_table(n, seed=9)
    matrix = compiled.matrix({c: frame[c].to_numpy() for c in frame.columns}, n)
    return matrix.astype(np.float32)


@pytest.mark.slow
@pytest.mark.parametrize("name", [*FAMILIES, "blend"])
def test_the_savedmodel_gives_the_bundles_pd(models: dict[str, FittedModel], name: str, tmp_path: Path) -> None:
    model = models[name]
    assert [n for n, w in model.weights.items() if w > 0] == (list(FAMILIES) if name == "blend" else [name])
    written = export_savedmodel(model, tmp_path / "export")
    assert written["families"] == [n for n, w in model.weights.items() if w > 0]
    tf = tensorflow()
    serve = tf.saved_model.load(str(tmp_path / "export")).signatures["serving_default"]
    assert serve.structured_input_signature[1]["inputs"].shape.as_list() == [None, len(model.inputs())]
    x = _rows(model)
    out = serve(inputs=tf.constant(x))
    p, score = CompiledModel(model).predict(x.astype(np.float64))
    assert np.abs(out["pd"].numpy() - p).max() <= 1e-6
    assert np.array_equal(out["score"].numpy(), score)
    assert p.std() > 0.02  # the rows spread over the model's range: the comparison is not of one constant
    listed = json.loads((tmp_path / "export" / "features.json").read_text())["features"]
    assert listed == model.inputs()
    assert [f["name"] for f in listed][:3] == ["income", "late_payments", "sector"]
    assert listed[2]["categories"] == ["agro", "comercio", "manufactura", "servicios"]
    assert listed[0]["categories"] is None


@pytest.fixture(scope="module")
def blend_bundle(models: dict[str, FittedModel], tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("blend") / "bundle"
    save_bundle(Bundle(model=models["blend"], metrics={}), path)
    return path


@pytest.mark.slow
def test_the_cli_exports_and_refuses_a_folder_of_other_files(blend_bundle: Path, tmp_path: Path) -> None:
    out = tmp_path / "serving" / "pymescore" / "1"
    command = [sys.executable, "-m", "pymescore.cli", "export", "--bundle", str(blend_bundle), "--format",
               "savedmodel", "--out", str(out)]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["signature"] == "serving_default"
    assert summary["format"] == "savedmodel"
    assert {"saved_model.pb", "variables", "features.json"} <= {p.name for p in out.iterdir()}
    assert export_savedmodel(load_bundle(blend_bundle).model, out)["out"] == str(out)  # an earlier one: replaced
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    with pytest.raises(ExportDestinationError, match="other files"):
        export_savedmodel(load_bundle(blend_bundle).model, other)
    assert (other / "notes.txt").read_text() == "keep me"


@pytest.mark.slow
def test_the_services_predict_route_answers_as_tensorflow_serving(
    models: dict[str, FittedModel], blend_bundle: Path, tmp_path: Path
) -> None:
    """The same request body — TF Serving's row format, NaN for a missing value — to pymescore's route and to the
    exported SavedModel (as TF Serving feeds it: float32) gives the same PD and score for every row."""
    model = models["blend"]
    x = _rows(model, 200)
    export_savedmodel(model, tmp_path / "export")
    tf = tensorflow()
    serve = tf.saved_model.load(str(tmp_path / "export")).signatures["serving_default"]
    expected = serve(inputs=tf.constant(x))
    bundle = Path(shutil.copytree(blend_bundle, tmp_path / "bundle"))
    app, state = make_app(bundle, f"sqlite:///{tmp_path / 'audit.db'}")
    h = {"Authorization": keys(state)["score"]}
    instances = [[None if np.isnan(v) else float(v) for v in row] for row in x]
    instances[0][0] = float("nan")  # NaN, as TF Serving's JSON takes it, is a missing value too
    with TestClient(app) as client:
        r = client.post("/v1/models/pymescore:predict", content=json.dumps({"instances": instances}),
                        headers={**h, "Content-Type": "application/json"})  # fmt: skip
        assert r.status_code == 200, r.text
        got = r.json()["predictions"]
        x[0, 0] = np.nan
        expected = serve(inputs=tf.constant(x))
        assert np.abs(np.array([g["pd"] for g in got]) - expected["pd"].numpy()).max() <= 1e-6
        assert [g["score"] for g in got] == expected["score"].numpy().tolist()
        inputs = client.get("/v1/model", headers={"Authorization": keys(state)["read"]}).json()["inputs"]
        assert inputs == model.inputs()
        bad = [instances[1][:-1], [*instances[2][:2], 7.0, *instances[2][3:]], [1e39, *instances[3][1:]]]
        r = client.post("/v1/models/pymescore:predict", json={"instances": bad}, headers=h)
        assert r.status_code == 422
        assert r.headers["content-type"].startswith("application/problem+json")
        paths = [e["path"] for e in r.json()["errors"]]
        assert paths == ["instances[0]", "instances[1][2]", "instances[2][0]"]
        assert "category" in r.json()["errors"][1]["expected"]
        mixed = client.post("/v1/models/pymescore:predict", json={"instances": [instances[1], {}]}, headers=h)
        assert mixed.status_code == 422
        assert client.post("/v1/models/pymescore:predict", json={"instances": instances[1:2]}).status_code == 401
