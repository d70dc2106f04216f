"""The tf_mlp family: a Keras network in the blend, stored as a .keras file in the manifest and loaded in safe
mode, deterministic under a seed, monotone where the registry says so, explained by Integrated Gradients whose
completeness error stays under half a point per application (property), and refused naming the tf extra when
TensorFlow is missing. Kept small: a few hundred rows, one training per family set."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pymescore.bundle import Bundle, BundleError, load_bundle, save_bundle
from pymescore.errors import PymescoreError
from pymescore.model import TrainConfig, score_from_pd, train
from pymescore.model._compiled import CompiledModel
from pymescore.model._fitted import COMPLETENESS_LIMIT_POINTS, completeness_points
from pymescore.model._tf_encode import Encoder
from pymescore.model._tf_net import TfNetwork
from pymescore.model_card import _blend_lines
from tests.test_families import random_rows
from tests.test_model import FAST, generic_table

CONFIG = {"target": "status", "positive": "CHGOFF", "holdout": 0.2, "monotone": {"late_payments": 1}, **FAST}


@pytest.fixture(scope="module")
def tf_bundle(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any, Path]:
    """tf_mlp alone, trained on 600 rows of the generic table, saved and loaded back."""
    result = train(generic_table(600), TrainConfig(families=("tf_mlp",), **CONFIG))  # type: ignore[arg-type]
    path = tmp_path_factory.mktemp("tf") / "bundle"
    save_bundle(Bundle(model=result.model, metrics=result.report), path)
    return result, load_bundle(path), path


@pytest.mark.slow
def test_the_network_is_a_family_stored_as_a_keras_file(tf_bundle: tuple[Any, Any, Path], tmp_path: Path) -> None:
    result, loaded, path = tf_bundle
    report = result.report
    assert report["families"] == ["tf_mlp"]
    assert report["blend_weights"]["tf_mlp"] == 1.0
    assert all(row["auc_tf_mlp"] is not None for row in report["cv"]["folds"])  # fitted on every fold
    assert not result.oof["margin_tf_mlp"].isna().any()
    assert report["candidates"][0]["test_auc"] > 0.6  # it learned something (the table's signal is strong)
    manifest = json.loads((path / "manifest.json").read_text())
    assert {"tf_mlp.keras", "model.json"} <= set(manifest["files"])
    with zipfile.ZipFile(path / "tf_mlp.keras") as keras_file:  # Keras' format: JSON + HDF5 weights, no pickle
        assert sorted(keras_file.namelist()) == ["config.json", "metadata.json", "model.weights.h5"]
        assert b"Lambda" not in keras_file.read("config.json")
    assert json.loads((path / "model.json").read_text())["families"] == ["tf_mlp"]
    rows = generic_table(200, seed=3)
    assert np.array_equal(loaded.model.predict_pd(rows), result.model.predict_pd(rows))
    # the model card names the method and the measured completeness error
    card = "\n".join(_blend_lines(report, result.model))
    assert "Integrated Gradients" in card
    assert "completeness error" in card
    assert "met" in card
    assert report["explanations"]["completeness_points"]["max"] < COMPLETENESS_LIMIT_POINTS
    # a changed network is refused like any other file of the bundle
    copy = Path(shutil.copytree(path, tmp_path / "copy"))
    data = bytearray((copy / "tf_mlp.keras").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (copy / "tf_mlp.keras").write_bytes(bytes(data))
    with pytest.raises(BundleError, match=r"tf_mlp\.keras: SHA-256"):
        load_bundle(copy)


@pytest.mark.slow
def test_a_network_file_with_code_is_refused_in_safe_mode(tf_bundle: tuple[Any, Any, Path], tmp_path: Path) -> None:
    """A .keras file whose architecture holds a Lambda layer (code that would run at load) is refused."""
    import keras

    _, loaded, _ = tf_bundle
    inputs = [keras.Input((1,), name="mono"), keras.Input((1,), name="free")]
    out = keras.layers.Lambda(lambda t: t * 2.0)(keras.layers.Add()(inputs))
    keras.Model(inputs, out).save(tmp_path / "n.keras")
    with pytest.raises(PymescoreError, match=r"safe mode") as caught:
        TfNetwork.from_parts(loaded.model.tf_mlp.to_dict(), (tmp_path / "n.keras").read_bytes(), "bundle/: ")
    assert caught.value.code == "BUNDLE_INVALID"


def _matrix(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4))
    x[rng.random((n, 4)) < 0.1] = np.nan
    x[:, 3] = rng.integers(0, 3, n)
    logit = -1.5 + 1.2 * np.nan_to_num(x[:, 0]) - 0.8 * np.nan_to_num(x[:, 1]) + 0.5 * (x[:, 3] == 1)
    return x, (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)


SIZES: list[int | None] = [None, None, None, 3]
DIRECTIONS = [1, -1, 0, 0]


@pytest.fixture(scope="module")
def small_net() -> TfNetwork:
    x, y = _matrix(400, 0)
    return TfNetwork.fit(x, y, SIZES, DIRECTIONS, seed=3)


@pytest.mark.slow
def test_a_seeded_fit_is_deterministic(small_net: TfNetwork) -> None:
    x, y = _matrix(400, 0)
    again = TfNetwork.fit(x, y, SIZES, DIRECTIONS, seed=3)
    rows, _ = _matrix(300, 1)
    assert np.array_equal(again.margin(rows), small_net.margin(rows))
    assert again.to_bytes() == small_net.to_bytes()  # the same network, the same file (fixed zip dates)


@pytest.mark.slow
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_the_network_is_monotone_where_the_registry_says(small_net: TfNetwork, data: st.DataObject) -> None:
    """Raising a +1 column never lowers the margin, raising a -1 column never raises it, whatever the others."""
    value = st.one_of(st.just(np.nan), st.floats(-1e6, 1e6))
    row = np.array([[data.draw(value), data.draw(value), data.draw(value), data.draw(st.sampled_from([0, 1, 2]))]])
    for column, direction in ((0, 1), (1, -1)):
        low = data.draw(st.floats(-1e6, 1e6))
        high = low + data.draw(st.floats(0, 1e6))
        a, b = row.copy(), row.copy()
        a[0, column], b[0, column] = low, high
        za, zb = small_net.margin(a)[0], small_net.margin(b)[0]
        assert direction * (zb - za) >= -1e-6


@pytest.mark.slow
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=random_rows())
def test_integrated_gradients_stay_within_half_a_point(tf_bundle: tuple[Any, Any, Path], rows: pd.DataFrame) -> None:
    """For any application: the score of bias + Σ attributions is within 0.5 points of the score (the
    completeness error), the reasons' points add up to the score exactly, and the service's compiled path gives
    the Python path's PD and points."""
    _, loaded, _ = tf_bundle
    model = loaded.model
    assert completeness_points(model, model.matrix(rows)).max() < COMPLETENESS_LIMIT_POINTS
    summary, points = model.explain(rows)
    exact = score_from_pd(summary["pd"].to_numpy(), model.scale)
    assert np.allclose(summary["base_score"] + points.sum(axis=1), exact, atol=1e-6)
    compiled = CompiledModel(model)
    matrix = compiled.matrix({c: rows[c].to_numpy() for c in rows.columns}, len(rows))
    explained = compiled.explain(compiled.contributions(matrix))
    assert np.allclose(explained.pd, summary["pd"].to_numpy(), rtol=0, atol=1e-12)
    assert np.allclose(explained.points, points[explained.columns].to_numpy(), atol=1e-6)
    assert np.array_equal(compiled.predict(matrix)[0], explained.pd)


def test_the_encoder_maps_numbers_flags_and_categories() -> None:
    """Quantile-mapped numbers within ±1.7 (monotone ones times their direction), a flag per number that had
    missing values, one-hot categories with a slot for missing and unseen codes; every input owned by its column."""
    x = np.array([[1.0, 5.0, 0.0], [2.0, np.nan, 1.0], [3.0, 7.0, np.nan], [4.0, 9.0, 2.0]])
    enc = Encoder.fit(x, [None, None, 2], [-1, 0, 0])
    mono, free = enc.transform(np.array([[100.0, np.nan, 1.0], [-5.0, 9.0, 7.0]]))
    assert mono.dtype == np.float32
    assert enc.widths() == (1, 1 + 1 + 3)
    assert mono[:, 0].tolist() == pytest.approx([-1.7, 1.7])  # beyond the training range: the ends, negated
    assert free[0, 0] == pytest.approx(np.interp(7.0, [5, 7, 9], [-1.7, 0.0, 1.7]))  # missing → the median 7
    assert free[:, 1].tolist() == [1.0, 0.0]  # the missing flag
    assert free[:, 2:].tolist() == [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]  # code 1; an unseen code 7 → missing
    assert [o.tolist() for o in enc.owners()] == [[0], [1, 1, 2, 2, 2]]
    assert Encoder.from_dict(json.loads(json.dumps(enc.to_dict()))) == enc


SCRIPT = """
import sys
sys.modules["tensorflow"] = None  # as if the tf extra were not installed
from pymescore.cli import main
sys.argv = ["pymescore", *sys.argv[1:]]
main()
"""


@pytest.mark.slow
def test_a_network_bundle_without_tensorflow_is_refused_naming_the_extra(
    tf_bundle: tuple[Any, Any, Path], tmp_path: Path
) -> None:
    _, _, path = tf_bundle
    table = tmp_path / "rows.csv"
    generic_table(20).to_csv(table, index=False)
    for args in (
        ["score", "--bundle", str(path), "--table", str(table), "--out", str(tmp_path / "s.csv")],
        ["serve", "--bundle", str(path), "--port", "0"],
        ["export", "--bundle", str(path), "--format", "savedmodel", "--out", str(tmp_path / "sm")],
    ):
        done = subprocess.run([sys.executable, "-c", SCRIPT, *args], capture_output=True, text=True, timeout=120)
        assert done.returncode == 2, (args[0], done.stderr[-2000:])
        assert "error [EXTRA_MISSING]" in done.stderr
        assert "pip install 'pymescore[tf]'" in done.stderr
        assert "Traceback" not in done.stderr


def test_keras_files_have_fixed_dates(tmp_path: Path) -> None:
    """The zip written for the bundle carries no save time (so a retrained identical network hashes alike)."""
    from pymescore.model._tf_net import _normalised_zip

    raw = io.BytesIO()
    with zipfile.ZipFile(raw, "w") as z:
        z.writestr("config.json", "{}")
        z.writestr("metadata.json", '{"keras_version": "3.15.1", "date_saved": "2026-01-01@00:00:00"}')
    path = tmp_path / "m.keras"
    path.write_bytes(raw.getvalue())
    with zipfile.ZipFile(io.BytesIO(_normalised_zip(str(path)))) as z:
        assert json.loads(z.read("metadata.json")) == {"keras_version": "3.15.1"}
        assert {i.date_time for i in z.infolist()} == {(1980, 1, 1, 0, 0, 0)}
