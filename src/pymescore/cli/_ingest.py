"""``pymescore ingest`` and ``pymescore ingest-folder``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from pymescore.cli._output import console, emit_json

if TYPE_CHECKING:
    from pymescore.sources import IngestSummary

SourceArg = Annotated[
    str,
    typer.Option(
        "--source",
        "-s",
        help="A .csv, .parquet or .xlsx file, a SUNAT padrón .txt/.zip, or a SQLAlchemy URL "
        "(postgresql://user@host/db) with --sql-table or --query, or api:NAME with --config.",
    ),
]
LakeOpt = Annotated[
    str,
    typer.Option("--lake", "-l", help="Lake folder (created if missing), or an object-storage URL: s3://bucket/lake."),
]


def ingest_command(
    source: SourceArg,
    lake: LakeOpt,
    table: Annotated[
        str | None, typer.Option("--table", "-t", help="Raw table the rows belong to, e.g. firms (not with api:NAME).")
    ] = None,
    config: Annotated[
        Path | None, typer.Option(help="TOML of API sources (docs/sources-api.md), with --source api:NAME.")
    ] = None,
    fmt: Annotated[
        str, typer.Option("--format", help="auto (by extension or URL), csv, parquet, xlsx, sunat or sql.")
    ] = "auto",
    encoding: Annotated[str, typer.Option(help="Text encoding of a CSV (SUNAT padrón: latin-1).")] = "utf-8",
    delimiter: Annotated[str, typer.Option(help="Field delimiter of a CSV.")] = ",",
    sheet: Annotated[str | None, typer.Option(help="Excel sheet name (default: the first).")] = None,
    sql_table: Annotated[str | None, typer.Option(help="Table to read from a SQL source.")] = None,
    query: Annotated[str | None, typer.Option(help="SELECT to run on a SQL source.")] = None,
) -> None:
    """Validate a source against a table's contract and add it to the lake.

    Rows that break the contract go to the table's quarantine with a reason per row; duplicates on the
    key keep the source's last row; USD amounts are converted to PEN with the lake's exchange rates
    (ingest **exchange_rates** first). The write is atomic and re-ingesting the same source changes
    nothing. Prints a JSON summary as the last line of stdout; exits 2 on a fatal error (missing
    column, unreadable file, wrong encoding) and leaves the lake as it was.

    Examples:

        pymescore ingest --source rates.csv --table exchange_rates --lake lake/

        pymescore ingest --source padron_reducido_ruc.zip --table firms --lake lake/

        pymescore ingest --source postgresql://postgres@127.0.0.1/test --sql-table pagos \
            --table payments --lake lake/

        pymescore ingest --source api:banco_demo --config sources.toml --lake lake/
    """
    from pymescore.config import Settings
    from pymescore.lake import Lake
    from pymescore.sources import SourceOptions, ingest, read_source

    if source.startswith("api:"):
        from pymescore.cli._ingest_api import ingest_api

        return ingest_api(source, config, lake)
    if table is None:
        raise typer.BadParameter("expected --table for a file or SQL source, got none", param_hint="--table")
    settings = Settings()
    opts = SourceOptions(fmt=fmt, encoding=encoding, delimiter=delimiter, sheet=sheet, query=query, sql_table=sql_table)
    with console.status(f"Reading {table} from {source if '://' not in source else 'database'}…"):
        batch = read_source(source, opts)
    with console.status(f"Validating and writing {len(batch.frame):,} rows…"):
        summary = ingest(batch, table, Lake(lake), equity_tolerance=settings.equity_tolerance)
    console.print(
        f"[bold]{table}[/]: {summary.accepted:,} accepted, {summary.quarantined:,} quarantined, "
        f"{summary.duplicates:,} duplicates" + ("" if summary.changed else " (lake unchanged)")
    )
    emit_json(summary.to_dict())


def ingest_folder_command(
    folder: Annotated[
        Path,
        typer.Argument(
            help="Folder with <table>.parquet or <table>.csv files, or <table>/ folders of Parquet parts "
            "(part-00000.parquet …, as simulate --chunk-firms writes them)."
        ),
    ],
    lake: LakeOpt,
    buckets: Annotated[
        int | None,
        typer.Option(
            help="A new lake: spread the firms' tables over N files per version by RUC, so that each worker of "
            "a --scheduler job reads only its own firms (an existing lake keeps its count: pymescore lake migrate)."
        ),
    ] = None,
) -> None:
    """Ingest every raw table found in a folder (such as `pymescore simulate`'s output), in order.

    A table given as a folder of Parquet parts is ingested part by part: each part validated as a file is (its
    quarantined rows name the part file and row), its accepted rows spilled by RUC bucket, then the table
    written bucket by bucket, so that one part plus one bucket is in memory at a time (with --buckets; a lake
    without buckets is written whole). The result is that of the parts concatenated in name order: a later
    part's row wins over an earlier one's with the same key. The lineage records each part's SHA-256.

    Example:

        pymescore simulate --firms 2000 --months 36 --seed 7 --out sim/

        pymescore ingest-folder sim/ --lake lake/

        pymescore ingest-folder sim/ --lake s3://risk-data/lake --buckets 32

        pymescore simulate --firms 1000000 --months 36 --seed 7 --out sim/ --chunk-firms 100000

        pymescore ingest-folder sim/ --lake lake/ --buckets 80
    """
    from rich.progress import Progress

    from pymescore.config import Settings
    from pymescore.lake import Lake
    from pymescore.sources import ingest_folder
    from pymescore.sources._folder import folder_sources

    settings = Settings()
    total = len(folder_sources(folder))
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("Ingesting", total=total)

        def step(done: IngestSummary) -> None:
            progress.update(task, description=f"Ingested {done.table}", advance=1)

        summaries = [
            s.to_dict()
            for s in ingest_folder(
                folder, Lake(lake, buckets=buckets), equity_tolerance=settings.equity_tolerance, progress=step
            )
        ]
    for s in summaries:
        console.print(
            f"{s['table']:<22} {s['accepted']:>10,} accepted {s['quarantined']:>8,} quarantined "
            f"{s['duplicates']:>6,} duplicates"
        )
    emit_json(summaries)


def register(app: typer.Typer) -> None:
    app.command("ingest")(ingest_command)
    app.command("ingest-folder")(ingest_folder_command)
