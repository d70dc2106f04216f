"""OpenLineage run events of the CLI: valid against the OpenLineage model (tests/lineage_check.py), appended to
openlineage.jsonl and POSTed to a Marquez-compatible endpoint (a local server that records them), never failing
a command, never carrying a secret; the chain raw file → lake table → snapshot → bundle rebuilt from them."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from pymescore.cli import _register, app
from tests.helpers import RATES_CSV
from tests.lineage_check import check_event

_register()
runner = CliRunner()
ROOT = Path(__file__).resolve().parents[1]
KEY = "ol-key-5b1f0c9e2d7a4f63"


class Recorder:
    def __init__(self, status: int = 201) -> None:
        self.status = status
        self.posts: list[tuple[str, dict[str, str], bytes]] = []
        self.url = ""


@pytest.fixture
def marquez() -> Iterator[Recorder]:
    """A stand-in for Marquez's POST /api/v1/lineage that records what it receives."""
    rec = Recorder()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            rec.posts.append((self.path, dict(self.headers), body))
            self.send_response(rec.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    rec.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield rec
    finally:
        server.shutdown()
        server.server_close()


def events(path: Path) -> list[dict[str, Any]]:
    out = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    for e in out:
        check_event(e)
    return out


def _env(**kw: str) -> dict[str, str | None]:
    base: dict[str, str | None] = {k: None for k in os.environ if k.startswith("PYMESCORE_OPENLINEAGE")}
    return {**base, **kw}


def test_a_run_is_appended_to_the_lake_and_posted_to_marquez(marquez: Recorder, tmp_path: Path) -> None:
    (tmp_path / "rates.csv").write_text(RATES_CSV)
    env = _env(PYMESCORE_OPENLINEAGE_URL=marquez.url, PYMESCORE_OPENLINEAGE_API_KEY=KEY)
    for _ in range(2):
        done = runner.invoke(app, ["ingest", "-s", str(tmp_path / "rates.csv"), "-t", "exchange_rates", "-l",
                                   str(tmp_path / "lake")], env=env)  # fmt: skip
        assert done.exit_code == 0, done.output
    lines = (tmp_path / "lake" / "openlineage.jsonl").read_text(encoding="utf-8").splitlines()
    got = events(tmp_path / "lake" / "openlineage.jsonl")
    assert [e["eventType"] for e in got] == ["START", "COMPLETE"] * 2
    assert got[0]["run"]["runId"] == got[1]["run"]["runId"] != got[2]["run"]["runId"]
    assert got[1]["job"] == got[0]["job"]
    assert got[1]["job"]["name"] == "ingest.exchange_rates"
    source, table = got[1]["inputs"][0], got[1]["outputs"][0]
    assert source["name"] == str((tmp_path / "rates.csv").resolve())
    assert source["inputFacets"]["inputStatistics"]["rowCount"] == 4
    assert [f["name"] for f in table["facets"]["schema"]["fields"]] == ["date", "pen_per_usd"]
    assert table["outputFacets"]["outputStatistics"]["rowCount"] == 4
    assert table["facets"]["version"]["datasetVersion"] == "1"
    assert len(table["facets"]["pymescore_sha256"]["sha256"]) == 64
    assert got[3]["outputs"][0]["facets"]["version"]["datasetVersion"] == "1"  # unchanged: no new version
    assert [p for p, _, _ in marquez.posts] == ["/api/v1/lineage"] * 4
    assert [b.decode() for _, _, b in marquez.posts] == lines  # the same events, byte for byte
    assert all(h["Authorization"] == f"Bearer {KEY}" for _, h, _ in marquez.posts)
    assert KEY not in "".join(lines)


def test_an_endpoint_that_fails_never_fails_the_command(
    marquez: Recorder, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "rates.csv").write_text(RATES_CSV)
    marquez.status = 500
    with socket.socket() as s:  # a port with nothing behind it
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    for i, url in enumerate((marquez.url, closed)):
        with caplog.at_level(logging.WARNING, logger="pymescore.lineage"):
            args = ["ingest", "-s", str(tmp_path / "rates.csv"), "-t", "exchange_rates", "-l", str(tmp_path / f"l{i}")]
            done = runner.invoke(app, args, env=_env(PYMESCORE_OPENLINEAGE_URL=url))
        assert done.exit_code == 0, done.output
        assert [e["eventType"] for e in events(tmp_path / f"l{i}" / "openlineage.jsonl")] == ["START", "COMPLETE"]
    assert len(marquez.posts) == 2
    assert sum("could not send" in r.getMessage() for r in caplog.records) == 4


def test_a_failure_is_a_fail_event_with_the_reason_and_no_secret(tmp_path: Path) -> None:
    url = "postgresql://scorer:Pw-9f3k2l@127.0.0.1:9/core"  # port 9: refused
    done = runner.invoke(app, ["ingest", "-s", url, "--sql-table", "pagos", "-t", "payments", "-l",
                               str(tmp_path / "lake")], env=_env())  # fmt: skip
    assert done.exit_code != 0
    text = (tmp_path / "lake" / "openlineage.jsonl").read_text(encoding="utf-8")
    got = events(tmp_path / "lake" / "openlineage.jsonl")
    assert [e["eventType"] for e in got] == ["START", "FAIL"]
    assert got[1]["inputs"][0]["namespace"] == "postgres://127.0.0.1:9"
    assert got[1]["inputs"][0]["name"] == "core.pagos"
    assert "SOURCE_UNREADABLE" in got[1]["run"]["facets"]["errorMessage"]["message"]
    assert "Pw-9f3k2l" not in text
    assert "scorer" not in text


def test_events_rebuild_the_chain_from_raw_files_to_a_scored_table(tmp_path: Path) -> None:
    from pymescore.bundle import load_bundle
    from pymescore.simulate import SimulationConfig, simulate, write_simulation

    write_simulation(simulate(SimulationConfig(firms=400, months=36, seed=3, error_rate=0.0)), tmp_path / "sim")
    lake, snap, bundle = tmp_path / "lake", tmp_path / "snap.parquet", tmp_path / "models" / "bundle"
    env = _env(PYMESCORE_MLFLOW_URI=f"sqlite:///{tmp_path / 'mlflow.db'}")
    pf = tmp_path / "p"
    for args in (["ingest-folder", str(tmp_path / "sim"), "--lake", str(lake)],
                 ["features", "--lake", str(lake), "--as-of", "2023-06-30,2023-12-31", "--out", str(snap)],
                 ["train", "--table", str(snap), "--target", "default_12m", "--trials", "1", "--time-budget", "5",
                  "--no-embargo", "--out", str(bundle)],
                 ["score", "--bundle", str(bundle), "--table", str(snap), "--out", str(bundle.parent / "s.csv")],
                 ["portfolio", "--lake", str(lake), "--as-of", "2024-12-31", "--out", str(pf)]):  # fmt: skip
        done = runner.invoke(app, args, env=env)
        assert done.exit_code == 0, (args[0], done.output)
    from pymescore.service import AuditStore

    audit = f"sqlite:///{tmp_path / 'audit.db'}"
    store = AuditStore(audit)
    store.migrate()
    store.dispose()
    watched = runner.invoke(app, ["monitor", "--bundle", str(bundle), "--database-url", audit,
                                  "--lake", str(lake), "--out", str(tmp_path / "mon")], env=env)  # fmt: skip
    assert watched.exit_code == 0, watched.output
    in_lake = events(lake / "openlineage.jsonl")
    beside = events(tmp_path / "models" / "openlineage.jsonl")  # train and score have no lake: beside their output
    done = {e["job"]["name"]: e for e in in_lake + beside if e["eventType"] == "COMPLETE"}
    assert set(done) == {"ingest", "features", "train", "score", "portfolio", "monitor"}
    assert {Path(d["name"]).name for d in done["monitor"]["outputs"]} == {
        "monitor.json",
        "monitor.html",
        "monitor.prom",
    }
    assert done["monitor"]["inputs"][1]["name"].endswith("audit.db/decisions")

    def version(d: dict[str, Any]) -> str:
        return str(d["facets"]["version"]["datasetVersion"])

    raw = {Path(d["name"]).stem: d for d in done["ingest"]["inputs"]}
    assert version(raw["firms"]) == done["ingest"]["inputs"][1]["facets"]["pymescore_sha256"]["sha256"]
    tables = {d["name"]: version(d) for d in done["ingest"]["outputs"]}
    assert tables[f"{lake.resolve()}/firms"] == "1"
    assert {d["name"]: version(d) for d in done["features"]["inputs"]} == tables  # the versions features read
    assert done["features"]["outputs"][0]["name"] == done["train"]["inputs"][0]["name"] == str(snap.resolve())
    assert version(done["features"]["outputs"][0]) == version(done["train"]["inputs"][0])  # same snapshot bytes
    model = load_bundle(bundle).version
    assert version(done["train"]["outputs"][0]) == version(done["score"]["inputs"][0]) == model
    assert done["portfolio"]["outputs"], "the portfolio's files"


@pytest.mark.slow
def test_the_events_of_make_demo_lead_from_a_raw_file_to_a_served_decision(tmp_path: Path) -> None:
    """The chain of the acceptance: raw firms file → lake version → snapshot → bundle version → the model version
    of a decision the service stored."""
    import sqlalchemy as sa

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    demo = tmp_path / "demo"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYMESCORE_")}
    make = ["make", "-C", str(ROOT), "demo", f"DEMO_DIR={demo}", "DEMO_FIRMS=1500", "DEMO_SERVE=0", f"DEMO_PORT={port}"]
    made = subprocess.run(make, env=env, capture_output=True, text=True, timeout=1500, check=False)
    assert made.returncode == 0, made.stdout[-3000:] + made.stderr[-3000:]
    done = {
        e["job"]["name"]: e
        for e in events(demo / "lake" / "openlineage.jsonl") + events(demo / "openlineage.jsonl")
        if e["eventType"] == "COMPLETE"
    }
    raw = next(d for d in done["ingest"]["inputs"] if d["name"].endswith("/sim/firms.parquet"))
    firms = next(d for d in done["ingest"]["outputs"] if d["name"].endswith("/lake/firms"))
    assert (
        raw["facets"]["pymescore_sha256"]["sha256"]
        == __import__("hashlib").sha256((demo / "sim" / "firms.parquet").read_bytes()).hexdigest()
    )
    read = next(d for d in done["features"]["inputs"] if d["name"] == firms["name"])
    assert read["facets"]["version"] == firms["facets"]["version"]
    snapshot = done["features"]["outputs"][0]
    assert done["train"]["inputs"][0]["facets"]["pymescore_sha256"] == snapshot["facets"]["pymescore_sha256"]
    model_version = done["train"]["outputs"][0]["facets"]["version"]["datasetVersion"]
    engine = sa.create_engine(f"sqlite:///{demo / 'audit.db'}")
    with engine.connect() as conn:
        served = {r[0] for r in conn.execute(sa.text("SELECT model_version FROM decisions"))}
    engine.dispose()
    assert served == {model_version}


def test_module_is_importable_without_the_cli() -> None:
    """The lineage package stands below the CLI and the pipelines: importing it loads neither."""
    code = "import sys, pymescore.lineage; print(any(m.startswith('pymescore.cli') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_a_folder_holding_only_lineage_events_is_still_an_empty_lake(tmp_path: Path) -> None:
    """A FAIL event of a first run may be written before the lake exists: that folder stays usable as a lake, and
    a folder with other files is still refused."""
    from pymescore.errors import LakeError
    from pymescore.lake import Lake

    (tmp_path / "openlineage.jsonl").write_text("{}\n")
    assert Lake(tmp_path).tables() == []
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(LakeError, match="expected a pymescore lake"):
        Lake(tmp_path).tables()
