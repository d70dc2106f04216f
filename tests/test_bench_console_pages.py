"""``bench.console_pages`` runs end to end on a small store (200 decisions, SQLite), so that it does not rot: every
page answers 200 with its content, and the JSON holds p50 / p95 per page and the baseline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bench.console_pages import TARGET_P95_MS, main

pytestmark = pytest.mark.slow  # fills a store and serves ~30 pages (~20 s on 2 cores)


def test_the_console_pages_benchmark_runs_on_a_small_store(tmp_path: Path) -> None:
    out = tmp_path / "console-pages.json"
    result = main(["--decisions", "200", "--requests", "3", "--backends", "sqlite", "--out", str(out)])
    assert json.loads(out.read_text())["backends"].keys() == {"sqlite"}
    run = result["backends"]["sqlite"]
    assert run["decisions"] == 200
    assert sum(run["outcomes"].values()) == 200
    assert run["actions"] > 0
    expected = {
        "login",
        "solicitudes",
        "bandeja",
        "bandeja_filtered",
        "resultado",
        "nueva",
        "panel",
        "panel_all_time",
        "historial",
    }  # the firm page (item 6) is timed once the app has it
    assert expected <= set(run["pages"])
    for name, page in run["pages"].items():
        assert page["status"] == 200, name
        assert page["requests"] == 3
        assert 0 < page["p50_ms"] <= page["p95_ms"] <= page["max_ms"], name
        assert page["bytes"] > 1000, name
    assert run["pages"]["resultado"]["path"].endswith(run["case_id"])
    assert run["baseline_healthz"]["status"] == 200
    assert result["target_p95_ms"] == TARGET_P95_MS
