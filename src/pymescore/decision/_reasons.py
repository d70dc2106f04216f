"""Reasons: the inputs that pull a score down the most, in words an owner understands (Spanish and English).

Columns whose reason reads the same (``dpd_mean_6m`` and ``dpd_max_6m``: «Atrasos en pagos recientes») are
one reason, their points added (still an exact part of the score), under the code of the one that weighs
most. The rows' source values let a reason tell a value that lowers the score from one that was not there:
the model scores an absent value as it learnt absent values score, and the reason says what was absent —
«Sin historial de pagos de préstamos» when no payments were sent, «Historial de pagos insuficiente» when the
history was too short or the ratio undefined — under the code ``<column>:missing``, never asserting a fact.

A reason on a registry feature also says the firm's value in its unit and which way it lies from the training
population's typical (median) value: «Nivel de egresos mensuales: S/ 12,000 al mes, por encima de lo típico
(S/ 8,000 al mes)», «Calificación SBS actual deteriorada: Deficiente (lo típico: Normal)». The typical values'
texts are made once per bundle (:func:`typical_values`); per row only the picked reasons' values are written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from pymescore.features import BY_NAME
from pymescore.features._display import display_value
from pymescore.features._plain import category_name, label_name
from pymescore.model import FeatureInfo

#: a feature's typical (median) training value and its text in Spanish and English
Typical = tuple[float, str, str]


def reasons(
    points: np.ndarray,
    columns: Sequence[str],
    features: Sequence[FeatureInfo],
    top: int = 4,
    values: Mapping[str, Sequence[Any] | np.ndarray] | None = None,
    typical: Mapping[str, Typical] | None = None,
    lang: str | None = None,
) -> list[list[dict[str, Any]]]:
    """The ``top`` reasons that pull each row's score down the most (``points``: rows × ``columns``); with
    ``values``, each reason on a registry feature says the row's value (and its side of ``typical``), in
    ``lang`` only when given (else both languages)."""
    return Reasons(columns, features, typical)(points, values, top, lang)


class Reasons:
    """The reason texts of a model's point columns, resolved once; called on a points matrix, it groups and
    ranks every row's reasons by array operations (no loop over a row's columns)."""

    def __init__(
        self, columns: Sequence[str], features: Sequence[FeatureInfo], typical: Mapping[str, Typical] | None = None
    ) -> None:
        texts = {f.name: _texts(f) for f in features}
        self.typical = dict(typical or {})
        self.columns = list(columns)
        self._groups: dict[str, int] = {}  # a reason's Spanish text -> its group (columns that read alike)
        self._texts: list[tuple[str, str]] = []
        self._base = np.array([self._group(texts.get(c, (c, c))) for c in self.columns], dtype=np.int64)
        # a column's groups when its value is absent: (flag column or "", group when not sent, group otherwise)
        self._absent = [self._absent_groups(c) for c in self.columns]
        self._not_sent = np.array([g for _, g, _ in self._absent], dtype=np.int64)
        self._too_little = np.array([g for _, _, g in self._absent], dtype=np.int64)
        self._flags = tuple(dict.fromkeys(f for f, _, _ in self._absent if f))
        self._which: dict[tuple[str, ...], np.ndarray] = {}  # per set of flags given: each column's flag index

    def _group(self, pair: tuple[str, str]) -> int:
        if pair[0] not in self._groups:
            self._groups[pair[0]] = len(self._texts)
            self._texts.append(pair)
        return self._groups[pair[0]]

    def _absent_groups(self, name: str) -> tuple[str, int, int]:
        f = BY_NAME.get(name)
        if f is None:  # a generic table's column
            g = self._group((f"Sin dato: {name}", f"No value: {name}"))
            return "", g, g
        table = f.sources[0].split(".", 1)[0]
        if table == "firms" or f.group == "context":  # the register's fields, or what is looked up by them
            g = self._group(_NO_REGISTER)
            return "", g, g
        flag, not_sent, too_little = _ABSENT_TABLES.get(table, ("", _NOT_MEASURABLE, _NOT_MEASURABLE))
        return flag, self._group(not_sent), self._group(too_little)

    def __call__(
        self,
        points: np.ndarray,
        values: Mapping[str, Sequence[Any] | np.ndarray] | None = None,
        top: int = 4,
        lang: str | None = None,
    ) -> list[list[dict[str, Any]]]:
        n, m = points.shape
        absent = _absent_matrix(self.columns, values, n)
        # every column that pulls down, most first (each row's own argsort), grouped by the text it reads as:
        # the points added in that order, under the code of the first (heaviest) column of the group
        order = np.argsort(points, axis=1)
        ranked = np.take_along_axis(points, order, axis=1)
        if absent.any():  # an absent value reads as why it is absent: its table not sent (flag 0), or too little
            flags = tuple(f for f in self._flags if values is not None and f in values)
            not_sent = np.zeros((n, len(flags) + 1), dtype=bool)  # the last column: a column without a flag
            for i, f in enumerate(flags):
                not_sent[:, i] = np.asarray(values[f], dtype=np.float64) == 0  # type: ignore[index]
            if flags not in self._which:
                of_flag = [flags.index(f) if f in flags else len(flags) for f, _, _ in self._absent]
                self._which[flags] = np.array(of_flag, dtype=np.int64)
            alt = np.where(not_sent[:, self._which[flags]], self._not_sent, self._too_little)
            g = np.take_along_axis(np.where(absent, alt, self._base), order, axis=1)
        else:
            g = self._base[order]
        down = ranked < 0
        row = np.repeat(np.arange(n), m).reshape(n, m)[down]
        width = len(self._texts)
        key = row * width + g[down]
        sums = np.bincount(key, weights=ranked[down], minlength=n * width)
        keys, first = np.unique(key, return_index=True)  # each group's first (heaviest) column, by row
        at = np.flatnonzero(down.ravel())[first]  # its flat position in the ranked matrix
        k_rows = keys // width
        total = sums[keys]
        # per row: the groups by their points, ties in the order they were first met; the ``top`` first
        pick = np.lexsort((first, total, k_rows))
        start = np.searchsorted(k_rows[pick], np.arange(n))
        rank = np.arange(len(pick)) - start[k_rows[pick]]
        pick = pick[rank < top]
        column = order.ravel()[at[pick]]
        missing = absent[k_rows[pick], column]
        out: list[list[dict[str, Any]]] = [[] for _ in range(n)]
        for r, gid, j, miss, p in zip(k_rows[pick].tolist(), (keys[pick] % width).tolist(), column.tolist(),
                                      missing.tolist(), total[pick].tolist(), strict=True):  # fmt: skip
            es, en = self._texts[gid]
            name = self.columns[j]
            reason = {"code": name + MISSING_SUFFIX if miss else name, "text_es": es, "text_en": en,
                      "impact_points": round(p, 2)}  # fmt: skip
            if not miss and values is not None and name in values and name in BY_NAME:  # the row's value, said
                _with_value(reason, BY_NAME[name], values[name][r], self.typical.get(name), lang)
            elif not miss and values is not None and name in values and es == en == name:  # a generic column
                shown = _shown(values[name][r])
                reason["text_es"], reason["text_en"] = f"{name} (valor: {shown})", f"{name} (value: {shown})"
            out[r].append(reason)
        return out


def _absent_matrix(columns: list[str], values: Mapping[str, Sequence[Any] | np.ndarray] | None, n: int) -> np.ndarray:
    """Rows × columns: where a column's value is absent (a column not in ``values`` is not)."""
    out = np.zeros((n, len(columns)), dtype=bool)
    if values is None:
        return out
    got = [values.get(c) for c in columns]
    numeric = [j for j, v in enumerate(got) if isinstance(v, np.ndarray) and v.dtype.kind == "f"]
    if numeric:  # the float arrays in one test
        out[:, numeric] = np.isnan(np.array([got[j] for j in numeric])).T
    done = set(numeric)
    for j, v in enumerate(got):
        if v is not None and j not in done:
            out[:, j] = _absent_mask(v)
    return out


def _absent_mask(values: Sequence[Any] | np.ndarray) -> np.ndarray:
    """Where a column's values are absent (NaN, None, NaT)."""
    v = np.asarray(values)
    if v.dtype.kind == "f":
        return np.asarray(np.isnan(v), dtype=bool)
    if v.dtype.kind in "mM":
        return np.asarray(np.isnat(v), dtype=bool)
    if v.dtype.kind in "iub":
        return np.zeros(len(v), dtype=bool)
    return np.fromiter(map(_absent, v), dtype=bool, count=len(v))


def typical_values(reference: Mapping[str, Any]) -> dict[str, Typical]:
    """Each registry feature's training median and its text in both languages, from a bundle's reference."""
    out: dict[str, Typical] = {}
    for name, ref in reference.items():
        f = BY_NAME.get(name)
        quartiles = (ref.get("quartiles") or []) if isinstance(ref, Mapping) else []
        if f is None or len(quartiles) != 3 or not np.isfinite(quartiles[1]):
            continue
        m = float(quartiles[1])
        out[name] = (m, display_value(f, m, "es"), display_value(f, m, "en"))
    return out


def _with_value(reason: dict[str, Any], f: Any, value: Any, typical: Typical | None, lang: str | None) -> None:
    """Append the row's value (and its side of the typical one) to the reason's texts."""
    if _absent(value):
        return
    for key, code in (("text_es", "es"), ("text_en", "en")):
        if lang is not None and code != lang:
            continue
        if f.kind == "categorical":
            shown = label_name(f.name, value, code)
            reason[key] = f"{reason[key]}: {shown}"
            continue
        try:
            x = float(value)
        except (TypeError, ValueError):
            continue
        shown = display_value(f, x, code)
        if typical is not None and shown == (typical[1] if code == "es" else typical[2]):
            x = typical[0]  # the same value as shown: "igual a lo típico", not a side of it by a rounding
        if typical is None:
            reason[key] = f"{reason[key]}: {shown}"
        elif category_name(f.unit, x, code) is not None:  # a coded value: the typical one by its name
            said = typical[1] if code == "es" else typical[2]
            reason[key] = f"{reason[key]}: {shown} ({'lo típico' if code == 'es' else 'typical'}: {said})"
        else:
            reason[key] = f"{reason[key]}: {shown}, {_side(x, typical, f.monotone, code)}"


def _side(x: float, typical: Typical, monotone: int, lang: str) -> str:
    """Where ``x`` lies from the typical value. A monotone feature's reason already names the risky side
    («Ingresos mensuales bajos»); a value that pulls the score down from the other side of the median lies
    between the model's pivot (a mean over the population) and the median, and is said to be near it."""
    m, es, en = typical
    side = (x > m) - (x < m)
    if monotone and side == -monotone:  # on the safe side of the median (risk rises with +1, falls with -1)
        side = 2
    if lang == "es":
        words = {1: "por encima de", -1: "por debajo de", 0: "igual a", 2: "cerca de"}
        return f"{words[side]} lo típico ({es})"
    words = {1: "above", -1: "below", 0: "the same as", 2: "close to"}
    return f"{words[side]} the typical {en}"


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
