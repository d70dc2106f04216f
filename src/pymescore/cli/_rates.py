"""``pymescore ingest-rates``: the official PEN/USD rates from the BCRP (BCRPData), or a CSV offline."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer

from pymescore.cli._output import console, emit_json


def _date(text: str | None, option: str) -> dt.date | None:
    from pymescore.errors import ConfigError

    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text if len(text) > 7 else f"{text}-01")
    except ValueError as exc:
        raise ConfigError(f"{option}: expected a date YYYY-MM-DD (or a month YYYY-MM), got {text!r}") from exc


def ingest_rates_command(
    lake: Annotated[Path, typer.Option("--lake", "-l", help="Lake folder (created if missing).")],
    series: Annotated[
        str, typer.Option(help="BCRPData daily series: PD04640PD SBS selling rate, PD04638PD interbank selling.")
    ] = "PD04640PD",
    start: Annotated[
        str | None,
        typer.Option(help="First day (YYYY-MM-DD or YYYY-MM); default: 10 days before the lake's last rate."),
    ] = None,
    end: Annotated[str | None, typer.Option(help="Last day; default: today in Lima.")] = None,
    csv: Annotated[
        Path | None,
        typer.Option(
            help="A CSV (date,pen_per_usd) read when BCRPData cannot be reached, or instead of it (--offline)."
        ),
    ] = None,
    offline: Annotated[bool, typer.Option(help="Read --csv only; call no API.")] = False,
    retries: Annotated[int, typer.Option(min=0, max=10, help="Retries of a 5xx, 429, timeout or non-JSON body.")] = 4,
) -> None:
    """Fill the lake's **exchange_rates** with the BCRP's official PEN/USD series.

    Reads BCRPData's API (no key; PYMESCORE_BCRP_URL to point elsewhere), one request per calendar year,
    retried with backoff; days marked `n.d.` (no publication) are counted and left out. The rates pass the
    exchange_rates contract and quarantine like any source and are upserted by date, so a daily run that
    starts before the last rate picks up late publications. A running service reads them on its next reload.
    Exits 2 with the reason on an unknown series or when BCRPData stays unreachable and no --csv is given.

    Examples:

        pymescore ingest-rates --lake lake/ --start 2020-01 --end 2024-12

        pymescore ingest-rates --lake lake/ --csv rates.csv --offline
    """
    from pymescore.config import Settings
    from pymescore.errors import ConfigError
    from pymescore.lake import Lake
    from pymescore.sources._bcrp import BcrpRequest, incremental_start, ingest_rates

    settings = Settings()
    if offline and csv is None:
        raise ConfigError("--offline: expected --csv FILE to read the rates from, got none")
    the_lake = Lake(lake)
    request = None
    if not offline:
        today = dt.datetime.now(dt.timezone(dt.timedelta(hours=-5))).date()  # Lima has no daylight saving time
        first = _date(start, "--start") or incremental_start(the_lake)
        request = BcrpRequest(series=series, start=first, end=_date(end, "--end") or today,
                              base_url=settings.bcrp_url, retries=retries)  # fmt: skip
    what = f"BCRPData {series}" if request else str(csv)
    with console.status(f"Reading exchange rates from {what}…"):
        summary = ingest_rates(the_lake, request, csv=csv)
    console.print(
        f"[bold]exchange_rates[/] from {summary['origin']}: {summary['accepted']:,} accepted, "
        f"{summary['quarantined']:,} quarantined, {summary['not_published']:,} days not published"
        + ("" if summary["changed"] else " (lake unchanged)")
    )
    emit_json(summary)


def register(app: typer.Typer) -> None:
    app.command("ingest-rates")(ingest_rates_command)
