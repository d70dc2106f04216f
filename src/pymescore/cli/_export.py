"""``pymescore export``: a bundle in another engine's form. ``--format sql``: the scorecard as one PostgreSQL
``SELECT`` (``savedmodel``, for TensorFlow Serving, comes with the TensorFlow families)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from pymescore.cli._output import emit_json


class ExportFormat(StrEnum):
    sql = "sql"
    savedmodel = "savedmodel"


def export_command(
    bundle: Annotated[Path, typer.Option("--bundle", help="Model bundle folder (written by pymescore train).")],
    out: Annotated[Path, typer.Option("--out", help="File to write (FILE.sql).")],
    fmt: Annotated[ExportFormat, typer.Option("--format", help="sql: the scorecard as a SELECT.")],
    sql_table: Annotated[
        str, typer.Option("--sql-table", help="The table the SELECT reads (schema.table allowed).")
    ] = "features",
) -> None:
    """Export a bundle. `--format sql` writes one PostgreSQL `SELECT` over `--sql-table` (default `features`: the
    feature columns as the snapshot has them) returning every column plus `score`: the bundle's score when it
    is a scorecard alone, else the scorecard family's own points. Risk teams run it inside the core banking
    database; `pymescore score` gives the same figures.

    Example:

        pymescore export --bundle bundle/ --format sql --sql-table core.features --out scorecard.sql
    """
    from pymescore.bundle import load_bundle
    from pymescore.errors import ConfigError
    from pymescore.files import write_atomic
    from pymescore.model._sql import identifier, scorecard_only, to_sql

    if fmt is ExportFormat.savedmodel:
        raise ConfigError("--format savedmodel: expected sql (the SavedModel export comes with the TensorFlow "
                          "families, not available yet), got savedmodel")  # fmt: skip
    identifier(sql_table)  # a bad name stops the command before the bundle is read
    loaded = load_bundle(bundle)
    text = to_sql(loaded.model, sql_table)
    write_atomic(out, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    emit_json({"out": str(out), "format": fmt.value, "table": sql_table, "bundle": loaded.version,
               "score": "bundle score" if scorecard_only(loaded.model) else "scorecard points"})  # fmt: skip


def register(app: typer.Typer) -> None:
    app.command("export")(export_command)
