"""The SME feature snapshot as a domain of the generic trainer (``pymescore.model.train(..., domain=...)``).

A snapshot (``pymescore features``) has one row per firm and observation date: ``ruc``, ``as_of``, the
registry's features, the label and ``label_window_end``. What the trainer should know about it — folds
grouped by firm, the out-of-time test on ``as_of``, the embargo on ``label_window_end``, the registry's
types, monotone directions and reason texts — is said here, in the features layer that owns the registry;
the model layer only defines the shape (``pymescore.model._domain.Domain``) and imports nothing of this.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from pymescore.errors import PymescoreError
from pymescore.features._catalog import FEATURE_NAMES, FEATURES
from pymescore.features._firmographics import DEPARTMENT_CODES, SECTIONS
from pymescore.features._sequences import HISTORY_REASONS, SEQUENCE_COLUMNS

#: the snapshot's columns that identify a row, date its outcome window, mark a rejected application, and its monthly
#: histories (read by a sequence model, not as features): never features
SNAPSHOT_KEYS = ("ruc", "as_of", "label_window_end", "rejected", *SEQUENCE_COLUMNS)
#: every category of the registry's categorical features, in the order the model encodes them
CATEGORIES: dict[str, tuple[str, ...]] = {"ciiu_section": SECTIONS, "department": DEPARTMENT_CODES}


@dataclass(frozen=True)
class SnapshotDomain:
    """The SME snapshot as ``pymescore.model._domain.Domain`` describes a family of tables."""

    name: str
    keys: tuple[str, ...]
    group_col: str | None
    time_col: str | None
    label_end_col: str | None
    monotone: Mapping[str, int]
    types: Mapping[str, tuple[str, tuple[str, ...]]]
    reasons: Mapping[str, tuple[str, str]]
    sequence_cols: tuple[str, ...] = ()


@functools.cache
def sme_snapshot() -> SnapshotDomain:
    """The registry's knowledge of its features, as plain data for the trainer."""
    types: dict[str, tuple[str, tuple[str, ...]]] = {}
    for f in FEATURES:
        if f.kind == "categorical":
            if f.name not in CATEGORIES:
                raise PymescoreError(f"feature registry: expected the categories of '{f.name}' in CATEGORIES, got none")
            types[f.name] = ("registry: categorical", CATEGORIES[f.name])
        else:
            types[f.name] = (f"registry: {f.kind}", ())
    return SnapshotDomain(
        name="sme_snapshot",
        keys=SNAPSHOT_KEYS,
        group_col="ruc",
        time_col="as_of",
        label_end_col="label_window_end",
        monotone={f.name: f.monotone for f in FEATURES},
        types=types,
        reasons={**{f.name: (f.reason_es, f.reason_en) for f in FEATURES}, **HISTORY_REASONS},
        sequence_cols=SEQUENCE_COLUMNS,
    )


def snapshot_domain(frame: pd.DataFrame) -> SnapshotDomain | None:
    """The SME snapshot domain when ``frame`` holds every registry feature (a snapshot), else ``None`` (a
    table the trainer reads as any other)."""
    return sme_snapshot() if set(FEATURE_NAMES) <= set(frame.columns) else None
