"""Delimited text (CSV, the SUNAT padrón): strict encoding check, lenient rows, every line accounted for."""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Callable
from pathlib import Path
from typing import IO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from pymescore.errors import SourceEncodingError, SourceUnreadableError

Opener = Callable[[], IO[bytes]]


def check_encoding(open_bytes: Opener, encoding: str, label: str) -> None:
    """Raise :class:`SourceEncodingError` naming the line and byte where ``encoding`` fails."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    line = 1
    with open_bytes() as f:
        while chunk := f.read(1 << 20):
            try:
                text = decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                at_line = line + chunk[: exc.start].count(b"\n")
                bad = chunk[exc.start : exc.start + 1].hex().upper()
                hint = " (SUNAT padrón files are latin-1)" if encoding.lower().replace("-", "") == "utf8" else ""
                raise SourceEncodingError(
                    f"{label}: expected {encoding} text, got byte 0x{bad} at line {at_line}; "
                    f"pass the file's encoding with --encoding, e.g. --encoding latin-1{hint}",
                    line=at_line,
                ) from exc
            line += text.count("\n")
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            raise SourceEncodingError(
                f"{label}: expected {encoding} text, got a truncated character at the end"
            ) from exc


def _header(open_bytes: Opener, encoding: str, delimiter: str, label: str) -> list[str]:
    with open_bytes() as raw:
        text = io.TextIOWrapper(raw, encoding=encoding, newline="")
        first = text.readline()
    if not first.strip():
        raise SourceUnreadableError(f"{label}: expected a header row, got an empty file")
    names = next(csv.reader([first.lstrip("\ufeff")], delimiter=delimiter))
    return [n.strip() for n in names]


def read_delimited(
    open_bytes: Opener, *, label: str, encoding: str, delimiter: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """All fields as text. Returns (rows indexed by data row number, malformed rows).

    A trailing delimiter on every line (as in the SUNAT padrón) is tolerated: the empty last header
    field is dropped.
    """
    check_encoding(open_bytes, encoding, label)
    names = _header(open_bytes, encoding, delimiter, label)
    trailing = bool(names) and names[-1] == ""
    if len(set(names)) != len(names):
        dupes = sorted({n for n in names if names.count(n) > 1})
        raise SourceUnreadableError(f"{label}: expected unique column names in the header, got {dupes} repeated")
    bad_lines: list[tuple[int, str, str]] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        number = int(row.number) - 1 if row.number is not None else -1
        bad_lines.append(
            (
                number,
                row.text,
                f"MALFORMED_LINE: expected {row.expected_columns} fields, got {row.actual_columns}",
            )
        )
        return "skip"

    read_opts = pacsv.ReadOptions(
        column_names=names, skip_rows=1, encoding=encoding, use_threads=False, block_size=1 << 24
    )
    parse_opts = pacsv.ParseOptions(delimiter=delimiter, invalid_row_handler=on_invalid, newlines_in_values=False)
    convert_opts = pacsv.ConvertOptions(
        column_types={n: pa.string() for n in names},
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
    )
    try:
        with open_bytes() as f:
            table = pacsv.read_csv(f, read_options=read_opts, parse_options=parse_opts, convert_options=convert_opts)
    except (pa.ArrowInvalid, OSError) as exc:
        raise SourceUnreadableError(
            f"{label}: expected delimited text ('{delimiter}'), got a parse error: {exc}"
        ) from exc
    frame = table.to_pandas(types_mapper={pa.string(): pd.StringDtype()}.get)
    if trailing:
        frame = frame.drop(columns=[""])
    # data row numbers count every record in file order, the malformed ones included
    skipped = np.array(sorted(n for n, _, _ in bad_lines), dtype=np.int64)
    numbers = np.setdiff1d(np.arange(1, len(frame) + len(skipped) + 1), skipped)[: len(frame)]
    frame.index = pd.Index(numbers, name="source_row")
    malformed = pd.DataFrame(
        {
            "source_row": [n for n, _, _ in bad_lines],
            "text": [t for _, t, _ in bad_lines],
            "reason": [r for _, _, r in bad_lines],
        }
    )
    return frame, malformed


def path_opener(path: Path) -> Opener:
    def open_bytes() -> IO[bytes]:
        return open(path, "rb")

    return open_bytes
