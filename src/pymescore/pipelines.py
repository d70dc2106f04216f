"""The steps of the scheduled pipelines, as plain functions (Airflow tasks call these, the CLI the same
library functions underneath): nothing of the retraining or monitoring logic lives only in a DAG.

Each step takes paths and returns a small JSON-ready dict, so that a scheduler can pass results along.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pymescore.errors import PymescoreError

if TYPE_CHECKING:
    from pymescore.bundle import Bundle
    from pymescore.cbpe import CbpeConfig
    from pymescore.monitoring import Thresholds


class PipelineStop(PymescoreError):  # noqa: N818 - a stop, not a failure of the code
    """A step refused to go on (a threshold crossed, an inconsistent lake); ``message`` says why."""

    code = "PIPELINE_STOP"


def ingest(source: Path, lake: Path) -> dict[str, Any]:
    from pymescore.lake import Lake
    from pymescore.sources import ingest_folder

    summaries = ingest_folder(Path(source), Lake(lake))
    return {"tables": {s.table: {"accepted": s.accepted, "quarantined": s.quarantined, "changed": s.changed}
                       for s in summaries}}  # fmt: skip


def exchange_rates(
    lake: Path, series: str = "PD04640PD", start: str | None = None, end: str | None = None, csv: Path | None = None
) -> dict[str, Any]:
    """The official PEN/USD rates from BCRPData into the lake (from 10 days before its last rate, or ``start``,
    to today in Lima, or ``end``), ``csv`` when BCRPData cannot be reached; with its OpenLineage run events."""
    from pymescore.config import Settings
    from pymescore.lake import Lake
    from pymescore.lineage import lake_dataset, lineage_config, lineage_run, url_dataset
    from pymescore.sources._bcrp import BcrpRequest, incremental_start, ingest_rates

    settings = Settings()
    today = dt.datetime.now(dt.timezone(dt.timedelta(hours=-5))).date()
    first = dt.date.fromisoformat(start) if start else incremental_start(Lake(lake))
    request = BcrpRequest(series=series, start=first, end=dt.date.fromisoformat(end) if end else today,
                          base_url=settings.bcrp_url)  # fmt: skip
    with lineage_run("ingest.exchange_rates", lineage_config(settings), lambda: Path(lake),
                     lambda: [url_dataset(f"{settings.bcrp_url.rstrip('/')}/{series}")],
                     lambda: [lake_dataset(Path(lake), "exchange_rates")]):  # fmt: skip
        return ingest_rates(Lake(lake), request, csv=csv)


def validate(lake: Path) -> dict[str, Any]:
    from pymescore.config import Settings
    from pymescore.lake import Lake
    from pymescore.lake_summary import check

    findings = check(Lake(lake), equity_tolerance=Settings().equity_tolerance)
    errors = [f.to_dict() for f in findings if f.severity == "error"]
    if errors:
        raise PipelineStop(f"lake validate: {len(errors)} error(s), first: {errors[0]}")
    return {"ok": True, "warnings": len(findings)}


def _cluster(scheduler: str | None) -> Any:
    """A Dask client for ``scheduler`` (else ``PYMESCORE_DASK_SCHEDULER``), or a null context: in this process."""
    import contextlib

    from pymescore.cluster import dask_client, parse_scheduler

    parsed = parse_scheduler(scheduler)
    return contextlib.nullcontext() if parsed is None else dask_client(parsed)


def features(lake: Path | str, as_of: list[str], out: Path | str, scheduler: str | None = None) -> dict[str, Any]:
    """The snapshot; with a scheduler (``scheduler``, else ``PYMESCORE_DASK_SCHEDULER``) built per RUC bucket on
    the Dask cluster and written as a folder of parts (``pymescore features --scheduler``)."""
    from pymescore.lake import Lake

    with _cluster(scheduler) as client:
        if client is None:
            from pymescore.features._snapshot import build_snapshot, write_snapshot_at

            snapshot, lineage = build_snapshot(Lake(lake), as_of)
            write_snapshot_at(snapshot, lineage, str(out))
        else:
            from pymescore.features._partitioned import build_snapshot_distributed

            lineage = build_snapshot_distributed(Lake(lake), as_of, str(out), client)
    return {"snapshot": str(out), "rows": lineage["rows"], "as_of": as_of}


def train(snapshot: Path, out: Path, trials: int, time_budget: float, drop: list[str] | None = None,
          register: bool = True, scheduler: str | None = None) -> dict[str, Any]:  # fmt: skip
    """Train a challenger; registered with the alias ``challenger`` when ``register``. With a scheduler (or
    ``PYMESCORE_DASK_SCHEDULER``) the boosters are fitted on the Dask cluster (``pymescore train --scheduler``)."""
    from pymescore.model import TrainConfig
    from pymescore.runs import run_training
    from pymescore.tables import read_table

    config = TrainConfig(target="default_12m", trials=trials, time_budget=time_budget, drop=tuple(drop or ()))
    with _cluster(scheduler) as client:
        _, metrics = run_training(read_table(Path(snapshot)), config, Path(out), dataset=str(snapshot),
                                  client=client)  # fmt: skip
    result: dict[str, Any] = {"bundle": str(out), "test_metrics": metrics.get("test_metrics")}
    if register:
        from pymescore.registry import register as register_bundle

        params = {"trials": trials, "time_budget": time_budget, "drop": ",".join(drop or []),
                  "policy_version": metrics["policy"]["version"]}  # fmt: skip
        result["registered"] = register_bundle(Path(out), metrics, params, alias="challenger")
    return result


def gate(challenger: Path, champion_uri: str, snapshot: Path, max_auc_drop: float = 0.01,
         fairness_tolerance: float = 0.05) -> dict[str, Any]:  # fmt: skip
    """The gate's verdict against the registry's champion (a first model passes when there is none)."""
    from pymescore.bundle import load_bundle
    from pymescore.gate import GatePolicy
    from pymescore.gate import gate as run_gate
    from pymescore.registry import RegistryError, download
    from pymescore.tables import read_table

    try:
        champion = load_bundle(download(champion_uri))
    except RegistryError:
        champion = None
    verdict = run_gate(load_bundle(Path(challenger)), champion, read_table(Path(snapshot)), "default_12m",
                       policy=GatePolicy(max_auc_drop, fairness_tolerance))  # fmt: skip
    plain: dict[str, Any] = json.loads(json.dumps(verdict, default=str))
    return plain


def promote(version: int) -> dict[str, Any]:
    from pymescore.registry import promote as promote_version

    return promote_version(version, "champion")


def record(runs: Path, entry: dict[str, Any]) -> dict[str, Any]:
    """Append one line to the run log (JSON lines): what was trained, the verdict, promoted or why not."""
    runs = Path(runs)
    runs.parent.mkdir(parents=True, exist_ok=True)
    line = {"recorded_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), **entry}
    with runs.open("a", encoding="utf-8") as f:
        f.write(json.dumps(line, default=str) + "\n")
    return line


def monitor_store(
    bundle: Bundle,
    database_url: str,
    since: dt.datetime,
    out: Path,
    *,
    lake: Path | str | None = None,
    thresholds: Thresholds | None = None,
    cbpe: CbpeConfig | None = None,
    scheduler: str | None = None,
) -> tuple[dict[str, Any], dict[str, Path]]:
    """The monitoring job: decisions since ``since`` from the audit store, outcomes from ``lake`` when given,
    the figures written to ``out``. Returns the figures and the paths written. With a scheduler (``scheduler``,
    else ``PYMESCORE_DASK_SCHEDULER``) the outcomes are labelled per RUC bucket on the Dask cluster: no table of
    the lake is read whole here.

    Reading the store happens here, above the service: ``pymescore.monitoring`` only computes on the
    decisions it is handed."""
    from pymescore.monitoring import monitor as compute
    from pymescore.monitoring import write_outputs
    from pymescore.service import AuditStore, shadow_pairs

    store = AuditStore.open_existing(database_url, timeout_s=10.0)  # read-only: a reading job creates no store
    try:
        decisions = store.recent(since)
        pairs = shadow_pairs(store, since)  # None: no shadow table (a store before migration 0008)
        pairs = pairs or None  # no shadow traffic: no comparison section
    finally:
        store.dispose()
    from pymescore.lake import Lake

    with _cluster(scheduler if lake is not None else "") as client:
        tables, outcomes_of = None, None
        if lake is not None and client is None:
            from pymescore.features._snapshot import read_lake_tables

            tables = read_lake_tables(Lake(lake))
        elif lake is not None:
            from pymescore.features._partitioned import known_outcomes_distributed

            def outcomes_of(rucs: Any, as_ofs: Any) -> Any:
                return known_outcomes_distributed(Lake(lake), rucs, as_ofs, client)

        result = compute(bundle, decisions, lake_tables=tables, thresholds=thresholds, since=since, cbpe=cbpe,
                         shadow_pairs=pairs, outcomes_of=outcomes_of)  # fmt: skip
    return result, write_outputs(result, Path(out))


def shadow_comparison_from(source: str, version: str, days: int = 30) -> dict[str, Any]:
    """The champion-challenger comparison the gate reads: ``source`` a ``monitor --out`` folder (its
    ``monitor.json``'s ``shadow``) or an audit store URL (its shadow decisions of the last ``days`` days, on
    ``version``)."""
    from pymescore.errors import ConfigError

    if "://" in source:
        from pymescore.evaluate import shadow_comparison
        from pymescore.service import AuditStore, shadow_pairs

        store = AuditStore.open_existing(source, timeout_s=10.0)
        try:
            pairs = shadow_pairs(store, dt.datetime.now(dt.UTC) - dt.timedelta(days=days)) or []
        finally:
            store.dispose()
        return shadow_comparison(pairs, version)
    path = Path(source) / "monitor.json"
    try:
        shadow = json.loads(path.read_text(encoding="utf-8")).get("shadow")
    except (OSError, ValueError) as exc:
        raise ConfigError(f"--shadow-from {source}: se esperaba / expected a monitor --out folder with monitor.json "
                          f"or an audit store URL, got {type(exc).__name__}") from exc  # fmt: skip
    if not isinstance(shadow, dict):
        raise ConfigError(f"--shadow-from {path}: se esperaba una comparación en sombra / expected a 'shadow' "
                          "comparison (monitor run on a store with shadow decisions), got none")  # fmt: skip
    return shadow


def monitor(bundle_uri: str, database_url: str, out: Path, lake: Path | None = None, days: int = 30,
            psi_act: float = 0.25, scheduler: str | None = None) -> dict[str, Any]:  # fmt: skip
    """The monitoring job; raises :class:`PipelineStop` when a PSI/CSI crosses ``psi_act``, cannot be computed
    (status ``unknown``: no score reference, a feature missing from the decisions) or rests on too few decisions
    (status ``insufficient``: fewer than 200, none included). A missing audit store is refused, never created."""
    from pymescore.bundle import load_bundle
    from pymescore.monitoring import Thresholds

    if bundle_uri.startswith("models:/"):
        from pymescore.registry import download

        bundle = load_bundle(download(bundle_uri))
    else:
        bundle = load_bundle(Path(bundle_uri))
    since = dt.datetime.now(dt.UTC) - dt.timedelta(days=days)
    result, paths = monitor_store(bundle, database_url, since, Path(out), lake=lake, thresholds=Thresholds(act=psi_act),
                                  scheduler=scheduler)  # fmt: skip
    summary = {"n": result["n"], "status": result["status"], "psi_score": result.get("psi_score"),
               "flagged_features": result.get("flagged_features", []),
               "unknown_features": result.get("unknown_features", []), "report": str(paths["html"]),
               "untrustworthy_estimates": (result.get("cbpe") or {}).get("untrustworthy", [])}  # fmt: skip
    if result["status"] == "act":
        flagged = ", ".join(summary["flagged_features"]) or "none"
        raise PipelineStop(
            f"monitoring: drift above {psi_act}: score PSI {summary['psi_score']}, features {flagged}; "
            f"see {paths['html']}"
        )
    if result["status"] == "insufficient":  # fails closed: too few decisions stop the run as drift does
        raise PipelineStop(f"monitoring: insufficient data: {result['note']}; see {paths['html']}")
    if result["alert"]:  # fails closed: a PSI that could not be computed stops the run as drift does
        unknown = ", ".join(summary["unknown_features"]) or "none"
        raise PipelineStop(
            f"monitoring: PSI unknown ({result.get('note') or 'not computable'}): score PSI "
            f"{summary['psi_score']}, features without a CSI {unknown}; see {paths['html']}"
        )
    return summary


def api_institutions(config: Path) -> list[str]:
    """The institutions of the TOML of API sources (one sync task each)."""
    from pymescore.sources._api import load_institutions

    return sorted(load_institutions(Path(config)))


def ingest_api(config: Path, name: str, lake: Path) -> dict[str, Any]:
    """Sync one institution's API into the lake (``pymescore ingest --source api:NAME``)."""
    from pymescore.config import Settings
    from pymescore.lake import Lake
    from pymescore.sources._api import institution, sync_institution

    done = sync_institution(institution(Path(config), name), Lake(lake), equity_tolerance=Settings().equity_tolerance)
    return {"institution": name, "resources": [r.to_dict() for r in done]}
