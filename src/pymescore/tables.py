"""Tables the commands read: a CSV or Parquet file (with its lineage record), checked against what a bundle reads,
and its labelled rows."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pymescore.bundle import Bundle
from pymescore.errors import ConfigError, MissingColumnError, SourceUnreadableError
from pymescore.model._data import column_list, parse_target, row_number
from pymescore.model._typing import unreadable


def read_table(path: Path) -> pd.DataFrame:
    """A CSV or Parquet table (CSV: ``.gz`` allowed; TSV by extension)."""
    path = Path(path)
    if path.is_dir():
        return _read_partitioned(path)
    if not path.is_file():
        raise SourceUnreadableError(f"{path}: expected a CSV or Parquet file, got no such file")
    name = path.name.lower()
    if name.endswith((".csv", ".csv.gz", ".tsv", ".tsv.gz", ".txt")):  # a row with another field count, by line
        _check_field_counts(path, "\t" if ".tsv" in name else ",")
    try:
        if name.endswith((".parquet", ".pq")):
            frame = pd.read_parquet(path)
            rates = _parquet_rates(path)
            if rates is not None:
                frame.attrs["exchange_rates"] = rates
        elif name.endswith((".csv", ".csv.gz", ".tsv", ".tsv.gz", ".txt")):
            sep = "\t" if ".tsv" in name else ","
            frame = pd.read_csv(path, sep=sep, low_memory=False)
        else:
            frame = None
    except Exception as exc:  # the parsers' own errors
        first = (str(exc).splitlines() or [type(exc).__name__])[0]
        hint = ""
        if "tokenizing" in first or "No columns" in first:
            hint = (
                "; a CSV needs a header row and commas between fields (a ';'-separated export: save it as "
                "CSV UTF-8 with commas, or as Parquet)"
            )
        raise SourceUnreadableError(f"{path}: expected a readable table, got an error ({first}){hint}") from exc
    if frame is not None:
        if frame.shape[1] == 1 and ";" in str(frame.columns[0]):
            raise SourceUnreadableError(
                f"{path}: expected fields separated by commas, got one column named {str(frame.columns[0])[:60]!r} "
                "(a ';'-separated export); save it as CSV UTF-8 with commas, or as Parquet"
            )
        frame.attrs["source"] = str(path)
        lineage = _lineage(path, len(frame))
        if lineage is not None:
            frame.attrs["lineage"] = lineage
        return frame
    raise SourceUnreadableError(f"{path}: expected a .csv(.gz), .tsv(.gz) or .parquet file, got '{path.suffix}'")


def _check_field_counts(path: Path, sep: str, shown: int = 10) -> None:
    """Every record of a CSV has the header's number of fields: a row with an extra field would shift its values
    into the wrong columns, one with too few would read as missing values (an "empty target"). Either is refused
    by its line number, before anything is trained on the table — as ingestion quarantines such a row, never
    reading it silently."""
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    bad: list[tuple[int, int]] = []
    width = 0
    try:
        with opener(path, "rt", encoding="utf-8-sig", newline="") as f:
            reader = csv.reader(f, delimiter=sep)
            header = next(reader, None)
            if header is None:
                return
            width = len(header)
            start = reader.line_num + 1
            for record in reader:
                if record and len(record) != width and any(cell.strip() for cell in record):
                    bad.append((start, len(record)))
                start = reader.line_num + 1
    except (UnicodeDecodeError, csv.Error):  # pandas says what it cannot read, with its own words
        return
    if bad:
        listed = ", ".join(f"line {line} ({n})" for line, n in bad[:shown])
        more = f" and {len(bad) - shown} more" if len(bad) > shown else ""
        if width == 1 and ";" in (header or [""])[0]:
            raise SourceUnreadableError(f"{path}: expected fields separated by commas, got a ';'-separated export; "
                                        "save it as CSV UTF-8 with commas, or as Parquet")  # fmt: skip
        raise SourceUnreadableError(
            f"{path}: expected {width} fields on every line (as in the header), got a different count on {listed}"
            f"{more}; fix or remove those lines (a field with the separator inside needs double quotes)"
        )


def _read_partitioned(path: Path) -> pd.DataFrame:
    """A partitioned snapshot (``pymescore features --scheduler``): its ``part-*.parquet`` files as one table, once
    its marker says every part was written."""
    from pymescore.storage import MARKER

    marker = path / MARKER
    if not marker.is_file():
        raise SourceUnreadableError(
            f"{path}: expected a CSV or Parquet file, or a partitioned snapshot folder with {MARKER}, got a folder "
            f"without it (an unfinished or foreign folder); build it again with pymescore features"
        )
    parts = sorted(path.glob("part-*.parquet"))
    frame = pd.read_parquet(parts) if parts else pd.DataFrame()  # type: ignore[call-overload]
    rates = _parquet_rates(parts[0]) if parts else None
    if rates is not None:
        frame.attrs["exchange_rates"] = rates
    frame.attrs["source"] = str(path)
    try:
        lineage = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        lineage = None
    if isinstance(lineage, dict) and lineage.get("rows") in (None, len(frame)):
        frame.attrs["lineage"] = lineage
    return frame


def _parquet_rates(path: Path) -> str | None:
    """The PEN/USD series a snapshot's amounts were converted with (``pymescore features`` keeps it in the file)."""
    import pyarrow.parquet as pq

    from pymescore.features._snapshot import RATES_KEY

    raw = (pq.read_schema(path).metadata or {}).get(RATES_KEY)
    return raw.decode("utf-8") if raw else None


def _lineage(path: Path, rows: int) -> dict[str, Any] | None:
    """A snapshot's lineage record beside it (its default definition, dates), when it describes this file: a
    record that does not parse, or counts other rows (a stale one beside a replaced file), is not used —
    it only informs the model card, so it never stops a command."""
    sidecar = path.with_name(path.name + ".lineage.json")
    if not sidecar.is_file():
        return None
    try:
        record = json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("rows") not in (None, rows):
        return None
    return record


def check_table(bundle: Bundle, frame: pd.DataFrame) -> None:
    """A table the bundle can score as it is: rows, every column the model reads, and no cell the model would
    have to read as missing although it holds something (text in a number column, an unreadable date, an
    infinite number). Empty cells are fine: they are missing values, which the model scores as it learnt."""
    source = frame.attrs.get("source") or "the table"
    if len(frame) == 0:
        raise ConfigError(f"{source}: expected at least one row to score, got none (a header only?)")
    needed = [ct.column for ct in bundle.model.preprocessor.types]
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise MissingColumnError(
            f"{source}: expected the {len(needed)} column(s) the model reads, got a table without "
            f"{len(missing)} of them ({', '.join(missing[:8])}{' …' if len(missing) > 8 else ''}); score a table "
            "with the columns the bundle was trained on (for an SME bundle, `pymescore features` output)"
        )
    histories = [c for c in bundle.model.channels if c not in frame.columns]
    if histories:  # a sequence model would score every row as if it had no history at all
        raise MissingColumnError(
            f"{source}: expected the monthly histories the sequence model reads ({', '.join(histories[:3])}"
            f"{' …' if len(histories) > 3 else ''}), got a table without them; build it with `pymescore features "
            "--sequences`"
        )
    problems = []
    for ct in bundle.model.preprocessor.types:
        bad = unreadable(frame[ct.column], ct)
        if bad.any():
            rows = np.flatnonzero(bad)
            examples = ", ".join(f"data row {row_number(frame.index[int(r)])}: {frame[ct.column].iloc[int(r)]!r}"
                                 for r in rows[:3])  # fmt: skip
            what = "a date" if ct.kind in ("date", "date_text") else "a finite number"
            problems.append(f"{ct.column} ({len(rows)} cell(s) not {what}; {examples})")
    if problems:
        raise ConfigError(
            f"{source}: expected values the model can read, got {'; '.join(problems[:5])}"
            f"{' …' if len(problems) > 5 else ''}; correct those cells, or empty them to score them as missing"
        )


def labelled(bundle: Bundle, frame: pd.DataFrame, target: str, positive: str | None) -> tuple[pd.DataFrame, np.ndarray]:
    """The checked rows that have a target, and their outcomes (1 = default); the others are counted in
    ``attrs["excluded_rows"]``."""
    if target not in frame.columns:
        raise ConfigError(f"--target: expected the column {target!r} in the table, got "
                          f"{column_list(frame.columns, [target])}")  # fmt: skip
    check_table(bundle, frame)
    y, present = parse_target(frame[target], positive if positive is not None else bundle.model.positive, target)
    rows = frame[present].reset_index(drop=True)
    rows.attrs["excluded_rows"] = int((~present).sum())
    return rows, y[present]
