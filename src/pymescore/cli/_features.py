"""``pymescore features`` (snapshots) and ``pymescore features catalog``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from pymescore.cli._output import console, emit_json
from pymescore.errors import ConfigError

features_app = typer.Typer(invoke_without_command=True)


@features_app.callback()
def features_command(
    ctx: typer.Context,
    lake: Annotated[Path | None, typer.Option("--lake", "-l", help="Lake folder to read.")] = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Observation date(s), comma-separated: 2024-06-30,2024-09-30.")
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Snapshot Parquet file to write.")] = None,
    definition: Annotated[str, typer.Option(help="Default definition of the label: sbs or basel.")] = "sbs",
    statement_lag: Annotated[int, typer.Option(help="Months after period_end before a statement is used.")] = 4,
    sequences: Annotated[
        bool, typer.Option(help="Also write each row's last 36 months of history (seq_* columns, for sequence models).")
    ] = False,
) -> None:
    """Build a snapshot: one row per firm at risk and as_of date, with every feature and the label.

    Features read only data dated before each as_of; `default_12m` says whether the firm reached the
    default definition in the 12 months after it (empty when that window is not observed yet: such
    rows are kept out of training). Writes FILE and FILE.lineage.json (lake versions, code version,
    registry hash). Prints a JSON summary as the last line of stdout.

    Examples:

        pymescore features --lake lake/ --as-of 2024-06-30,2024-09-30 --out snapshot.parquet

        pymescore features --lake lake/ --as-of 2024-06-30 --sequences --out snapshot-with-histories.parquet

        pymescore features catalog --format md > docs/features.md
    """
    if ctx.invoked_subcommand is not None:
        return
    if lake is None or as_of is None or out is None:
        console.print("[red]error:[/] expected --lake, --as-of and --out (or the subcommand `catalog`)")
        raise typer.Exit(2)
    from pymescore.features import FeatureConfig
    from pymescore.features._snapshot import build_snapshot, write_snapshot
    from pymescore.lake import Lake

    config = FeatureConfig(default_definition=definition, statement_lag_months=statement_lag)  # type: ignore[arg-type]
    dates = [d.strip() for d in as_of.split(",") if d.strip()]
    with console.status("Building features…") as status:
        snapshot, lineage = build_snapshot(
            Lake(lake),
            dates,
            config,
            progress=lambda d: status.update(f"Building features at {d}…"),
            sequences=sequences,
        )
        write_snapshot(snapshot, lineage, out)
    rate = lineage["label_rate"]
    console.print(
        f"{lineage['rows']:,} rows ({lineage['labelled_rows']:,} labelled), {lineage['n_features']} features, "
        f"label rate {rate:.2%}"
        if rate is not None
        else f"{lineage['rows']:,} rows, no observed labels yet"
    )
    emit_json(
        {"out": str(out), **{k: lineage[k] for k in ("rows", "labelled_rows", "label_rate", "n_features", "as_of")}}
    )


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
