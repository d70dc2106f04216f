"""Both Airflow DAGs run end to end with `airflow dags test` (Airflow 3, its own environment .venv-airflow,
SQLite metadata DB) on a simulated lake: the first challenger is promoted, a deliberately worse one (trained
without the payment and bureau features) is refused and the run log says why; the monitoring DAG writes its
report and, with no decision to compare, fails closed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
AIRFLOW = ROOT / ".venv-airflow" / "bin" / "airflow"
WORSE = ["pay_on_time_share_12m", "dpd_mean_3m", "dpd_mean_6m", "dpd_mean_12m", "dpd_max_3m", "dpd_max_6m",
         "dpd_max_12m", "dpd_current", "payments_made_12m", "payment_completion_12m", "late_payments_12m",
         "months_since_delinquency", "sbs_rating_current", "sbs_rating_worst_12m", "debt_system_pen",
         "debt_system_growth_12m", "n_lenders"]  # fmt: skip


@pytest.fixture(scope="module")
def airflow(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    if not AIRFLOW.exists():
        pytest.skip("Airflow lives in its own environment: run `make ops-deps` to create .venv-airflow")
    root = tmp_path_factory.mktemp("airflow")
    simulated = subprocess.run(
        [sys.executable, "-m", "pymescore.cli", "simulate", "--firms", "4000", "--months", "36", "--seed", "5",
         "--error-rate", "0", "--out", str(root / "pipeline" / "incoming")],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert simulated.returncode == 0, simulated.stderr
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "VIRTUAL_ENV"))}
    env.update({
        "AIRFLOW_HOME": str(root / "home"), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "deploy" / "airflow" / "dags"),
        "PYMESCORE_PIPELINE_ROOT": str(root / "pipeline"), "PYMESCORE_SOURCE_DIR": str(root / "pipeline" / "incoming"),
        "PYMESCORE_MLFLOW_URI": f"sqlite:///{root / 'pipeline' / 'mlflow.db'}",
        "PYMESCORE_DATABASE_URL": f"sqlite:///{root / 'pipeline' / 'audit.db'}",
    })  # fmt: skip
    for args in (["db", "migrate"], ["dags", "reserialize"]):
        done = subprocess.run([str(AIRFLOW), *args], env=env, capture_output=True, text=True, timeout=600, check=False)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return {"env": env, "root": root / "pipeline"}


def _dags_test(
    airflow: dict[str, object], dag: str, date: str, conf: dict[str, object] | None = None, state: str = "success"
) -> str:
    cmd = [str(AIRFLOW), "dags", "test", dag, date]
    if conf is not None:
        cmd += ["-c", json.dumps(conf)]
    done = subprocess.run(cmd, env=airflow["env"], capture_output=True, text=True, timeout=900, check=False)  # type: ignore[arg-type]
    out = done.stdout + done.stderr
    assert f"state={state}" in out, out[-4000:]
    return out


@pytest.mark.slow
def test_dags_parse(airflow: dict[str, object]) -> None:
    done = subprocess.run([str(AIRFLOW), "dags", "list"], env=airflow["env"], capture_output=True, text=True,  # type: ignore[arg-type]
                          timeout=300, check=False)  # fmt: skip
    assert "pymescore_retrain" in done.stdout
    assert "pymescore_monitor" in done.stdout
    assert "pymescore_exchange_rates" in done.stdout


@pytest.mark.slow
def test_retrain_promotes_a_first_model_then_refuses_a_worse_one_and_says_why(airflow: dict[str, object]) -> None:
    runs = Path(airflow["root"]) / "retrain_runs.jsonl"  # type: ignore[arg-type]
    _dags_test(airflow, "pymescore_retrain", "2026-03-01T01:00:00", {"trials": 2, "time_budget": 10})
    first = json.loads(runs.read_text().splitlines()[-1])
    assert first["promoted"] is True, first["reasons"]
    out = _dags_test(airflow, "pymescore_retrain", "2026-04-01T01:00:00",
                     {"trials": 2, "time_budget": 10, "drop": WORSE})  # fmt: skip
    second = json.loads(runs.read_text().splitlines()[-1])
    assert second["promoted"] is False
    assert any("below the champion's" in r for r in second["reasons"]), second["reasons"]
    assert second["champion_auc"] > second["challenger_auc"]
    assert "challenger refused" in out


@pytest.mark.slow
def test_monitor_dag_writes_its_report_and_fails_closed_without_decisions(airflow: dict[str, object]) -> None:
    # monitors the registry's champion: the one the retrain test above promoted (tests of a file run in order).
    # No audit store yet: the task fails naming it and creates none (a reading job never creates a store).
    store = Path(airflow["root"]) / "audit.db"  # type: ignore[arg-type]
    out = _dags_test(airflow, "pymescore_monitor", "2026-04-02T02:00:00", state="failed")
    assert "AUDIT_STORE_MISSING" in out or "audit store" in out, out[-4000:]
    assert not store.exists()
    # An empty store: nothing was scored, so there is no drift verdict: "insufficient", which fails the task (an
    # alert), never "stable"
    from pymescore.service import AuditStore

    audit = AuditStore(f"sqlite:///{store}")
    audit.migrate()
    audit.dispose()
    out = _dags_test(airflow, "pymescore_monitor", "2026-04-03T02:00:00", state="failed")
    assert "insufficient data" in out, out[-4000:]
    monitoring = Path(airflow["root"]) / "monitoring"  # type: ignore[arg-type]
    assert "pymescore_monitor_status 4.0" in (monitoring / "monitor.prom").read_text()
    assert json.loads((monitoring / "monitor.json").read_text())["status"] == "insufficient"


@pytest.mark.slow
def test_exchange_rates_dag_fills_the_lake_from_bcrp(airflow: dict[str, object], tmp_path: Path) -> None:
    """The daily rates DAG against the local BCRPData stand-in: the lake gets the published days, the run its
    OpenLineage events."""
    from pymescore.lake import Lake
    from tests.bcrp_server import serve

    with serve() as bcrp:
        env = {**airflow["env"], "PYMESCORE_BCRP_URL": bcrp.url, "PYMESCORE_PIPELINE_ROOT": str(tmp_path)}  # type: ignore[dict-item]
        _dags_test({**airflow, "env": env}, "pymescore_exchange_rates", "2026-04-04T15:00:00",
                   {"start": "2023-12-18", "end": "2024-01-12"})  # fmt: skip
    assert len(bcrp.requests) == 2
    rates = Lake(tmp_path / "lake").read("exchange_rates")
    assert rates["date"].min() == __import__("pandas").Timestamp("2023-12-20")
    assert len(rates) == 15
    events = [json.loads(line) for line in (tmp_path / "lake" / "openlineage.jsonl").read_text().splitlines()]
    assert [(e["eventType"], e["job"]["name"]) for e in events] == [("START", "ingest.exchange_rates"),
                                                                   ("COMPLETE", "ingest.exchange_rates")]  # fmt: skip
