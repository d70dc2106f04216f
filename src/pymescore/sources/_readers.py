"""Readers for every kind of source: CSV, Parquet, Excel, SQL (SQLAlchemy) and the SUNAT padrón."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from pymescore.errors import SourceError, SourceUnreadableError
from pymescore.sources._batch import RawBatch, file_sha256, frame_sha256
from pymescore.sources._delimited import path_opener, read_delimited
from pymescore.sources._sunat import looks_like_padron, read_padron

_SQL_PREFIXES = ("postgresql", "postgres", "sqlite", "mysql", "mariadb", "oracle", "mssql")


@dataclass(frozen=True)
class SourceOptions:
    """How to read a source. ``fmt`` is ``auto`` (by extension/URL) or one of csv, parquet, xlsx,
    sunat, sql."""

    fmt: str = "auto"
    encoding: str = "utf-8"
    delimiter: str = ","
    sheet: str | None = None
    query: str | None = None
    sql_table: str | None = None


def is_sql_url(source: str) -> bool:
    scheme = source.split(":", 1)[0].split("+", 1)[0].lower()
    return "://" in source and scheme in _SQL_PREFIXES


def _driver_url(url: str) -> str:
    """``postgresql://`` means psycopg 3 here (the driver pymescore installs), unless psycopg2 exists."""
    import importlib.util

    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix) and importlib.util.find_spec("psycopg2") is None:
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _indexed(frame: pd.DataFrame) -> pd.DataFrame:
    frame.index = pd.RangeIndex(1, len(frame) + 1, name="source_row")
    return frame


def _mask_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL is reported as given, minus anything after '@'
        return url.split("@")[-1]


def read_sql(url: str, opts: SourceOptions) -> RawBatch:
    """Rows of a table or a query from a SQLAlchemy URL."""
    import sqlalchemy as sa

    if bool(opts.query) == bool(opts.sql_table):
        raise SourceUnreadableError(
            f"{_mask_url(url)}: expected exactly one of --query or --sql-table for a SQL source, got "
            f"{'both' if opts.query else 'neither'}"
        )
    label = _mask_url(url)
    what = f"table {opts.sql_table}" if opts.sql_table else "query"
    try:
        engine = sa.create_engine(_driver_url(url))
    except Exception as exc:
        raise SourceUnreadableError(f"{label}: expected a SQLAlchemy database URL, got an invalid one ({exc})") from exc
    try:
        with engine.connect() as conn:
            if opts.sql_table:
                schema, _, name = opts.sql_table.rpartition(".")
                table = sa.Table(name, sa.MetaData(), schema=schema or None, autoload_with=conn)
                stmt: sa.Select[Any] | sa.TextClause = sa.select(table)
            else:
                stmt = sa.text(str(opts.query))
            frame = pd.read_sql(stmt, conn)
    except sa.exc.NoSuchTableError as exc:
        raise SourceUnreadableError(f"{label}: expected table {opts.sql_table!r} in the database, got none") from exc
    except (sa.exc.SQLAlchemyError, pd.errors.DatabaseError) as exc:
        detail = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        raise SourceUnreadableError(f"{label}: expected to read the {what}, got an error: {detail}") from exc
    finally:
        engine.dispose()
    source = f"{label} {what}" if opts.sql_table else f"{label} query: {opts.query}"
    return RawBatch(frame=_indexed(frame), source=source, sha256=frame_sha256(frame), kind="sql")


def read_file(path: Path, opts: SourceOptions) -> RawBatch:
    """Rows of a CSV, Parquet, Excel or SUNAT padrón file."""
    if not path.exists():
        raise SourceUnreadableError(f"{path}: expected a readable file, got no such file")
    if path.is_dir():
        raise SourceUnreadableError(f"{path}: expected a file, got a folder")
    suffix = path.suffix.lower()
    fmt = opts.fmt
    if fmt == "auto":
        if suffix in (".txt", ".zip") or (suffix != ".csv" and looks_like_padron(path)):
            fmt = "sunat"
        else:
            fmt = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".xlsx": "xlsx"}.get(suffix, "")
        if not fmt:
            raise SourceUnreadableError(
                f"{path}: expected a .csv, .parquet, .xlsx, or SUNAT padrón .txt/.zip file, got '{suffix}'; "
                "pass --format to say what it is"
            )
    if fmt == "sunat":
        encoding = opts.encoding if opts.encoding.lower() not in ("utf-8", "utf8") else "latin-1"
        return read_padron(path, encoding=encoding)
    malformed = pd.DataFrame({"source_row": [], "text": [], "reason": []})
    try:
        if fmt == "csv":
            frame, malformed = read_delimited(
                path_opener(path), label=str(path), encoding=opts.encoding, delimiter=opts.delimiter
            )
        elif fmt == "parquet":
            frame = _indexed(pd.read_parquet(path))
        elif fmt == "xlsx":
            frame = _indexed(pd.read_excel(path, sheet_name=opts.sheet or 0, engine="openpyxl"))
        else:
            raise SourceUnreadableError(f"{path}: expected --format auto, csv, parquet, xlsx or sunat, got {fmt!r}")
    except SourceError:
        raise
    except Exception as exc:  # the parsers' own errors: the file is damaged or not what it claims
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SourceUnreadableError(f"{path}: expected a valid {fmt} file, got an unreadable one ({first})") from exc
    frame.columns = [str(c).strip() for c in frame.columns]
    return RawBatch(frame=frame, source=str(path), sha256=file_sha256(path), kind=fmt, malformed=malformed)


def read_source(source: str, opts: SourceOptions | None = None) -> RawBatch:
    """Read ``source`` (a file path or a SQLAlchemy URL) with ``opts``."""
    opts = opts or SourceOptions()
    if opts.fmt == "sql" or is_sql_url(source):
        return read_sql(source, opts)
    return read_file(Path(source), opts)
