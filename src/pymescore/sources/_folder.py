"""Ingest every raw table of a folder (such as the simulator's output), exchange rates first."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pymescore.errors import SourceUnreadableError
from pymescore.lake import Lake
from pymescore.sources._ingest import IngestSummary, ingest
from pymescore.sources._readers import read_source

#: the order tables are ingested in (exchange rates first: the others convert their amounts with them)
INGEST_ORDER = (
    "exchange_rates",
    "firms",
    "monthly_cashflows",
    "financial_statements",
    "payments",
    "bureau_ratings",
    "applications",
)
_EXTENSIONS = (".parquet", ".csv", ".xlsx")


def folder_sources(folder: Path) -> list[tuple[str, Path]]:
    """(table, file) for each ``<table>.parquet|csv|xlsx`` in ``folder``, in ingestion order."""
    found = []
    for table in INGEST_ORDER:
        for ext in _EXTENSIONS:
            if (folder / f"{table}{ext}").exists():
                found.append((table, folder / f"{table}{ext}"))
                break
    if not found:
        raise SourceUnreadableError(
            f"{folder}: expected files named like firms.parquet or firms.csv, got none of {', '.join(INGEST_ORDER)}"
        )
    return found


def ingest_folder(
    folder: Path,
    lake: Lake,
    *,
    equity_tolerance: float = 0.01,
    progress: Callable[[IngestSummary], None] | None = None,
) -> list[IngestSummary]:
    """Ingest each table found; ``progress`` is called after each one with its summary."""
    summaries = []
    for table, path in folder_sources(folder):
        summaries.append(ingest(read_source(str(path)), table, lake, equity_tolerance=equity_tolerance))
        if progress:
            progress(summaries[-1])
    return summaries
