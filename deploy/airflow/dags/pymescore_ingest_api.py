"""Airflow DAG ``pymescore_ingest_api``: every institution of the API sources file synced daily into the lake.

One mapped task per ``[institutions.NAME]`` of the TOML (``docs/sources-api.md``), each calling
``pymescore.pipelines.ingest_api`` (what ``pymescore ingest --source api:NAME`` does). A failed institution
fails its own task only; its watermarks stay where its last commit left them, so the next run resumes.

- ``PYMESCORE_API_SOURCES``: the TOML file (default ``$PYMESCORE_PIPELINE_ROOT/sources.toml``); the client
  secrets come from the environment variables or files it names (Airflow's secrets backend can fill them);
- ``PYMESCORE_PIPELINE_ROOT``: working folder; the lake is its ``lake/``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pendulum
from airflow.sdk import dag, task

ROOT = Path(os.environ.get("PYMESCORE_PIPELINE_ROOT", "/opt/airflow/pymescore"))
SOURCES = Path(os.environ.get("PYMESCORE_API_SOURCES", str(ROOT / "sources.toml")))


@dag(
    dag_id="pymescore_ingest_api",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz=pendulum.timezone("America/Lima")),
    catchup=False,
    max_active_runs=1,  # one sync of an institution at a time: its watermark and ledger are read, then committed
    tags=["pymescore"],
    doc_md=__doc__,
)
def pymescore_ingest_api() -> None:
    from pymescore import pipelines

    @task
    def institutions() -> list[str]:
        return pipelines.api_institutions(SOURCES)

    @task(retries=2, retry_delay=pendulum.duration(minutes=10))
    def sync(name: str) -> dict[str, Any]:
        return pipelines.ingest_api(SOURCES, name, ROOT / "lake")

    sync.expand(name=institutions())


pymescore_ingest_api()
