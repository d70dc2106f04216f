"""``pymescore monitor``: drift and backtest of the decisions in the audit store."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Annotated

import typer

from pymescore.cli._output import console, emit_json
from pymescore.cli._scale import SchedulerOpt, WorkerMemoryOpt, quiet_dask


def monitor_command(
    bundle: Annotated[Path, typer.Option("--bundle", help="The bundle whose training reference is compared.")],
    since: Annotated[
        str | None, typer.Option(help="Decisions from this date on (YYYY-MM-DD); default: the last 30 days.")
    ] = None,
    database_url: Annotated[
        str | None, typer.Option("--database-url", help="Audit store (default: PYMESCORE_DATABASE_URL).")
    ] = None,
    lake: Annotated[
        str | None, typer.Option("--lake", help="Lake with the outcomes, for the backtest (optional); s3://… too.")
    ] = None,
    out: Annotated[Path, typer.Option("--out", help="Folder for monitor.json, monitor.html, monitor.prom.")] = Path(
        "monitoring"
    ),
    psi_watch: Annotated[float, typer.Option(help="PSI from which a shift is watched.")] = 0.1,
    psi_act: Annotated[float, typer.Option(help="PSI from which a shift needs action.")] = 0.25,
    min_decisions: Annotated[
        int,
        typer.Option(min=1, help="Fewest decisions on which a PSI is read as drift; below: status insufficient."),
    ] = 200,
    calibration_tolerance: Annotated[
        float,
        typer.Option(
            help="Relative gap of observed to expected defaults that makes the estimated performance "
            "of a cohort (CBPE) untrustworthy."
        ),
    ] = 0.25,
    fail_on_act: Annotated[
        bool,
        typer.Option(
            help="Exit with code 1 when a PSI/CSI crosses --psi-act, cannot be computed (unknown) or rests on "
            "fewer than --min-decisions decisions, none included (insufficient)."
        ),
    ] = False,
    scheduler: SchedulerOpt = None,
    worker_memory: WorkerMemoryOpt = None,
) -> None:
    """Compare recent decisions with the model's training population: PSI of the score, CSI of every
    feature, approval and decline rates, and a backtest where the 12-month outcome is known in the lake. Per
    monthly cohort, the AUC, bad rate per band and expected defaults are estimated from the calibrated PDs
    before the outcomes arrive (CBPE), marked untrustworthy under drift, and shown beside the realised figures.

    Writes `monitor.json`, `monitor.html` (with a plot) and `monitor.prom` (Prometheus textfile format, for
    node-exporter's textfile collector); the JSON summary is the last line of stdout. The audit store is opened
    read-only: a store that does not exist is refused (exit 2), never created. Fewer decisions than
    --min-decisions give status `insufficient`, never `stable`, and no drift verdict.

    With --scheduler (or PYMESCORE_DASK_SCHEDULER) the outcomes are labelled per RUC bucket of the lake on a
    Dask cluster (no lake table read whole here); the figures are the same.

    Example: pymescore monitor --bundle demo/bundle --database-url sqlite:///demo/audit.db --lake demo/lake
    """
    from pymescore.bundle import load_bundle
    from pymescore.cbpe import CbpeConfig
    from pymescore.config import Settings
    from pymescore.errors import ConfigError
    from pymescore.monitoring import Thresholds
    from pymescore.pipelines import monitor_store

    try:
        start = (
            dt.datetime.fromisoformat(since).replace(tzinfo=dt.UTC)
            if since
            else dt.datetime.now(dt.UTC) - dt.timedelta(days=30)
        )
    except ValueError as exc:
        raise ConfigError(f"--since: expected a date YYYY-MM-DD, got {since!r}") from exc
    settings = Settings(database_url=database_url) if database_url else Settings()
    if worker_memory:
        os.environ["PYMESCORE_DASK_WORKER_MEMORY"] = worker_memory  # read where the cluster starts
    quiet_dask()
    with console.status("Monitoring the recent decisions…"):
        result, paths = monitor_store(load_bundle(bundle), settings.database_url, start, out, lake=lake,
                                      thresholds=Thresholds(psi_watch, psi_act, min_decisions),
                                      cbpe=CbpeConfig(calibration_tolerance=calibration_tolerance),
                                      scheduler=scheduler or "")  # fmt: skip
    console.print(
        f"{result['n']:,} decisions; status {result['status']}; score PSI {result.get('psi_score', {}).get('value')}; "
        f"shifted features: {', '.join(result.get('flagged_features', [])) or 'none'}; report {paths['html']}"
    )
    if result.get("note"):
        console.print(f"[bold red]{result['note']}[/]")
    keys = ("n", "status", "alert", "psi_score", "flagged_features", "rates", "min_n", "note")
    summary = {k: result.get(k) for k in keys}
    cbpe = result.get("cbpe") or {}
    if cbpe.get("cohorts"):
        latest = cbpe["cohorts"][-1]
        summary["cbpe"] = {"latest_cohort": latest["cohort"], "estimated_auc": latest["estimated"]["auc"],
                           "untrustworthy": cbpe["untrustworthy"]}  # fmt: skip
    emit_json({**summary, "outputs": {k: str(v) for k, v in paths.items()}})
    if fail_on_act and result["alert"]:  # "act", "unknown" or "insufficient": monitoring fails closed
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("monitor")(monitor_command)
