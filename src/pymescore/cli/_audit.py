"""``pymescore audit export``: the audit trail's decisions of a period in one CSV or Parquet file, read-only."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer

from pymescore.cli._output import console, emit_json
from pymescore.cli._serve import DbOpt

audit = typer.Typer(
    help="The audit trail for a regulator or a model-risk reviewer, read-only.\n\n"
    "Example: pymescore audit export --out decisions.csv --since 2026-11-01 --until 2026-11-30",
    no_args_is_help=True,
)


def _date(value: str | None, option: str) -> dt.date | None:
    from pymescore.errors import InputError

    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InputError(f"{option}: expected a date as YYYY-MM-DD, got {value!r}") from None


@audit.command("export")
def audit_export(
    out: Annotated[Path, typer.Option(help="The file to write: .csv or .parquet (written whole or not at all).")],
    since: Annotated[str | None, typer.Option(help="First day, YYYY-MM-DD (UTC), included.")] = None,
    until: Annotated[str | None, typer.Option(help="Last day, YYYY-MM-DD (UTC), included.")] = None,
    tenant: Annotated[str | None, typer.Option(help="Only this tenant's decisions (default: all).")] = None,
    database_url: DbOpt = None,
) -> None:
    """Every decision of the period, oldest first, one row each: id, tenant, time, RUC, model and policy versions,
    PD, score, band, decision, amounts, reason and rule codes, the data the notice names, latency and the
    workbench's human actions. The store is opened read-only; the last line is a JSON summary.

    Example: pymescore audit export --out decisions.csv --since 2026-11-01 --until 2026-11-30 --tenant banco-a
    """
    from pymescore.config import Settings
    from pymescore.service import AuditStore
    from pymescore.service._audit_export import export_decisions

    url = database_url or Settings().database_url
    store = AuditStore.open_existing(url)
    try:
        summary = export_decisions(store, out, tenant=tenant, since=_date(since, "--since"),
                                   until=_date(until, "--until"))  # fmt: skip
    finally:
        store.dispose()
    console.print(f"{summary['rows']:,} decisions written to {out}")
    emit_json(summary)


def register(app: typer.Typer) -> None:
    app.add_typer(audit, name="audit")
