"""The API ingestion DAG in the real Airflow (`.venv-airflow`, `make ops-deps`): it parses, and `airflow dags
test` syncs every institution of the sources file from the local test server into the lake, with faults on
the way, ending with the lake of a clean sync."""

from __future__ import annotations

import os
import secrets
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from pymescore.lake import Lake
from pymescore.sources._api import load_institutions, sync_institution
from tests.api_server import ApiServer, ServerState, config_toml, dataset
from tests.test_api_source import ENV

ROOT = Path(__file__).resolve().parents[1]
AIRFLOW = ROOT / ".venv-airflow" / "bin" / "airflow"


@pytest.mark.slow
def test_the_api_dag_syncs_every_institution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if not AIRFLOW.exists():
        pytest.skip("Airflow lives in its own environment: run `make ops-deps` to create .venv-airflow")
    secret = "sk-" + secrets.token_hex(16)
    monkeypatch.setenv(ENV, secret)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "VIRTUAL_ENV"))}
    env.update({
        "AIRFLOW_HOME": str(tmp_path / "home"), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "deploy" / "airflow" / "dags"),
        "PYMESCORE_PIPELINE_ROOT": str(tmp_path / "pipeline"), "PYMESCORE_API_SOURCES": str(tmp_path / "sources.toml"),
        ENV: secret,
    })  # fmt: skip
    for args in (["db", "migrate"], ["dags", "reserialize"]):
        done = subprocess.run([str(AIRFLOW), *args], env=env, capture_output=True, text=True, timeout=600, check=False)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    listed = subprocess.run([str(AIRFLOW), "dags", "list"], env=env, capture_output=True, text=True, timeout=300,
                            check=False)  # fmt: skip
    assert "pymescore_ingest_api" in listed.stdout
    faulty = ApiServer(ServerState(data=dataset(bad=True), secret=secret, faults={2: "500", 5: "expire"}))
    clean = ApiServer(ServerState(data=dataset(bad=True), secret=secret))
    with faulty, clean:
        # two institutions: the same bank's data behind a faulty and a clean server, each in its own lake tables
        text = config_toml(faulty, ENV, name="banco_a") + config_toml(clean, ENV, name="banco_b")
        (tmp_path / "sources.toml").write_text(text, encoding="utf-8")
        cmd = [str(AIRFLOW), "dags", "test", "pymescore_ingest_api", "2026-03-01T05:00:00"]
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600, check=False)
        out = done.stdout + done.stderr
        assert "state=success" in out, out[-4000:]
        assert secret not in out
        assert {e["resource"] for e in faulty.state.log} == {"accounts", "transactions", "loans", "statements"}
        assert {e["resource"] for e in clean.state.log} == {"accounts", "transactions", "loans", "statements"}
        reference = Lake(tmp_path / "reference")
        sync_institution(load_institutions(tmp_path / "sources.toml")["banco_b"], reference)
    lake = Lake(tmp_path / "pipeline" / "lake")
    sources = {r["source"] for r in lake.lineage("payments")}
    assert sources == {"api:banco_a/loans", "api:banco_b/loans"}
    for table in ("monthly_cashflows", "payments", "financial_statements"):
        # the same records from two institutions: upserted once by key; each bad record quarantined per source
        pd.testing.assert_frame_equal(lake.read(table), reference.read(table), check_exact=True)
        assert sorted(lake.quarantine(table)["source"].str[:10]) == ["api:banco_", "api:banco_"]
