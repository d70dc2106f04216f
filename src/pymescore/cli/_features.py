"""``pymescore features`` (snapshots) and ``pymescore features catalog``."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer

from pymescore.cli._output import console, emit_json
from pymescore.cli._scale import SchedulerOpt, WorkerMemoryOpt, quiet_dask
from pymescore.errors import ConfigError

if TYPE_CHECKING:
    from pymescore.lake import Lake

features_app = typer.Typer(invoke_without_command=True)


@features_app.callback()
def features_command(
    ctx: typer.Context,
    lake: Annotated[
        str | None, typer.Option("--lake", "-l", help="Lake folder to read, or an object-storage URL (s3://…).")
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="Observation date(s), comma-separated: 2024-06-30,2024-09-30; `applications`: every date of the "
            "lake's applications table.",
        ),
    ] = None,
    out: Annotated[
        str | None,
        typer.Option(
            "--out", "-o", help="Snapshot Parquet file to write (a folder of parts with --scheduler); s3://… too."
        ),
    ] = None,
    definition: Annotated[str, typer.Option(help="Default definition of the label: sbs or basel.")] = "sbs",
    statement_lag: Annotated[int, typer.Option(help="Months after period_end before a statement is used.")] = 4,
    scheduler: SchedulerOpt = None,
    worker_memory: WorkerMemoryOpt = None,
    parts: Annotated[
        int | None,
        typer.Option(help="With --scheduler: parts of firms (default: the lake's RUC buckets, else 2 per worker)."),
    ] = None,
    sequences: Annotated[
        bool, typer.Option(help="Also write each row's last 36 months of history (seq_* columns, for sequence models).")
    ] = False,
) -> None:
    """Build a snapshot: one row per firm at risk and as_of date, with every feature and the label.

    Features read only data dated before each as_of; `default_12m` says whether the firm reached the
    default definition in the 12 months after it (empty when that window is not observed yet: such
    rows are kept out of training). Writes FILE and FILE.lineage.json (lake versions, code version,
    registry hash). Prints a JSON summary as the last line of stdout.

    A lake with an `applications` table (`simulate --policy-history`) gives one row per application on those
    dates, `rejected` = 1 marking the rejected ones (their label empty): `train --reject-inference` uses them.

    With --scheduler (or PYMESCORE_DASK_SCHEDULER) the firms are split by RUC bucket and each part is built on
    a Dask worker by the same builders; FILE is then a folder of part-NNNNN.parquet files (read as one table by
    train, score and pandas) with _lineage.json written last. The rows are the same as without it.

    Examples:

        pymescore features --lake lake/ --as-of 2024-06-30,2024-09-30 --out snapshot.parquet

        pymescore features --lake lake/ --as-of applications --out applications.parquet

        pymescore features --lake s3://risk/lake --as-of 2024-06-30 --scheduler local:2 --out s3://risk/snapshot

        pymescore features --lake lake/ --as-of 2024-06-30 --sequences --out snapshot-with-histories.parquet

        pymescore features catalog --format md > docs/features.md
    """
    if ctx.invoked_subcommand is not None:
        return
    if lake is None or as_of is None or out is None:
        console.print("[red]error:[/] expected --lake, --as-of and --out (or the subcommand `catalog`)")
        raise typer.Exit(2)
    from pymescore.cluster import dask_client, parse_scheduler
    from pymescore.features import FeatureConfig
    from pymescore.lake import Lake

    config = FeatureConfig(default_definition=definition, statement_lag_months=statement_lag)  # type: ignore[arg-type]
    dates = [d.strip() for d in as_of.split(",") if d.strip()]
    if dates == ["applications"]:
        dates = _application_dates(Lake(lake))
    cluster = parse_scheduler(scheduler, worker_memory)
    quiet_dask()
    with console.status("Building features…") as status:
        if cluster is None:
            from pymescore.features._snapshot import build_snapshot, write_snapshot_at

            snapshot, lineage = build_snapshot(
                Lake(lake), dates, config, progress=lambda d: status.update(f"Building features at {d}…"),
                sequences=sequences,
            )  # fmt: skip
            write_snapshot_at(snapshot, lineage, out)
        else:
            from pymescore.features._partitioned import build_snapshot_distributed

            if sequences:
                raise ConfigError(
                    "--sequences with --scheduler: expected one of them (the partitioned snapshot does not carry the "
                    "monthly histories yet); build the sequences without --scheduler",
                    parameter="sequences",
                )
            status.update(f"Starting the Dask cluster ({cluster.label})…")
            with dask_client(cluster) as client:
                lineage = build_snapshot_distributed(
                    Lake(lake), dates, out, client, config, parts, progress=lambda s: status.update(f"Features: {s}…")
                )
    rate = lineage["label_rate"]
    console.print(
        f"{lineage['rows']:,} rows ({lineage['labelled_rows']:,} labelled), {lineage['n_features']} features, "
        f"label rate {rate:.2%}"
        if rate is not None
        else f"{lineage['rows']:,} rows, no observed labels yet"
    )
    applications = lineage.get("applications")
    if applications:
        console.print(f"one row per application: {applications['rejected']:,} rejected (no label: reject inference "
                      "can use them, `train --reject-inference`)")  # fmt: skip
    keys = ("rows", "labelled_rows", "label_rate", "n_features", "as_of", "applications")
    emit_json({"out": str(out), "scheduler": None if cluster is None else cluster.label,
               **{k: lineage[k] for k in keys if k in lineage}})  # fmt: skip


def _application_dates(lake: Lake) -> list[str]:
    """Every date of the lake's applications table; refused when the lake has none."""
    import pandas as pd

    applications = lake.read_optional("applications")
    if applications is None or applications.empty:
        raise ConfigError(
            f"--as-of applications: expected an applications table in the lake {lake.root} (pymescore simulate "
            "--policy-history writes one), got none; give the dates instead: --as-of 2024-06-30,2024-12-31",
            parameter="as_of",
        )
    return sorted({str(d.date()) for d in pd.to_datetime(applications["application_date"]).dropna()})


@features_app.command("catalog")
def catalog_command(
    fmt: Annotated[str, typer.Option("--format", help="md (Markdown), html (one self-contained page) or json.")] = "md",
) -> None:
    """Export the feature catalog: every feature with group, descriptions (es/en), lineage, unit, range,
    monotone direction and reason texts.

    Example:

        pymescore features catalog --format json > catalog.json
        pymescore features catalog --format html > catalog.html
    """
    from pymescore.features import FEATURES, registry_hash
    from pymescore.features._docs import catalog_html, catalog_markdown

    if fmt == "json":
        print(json.dumps({"registry_hash": registry_hash(FEATURES), "features": [f.to_dict() for f in FEATURES]},
                         ensure_ascii=False, indent=1))  # fmt: skip
    elif fmt == "md":
        print(catalog_markdown())
    elif fmt == "html":
        print(catalog_html(), end="")
    else:
        raise ConfigError(f"--format: expected md, html or json, got {fmt!r}")


def register(app: typer.Typer) -> None:
    app.add_typer(features_app, name="features")
