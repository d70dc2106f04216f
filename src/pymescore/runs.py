"""What ``train`` and ``evaluate`` do, as functions: train a bundle (its validation metrics, fairness slices and
model card under the decision policy in force, recorded with it), and evaluate a bundle on a labelled table.

Tables are read and checked in ``tables``, the model card written in ``model_card``, tables scored in ``scoring``.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any, Literal, NamedTuple

import numpy as np
import pandas as pd

from pymescore.bundle import Bundle, save_bundle
from pymescore.decision import Policy, current_policy, policy_record
from pymescore.errors import ConfigError
from pymescore.evaluate import (
    band_table,
    bands_monotone,
    binary_metrics,
    fairness_gaps,
    fairness_table,
    reference_bins,
    sme_slices,
)
from pymescore.evaluate._cbpe import expected_auc
from pymescore.evaluate._fairness import MIN_GROUP_N
from pymescore.features._adapter import snapshot_domain
from pymescore.model import TrainConfig, score_from_pd, train
from pymescore.model._data import _times, row_hashes
from pymescore.model._train import Progress
from pymescore.model_card import model_card
from pymescore.tables import labelled


def _context_from_snapshot(frame: pd.DataFrame) -> dict[str, Any] | None:
    """The regional/sector context of the latest observation date, as the snapshot's rows carry it."""
    if "as_of" not in frame.columns or "department" not in frame.columns:
        return None
    latest = frame[frame["as_of"] == frame["as_of"].max()]

    def table(key: str, cols: dict[str, str]) -> dict[str, dict[str, float]]:
        rows = latest.dropna(subset=[key]).groupby(key, observed=True)[list(cols)].first()
        return {str(k): {cols[c]: float(v) for c, v in r.items() if pd.notna(v)} for k, r in rows.iterrows()}

    return {
        "as_of": str(pd.Timestamp(latest["as_of"].iloc[0]).date()),
        "by_department": table("department", {"region_income_growth_12m": "income_growth_12m",
                                              "region_delinquency_rate_12m": "delinquency_rate_12m"}),
        "by_section": table("ciiu_section", {"sector_income_growth_12m": "income_growth_12m",
                                             "sector_delinquency_rate_12m": "delinquency_rate_12m"}),
    }  # fmt: skip


def run_training(
    frame: pd.DataFrame,
    config: TrainConfig,
    out: Path,
    dataset: str = "",
    progress: Progress | None = None,
    policy: Policy | None = None,
    client: Any = None,
) -> tuple[Bundle, dict[str, Any]]:
    """Train, evaluate the test rows, write the bundle; returns it and the validation metrics. ``client`` (a
    ``distributed.Client``): the boosters fitted on its Dask cluster (see ``pymescore.model.train``).

    The test's approval rates (fairness slices) and the model card use ``policy``'s cut-offs (default: the
    policy in force, ``current_policy()``); the bundle records which policy that was (``metrics["policy"]``).
    """
    policy = policy if policy is not None else current_policy()
    result = train(frame, config, progress, domain=snapshot_domain(frame), client=client)  # SME: the registry's domain
    metrics: dict[str, Any] = dict(result.report)
    test_metrics = None
    if result.test is not None and len(result.test):
        t = result.test
        test_metrics = binary_metrics(t["y"].to_numpy(), t["pd"].to_numpy())
        bands = band_table(t["y"].to_numpy(), t["score"].to_numpy())
        metrics["test_metrics"] = test_metrics
        # what the test's PDs alone promise (CBPE): its gap to the realised AUC anchors monitoring's estimates
        metrics["test_expected_auc"] = expected_auc(t["pd"].to_numpy())
        metrics["bands"] = bands.to_dict(orient="records")
        metrics["bands_monotone"] = bands_monotone(bands)
        slices = sme_slices(t) if result.report["snapshot"] else {}
        if slices:
            fair = fairness_table(
                t, t["y"].to_numpy(), t["pd"].to_numpy(), t["score"].to_numpy(), policy.approve_min_score, slices
            )
            metrics["fairness"] = fair.to_dict(orient="records")
            metrics["fairness_gaps"] = fairness_gaps(fair)
    metrics["policy"] = policy_record(policy)  # the policy these figures (and the card) were computed under
    metrics["fairness_min_group_n"] = MIN_GROUP_N  # groups smaller than this are shown, not counted in the gaps
    lineage = frame.attrs.get("lineage") or {}
    if lineage.get("default_definition"):
        metrics["default_definition"] = str(lineage["default_definition"])
    time_col = result.report.get("time_col")
    if time_col and time_col in frame.columns:
        # read as the trainer read them (mixed formats, offsets to UTC), so that they match its test dates
        parsed = pd.Series(_times(frame[time_col], time_col)).dropna()
        dates = sorted({str(pd.Timestamp(t).date()) for t in parsed.unique()})
        tested = set(result.report.get("test_dates") or [])
        metrics["observation_dates"] = {"development": [d for d in dates if d not in tested],
                                        "test": [d for d in dates if d in tested]}  # fmt: skip
    # the reference population: the latest observation date of a snapshot (the population nearest to the one
    # scored next, and the date of the regional/sector context stored for online scoring), else every row.
    # The score reference is the final model's scores on it, the distribution the service will produce on
    # such a population (out-of-fold scores come from weaker fold models and differ in spread)
    latest = frame[frame["as_of"] == frame["as_of"].max()] if result.report["snapshot"] and "as_of" in frame else frame
    sample = latest.sample(min(len(latest), 50_000), random_state=0)
    reference: dict[str, Any] = {
        "score": reference_bins(score_from_pd(result.model.predict_pd(sample), result.model.scale))
    }
    features_ref = {}
    for ct in result.model.preprocessor.types:
        if ct.column in sample.columns:
            values = sample[ct.column]
            categorical = ct.kind in ("category", "target_encoded")
            data = (
                values.astype(object).to_numpy() if categorical else pd.to_numeric(values, errors="coerce").to_numpy()
            )
            features_ref[ct.column] = reference_bins(data)
    reference["features"] = features_ref
    bundle = Bundle(
        model=result.model,
        metrics=_jsonable(metrics),
        reference=_jsonable(reference),
        context=_context_from_snapshot(frame) if result.report["snapshot"] else None,
        exchange_rates=json.loads(frame.attrs["exchange_rates"]) if frame.attrs.get("exchange_rates") else None,
        card=model_card(result, dataset, test_metrics, metrics, policy),
        version=dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ"),
    )
    save_bundle(bundle, out)
    bundle.path = out
    return bundle, metrics


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.floating, float)):
        return None if not np.isfinite(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, (np.bool_,)):
        return bool(value)
    if isinstance(value, (pd.Timestamp, dt.date)):
        return str(value)
    return value


#: the figures' rows: the test the bundle recorded (out of time, or a random holdout), or every row given
Rows = Literal["test", "all"]

#: how each kind of rows is named wherever figures are shown (report, evaluate, model card)
SAMPLE_NAMES = {
    "out_of_time": "prueba fuera de tiempo / out-of-time test",
    "holdout": "prueba aleatoria reservada / random holdout",
    "grouped_holdout": "prueba aleatoria agrupada reservada / random grouped holdout",
    "all": "todas las filas dadas, con las de entrenamiento (en muestra) / every row given, training rows "
    "included (in-sample)",
}


class Evaluation(NamedTuple):
    """The labelled rows figures are computed on, their outcomes, their kind (a key of ``SAMPLE_NAMES``) and
    how to name them."""

    rows: pd.DataFrame
    y: np.ndarray
    kind: str
    label: str


def recorded_test_kind(metrics: dict[str, Any]) -> str:
    """The kind of test a bundle recorded: out_of_time, holdout (random) or grouped_holdout (random, whole
    groups), '' when none."""
    kind = str(metrics.get("test_kind") or "")
    return "grouped_holdout" if kind == "holdout" and metrics.get("group_col") else kind


def holdout_mask(bundle: Bundle, frame: pd.DataFrame, y: np.ndarray | None = None) -> tuple[np.ndarray | None, str]:
    """Which of ``frame``'s rows are the bundle's recorded test rows, and how to name them; (None, why) when it
    cannot tell. Out of time: the rows dated on or after the first test date (read as the trainer read them).
    A random holdout: the rows whose features and outcome ``y`` match a recorded holdout row's fingerprint."""
    m = bundle.metrics
    kind = recorded_test_kind(m)
    time_col = bundle.model.metadata.get("time_col")
    dates = m.get("test_dates") or []
    if kind == "out_of_time" and dates:
        if not time_col or time_col not in frame.columns:
            return None, f"the table has no time column {time_col!r} to find the out-of-time rows by"
        times = pd.Series(_times(frame[time_col], time_col))  # as the trainer read them: naive UTC
        inside = (times >= pd.Timestamp(min(dates))).to_numpy()
        seen = ", ".join(sorted({str(pd.Timestamp(t).date()) for t in times[inside].unique()}))
        return inside, (
            f"{SAMPLE_NAMES[kind]}: {time_col} {seen} (el modelo no se entrenó con ellas / the model was not "
            "trained on them)"
        )
    recorded = m.get("holdout_rows") or {}
    if kind in ("holdout", "grouped_holdout") and recorded.get("hashes") and y is not None:
        columns = [str(c) for c in recorded["columns"]]
        if any(c not in frame.columns for c in columns):
            return None, "the table lacks columns the holdout rows were recorded with"
        hashes = row_hashes(frame[columns], y)
        inside = np.isin(hashes, np.array([int(h, 16) for h in recorded["hashes"]], dtype=np.uint64))
        return inside, (
            f"{SAMPLE_NAMES[kind]}: las filas que el paquete reservó al entrenar / the rows the bundle held out "
            "when it was trained (el modelo no se entrenó con ellas / the model was not trained on them)"
        )
    if kind:
        return None, "the bundle recorded no fingerprint of its holdout rows (trained before they were recorded)"
    return None, "the bundle recorded no test rows (trained with --holdout 0 and no --time-col)"


def evaluation_rows(
    bundle: Bundle, frame: pd.DataFrame, target: str, positive: str | None = None, rows: Rows = "test"
) -> Evaluation:
    """The labelled rows the figures are computed on: ``rows="test"`` (the default), the test the bundle
    recorded (out of time, or a random holdout found again by its rows' fingerprints), so that the figures
    agree with ``metrics.json``; ``rows="all"``, every labelled row given, named as including training rows.
    ``--rows test`` on a table holding none of the recorded test rows is refused with what to do instead."""
    labelled_rows, y = labelled(bundle, frame, target, positive)
    if rows == "all":
        return Evaluation(labelled_rows, y, "all", SAMPLE_NAMES["all"])
    mask, label = holdout_mask(bundle, labelled_rows, y)
    if mask is None or not mask.any():
        why = label if mask is None else "the table holds none of them"
        kind = SAMPLE_NAMES.get(recorded_test_kind(bundle.metrics), "none recorded")
        raise ConfigError(
            f"--rows test: expected the rows the bundle was tested on ({kind}), "
            f"got none: {why}; give the training table (or later data, out of time), or pass --rows all to compute "
            "on every row given (named as including rows the model may have been trained on)"
        )
    chosen = labelled_rows[mask].reset_index(drop=True)
    chosen.attrs.update(labelled_rows.attrs)
    return Evaluation(chosen, y[mask], recorded_test_kind(bundle.metrics), label)


def evaluate(
    bundle: Bundle, frame: pd.DataFrame, target: str, positive: str | None = None, rows: Rows = "test"
) -> dict[str, Any]:
    """Metrics on the evaluation rows (``evaluation_rows``): by default the bundle's recorded test, named for
    what it is (``sample``); with ``rows="all"`` every labelled row, named as in-sample, and the recorded test's
    figures beside them (``test``) when the table holds its rows."""
    chosen = evaluation_rows(bundle, frame, target, positive, rows)
    p = bundle.model.predict_pd(chosen.rows)
    out: dict[str, Any] = binary_metrics(chosen.y, p)
    out["rows"] = rows
    out["sample"] = chosen.kind
    out["sample_label"] = chosen.label
    out["excluded_rows"] = chosen.rows.attrs["excluded_rows"]  # an empty target: not counted, but said
    if rows == "all":
        mask, label = holdout_mask(bundle, chosen.rows, chosen.y)
        if mask is not None and mask.any():
            out["test"] = {**binary_metrics(chosen.y[mask], p[mask]), "sample": recorded_test_kind(bundle.metrics),
                           "sample_label": label}  # fmt: skip
    out["model_version"] = bundle.version
    return out
