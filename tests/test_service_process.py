"""``pymescore serve`` as a user runs it: one and two uvicorn workers, metrics aggregated across them, API keys from
the CLI (create prints the key once as JSON; revoke takes effect at once)."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from pymescore.service import application_bodies, wait_until_ready


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pymescore.cli", *args], env=env, capture_output=True, text=True,
                          timeout=120, check=False)  # fmt: skip


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _metric(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
def test_serve_answers_and_its_metrics_add_up(sme_bundle: dict[str, Any], tmp_path: Path, workers: int) -> None:
    shutil.copytree(sme_bundle["bundle"], tmp_path / "bundle")
    db = f"sqlite:///{tmp_path / 'audit.db'}"
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    env["PYMESCORE_DATABASE_URL"] = db
    created = _cli("apikey", "create", "--tenant", "bank-a", "--scopes", "score,read", env=env)
    assert created.returncode == 0, created.stderr
    key = json.loads(created.stdout.strip().splitlines()[-1])
    assert key["tenant"] == "bank-a"
    assert key["scopes"] == ["score", "read"]
    listed = json.loads(_cli("apikey", "list", env=env).stdout.strip().splitlines()[-1])
    assert key["key"] not in json.dumps(listed)  # only the hash is stored
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "pymescore.cli", "serve", "--bundle", str(tmp_path / "bundle"), "--lake",
         str(sme_bundle["lake"].root), "--port", str(port), "--workers", str(workers)],
        env=env, start_new_session=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        assert wait_until_ready(base, server, 90), f"the server did not become ready (exit code {server.poll()})"
        tables = sme_bundle["tables"]
        bodies = application_bodies(tables, [str(r) for r in tables["firms"]["ruc"].iloc[:30]], sme_bundle["as_of"])
        h = {"Authorization": f"Bearer {key['key']}"}
        with httpx.Client(base_url=base, timeout=30) as client:
            statuses = [client.post("/v1/scores", json=b, headers=h).status_code for b in bodies]
            assert set(statuses) <= {201, 422}
            text = client.get("/metrics").text
            scored = statuses.count(201)
            assert scored > 0
            assert _metric(text, "pymescore_http_requests_total", route="/v1/scores", status="201") == scored
            assert _metric(text, "pymescore_decisions_total") == scored
            assert _metric(text, "pymescore_score_count") == scored
            assert re.search(r'pymescore_model_info\{.*version="[^"]+".*\} 1\.0', text)
            revoked = _cli("apikey", "revoke", key["id"], env=env)
            assert revoked.returncode == 0, revoked.stderr
            assert client.post("/v1/scores", json=bodies[0], headers=h).status_code == 401
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
