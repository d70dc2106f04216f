"""What ``train`` and ``evaluate`` do, as functions: train a bundle (its validation metrics, fairness slices and
model card under the decision policy in force, recorded with it), and evaluate a bundle on a labelled table.

Tables are read and checked in ``tables``, the model card written in ``model_card``, tables scored in ``scoring``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pymescore.bundle import Bundle, save_bundle
from pymescore.decision import Policy, current_policy, policy_record
from pymescore.evaluate import (
    band_table,
    bands_monotone,
    binary_metrics,
    fairness_gaps,
    fairness_table,
    reference_bins,
    sme_slices,
)
from pymescore.evaluate._fairness import MIN_GROUP_N
from pymescore.features._adapter import snapshot_domain
from pymescore.model import TrainConfig, score_from_pd, train
from pymescore.model._data import _times
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
) -> tuple[Bundle, dict[str, Any]]:
    """Train, evaluate the test rows, write the bundle; returns it and the validation metrics.

    The test's approval rates (fairness slices) and the model card use ``policy``'s cut-offs (default: the
    policy in force, ``current_policy()``); the bundle records which policy that was (``metrics["policy"]``).
    """
    policy = policy if policy is not None else current_policy()
    result = train(frame, config, progress, domain=snapshot_domain(frame))  # SME snapshots: the registry's domain
    metrics: dict[str, Any] = dict(result.report)
    test_metrics = None
    if result.test is not None and len(result.test):
        t = result.test
        test_metrics = binary_metrics(t["y"].to_numpy(), t["pd"].to_numpy())
        bands = band_table(t["y"].to_numpy(), t["score"].to_numpy())
        metrics["test_metrics"] = test_metrics
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


def evaluation_rows(bundle: Bundle, frame: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """The rows the report's figures are computed on, and how to name them.

    When the bundle was tested out of time and the table has its time column, the report keeps the rows of
    the test dates (or later): the model never trained on them, so the figures are the ones a reviewer can
    trust, and they agree with ``metrics.json``. Otherwise every row given, said to possibly include rows
    the model was trained on.
    """
    m = bundle.metrics
    time_col = bundle.model.metadata.get("time_col")
    dates = m.get("test_dates") or []
    if m.get("test_kind") == "out_of_time" and time_col and time_col in frame.columns and dates:
        first = pd.Timestamp(min(dates))
        times = pd.Series(_times(frame[time_col], time_col))  # as the trainer read them: naive UTC
        inside = (times >= first).to_numpy()
        keep = frame[inside]
        if len(keep):
            keep.attrs.update(frame.attrs)
            seen = ", ".join(sorted({str(pd.Timestamp(t).date()) for t in times[inside].unique()}))
            return keep, (
                f"prueba fuera de tiempo / out-of-time test: {time_col} {seen} (el modelo no se entrenó con "
                "ellas / the model was not trained on them)"
            )
    return frame, (
        "todas las filas de la tabla / every row of the table (pueden incluir filas de entrenamiento / they may "
        "include rows the model was trained on)"
    )


def evaluate(bundle: Bundle, frame: pd.DataFrame, target: str, positive: str | None = None) -> dict[str, Any]:
    """Metrics on every labelled row given; when some of them are the bundle's out-of-time test dates (the
    training snapshot itself, say), also on those alone (``out_of_time``): the others may be rows the model
    was trained on, and their figures flatter it."""
    rows, y = labelled(bundle, frame, target, positive)
    p = bundle.model.predict_pd(rows)
    out: dict[str, Any] = binary_metrics(y, p)
    out["excluded_rows"] = rows.attrs["excluded_rows"]  # an empty target: not counted, but said
    chosen, label = evaluation_rows(bundle, rows)  # among the labelled rows already scored: no second pass
    if 0 < len(chosen) < len(rows):
        inside = rows.index.isin(chosen.index)
        out["out_of_time"] = {**binary_metrics(y[inside], p[inside]), "rows": label}
    out["model_version"] = bundle.version
    return out
