"""The scorecard family as one SQL ``SELECT`` (PostgreSQL; ANSI but for the ``'…'::float8`` literals): risk teams
run scorecards inside the core banking database.

The statement reads a table holding the feature columns as the snapshot has them and returns every column plus
``score``. Each scorecard variable becomes a ``CASE`` over its bins (numbers: ``x < split``, as the bins' right
edges; missing, ``NULL`` or ``NaN``, to the missing bin) or its groups (categories: the trimmed text; a value
the training never saw, or an empty one, is missing, as in Python). Then:

- a scorecard-only bundle: the bundle's own score (the calibrator, Platt or isotonic, then the scale, the
  clipping and the rounding half to even of ``np.rint``), equal to ``pymescore score``'s;
- a blend: the scorecard family's own points, ``offset − factor × its log-odds`` on the bundle's scale, clipped
  and rounded (the classic scorecard points; the blend's other families have no SQL form), which is
  :func:`scorecard_score`.

Every number is written as the shortest text that reads back as the same double (``repr``), and the arithmetic
follows the Python code's order, so the database gives the Python figures exactly.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from pymescore.errors import PymescoreError
from pymescore.model._calibration import Calibrator
from pymescore.model._config import ScoreScale
from pymescore.model._fitted import FittedModel


class ExportError(PymescoreError):
    """A bundle that the export asked for cannot express (no scorecard, a column kind SQL does not read)."""

    code = "EXPORT_UNSUPPORTED"


def _num(x: float) -> str:
    value = float(x)
    if value != value:
        return "'NaN'::float8"
    if value in (float("inf"), float("-inf")):
        return "'Infinity'::float8" if value > 0 else "'-Infinity'::float8"
    return f"'{value!r}'::float8"


def _text(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def identifier(name: str) -> str:
    """A table name, optionally schema-qualified (``schema.table``), each part quoted."""
    parts = name.split(".")
    if not name or any(not p for p in parts) or len(parts) > 3:
        raise ExportError(f"--sql-table: expected a table name such as features or schema.features, got {name!r}")
    return ".".join('"' + p.replace('"', '""') + '"' for p in parts)


def _column(name: str) -> str:
    return 't."' + name.replace('"', '""') + '"'


def _woe_case(v: dict[str, Any], kind: str, categories: tuple[str, ...]) -> str:
    col = _column(v["name"])
    woe = [float(w) for w in v["woe"]]
    missing = _num(v["missing_woe"])
    if v["type"] == "numerical":
        x = f"CAST({col} AS double precision)"
        branches = [f"WHEN {x} IS NULL OR {x} = 'NaN'::float8 THEN {missing}"]
        splits = [float(s) for s in v["splits"]]
        # np.searchsorted(splits, x, side="right"), capped at the last bin: x < split k lands in bin k
        for k, split in enumerate(splits[: len(woe) - 1]):
            branches.append(f"WHEN {x} < {_num(split)} THEN {_num(woe[k])}")
        return f"CASE {' '.join(branches)} ELSE {_num(woe[-1])} END"
    if kind != "category":
        raise ExportError(f"column {v['name']}: the SQL export reads numbers and categories, got kind {kind}")
    label = f"NULLIF(BTRIM(CAST({col} AS text), E' \\t\\n\\r\\f\\x0b'), '')"  # Python's str.strip, ASCII
    known = ", ".join(_text(c) for c in categories)
    branches = [f"WHEN {label} IS NULL THEN {missing}"]
    if known:  # a value the training never saw is missing (the preprocessor's rule)
        branches.append(f"WHEN {label} NOT IN ({known}) THEN {missing}")
    else:
        branches = [f"WHEN TRUE THEN {missing}"]
    for k, group in enumerate(v["groups"]):
        members = [c for c in group if c in categories]
        if members:
            branches.append(f"WHEN {label} IN ({', '.join(_text(c) for c in members)}) THEN {_num(woe[k])}")
    return f"CASE {' '.join(branches)} ELSE '0.0'::float8 END"  # a training category in no group: WoE 0


def _pd_sql(z: str, cal: Calibrator) -> str:
    """The calibrated PD of the margin ``z`` (an SQL expression), as :meth:`Calibrator.predict` computes it."""
    if cal.method == "platt":
        # the exponent bounded (PostgreSQL refuses exp's underflow; beyond ±50 the PD is clipped alike below)
        t = f"LEAST(GREATEST({_num(cal.a_)} * {z} + {_num(cal.b_)}, '-50.0'::float8), '50.0'::float8)"
        return f"('1.0'::float8 / ('1.0'::float8 + EXP(-({t}))))"
    xs, ys = [float(v) for v in cal.x_], [float(v) for v in cal.y_]
    branches = [f"WHEN {z} > {_num(xs[-1])} THEN {_num(ys[-1])}", f"WHEN {z} < {_num(xs[0])} THEN {_num(ys[0])}"]
    for j in range(len(xs) - 1):  # np.interp: on a knot its value; inside [x_j, x_j+1) slope_j · (z − x_j) + y_j
        slope = (ys[j + 1] - ys[j]) / (xs[j + 1] - xs[j])
        branches.append(f"WHEN {z} = {_num(xs[j])} THEN {_num(ys[j])}")
        branches.append(f"WHEN {z} < {_num(xs[j + 1])} THEN {_num(slope)} * ({z} - {_num(xs[j])}) + {_num(ys[j])}")
    interp = f"(CASE {' '.join(branches)} ELSE {_num(ys[-1])} END)"
    return f"LEAST(GREATEST({interp}, '1e-06'::float8), '0.999999'::float8)"


def _score_of_pd(p: str, scale: ScoreScale) -> str:
    q = f"LEAST(GREATEST({p}, '1e-12'::float8), '0.999999999999'::float8)"
    raw = f"{_num(scale.offset)} - {_num(scale.factor)} * LN({q} / ('1.0'::float8 - {q}))"
    return f"ROUND(LEAST(GREATEST({raw}, {_num(scale.low)}), {_num(scale.high)}))"


def scorecard_only(model: FittedModel) -> bool:
    return model.scorecard is not None and abs(model.weights["scorecard"] - 1.0) < 1e-12


def to_sql(model: FittedModel, table: str = "features") -> str:
    """One ``SELECT`` over ``table`` returning its columns and ``score`` (see the module's docstring)."""
    sc = model.scorecard
    if sc is None:
        raise ExportError("the bundle has no scorecard family: train it with one (pymescore train --families "
                          "scorecard or a set holding it) to export it to SQL")  # fmt: skip
    kinds = {ct.column: ct.kind for ct in model.preprocessor.types}
    source = model.preprocessor.source_of()
    categories = model.preprocessor.categorical
    terms = []
    for v in sc.variables_:
        if source.get(v["name"]) != v["name"]:
            raise ExportError(f"column {v['name']}: the SQL export reads the table's own columns, got a part of "
                              f"{source.get(v['name'])}")  # fmt: skip
        kind = kinds[v["name"]]
        if v["type"] == "numerical" and kind != "numeric":
            raise ExportError(f"column {v['name']}: the SQL export reads numbers and categories, got kind {kind}")
        terms.append(f"    {_num(v['coef'])} * ({_woe_case(v, kind, tuple(categories.get(v['name'], ())))})")
    # the intercept plus the sum of the terms, in Python's order (Additive.margin_from)
    total = "\n    + ".join(t.strip() for t in terms)
    margin = f"({_num(sc.intercept_)} + (\n    {total}))" if terms else f"({_num(sc.intercept_)})"
    layers = [f"CROSS JOIN LATERAL (SELECT {margin} AS z OFFSET 0) AS sc"]
    if scorecard_only(model):
        layers.append(f"CROSS JOIN LATERAL (SELECT {_pd_sql('sc.z', model.calibrator)} AS p OFFSET 0) AS cal")
        score = _score_of_pd("cal.p", model.scale)
        what = "the bundle's score (scorecard only: calibrated, scaled, clipped, rounded half to even)"
    else:
        s = model.scale
        score = f"ROUND(LEAST(GREATEST({_num(s.offset)} - {_num(s.factor)} * sc.z, {_num(s.low)}), {_num(s.high)}))"
        what = "the scorecard family's points (offset - factor x its log-odds, clipped, rounded half to even)"
    # each step a lateral subquery fenced by OFFSET 0: computed once a row, not inlined into every reference
    return (
        f"-- pymescore scorecard export: {what}\n"
        f"SELECT t.*, CAST({score} AS integer) AS score\n"
        f"FROM {identifier(table)} AS t\n" + "\n".join(layers) + ";\n"
    )


def scorecard_score(model: FittedModel, frame: pd.DataFrame) -> np.ndarray:
    """What :func:`to_sql`'s ``score`` is, computed in Python: the bundle's score for a scorecard-only bundle,
    else the scorecard family's own points."""
    if model.scorecard is None:
        raise ExportError("the bundle has no scorecard family")
    if scorecard_only(model):
        return np.asarray(model.predict(frame)["score"].to_numpy(), dtype=np.int64)
    z = model.scorecard.margin(model.matrix(frame))
    s = model.scale
    return np.rint(np.clip(s.offset - s.factor * z, s.low, s.high)).astype(np.int64)
