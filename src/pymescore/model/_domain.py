"""What a caller may tell the generic trainer about a family of tables: a domain, as plain data.

The trainer takes any flat table with a target column and infers the rest (types, groups, dates only when
named). A family of tables that it should read in a known way — which columns identify a row, which group
the folds and date the out-of-time test, where each row's outcome window ends, the declared types,
monotone directions and reason texts of the columns — is described by a ``Domain`` that the caller passes
to ``train(..., domain=...)``. The model layer defines only this shape and imports no domain:
``pymescore.features._adapter`` describes the SME feature snapshots this way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol


class Domain(Protocol):
    """A family of tables as the trainer needs to know it (every member plain data, read-only).

    A domain may also have ``sequence_cols`` (optional, read with ``getattr``): columns whose cells are each row's
    monthly history of one channel (a list of numbers, oldest month first, NaN where not observed), never features
    (name them among ``keys`` too); the sequence model reads them as rows × months × columns."""

    @property
    def name(self) -> str:
        """Recorded in the training report (``report["domain"]``)."""

    @property
    def keys(self) -> tuple[str, ...]:
        """Columns that identify a row or its dates: never features (left out of ``X``)."""

    @property
    def group_col(self) -> str | None:
        """The group of the folds when ``TrainConfig.group_col`` is not set and the table has this column."""

    @property
    def time_col(self) -> str | None:
        """The observation date when ``TrainConfig.time_col`` is not set and the table has this column."""

    @property
    def label_end_col(self) -> str | None:
        """The last day of each row's outcome window: the out-of-time embargo reads it."""

    @property
    def monotone(self) -> Mapping[str, int]:
        """Monotone directions by column (+1 risk rises with it, -1 falls); ``TrainConfig.monotone`` wins."""

    @property
    def types(self) -> Mapping[str, tuple[str, tuple[str, ...]]]:
        """Declared column types: column -> (the rule the typing report shows, categories). With categories,
        a category column of exactly those (in that order); with none, a number. Columns not named here are
        typed by inference, as in any table."""

    @property
    def reasons(self) -> Mapping[str, tuple[str, str]]:
        """Reason texts by column, (Spanish, English), for the fitted model's feature list (and the sequence
        columns' reasons, for a sequence model's attributions to the histories)."""
