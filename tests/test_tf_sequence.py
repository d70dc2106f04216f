"""The tf_sequence family: trained on a snapshot with the monthly histories (``pymescore features --sequences``),
stored as a .keras file, explained by Integrated Gradients over the features and the histories' channels; the
service scores it from the raw histories of the request, by the snapshot's own point-in-time code, with the batch
path's PD; the SavedModel export carries the histories in its input row."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pymescore.bundle import Bundle, load_bundle, save_bundle
from pymescore.errors import ConfigError
from pymescore.features import Context, build_features
from pymescore.features._adapter import snapshot_domain
from pymescore.features._build import build_sequences
from pymescore.features._sequences import HISTORY_REASONS, SEQUENCE_COLUMNS, sequence_columns
from pymescore.features._snapshot import build_snapshot
from pymescore.model import TrainConfig, train
from pymescore.model._compiled import CompiledModel
from pymescore.model._fitted import COMPLETENESS_LIMIT_POINTS, completeness_points
from pymescore.model._tf import tensorflow
from pymescore.model._tf_export import export_savedmodel
from pymescore.service import Policy, Scorer, ScoreRequest
from pymescore.service._samples import application_bodies

AS_OF = "2025-06-30"
CONFIG = {"target": "default_12m", "trials": 2, "time_budget": 10.0, "folds": 3}


@pytest.fixture(scope="module")
def seq_bundle(sim_lake: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """tf_sequence (with the scorecard) on 2,000 firms of the simulated lake, two observation dates."""
    snapshot, _ = build_snapshot(sim_lake["lake"], ["2023-12-31", "2024-12-31"], sequences=True)
    firms = snapshot["ruc"].drop_duplicates().iloc[:2000]
    snapshot = snapshot[snapshot["ruc"].isin(firms)].reset_index(drop=True)
    config = TrainConfig(families=("scorecard", "tf_sequence"), **CONFIG)  # type: ignore[arg-type]
    result = train(snapshot, config, domain=snapshot_domain(snapshot))
    path = tmp_path_factory.mktemp("seq") / "bundle"
    lake_tables = {n: sim_lake["lake"].read(n) for n in ("firms", "monthly_cashflows", "financial_statements",
                                                         "payments", "bureau_ratings", "exchange_rates")}  # fmt: skip
    from pymescore.features import feature_context

    context = feature_context(lake_tables, "2024-12-31").to_dict()
    save_bundle(Bundle(model=result.model, metrics=result.report, context=context), path)
    return {"result": result, "bundle": load_bundle(path), "path": path, "snapshot": snapshot, "tables": lake_tables}


@pytest.mark.slow
def test_the_sequence_model_reads_the_histories_and_explains_them(seq_bundle: dict[str, Any]) -> None:
    result, bundle, path = seq_bundle["result"], seq_bundle["bundle"], seq_bundle["path"]
    model = bundle.model
    assert result.report["families"] == ["scorecard", "tf_sequence"]
    assert model.weights["tf_sequence"] > 0
    assert not result.oof["margin_tf_sequence"].isna().any()
    assert "tf_sequence.keras" in json.loads((path / "manifest.json").read_text())["files"]
    assert model.channels == list(SEQUENCE_COLUMNS)
    assert model.months == 36
    assert [(f.name, f.reason_es) for f in model.history_features] == [(c, HISTORY_REASONS[c][0])
                                                                       for c in SEQUENCE_COLUMNS]  # fmt: skip
    rows = seq_bundle["snapshot"].iloc[-400:]
    summary, points = model.explain(rows)
    assert list(points.columns[-8:]) == list(SEQUENCE_COLUMNS)
    assert np.abs(points[list(SEQUENCE_COLUMNS)].to_numpy()).sum() > 0  # the histories move the score
    assert np.allclose(summary["base_score"] + points.sum(axis=1), np.clip(summary["score"], 300, 850), atol=0.5)
    error = completeness_points(model, model.matrix(rows), model.sequences(rows))
    assert error.max() < COMPLETENESS_LIMIT_POINTS
    # the histories are the model's input: without them (a request sent as features) the PD moves
    assert not np.allclose(model.predict_pd(rows.drop(columns=list(SEQUENCE_COLUMNS))), summary["pd"])


@pytest.mark.slow
def test_the_service_scores_it_from_the_requests_raw_histories(seq_bundle: dict[str, Any]) -> None:
    """A request's raw histories give the PD, score and reasons the bundle gives the same firm's snapshot row
    (features and histories built from the lake at the same as_of)."""
    bundle, tables = seq_bundle["bundle"], seq_bundle["tables"]
    rucs = [str(r) for r in tables["firms"]["ruc"].iloc[:60]]
    bodies = application_bodies(tables, rucs, AS_OF, months=600)
    scorer = Scorer(bundle, Policy(), tables["exchange_rates"])
    online = {r.response["ruc"]: r.response for r in scorer.score([ScoreRequest.model_validate(b) for b in bodies])
              if hasattr(r, "response")}  # fmt: skip
    assert len(online) > 40
    features = build_features(tables, AS_OF, context=Context.from_dict(bundle.context))
    snapshot = features.assign(**sequence_columns(build_sequences(tables, AS_OF)))
    snapshot = snapshot[snapshot["ruc"].isin(list(online))].reset_index(drop=True)
    explained, _ = bundle.model.explain(snapshot)
    history_reasons = 0
    for k, ruc in enumerate(snapshot["ruc"]):
        assert abs(online[ruc]["pd"] - explained["pd"].iloc[k]) < 1e-6, ruc
        assert online[ruc]["score"] == explained["score"].iloc[k], ruc
        history_reasons += sum(r["code"] in SEQUENCE_COLUMNS for r in online[ruc]["reasons"])
    assert history_reasons > 0  # the histories are among the reasons, with their texts


@pytest.mark.slow
def test_the_export_carries_the_histories(seq_bundle: dict[str, Any], tmp_path: Path) -> None:
    model = seq_bundle["bundle"].model
    inputs = model.inputs()
    assert len(inputs) == len(model.preprocessor.columns) + 36 * 8
    assert inputs[-1]["name"] == "seq_has_bureau[-1]"
    export_savedmodel(model, tmp_path / "export")
    rows = seq_bundle["snapshot"].iloc[:1000]
    compiled = CompiledModel(model)
    features = [f.name for f in model.features]
    matrix = compiled.matrix({c: rows[c].to_numpy() for c in features}, len(rows))
    history = model.sequences(rows)
    assert history is not None
    full = np.hstack([matrix, history.reshape(len(rows), -1)]).astype(np.float32)
    tf = tensorflow()
    out = tf.saved_model.load(str(tmp_path / "export")).signatures["serving_default"](inputs=tf.constant(full))
    p, score = compiled.predict(*model.split_inputs(full.astype(np.float64)))
    assert np.abs(out["pd"].numpy() - p).max() <= 1e-6
    assert np.array_equal(out["score"].numpy(), score)


def test_training_it_on_a_table_without_histories_is_refused(sim_lake: dict[str, Any]) -> None:
    snapshot, _ = build_snapshot(sim_lake["lake"], ["2024-06-30"])
    with pytest.raises(ConfigError, match="--sequences"):
        train(snapshot, TrainConfig(families=("tf_sequence",), **CONFIG), domain=snapshot_domain(snapshot))  # type: ignore[arg-type]


@pytest.mark.slow
def test_batch_scoring_refuses_a_table_without_the_histories(seq_bundle: dict[str, Any]) -> None:
    """``pymescore score`` on a plain snapshot would score every row as if the firm had no history: refused."""
    from pymescore.errors import MissingColumnError
    from pymescore.scoring import score

    rows = seq_bundle["snapshot"].iloc[:50]
    with pytest.raises(MissingColumnError, match="--sequences"):
        score(seq_bundle["bundle"], rows.drop(columns=list(SEQUENCE_COLUMNS)))
    scored = score(seq_bundle["bundle"], rows)
    assert np.allclose(scored["pd"].to_numpy(), seq_bundle["bundle"].model.predict_pd(rows))
