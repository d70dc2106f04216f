"""Improvement hints: monotone inputs that pull a score down, moved to a typical better value, scored by the
model itself, at most one per registry group (cash flow, profitability, leverage, payments, bureau).

The target is the training quartile on the safe side of the declared direction (the 25th percentile for a
feature that raises risk, the 75th for one that lowers it; a whole number of days, months, instalments or an
SBS category, rounded to the safe side); the points are the model's own score at that value, all else equal.
Only numeric inputs the model reads as given are moved, so each trial is its row of the model matrix with one
cell set: a *probe* row, appended to the rows' one margin call.

An application that is not approved and got no hint that way gets a second look (:meth:`Hints.fallback`):
every movable input, at its quartile and at its safe-side decile. When none moves the score by a point, the
decision stage says so (``NO_HINT``) instead of leaving the owner with nothing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from pymescore.features import BY_NAME
from pymescore.features._display import display_value, quantity_name
from pymescore.features._plain import HINTS

#: candidate inputs tried per application; the hints are the best of each group among them, three at most
HINT_TRIALS = 8
#: what an owner can change by how the business is run (not the region, the sector, the firm's age or size)
HINT_GROUPS = frozenset({"cash_flow", "profitability", "leverage", "payment_behaviour", "bureau"})
#: amounts measure the size of the business, not how it is run: "raise income from S/ 3,897 to S/ 55,704"
#: (the training quartile of all firms) is no advice to a micro firm; its margins and ratios are
SIZE_UNITS = frozenset({"PEN", "PEN/month", "log PEN", "UIT"})

Trial = tuple[int, str, float, float]  # row, input, current value, target value
#: units counted in whole numbers: a target of 2.5 days or 0.5 of an SBS category is no target
WHOLE_UNITS = frozenset({"days", "months", "count", "category", "class", "flag"})
#: what the stage says of a non-approval when no input the owner runs moves the score by a point
NO_HINT = (
    "Ningún dato que la empresa maneje (flujo de caja, rentabilidad, deudas, pagos, central de riesgos) sube el "
    "puntaje en un punto o más: la decisión depende de datos que no cambian con la gestión (antigüedad, tamaño, "
    "sector, región) o de reglas de la política.",
    "No input the firm runs (cash flow, profitability, debts, payments, credit bureau) raises the score by a "
    "point or more: the decision rests on data that management does not change (age, size, sector, region) or "
    "on the policy's rules.",
)


def actionable(name: str) -> bool:
    """Whether a hint may suggest moving this input (a generic model's columns: any monotone one)."""
    f = BY_NAME.get(name)
    return f is None or (f.group in HINT_GROUPS and f.unit not in SIZE_UNITS)


class Hints:
    """What the hints need of a bundle: each input's direction, its target, and the model column it is."""

    def __init__(self, monotone: Mapping[str, int], reference: Mapping[str, Any], model_columns: list[str],
                 numeric: set[str]) -> None:  # fmt: skip
        where = {c: j for j, c in enumerate(model_columns)}
        self._movable: dict[str, tuple[int, float]] = {}  # input -> (model column, target)
        self._far: dict[str, float] = {}  # input -> the safe-side decile, when beyond the quartile
        for name, mono in monotone.items():
            target = _target(reference.get(name), mono)
            if target is not None and name in numeric and name in where and actionable(name):
                self._movable[name] = (where[name], _whole(name, target, mono))
                far = _far(reference.get(name), mono)
                if far is not None and (_whole(name, far, mono) - self._movable[name][1]) * mono < 0:
                    self._far[name] = _whole(name, far, mono)
        self._monotone = dict(monotone)

    def trials(self, parts: np.ndarray, columns: list[str], values: Mapping[str, np.ndarray]) -> list[Trial]:
        """For each row, up to ``HINT_TRIALS`` inputs that pull its score down (a positive log-odds part),
        worst first, that have a better typical value the model reads as given."""
        n, m = parts.shape
        candidate = np.zeros((n, m), dtype=bool)
        current = np.full((n, m), np.nan)
        target = np.full(m, np.nan)
        movable = [(j, name) for j, name in enumerate(columns) if self._monotone.get(name, 0) != 0
                   and name in self._movable and name in values and values[name].dtype.kind == "f"]  # fmt: skip
        if movable:
            at = [j for j, _ in movable]
            goal = np.array([self._movable[name][1] for _, name in movable])
            mono = np.array([self._monotone[name] for _, name in movable])
            v = np.column_stack([values[name] for _, name in movable])
            target[at] = goal
            current[:, at] = v
            # a value to move (not missing), whose target is an improvement
            candidate[:, at] = ~np.isnan(v) & ((goal - v) * mono < 0)
        order = np.argsort(-parts, axis=1)  # worst first, each row's own order
        ranked = np.take_along_axis(parts, order, axis=1)
        # the inputs met before the first part that does not pull down, the first HINT_TRIALS candidates
        pulls = np.cumprod(ranked > 0, axis=1).astype(bool)
        chosen = np.take_along_axis(candidate, order, axis=1) & pulls
        chosen &= np.cumsum(chosen, axis=1) <= HINT_TRIALS
        rows, ranks = np.nonzero(chosen)
        cols = order[rows, ranks]
        return list(zip(rows.tolist(), [columns[c] for c in cols.tolist()], current[rows, cols].tolist(),
                        target[cols].tolist(), strict=True))  # fmt: skip

    def fallback(self, rows: list[int], values: Mapping[str, np.ndarray]) -> list[Trial]:
        """For rows that got no hint: every movable input with a value, at its quartile target and at its
        safe-side decile, whichever improve on the current value (whether or not it pulls the score down)."""
        out: list[Trial] = []
        for name, (_j, target) in self._movable.items():
            if name not in values:
                continue
            mono = self._monotone[name]
            column = values[name]
            for k in rows:
                current = column[k]
                if not isinstance(current, float | np.floating) or current != current:
                    continue
                for goal in (target, self._far.get(name)):
                    if goal is not None and (goal - current) * mono < 0:
                        out.append((k, name, float(current), goal))
        return out

    def probes(self, matrix: np.ndarray, trials: list[Trial]) -> np.ndarray:
        """Each trial's model row with its one input moved to the target."""
        rows = matrix[[k for k, *_ in trials]] if trials else np.zeros((0, matrix.shape[1]))
        for i, (_k, name, _current, target) in enumerate(trials):
            rows[i, self._movable[name][0]] = target
        return rows

    @staticmethod
    def pick(trials: list[Trial], moved: np.ndarray, scores: np.ndarray, lang: str) -> list[list[dict[str, Any]]]:
        """The hints of each row from its trials' scores: a gain of a point or more, the best of each group,
        the best three groups (ties in the trials' order); only the kept ones are put in words."""
        out: list[list[dict[str, Any]]] = [[] for _ in range(len(scores))]
        if not trials:
            return out
        rows = np.array([t[0] for t in trials], dtype=np.int64)
        gain = np.rint(moved) - np.asarray(scores, dtype=np.float64)[rows]
        group_of: dict[str, int] = {}
        group = np.array([group_of.setdefault(_group(t[1]), len(group_of)) for t in trials], dtype=np.int64)
        seq = np.flatnonzero(gain >= 1)
        seq = seq[np.lexsort((seq, -gain[seq], rows[seq]))]  # by row, the best first, ties in the trials' order
        # the first (best) trial of each group within a row, then the row's three best groups
        _, first = np.unique(rows[seq] * len(group_of) + group[seq], return_index=True)
        seq = seq[np.sort(first)]
        start = np.searchsorted(rows[seq], rows[seq], side="left")
        seq = seq[np.arange(len(seq)) - start < 3]
        for i in seq.tolist():
            k, name, current, target = trials[i]
            out[k].append({"feature": name, "text": hint_text(name, current, target, lang), "current_value": current,
                           "target_value": target, "points": round(float(gain[i]), 1)})  # fmt: skip
        return out


def _group(name: str) -> str:
    return BY_NAME[name].group if name in BY_NAME else name


def _target(ref: Mapping[str, Any] | None, monotone: int) -> float | None:
    if monotone == 0 or not ref or ref.get("kind") != "numeric":
        return None
    quartiles = ref.get("quartiles") or []
    if len(quartiles) == 3:  # the training quartile on the safe side
        return float(quartiles[0] if monotone > 0 else quartiles[2])
    edges = ref.get("edges", [])  # a bundle written before quartiles were stored: its bin edges
    if len(edges) < 3:
        return None
    return float(edges[len(edges) // 4] if monotone > 0 else edges[(3 * len(edges)) // 4])


def _far(ref: Mapping[str, Any] | None, monotone: int) -> float | None:
    """The safe-side decile (the first or last inner bin edge): a further target for the fallback."""
    if monotone == 0 or not ref or ref.get("kind") != "numeric" or not ref.get("edges"):
        return None
    return float(ref["edges"][0] if monotone > 0 else ref["edges"][-1])


def _whole(name: str, target: float, monotone: int) -> float:
    """A target in whole units (days, months, instalments, an SBS category) rounded to the safe side."""
    f = BY_NAME.get(name)
    if f is None or f.unit not in WHOLE_UNITS:
        return target
    return float(math.floor(target) if monotone > 0 else math.ceil(target))


def hint_text(name: str, current: float, target: float, lang: str) -> str:
    """A sentence with a concrete target in plain words: «Aumentar lo que le queda en caja de cada sol que vende
    (últimos 12 meses) de 5.2% a 16.2%», «Mejorar su calificación SBS actual de Dudoso a Normal». Both values in
    their unit (soles, percent, days, the SBS category's name); a generic model's column by its name."""
    f = BY_NAME.get(name)
    if f is None:  # a generic model's column: its name and plain numbers
        what, now, then = name, f"{current:.4g}", f"{target:.4g}"
    else:
        now, then = display_value(f, current, lang), display_value(f, target, lang)
        template = HINTS.get(name)
        if template is not None:
            return template[0 if lang == "es" else 1].format(now=now, then=then)
        what = quantity_name(f, lang)
    up = target > current
    if lang == "es":
        return f"{'Aumentar' if up else 'Reducir'} «{what}» de {now} a {then}"
    return f"{'Raise' if up else 'Reduce'} «{what}» from {now} to {then}"
