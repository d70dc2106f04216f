"""The validation report: one self-contained HTML file (inline CSS, plots as inline PNG, no scripts).

Computation stays in the metric modules; this module only gathers their results into tables and plots
and renders ``_report.html.j2`` with jinja2 autoescaping, so no text given by a caller can inject markup.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pymescore.contracts._reference import ciiu_section_label
from pymescore.evaluate import _plots
from pymescore.evaluate._bands import DEFAULT_BANDS, Bands, band_table, bands_monotone
from pymescore.evaluate._fairness import MIN_GROUP_N, fairness_gaps, fairness_table
from pymescore.evaluate._metrics import F64, as_float_array, binary_metrics, calibration_table, check_outcomes, invalid
from pymescore.files import write_atomic

#: Top features shown in the global importance chart.
TOP_FEATURES = 20
_BASELINE_WORDS = ("logistic", "scorecard", "logit")

_METRIC_LABELS: dict[str, str] = {
    "auc": "AUC",
    "gini": "Gini (2·AUC − 1)",
    "ks": "KS",
    "brier": "Brier",
    "logloss": "Log-loss",
    "ece": "ECE (10 bins)",
    "n": "Filas / rows",
    "positive_rate": "Tasa de default observada / observed default rate",
    "mean_pd": "PD media / mean PD",
}
_PERCENT_KEYS = frozenset({"positive_rate", "mean_pd"})


@dataclass
class ReportData:
    """Everything the validation report shows; optional parts may be None and are then marked as missing.

    ``y``, ``pd_`` (calibrated PD) and ``score`` are the evaluation rows. ``slices`` maps a slice name to
    group labels aligned with them (e.g. ``sme_slices(frame)``). ``oot`` is ``{"dates": [...], "metrics":
    binary_metrics(...)}``; ``cv`` is ``{"folds": [{"auc": ...}, ...], "mean_auc": ..., "std_auc": ...}``;
    ``candidates`` has one row per model family (``oof_auc``, ``test_auc``, ``test_ks``, ``selected``, ...);
    ``importance`` has ``feature``, ``mean_abs_shap`` and optionally ``group``, ``label`` (the chart's, e.g. the
    feature's description) and ``description`` (the table's); ``typing`` has ``column``,
    ``kind``, ``rule``. The cut-offs have no default: they come from the decision policy in force.
    """

    title: str
    model_version: str
    created: str
    target: str
    dataset: str
    n_train: int
    y: np.ndarray[Any, Any]
    pd_: np.ndarray[Any, Any]
    score: np.ndarray[Any, Any]
    #: the decision policy's score cut-offs: approve at ``score >= approve_min_score``, review at
    #: ``score >= review_min_score``, decline below (the approval rates, fairness included, use the first);
    #: None for both: no policy applies (a generic table given no --policy), so no rates are shown
    approve_min_score: float | None
    review_min_score: float | None
    #: the policy's name and version, as the report names it
    policy_version: str = ""
    bands: Bands = field(default_factory=lambda: list(DEFAULT_BANDS))
    slices: Mapping[str, Any] | None = None
    oot: Mapping[str, Any] | None = None
    cv: Mapping[str, Any] | None = None
    candidates: pd.DataFrame | None = None
    #: why the training chose the selected blend (the model card's paragraph)
    blend_why: str = ""
    importance: pd.DataFrame | None = None
    calibration_method: str | None = None
    typing: pd.DataFrame | None = None
    notes: list[str] = field(default_factory=list)
    #: which rows the figures describe (the out-of-time test, or every row given) and the default definition
    sample: str = ""
    default_definition: str = ""
    #: the summary column's name: the kind of rows it holds (out-of-time test, random holdout, every row)
    sample_name: str = "Evaluación / evaluation"


def fmt(value: Any, percent: bool = False) -> str:
    """A cell as text: None/NaN as an em dash, floats with 4 decimals (or as a percentage), ints grouped.

    >>> fmt(None), fmt(0.123456), fmt(0.05, percent=True), fmt(12345), fmt(True)
    ('—', '0.1235', '5.00%', '12,345', 'sí / yes')
    """
    if value is None or value is pd.NA:
        return "—"
    if isinstance(value, (bool, np.bool_)):
        return "sí / yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}"
    if isinstance(value, (float, np.floating)):
        if math.isnan(value):
            return "—"
        return f"{100 * value:.2f}%" if percent else f"{value:.4f}"
    return str(value)


def _table(
    frame: pd.DataFrame,
    percent: Sequence[str] = (),
    highlight: Sequence[bool] | None = None,
    whole: Sequence[str] = (),
) -> dict[str, Any]:
    def cell(column: str, value: Any) -> str:
        if column in whole and isinstance(value, (float, np.floating)) and np.isfinite(value):
            return f"{value:,.0f}"
        return fmt(value, percent=column in percent)

    rows = [
        [cell(c, v) for c, v in zip(frame.columns, row, strict=True)]
        for row in frame.itertuples(index=False, name=None)
    ]
    marks = list(highlight) if highlight is not None else [False] * len(rows)
    columns = [str(c) for c in frame.columns]
    return {"columns": columns, "labels": [_HEADERS.get(c, c) for c in columns], "rows": rows, "highlight": marks}


#: table headers as a reader says them (the column's own name stays in the cell's tooltip)
_HEADERS = {
    "approval_rate": "Tasa de aprobación / approval rate",
    "auc": "AUC",
    "bad_rate": "Tasa de malos / bad rate",
    "bads": "Malos / bads",
    "band": "Banda / band",
    "bin": "Tramo / bin",
    "cumulative_bad_rate": "Tasa de malos acumulada desde A / cumulative bad rate from A",
    "feature": "Variable / feature",
    "description": "Descripción / description",
    "fold": "Pliegue / fold",
    "group": "Grupo / group",
    "mean_abs_shap": "Impacto medio (puntos) / mean impact (points)",
    "mean_pd": "PD media / mean PD",
    "n": "Filas / rows",
    "observed_bad_rate": "Tasa de malos observada / observed bad rate",
    "observed_rate": "Tasa observada / observed rate",
    "oof_auc": "AUC fuera de pliegue / out-of-fold AUC",
    "score_from": "Score desde / score from",
    "score_to": "Score hasta / score to",
    "selected": "Elegido / selected",
    "share": "Proporción / share",
    "test_auc": "AUC de prueba / test AUC",
    "column": "Columna / column",
    "kind": "Tipo / kind",
    "rule": "Regla / rule",
    "fmt": "Formato de fecha / date format",
    "categories": "Categorías / categories",
}

#: categories a typing row names before it counts the rest
_SHOWN_CATEGORIES = 8


def _cell_text(value: Any) -> str:
    """A typing cell as text: a list of categories as its first values and a count of the rest; empty as ''."""
    if isinstance(value, (list, tuple, np.ndarray)):
        items = [str(v) for v in value]
        more = len(items) - _SHOWN_CATEGORIES
        shown = ", ".join(items[:_SHOWN_CATEGORIES])
        return f"{shown} (+{more} más / more)" if more > 0 else shown
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value)


def _typing_table(frame: pd.DataFrame) -> dict[str, Any]:
    """The typing table with lists as readable text, and without a column that is empty on every row."""
    text = frame.apply(lambda col: col.map(_cell_text)) if len(frame) else frame.astype(str)
    kept = [c for c in text.columns if c in ("column", "kind", "rule") or (text[c] != "").any()]
    return _table(text[kept].replace("", "—"))


def _metrics_rows(*columns: Mapping[str, Any] | None) -> list[list[str]]:
    return [
        [label, *(fmt(m.get(key), key in _PERCENT_KEYS) if m else "—" for m in columns)]
        for key, label in _METRIC_LABELS.items()
    ]


def _candidates(frame: pd.DataFrame, notes: list[str]) -> dict[str, Any]:
    table = frame if isinstance(frame.index, pd.RangeIndex) else frame.reset_index()
    text = " ".join(str(v).lower() for col in table.columns for v in table[col])
    if not any(word in text for word in _BASELINE_WORDS):
        notes.append(
            "La comparación no incluye la línea base de regresión logística / the comparison lacks the "
            "logistic-regression scorecard baseline."
        )
    selected = table["selected"].fillna(False).astype(bool).tolist() if "selected" in table.columns else None
    return _table(table, highlight=selected)


def _fairness(data: ReportData, y: F64, p: F64, score: F64, notes: list[str]) -> list[dict[str, Any]]:
    if not data.slices:
        return []
    rated = data.approve_min_score is not None
    cutoff = float(data.approve_min_score) if data.approve_min_score is not None else np.inf
    table = fairness_table(None, y, p, score, cutoff, data.slices)
    gaps = fairness_gaps(table)
    if not rated:  # no policy, no approval rate: never a rate computed at someone else's cut-off
        table = table.drop(columns=["approval_rate"])
        gaps = {k: {**g, "approval_gap": None} for k, g in gaps.items()}
    out = []
    for name, part in table.groupby("slice", sort=False):
        small = int((part["n"] < MIN_GROUP_N).sum())
        if small:
            notes.append(
                f"Equidad / fairness '{name}': {small} grupo(s) con n < {MIN_GROUP_N} quedan fuera de las brechas "
                f"/ group(s) with n < {MIN_GROUP_N} are left out of the gaps."
            )
        shown = part.drop(columns=["slice"])
        drawn = shown
        if name == "ciiu_section":  # a section by its letter and its name, never the letter alone
            drawn = shown.assign(group=[ciiu_section_label(g, width=_PLOT_LABEL) for g in shown["group"]])
            shown = shown.assign(group=[ciiu_section_label(g) for g in shown["group"]])
        out.append(
            {
                "name": _SLICE_TITLES.get(str(name), str(name)),
                "gap": gaps[str(name)],
                "gap_text": {k: fmt(v) for k, v in gaps[str(name)].items()},
                "table": _table(shown, percent=("approval_rate", "observed_bad_rate", "mean_pd")),
                "plot": _plots.fairness_plot(drawn, str(name)),
            }
        )
    return out


#: characters of a group's label in a fairness plot
_PLOT_LABEL = 36

_SLICE_TITLES = {
    "lima_callao_vs_rest": "Lima/Callao frente al resto del país / Lima/Callao vs the rest of the country",
    "macroregion": "Macrorregión INEI (Lima Metropolitana incluye Callao) / INEI macro-region (Lima "
    "Metropolitana includes Callao)",
    "ciiu_section": "Sección CIIU Rev.4 / CIIU Rev.4 section",
    "size_class": "Tamaño según ventas (Ley 30056) / size class by sales (Ley 30056)",
}


def _cv(cv: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not cv:
        return None
    folds = pd.DataFrame(list(cv.get("folds", [])))
    folds.insert(0, "fold", range(1, len(folds) + 1))
    aucs = [float(a) for a in folds["auc"]] if "auc" in folds.columns else []
    mean_auc = cv.get("mean_auc")
    return {
        "table": _table(folds),
        "mean_auc": fmt(mean_auc),
        "std_auc": fmt(cv.get("std_auc")),
        "plot": _plots.cv_plot(aucs, None if mean_auc is None else float(mean_auc)) if aucs else None,
    }


def _oot(oot: Mapping[str, Any] | None, metrics: Mapping[str, Any]) -> dict[str, Any] | None:
    """The test the bundle recorded at training (metrics.json) beside the figures of this report's rows."""
    if not oot:
        return None
    dates = [str(d) for d in oot.get("dates", [])]
    return {"dates": ", ".join(dates) if dates else "—", "rows": _metrics_rows(metrics, oot.get("metrics")),
            "name": str(oot.get("name") or "Prueba / test")}  # fmt: skip


def cutoff_text(approve: float, review: float) -> str:
    """The cut-offs in both languages, worded as ``pymescore.decision.cutoff_line`` words a policy's.

    >>> cutoff_text(600, 570)
    'aprobar si score ≥ 600, revisión si ≥ 570 / approve ≥ 600, review ≥ 570'
    """
    return f"aprobar si score ≥ {approve:g}, revisión si ≥ {review:g} / approve ≥ {approve:g}, review ≥ {review:g}"


def _rate(y: F64) -> float | None:
    return float(y.mean()) if len(y) else None


def _policy_rows(data: ReportData, y: F64, score: F64) -> list[list[str]]:
    approve, review = data.approve_min_score, data.review_min_score
    if approve is None or review is None:
        return [["Política / policy", "ninguna: tabla genérica, sin --policy no se muestran tasas de aprobación / "
                 "none: a generic table shows no approval rates unless --policy is given"]]  # fmt: skip
    approve, review = float(approve), float(review)
    if not (math.isfinite(approve) and math.isfinite(review) and review <= approve):
        raise invalid(f"'review_min_score' must be at most 'approve_min_score'. Got {review} and {approve} instead.")
    approved, declined = score >= approve, score < review
    in_review = ~approved & ~declined
    return [
        ["Política / policy", data.policy_version or "—"],
        ["Cortes / cut-offs", cutoff_text(approve, review)],
        ["Tasa de aprobación / approval rate", fmt(float(approved.mean()), percent=True)],
        ["Tasa de revisión / review rate", fmt(float(in_review.mean()), percent=True)],
        ["Tasa de malos aprobados / bad rate approved", fmt(_rate(y[approved]), percent=True)],
        ["Tasa de malos en revisión / bad rate in review", fmt(_rate(y[in_review]), percent=True)],
        ["Tasa de malos rechazados / bad rate declined", fmt(_rate(y[declined]), percent=True)],
    ]


def _context(data: ReportData) -> dict[str, Any]:
    y, p = check_outcomes(data.y, data.pd_, p_name="pd_")
    score = as_float_array(data.score, "score")
    if len(score) != len(y):
        raise invalid(f"'y' and 'score' must have the same length. Got {len(y)} and {len(score)} instead.")
    notes = [str(n) for n in data.notes]
    metrics = binary_metrics(y, p)
    if metrics["auc"] is None:
        notes.append("Las filas de evaluación tienen una sola clase / the evaluation rows hold one class only.")
    bands = band_table(y, score, data.bands)
    monotone = bands_monotone(bands)
    if not monotone:
        notes.append("La tasa de malos no es monótona por banda / the bad rate is not monotone across bands.")
    approve, review = data.approve_min_score, data.review_min_score
    policy = _policy_rows(data, y, score)
    bounds = [float(b) for _, b in data.bands]
    importance = None
    if data.importance is not None and len(data.importance):
        top = data.importance.sort_values("mean_abs_shap", ascending=False).head(TOP_FEATURES)
        top = top.drop(columns=[c for c in ("label",) if c in top.columns])  # the table shows the description
        importance = {"plot": _plots.importance_plot(data.importance, TOP_FEATURES), "table": _table(top)}
    fairness = _fairness(data, y, p, score, notes)
    candidates = _candidates(data.candidates, notes) if data.candidates is not None else None
    return {
        "data": data,
        "n_eval": fmt(len(y)),
        "n_train": fmt(data.n_train),
        "summary_rows": _metrics_rows(metrics),
        "policy_rows": policy,
        "roc_plot": _plots.roc_plot(y, p, metrics["auc"]),
        "ks_plot": _plots.ks_plot(y, score),
        "ks": fmt(metrics["ks"]),
        "auc": fmt(metrics["auc"]),
        "calibration_plot": _plots.calibration_plot(y, p, float(metrics["ece"] or 0.0)),
        "calibration_table": _table(calibration_table(y, p), percent=("mean_pd", "observed_rate")),
        "ece": fmt(metrics["ece"]),
        "score_plot": _plots.score_distribution_plot(y, score, approve, review, bounds),
        "approve_min": "—" if approve is None else f"{approve:g}",
        "bands_table": _table(bands, ("share", "bad_rate", "cumulative_bad_rate"), whole=("score_from", "score_to")),
        "bands_plot": _plots.band_plot(bands),
        "monotone": monotone,
        "importance": importance,
        "fairness": fairness,
        "min_group_n": MIN_GROUP_N,
        "oot": _oot(data.oot, metrics),
        "cv": _cv(data.cv),
        "candidates": candidates,
        "blend_why": data.blend_why,
        "typing": _typing_table(data.typing) if data.typing is not None else None,
        "notes": notes,
    }


def render_report(data: ReportData, out: Path | str) -> Path:
    """Write the validation report of ``data`` as one self-contained HTML file at ``out``; returns its path.

    Needs the ``report`` extra (matplotlib, jinja2); without it raises ``PymescoreError`` (code
    ``EXTRA_MISSING``) with the install hint.
    """
    jinja2 = _plots.require("jinja2")
    _plots.require("matplotlib")
    context = _context(data)
    source = resources.files("pymescore.evaluate").joinpath("_report.html.j2").read_text(encoding="utf-8")
    env = jinja2.Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)
    html = env.from_string(source).render(**context)
    path = Path(out)
    write_atomic(path, lambda tmp: tmp.write_text(html, encoding="utf-8"))
    return path
