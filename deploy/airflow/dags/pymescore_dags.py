"""Airflow DAGs of pymescore: monthly retraining with a promotion gate, daily monitoring, daily official
exchange rates (BCRP).

Every task calls a function of ``pymescore.pipelines`` (the same library functions as the CLI); the DAGs
only wire them. Paths and URIs come from Airflow Variables or PYMESCORE_* environment variables:

- ``PYMESCORE_PIPELINE_ROOT``: working folder (lake, snapshots, bundles, run log, monitoring reports);
- ``PYMESCORE_SOURCE_DIR``: the folder of new raw files to ingest (``<table>.parquet|csv|xlsx``);
- ``PYMESCORE_MLFLOW_URI``: the model registry; ``PYMESCORE_DATABASE_URL``: the audit store;
- ``PYMESCORE_BCRP_URL``: BCRPData's API; ``PYMESCORE_RATES_CSV``: a CSV of rates read when it is unreachable;
- ``PYMESCORE_DASK_SCHEDULER``: where features, training and monitoring's outcomes run (``tcp://host:8786``, a
  Dask cluster that reads the lake at the same path; ``local:N``; empty: the task's own process), also the DAG
  parameter ``scheduler`` of a run.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pendulum
from airflow.exceptions import AirflowFailException
from airflow.sdk import Param, dag, get_current_context, task

ROOT = Path(os.environ.get("PYMESCORE_PIPELINE_ROOT", "/opt/airflow/pymescore"))
SOURCE = Path(os.environ.get("PYMESCORE_SOURCE_DIR", str(ROOT / "incoming")))
LIMA = pendulum.timezone("America/Lima")


def _params() -> dict[str, Any]:
    return dict(get_current_context()["params"])


@dag(
    dag_id="pymescore_retrain",
    schedule="@monthly",
    start_date=pendulum.datetime(2026, 1, 1, tz=LIMA),
    catchup=False,
    tags=["pymescore"],
    params={
        "as_of": Param(["2023-12-31", "2024-12-31"], type="array", description="Snapshot observation dates"),
        "trials": Param(10, type="integer", minimum=1),
        "time_budget": Param(60.0, type="number", minimum=1),
        "drop": Param([], type="array", description="Columns left out of training"),
        "max_auc_drop": Param(0.01, type="number", minimum=0),
        "fairness_tolerance": Param(0.05, type="number", minimum=0),
        "scheduler": Param(os.environ.get("PYMESCORE_DASK_SCHEDULER", ""), type="string",
                           description="Dask scheduler of features and training: tcp://host:8786, local:N, or empty"),
    },
    doc_md=__doc__,
)
def pymescore_retrain() -> None:
    """ingest → validate → features → train challenger → evaluate/gate → promote or stop with the reason → record."""
    from pymescore import pipelines

    run_dir = ROOT / "runs" / "{{ ts_nodash }}"

    @task
    def ingest() -> dict[str, Any]:
        return pipelines.ingest(SOURCE, ROOT / "lake")

    @task
    def validate(_: dict[str, Any]) -> dict[str, Any]:
        return pipelines.validate(ROOT / "lake")

    @task
    def features(_: dict[str, Any], run: str) -> dict[str, Any]:
        p = _params()
        return pipelines.features(ROOT / "lake", list(p["as_of"]), Path(run) / "snapshot.parquet",
                                  scheduler=str(p.get("scheduler") or ""))  # fmt: skip

    @task
    def train(snapshot: dict[str, Any], run: str) -> dict[str, Any]:
        p = _params()
        return pipelines.train(Path(snapshot["snapshot"]), Path(run) / "challenger", int(p["trials"]),
                               float(p["time_budget"]), list(p["drop"]),
                               scheduler=str(p.get("scheduler") or ""))  # fmt: skip

    @task
    def gate(challenger: dict[str, Any], snapshot: dict[str, Any]) -> dict[str, Any]:
        p = _params()
        verdict = pipelines.gate(Path(challenger["bundle"]), "models:/pymescore@champion", Path(snapshot["snapshot"]),
                                 float(p["max_auc_drop"]), float(p["fairness_tolerance"]))  # fmt: skip
        return {"verdict": verdict, "version": challenger["registered"]["version"]}

    @task.branch
    def decide(result: dict[str, Any]) -> str:
        return "promote" if result["verdict"]["promote"] else "stop"

    @task
    def promote(result: dict[str, Any]) -> dict[str, Any]:
        return pipelines.promote(int(result["version"]))

    @task
    def stop(result: dict[str, Any]) -> dict[str, Any]:
        """Not promoted: the reasons go to the run log and the task log."""
        reasons = result["verdict"]["reasons"]
        print("challenger refused: " + "; ".join(reasons))
        return {"refused": reasons}

    @task(trigger_rule="none_failed_min_one_success")
    def record(result: dict[str, Any]) -> dict[str, Any]:
        verdict = result["verdict"]
        return pipelines.record(ROOT / "retrain_runs.jsonl", {
            "challenger_version": result["version"], "promoted": verdict["promote"], "reasons": verdict["reasons"],
            "challenger_auc": verdict["challenger"]["metrics"]["auc"],
            "champion_auc": (verdict.get("champion") or {}).get("metrics", {}).get("auc"),
        })  # fmt: skip

    raw = ingest()
    checked = validate(raw)
    snapshot = features(checked, str(run_dir))
    challenger = train(snapshot, str(run_dir))
    result = gate(challenger, snapshot)
    branch = decide(result)
    branch >> [promote(result), stop(result)] >> record(result)


@dag(
    dag_id="pymescore_monitor",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz=LIMA),
    catchup=False,
    tags=["pymescore"],
    params={
        "days": Param(30, type="integer", minimum=1),
        "psi_act": Param(0.25, type="number", minimum=0),
        "scheduler": Param(os.environ.get("PYMESCORE_DASK_SCHEDULER", ""), type="string",
                           description="Dask scheduler of the outcomes' labelling: tcp://host:8786, local:N, or empty"),
    },
    doc_md=__doc__,
)
def pymescore_monitor() -> None:
    """The monitoring job on the audit store's recent decisions; fails (and alerts) when drift crosses psi_act."""
    from pymescore import pipelines

    @task
    def monitor() -> dict[str, Any]:
        p = _params()
        try:
            return pipelines.monitor(
                os.environ.get("PYMESCORE_MONITOR_BUNDLE", "models:/pymescore@champion"),
                os.environ.get("PYMESCORE_DATABASE_URL", "sqlite:///pymescore.db"),
                ROOT / "monitoring", ROOT / "lake", int(p["days"]), float(p["psi_act"]),
                scheduler=str(p.get("scheduler") or ""),
            )  # fmt: skip
        except pipelines.PipelineStop as exc:
            raise AirflowFailException(exc.message) from exc

    monitor()


@dag(
    dag_id="pymescore_exchange_rates",
    schedule="0 10 * * *",  # 10:00 Lima: after the BCRP publishes the previous day's rate
    start_date=pendulum.datetime(2026, 1, 1, tz=LIMA),
    catchup=False,
    tags=["pymescore"],
    params={
        "series": Param("PD04640PD", type="string", description="BCRPData daily series (SBS selling rate)"),
        "start": Param("", type="string", description="First day YYYY-MM-DD (empty: 10 days before the last)"),
        "end": Param("", type="string", description="Last day YYYY-MM-DD (empty: today in Lima)"),
    },
    doc_md=__doc__,
)
def pymescore_exchange_rates() -> None:
    """The BCRP's PEN/USD rates into the lake's exchange_rates; the service reads them on its next reload."""
    from pymescore import pipelines

    @task
    def exchange_rates() -> dict[str, Any]:
        p = _params()
        csv = os.environ.get("PYMESCORE_RATES_CSV")
        return pipelines.exchange_rates(ROOT / "lake", str(p["series"]), str(p["start"]) or None,
                                        str(p["end"]) or None, Path(csv) if csv else None)  # fmt: skip

    exchange_rates()


pymescore_retrain()
pymescore_monitor()
pymescore_exchange_rates()
