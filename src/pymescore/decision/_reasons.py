"""Reasons: the inputs that pull a score down the most, in words an owner understands (Spanish and English).

Columns whose reason reads the same (``dpd_mean_6m`` and ``dpd_max_6m``: «Atrasos en pagos recientes») are
one reason, their points added (still an exact part of the score), under the code of the one that weighs
most. The rows' source values let a reason tell a value that lowers the score from one that was not there:
the model scores an absent value as it learnt absent values score, and the reason says what was absent —
«Sin historial de pagos de préstamos» when no payments were sent, «Historial de pagos insuficiente» when the
history was too short or the ratio undefined — under the code ``<column>:missing``, never asserting a fact.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from pymescore.features import BY_NAME
from pymescore.model import FeatureInfo


def reasons(
    points: np.ndarray,
    columns: Sequence[str],
    features: Sequence[FeatureInfo],
    top: int = 4,
    values: Mapping[str, Sequence[Any] | np.ndarray] | None = None,
) -> list[list[dict[str, Any]]]:
    """The ``top`` reasons that pull each row's score down the most (``points``: rows × ``columns``)."""
    texts = {f.name: _texts(f) for f in features}
    cols = list(columns)
    named = [texts.get(name, (name, name)) for name in cols]
    # each column's values once as Python objects (a NaN, a None: absent), not a numpy scalar per look-up
    given = {} if values is None else {name: list(v) if not isinstance(v, np.ndarray) else v.tolist()
                                       for name, v in values.items()}  # fmt: skip
    out = []
    for k, row in enumerate(points.tolist()):
        grouped: dict[str, dict[str, Any]] = {}
        for j in np.argsort(np.asarray(row)).tolist():  # every column that pulls down, grouped; the top after
            if row[j] >= 0:
                break
            name = cols[j]
            code, (es, en) = name, named[j]
            if name in given and _absent(given[name][k]):
                code, (es, en) = name + MISSING_SUFFIX, _absent_texts(name, given, k)
            elif name in given and es == en == name:  # a generic table's column: its name and the row's value
                es, en = f"{name} (valor: {_shown(given[name][k])})", f"{name} (value: {_shown(given[name][k])})"
            if es in grouped:  # the code stays the heaviest column's (the first seen)
                grouped[es]["impact_points"] += row[j]
            else:
                grouped[es] = {"code": code, "text_es": es, "text_en": en, "impact_points": row[j]}
        picked = sorted(grouped.values(), key=lambda r: r["impact_points"])[:top]
        for r in picked:
            r["impact_points"] = round(r["impact_points"], 2)
        out.append(picked)
    return out


#: the suffix of a reason code whose value was absent (``dpd_current:missing``)
MISSING_SUFFIX = ":missing"


def _texts(f: FeatureInfo) -> tuple[str, str]:
    """A column's reason texts: the bundle's, else the current registry's (a bundle trained before its feature
    had one), else the column name (a generic table's)."""
    known = BY_NAME.get(f.name)
    es = f.reason_es or (known.reason_es if known else "") or f.name
    en = f.reason_en or (known.reason_en if known else "") or f.name
    return es, en


#: by the raw table a feature comes from: its coverage flag, what to say when that table was not sent, and
#: what to say when it was but held too little to measure the feature (too short a history, a ratio
#: undefined for a negative equity)
_ABSENT_TABLES: dict[str, tuple[str, tuple[str, str], tuple[str, str]]] = {
    "monthly_cashflows": ("has_cashflows", ("Sin flujos de caja recientes", "No recent cash flows"),
                          ("Historial de flujos de caja insuficiente", "Not enough cash-flow history")),
    "financial_statements": ("has_statements", ("Sin estados financieros presentados", "No filed financial statements"),
                             ("Estados financieros insuficientes para calcular sus ratios",
                              "Financial statements not enough to compute their ratios")),
    "payments": ("has_payments", ("Sin historial de pagos de préstamos", "No loan payment history"),
                 ("Historial de pagos insuficiente", "Not enough payment history")),
    "bureau_ratings": ("has_bureau", ("Sin reporte en la central de riesgos (SBS)", "No credit bureau (SBS) report"),
                       ("Historial en la central de riesgos insuficiente", "Not enough credit bureau history")),
}  # fmt: skip
_NOT_MEASURABLE = ("Dato no medible con la información enviada", "Not measurable from the data sent")
_NO_REGISTER = (
    "Sin datos de la empresa en el padrón (ubicación, actividad o inicio de actividades)",
    "No register data on the firm (location, activity or start of activities)",
)


def _absent_texts(name: str, values: Mapping[str, Sequence[Any] | np.ndarray], k: int) -> tuple[str, str]:
    """Why row ``k`` has no value of ``name``: its history was not sent, the register data were missing, or the
    value could not be measured from what was sent (too short a history, a ratio undefined)."""
    f = BY_NAME.get(name)
    if f is None:  # a generic table's column
        return f"Sin dato: {name}", f"No value: {name}"
    table = f.sources[0].split(".", 1)[0]
    if table == "firms" or f.group == "context":  # the register's fields, or what is looked up by them
        return _NO_REGISTER
    flag, not_sent, too_little = _ABSENT_TABLES.get(table, ("", _NOT_MEASURABLE, _NOT_MEASURABLE))
    if flag and flag in values and not _absent(values[flag][k]) and float(values[flag][k]) == 0:
        return not_sent
    return too_little


def _shown(value: Any) -> str:
    """A generic column's value as a reason quotes it: whole numbers without decimals, others to 4 digits.

    >>> _shown(5951.0), _shown(0.123456), _shown("A14"), _shown(12345.678)
    ('5951', '0.1235', 'A14', '12346')
    """
    if isinstance(value, (float, np.floating)):
        number = float(value)
        return f"{number:.0f}" if number.is_integer() or abs(number) >= 1000 else f"{number:.4g}"
    return str(value)


def _absent(value: Any) -> bool:
    if value is None or isinstance(value, str):
        return value is None
    return bool(value != value) or value is pd.NaT or value is pd.NA
