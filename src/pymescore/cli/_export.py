"""``pymescore export``: a bundle in another engine's form. ``--format sql``: the scorecard as one PostgreSQL
``SELECT``; ``--format savedmodel``: the whole model (every family, the blend, the calibration and the scale) as a
TensorFlow SavedModel for TensorFlow Serving (the tf extra)."""

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
    out: Annotated[Path, typer.Option("--out", help="File to write (FILE.sql), or folder (savedmodel).")],
    fmt: Annotated[
        ExportFormat,
        typer.Option("--format", help="sql: the scorecard as a SELECT; savedmodel: a SavedModel for TF Serving."),
    ],
    sql_table: Annotated[
        str, typer.Option("--sql-table", help="The table the SELECT reads (schema.table allowed).")
    ] = "features",
) -> None:
    """Export a bundle. `--format sql` writes one PostgreSQL `SELECT` over `--sql-table` (default `features`: the
    feature columns as the snapshot has them) returning every column plus `score`: the bundle's score when it
    is a scorecard alone, else the scorecard family's own points. Risk teams run it inside the core banking
    database; `pymescore score` gives the same figures.

    `--format savedmodel` writes a TensorFlow SavedModel to the folder `--out` (needs pip install
    'pymescore[tf]'): signature `serving_default`, one float32 tensor `inputs` [None, n_features] of model rows
    (NaN missing, a category as its index) → `pd` and `score`; `features.json` beside it names the columns in
    input order. Every family exports (the trees as TF operations); the PD equals the bundle's to 1e-6.

    Examples:

        pymescore export --bundle bundle/ --format sql --sql-table core.features --out scorecard.sql

        pymescore export --bundle bundle/ --format savedmodel --out serving/pymescore/1
    """
    from pymescore.bundle import load_bundle
    from pymescore.files import write_atomic
    from pymescore.model._sql import identifier, scorecard_only, to_sql

    if fmt is ExportFormat.savedmodel:
        from pymescore.model._families import require
        from pymescore.model._tf_export import export_savedmodel

        require("tf_mlp", "--format savedmodel: ", scoring=True)  # the tf extra, named when missing
        loaded = load_bundle(bundle)
        written = export_savedmodel(loaded.model, out)
        emit_json({**written, "format": fmt.value, "bundle": loaded.version})
        return
    identifier(sql_table)  # a bad name stops the command before the bundle is read
    loaded = load_bundle(bundle)
    text = to_sql(loaded.model, sql_table)
    write_atomic(out, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    emit_json({"out": str(out), "format": fmt.value, "table": sql_table, "bundle": loaded.version,
               "score": "bundle score" if scorecard_only(loaded.model) else "scorecard points"})  # fmt: skip


def register(app: typer.Typer) -> None:
    app.command("export")(export_command)
