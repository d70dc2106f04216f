"""Shared fixtures. In CI (CI=true) a skipped test is a failure: CI provides every service."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


#: test files that train models, build the simulated lake or start services and tools (minutes each on 2 cores):
#: marked ``slow``, so that ``make test-fast`` (``-m "not slow"``) leaves them out of the inner loop
SLOW_FILES = frozenset({
    "test_airflow_dags.py", "test_bench_datasets.py", "test_cutoff_source.py", "test_decision_policy.py",
    "test_embargo.py", "test_evaluate.py", "test_gate.py", "test_generic_report.py", "test_monitoring.py",
    "test_ops_prometheus.py", "test_point_in_time.py", "test_service.py", "test_service_postgres.py",
    "test_service_process.py", "test_service_properties.py", "test_service_schemathesis.py",
    "test_simulate_ingest.py", "test_train_progress.py", "test_cli_inputs.py", "test_model.py",
})  # fmt: skip


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.name in SLOW_FILES:
            item.add_marker(pytest.mark.slow)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if IN_CI and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, where nothing may skip: {report.longrepr}"


#: where CI's PostgreSQL listens (.ci/run); used when PYMESCORE_TEST_POSTGRES_URL is unset and it answers
LOCAL_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"


def _answers(url: str) -> str | None:
    """None when ``url`` accepts a connection, else why not."""
    import socket

    import sqlalchemy as sa

    from pymescore.sources._readers import _driver_url

    try:
        socket.create_connection(("127.0.0.1", 5432), timeout=1.0).close()
    except OSError as exc:
        return f"nothing listens on 127.0.0.1:5432 ({exc})"
    engine = sa.create_engine(_driver_url(url))
    try:
        with engine.connect():
            return None
    except Exception as exc:  # a refused login, a missing database: said in the skip reason
        return f"{url} does not accept a connection ({str(exc).splitlines()[0]})"
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def postgres_url() -> str:
    url = os.environ.get("PYMESCORE_TEST_POSTGRES_URL")
    if url:
        return url
    why = _answers(LOCAL_POSTGRES)
    if why is not None:
        pytest.skip(
            f"PostgreSQL tests need PYMESCORE_TEST_POSTGRES_URL or a PostgreSQL at {LOCAL_POSTGRES}: {why}; "
            ".ci/run sets it"
        )
    return LOCAL_POSTGRES


@pytest.fixture
def pg_schema(postgres_url: str) -> Iterator[tuple[str, str]]:
    """A fresh PostgreSQL schema for one test, dropped afterwards: (url, schema)."""
    import sqlalchemy as sa

    from pymescore.sources._readers import _driver_url

    schema = f"t_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(_driver_url(postgres_url))
    with engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield postgres_url, schema
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


@pytest.fixture(scope="session")
def sim_lake(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """A clean simulated population (6,000 firms × 36 months) ingested into a lake: lake, tables, oracle."""
    import pandas as pd

    from pymescore.features._snapshot import read_lake_tables
    from pymescore.lake import Lake
    from pymescore.simulate import SimulationConfig, simulate, write_simulation
    from pymescore.sources import ingest_folder

    root = tmp_path_factory.mktemp("sim_lake")
    write_simulation(simulate(SimulationConfig(firms=6000, months=36, seed=11, error_rate=0.0)), root / "sim")
    lake = Lake(root / "lake")
    ingest_folder(root / "sim", lake)
    return {
        "lake": lake,
        "tables": read_lake_tables(lake),
        "oracle": pd.read_parquet(root / "sim" / "oracle.parquet"),
        "root": root,
    }


@pytest.fixture(scope="session")
def sme_bundle(sim_lake: dict[str, object], tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """A small SME model trained on the simulated lake's snapshot: bundle path, lake tables, as_of of requests."""
    from pymescore.features._snapshot import build_snapshot
    from pymescore.lake import Lake
    from pymescore.model import TrainConfig
    from pymescore.runs import run_training

    lake: Lake = sim_lake["lake"]  # type: ignore[assignment]
    snapshot, _ = build_snapshot(lake, ["2023-12-31", "2024-12-31"])
    out = tmp_path_factory.mktemp("sme_bundle") / "bundle"
    config = TrainConfig(target="default_12m", group_col="ruc", time_col="as_of", trials=2, time_budget=5.0, folds=3)
    run_training(snapshot, config, out, dataset="sim")
    tables = {n: lake.read(n) for n in ("firms", "monthly_cashflows", "financial_statements", "payments",
                                        "bureau_ratings", "exchange_rates")}  # fmt: skip
    return {"bundle": out, "tables": tables, "lake": lake, "as_of": "2025-06-30"}


#: the browser the Playwright tests drive: Debian's chromium (no browser download); PYMESCORE_CHROMIUM elsewhere
CHROMIUM = os.environ.get("PYMESCORE_CHROMIUM", "/usr/bin/chromium")


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Chromium under Playwright, one per test module; skipped with the reason when it is not installed (CI
    installs it, and there a skip fails the run)."""
    from pathlib import Path

    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}: apt-get install -y chromium (CI installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield chromium
        finally:
            chromium.close()
