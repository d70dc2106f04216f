"""Ingest every raw table of a folder (such as the simulator's output), exchange rates first."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pymescore.errors import SourceUnreadableError
from pymescore.lake import Lake
from pymescore.sources._ingest import IngestSummary, ingest
from pymescore.sources._parts import ingest_parts, part_files
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
    """(table, file) for each ``<table>.parquet|csv|xlsx`` in ``folder``, or ``<table>/`` with Parquet parts
    (``part-00000.parquet`` …, as ``pymescore simulate --chunk-firms`` writes them), in ingestion order."""
    found = []
    for table in INGEST_ORDER:
        if (folder / table).is_dir() and part_files(folder / table):
            found.append((table, folder / table))
            continue
        for ext in _EXTENSIONS:
            if (folder / f"{table}{ext}").exists():
                found.append((table, folder / f"{table}{ext}"))
                break
    if not found:
        raise SourceUnreadableError(
            f"{folder}: expected files named like firms.parquet or firms.csv (or folders of parts like "
            f"firms/part-00000.parquet), got none of {', '.join(INGEST_ORDER)}"
        )
    return found


def ingest_folder(
    folder: Path,
    lake: Lake,
    *,
    equity_tolerance: float = 0.01,
    progress: Callable[[IngestSummary], None] | None = None,
) -> list[IngestSummary]:
    """Ingest each table found (a folder of parts part by part: ``_parts``); ``progress`` is called after each one
    with its summary."""
    summaries = []
    for table, path in folder_sources(folder):
        if path.is_dir():
            summaries.append(ingest_parts(path, table, lake, equity_tolerance=equity_tolerance))
        else:
            summaries.append(ingest(read_source(str(path)), table, lake, equity_tolerance=equity_tolerance))
        if progress:
            progress(summaries[-1])
    return summaries
