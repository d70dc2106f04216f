"""``pymescore portfolio``: SBS categories, provisions, migration and vintages of the lake's loans."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pymescore.cli._output import console, emit_json
from pymescore.cli._scale import SchedulerOpt, WorkerMemoryOpt, quiet_dask


def portfolio_command(
    lake: Annotated[
        str, typer.Option("--lake", help="The lake whose payments, cash flows and bureau are read (s3://… too).")
    ],
    as_of: Annotated[str, typer.Option("--as-of", help="The date of the portfolio (YYYY-MM-DD).")],
    out: Annotated[Path, typer.Option("--out", help="Folder for loans/summary/migration/vintages and the page.")],
    guarantee: Annotated[
        str, typer.Option(help="Guarantee of every loan: none, preferred or preferred_quick (the lake has none).")
    ] = "none",
    months: Annotated[int, typer.Option(min=1, max=60, help="Months of migration pooled before --as-of.")] = 12,
    regulation: Annotated[
        Path | None, typer.Option("--regulation", help="A rules file (default: PYMESCORE_REGULATION_FILE, else SBS).")
    ] = None,
    scheduler: SchedulerOpt = None,
    worker_memory: WorkerMemoryOpt = None,
) -> None:
    """The lender's portfolio as of a date under the SBS rules (Res. SBS 11356-2008): each open loan's days
    past due, its category and its debtor's (the worst of the debtor's loans, aligned to the credit bureau),
    exposure, provision rate and provision in PEN; a summary by category; month-over-month migration between
    categories; vintage curves (30+/60+/90+ days past due by months on book).

    Writes loans.parquet, summary.parquet, migration.parquet, vintages.parquet, portfolio.json and
    portfolio.html (plots) under --out, and prints the totals as JSON (the last line).

    With --scheduler (or PYMESCORE_DASK_SCHEDULER) each RUC bucket of the lake is classified on a Dask worker
    (a debtor's loans are all in its bucket) and the parts' tables and counts are put together here; the figures
    are the same (loans.parquet in bucket order).

    Example: pymescore portfolio --lake demo/lake --as-of 2024-12-31 --out demo/portfolio
    """
    from pymescore.regulation import GUARANTEES, load_regulation
    from pymescore.regulation._report import portfolio

    if guarantee not in GUARANTEES:
        raise typer.BadParameter(
            f"expected one of {', '.join(GUARANTEES)}, got {guarantee!r}", param_hint="--guarantee"
        )
    import contextlib

    from pymescore.cluster import dask_client, parse_scheduler

    rules = load_regulation(regulation)
    cluster = parse_scheduler(scheduler, worker_memory)
    quiet_dask()
    with (
        console.status("Clasificando la cartera / classifying the portfolio…"),
        contextlib.nullcontext() if cluster is None else dask_client(cluster) as client,
    ):
        result = portfolio(lake, as_of, out, rules, guarantee, months, client=client)
    console.print(f"{result['loans']:,} loans; exposure S/ {result['exposure_pen']:,.2f}; provisions "
                  f"S/ {result['provision_pen']:,.2f}; page: {out / 'portfolio.html'}")  # fmt: skip
    emit_json({k: result[k] for k in ("as_of", "regulation", "guarantee", "loans", "exposure_pen", "provision_pen",
                                      "summary")})  # fmt: skip


def register(app: typer.Typer) -> None:
    app.command("portfolio")(portfolio_command)
