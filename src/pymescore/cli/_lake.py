"""``pymescore lake summary`` and ``pymescore lake validate``."""

from __future__ import annotations

from typing import Annotated

import typer

from pymescore.cli._output import console, emit_json

lake_app = typer.Typer(
    help="Look into a lake: what it holds and whether it holds together.\n\n"
    "Example: pymescore lake summary --lake lake/",
    no_args_is_help=True,
)
LakeOpt = Annotated[str, typer.Option("--lake", "-l", help="Lake folder, or an object-storage URL (s3://bucket/lake).")]


@lake_app.command("summary")
def summary_command(lake: LakeOpt) -> None:
    """Print rows, quarantined rows, firms, date span and last ingest of each table.

    Example:

        pymescore lake summary --lake lake/
    """
    from rich.table import Table

    from pymescore.lake import Lake
    from pymescore.lake_summary import summarize

    info = summarize(Lake(lake))
    table = Table(title=f"Lake {lake}")
    for col in ("table", "version", "rows", "quarantined", "firms", "from", "to"):
        table.add_column(col, justify="left" if col == "table" else "right", no_wrap=True)
    for name, t in info["tables"].items():
        firms = f"{t['firms']:,}" if "firms" in t else ""
        table.add_row(
            name,
            str(t["version"]),
            f"{t['rows']:,}",
            f"{t['quarantined']:,}",
            firms,
            t.get("from", ""),
            t.get("to", ""),
        )
    console.print(table)
    for name, t in info["tables"].items():
        if t.get("top_reasons"):
            reasons = ", ".join(f"{k} {v:,}" for k, v in t["top_reasons"].items())
            console.print(f"  quarantine {name}: {reasons}")
    emit_json(info)


@lake_app.command("validate")
def validate_command(lake: LakeOpt) -> None:
    """Re-check the stored tables: contracts, unique keys, RUCs known in firms. Exits 1 on an error.

    Example:

        pymescore lake validate --lake lake/
    """
    from pymescore.config import Settings
    from pymescore.lake import Lake
    from pymescore.lake_summary import check

    findings = check(Lake(lake), equity_tolerance=Settings().equity_tolerance)
    for f in findings:
        colour = "red" if f.severity == "error" else "yellow"
        console.print(f"[{colour}]{f.severity}[/] {f.table}.{f.check}: {f.message}")
    errors = [f for f in findings if f.severity == "error"]
    warnings = len(findings) - len(errors)
    if errors:
        console.print(f"[red]{len(errors)} error(s)[/]")
    elif warnings:
        console.print(f"[yellow]no errors: the lake can be used; {warnings} warning(s) above, each saying what it "
                      "costs and how to clear it[/]")  # fmt: skip
    else:
        console.print("[green]lake is consistent[/]")
    emit_json({"ok": not errors, "findings": [f.to_dict() for f in findings]})
    if errors:
        raise typer.Exit(1)


@lake_app.command("migrate")
def migrate_command(
    lake: LakeOpt,
    buckets: Annotated[int, typer.Option(help="RUC buckets: files per table version (1: one file, as before).")],
) -> None:
    """Rewrite every firm table of the lake in N RUC buckets (a new version each: the same rows, quarantine and
    lineage), so that the workers of a --scheduler job each read only their own firms. Atomic per table.

    Example:

        pymescore lake migrate --lake lake/ --buckets 32
    """
    from pymescore.lake import Lake

    with console.status(f"Rewriting the tables in {buckets} buckets…"):
        versions = Lake(lake).migrate(buckets)
    for table, version in versions.items():
        console.print(f"{table:<22} version {version} in {buckets} bucket(s)")
    emit_json({"lake": lake, "buckets": buckets, "versions": versions})


def register(app: typer.Typer) -> None:
    app.add_typer(lake_app, name="lake")
