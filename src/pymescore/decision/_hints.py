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
        out: list[Trial] = []
        for k in range(len(parts)):
            picked = 0
            for j in np.argsort(-parts[k]):
                if parts[k, j] <= 0 or picked >= HINT_TRIALS:
                    break
                name = columns[j]
                mono = self._monotone.get(name, 0)
                if mono == 0:
                    continue
                movable = self._movable.get(name)
                current = values[name][k] if name in values else None
                if movable is None or not isinstance(current, float | np.floating) or current != current:
                    continue
                target = movable[1]
                if (target - current) * mono >= 0:
                    continue  # not an improvement
                picked += 1
                out.append((k, name, float(current), target))
        return out

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
        the best three groups."""
        out: list[list[dict[str, Any]]] = [[] for _ in range(len(scores))]
        for (k, name, current, target), new in zip(trials, np.rint(moved), strict=True):
            gain = float(new - scores[k])
            if gain >= 1:
                out[k].append({"feature": name, "text": hint_text(name, current, target, lang),
                               "current_value": current, "target_value": target, "points": round(gain, 1)})  # fmt: skip
        for k, hints in enumerate(out):
            hints.sort(key=lambda h: -h["points"])
            seen: set[str] = set()
            kept: list[dict[str, Any]] = []
            for h in hints:
                group = BY_NAME[h["feature"]].group if h["feature"] in BY_NAME else h["feature"]
                if group not in seen and len(kept) < 3:
                    seen.add(group)
                    kept.append(h)
            out[k] = kept
        return out


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
