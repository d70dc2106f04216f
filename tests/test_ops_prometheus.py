"""Prometheus: the shipped scrape configuration and alert rules pass promtool, and the real Prometheus binary
scrapes a running pymescore service and answers queries on its metrics."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from pymescore.service import application_bodies
from tests.service_support import live_server, make_app

DEPLOY = Path(__file__).resolve().parents[1] / "deploy" / "prometheus"


def _binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (Debian package 'prometheus'; `make ops-test` and .ci/run install it)")
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize(
    "args",
    [["check", "config", "prometheus.yml"], ["check", "rules", "alerts.yml"], ["test", "rules", "alerts_test.yml"]],
    ids=["check-config", "check-rules", "test-rules"],
)
def test_promtool(args: list[str]) -> None:
    done = subprocess.run([_binary("promtool"), *args], cwd=DEPLOY, capture_output=True, text=True, timeout=120,
                          check=False)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout + done.stderr


@pytest.mark.slow
def test_prometheus_scrapes_the_service(sme_bundle: dict[str, Any], tmp_path: Path) -> None:
    prometheus = _binary("prometheus")
    shutil.copytree(sme_bundle["bundle"], tmp_path / "bundle")
    app, state = make_app(tmp_path / "bundle", f"sqlite:///{tmp_path / 'audit.db'}", lake=sme_bundle["lake"].root)
    key, _ = state.store.create_key("bank-a", ["score"])
    tables = sme_bundle["tables"]
    bodies = application_bodies(tables, [str(r) for r in tables["firms"]["ruc"].iloc[:20]], sme_bundle["as_of"])
    with live_server(app) as base:
        target = base.removeprefix("http://")
        config = tmp_path / "prometheus.yml"
        config.write_text(
            "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
            f"rule_files: ['{DEPLOY / 'alerts.yml'}']\n"
            "scrape_configs:\n"
            f"  - job_name: pymescore\n    static_configs: [{{targets: ['{target}']}}]\n"
        )
        port = _free_port()
        proc = subprocess.Popen(
            [prometheus, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{port}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        try:
            with TestClient(app) as client:  # traffic, so that request and decision counters exist
                for body in bodies:
                    client.post("/v1/scores", json=body, headers={"Authorization": f"Bearer {key}"})
            api = f"http://127.0.0.1:{port}/api/v1/query"
            deadline = time.monotonic() + 60
            found: list[dict[str, Any]] = []
            while time.monotonic() < deadline:
                try:
                    r = httpx.get(api, params={"query": 'pymescore_http_requests_total{route="/v1/scores"}'}, timeout=5)
                    found = r.json()["data"]["result"] if r.status_code == 200 else []
                except httpx.HTTPError:
                    found = []
                if found:
                    break
                assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else "prometheus exited"
                time.sleep(0.5)
            assert found, "Prometheus never returned pymescore_http_requests_total"
            assert sum(float(s["value"][1]) for s in found) >= 1
            up = httpx.get(api, params={"query": 'up{job="pymescore"}'}, timeout=5).json()["data"]["result"]
            assert up[0]["value"][1] == "1"
            loaded = httpx.get(api, params={"query": "pymescore_model_loaded"}, timeout=5).json()["data"]["result"]
            assert loaded[0]["value"][1] == "1"
        finally:
            proc.terminate()
            proc.wait(timeout=30)
            if proc.stderr is not None:
                proc.stderr.close()
