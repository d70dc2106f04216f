"""The lake on object storage, against a local server speaking the S3 protocol (moto, started here): commits,
buckets, the lock, and a writer killed in the middle of an ingest."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from pymescore.errors import LakeError
from pymescore.lake import Lake
from tests.helpers import make_ruc
from tests.s3_server import S3, s3_server

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def s3() -> Iterator[S3]:
    with s3_server() as server:
        yield server


def _firms(n: int, start: int = 0) -> pd.DataFrame:
    return pd.DataFrame({"ruc": [make_ruc(start + i) for i in range(n)], "name": [f"f{i}" for i in range(n)]})


def _write(lake: Lake, table: str, data: pd.DataFrame, note: str = "") -> int:
    with lake.locked():
        return lake.write(table, data, pd.DataFrame({"reason": []}), [*lake.lineage(table), {"note": note}]).version


def test_versions_commit_by_the_manifest_and_old_ones_are_pruned(s3: S3) -> None:
    url = s3.bucket() + "/lake"
    lake = Lake(url)
    assert lake.remote
    assert lake.tables() == []
    for k in range(4):
        assert _write(lake, "firms", _firms(3 + k), f"v{k + 1}") == k + 1
    assert lake.versions() == {"firms": 4}
    assert len(lake.read("firms")) == 6
    assert [r["note"] for r in lake.lineage("firms")] == ["v1", "v2", "v3", "v4"]
    prefixes = {k.split("/")[1].split("-")[0] for k in s3.keys(url) if k.startswith("firms/")}
    assert prefixes == {"v000002", "v000003", "v000004"}  # the current one and KEEP_VERSIONS before it
    assert json.loads(Lake(url)._store.read_text("_manifest.json") or "{}")["tables"]["firms"]["version"] == 4


def test_a_bucketed_lake_on_s3_reads_each_firms_rows_from_its_bucket(s3: S3) -> None:
    url = s3.bucket() + "/lake"
    lake = Lake(url, buckets=4)
    data = _firms(40)
    _write(lake, "firms", data)
    assert lake.current("firms").buckets == 4  # type: ignore[union-attr]
    parts = [lake.read_bucket("firms", b, 4) for b in range(4)]
    together = pd.concat(parts).sort_values("ruc").reset_index(drop=True)
    pd.testing.assert_frame_equal(together, data.sort_values("ruc").reset_index(drop=True))
    assert lake.read_firm("firms", data["ruc"][7])["name"].tolist() == ["f7"]
    pinned = lake.pinned()
    _write(lake, "firms", _firms(5))
    assert len(pinned.read("firms")) == 40  # a job's workers read the versions it started with
    assert len(lake.read("firms")) == 5
    with pytest.raises(LakeError, match="pinned"):
        pinned.write("firms", data, pd.DataFrame(), [])


def test_the_lock_object_keeps_a_second_writer_out(s3: S3) -> None:
    lake = Lake(s3.bucket() + "/lake")
    second = Lake(str(lake.root))
    with lake.locked(), pytest.raises(LakeError, match="write lock") as caught, second.locked(timeout=0.5):
        pass
    assert caught.value.code == "LAKE_LOCKED"
    with lake.locked(timeout=1):  # released: taken again at once
        pass


_SLOW_WRITER = """
import sys, time
import pandas as pd
from pymescore.lake import Lake
from pymescore.lake import _store

original = _store._ObjectStage.write_table
def slow(self, name, table):
    original(self, name, table)
    print("wrote", name, flush=True)
    time.sleep(120)  # the test kills the process here: a bucket file of the data written, nothing else
_store._ObjectStage.write_table = slow
lake = Lake(sys.argv[1])
data = pd.read_parquet(sys.argv[2])
with lake.locked():
    lake.write("firms", data, pd.DataFrame({"reason": []}), lake.lineage("firms") + [{"note": "killed"}])
"""


def test_a_writer_killed_mid_ingest_leaves_the_previous_version_and_lists_no_partial_one(
    s3: S3, tmp_path: Path
) -> None:
    url = s3.bucket() + "/lake"
    lake = Lake(url, buckets=2)
    before = _firms(10)
    _write(lake, "firms", before, "v1")
    manifest = lake.manifest()
    (tmp_path / "new.parquet").write_bytes(b"")
    _firms(25, 100).to_parquet(tmp_path / "new.parquet")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.Popen([sys.executable, "-c", _SLOW_WRITER, url, str(tmp_path / "new.parquet")], env=env,
                            stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().startswith("wrote data/")  # a bucket file of version 2 is on the server
        partial = [k for k in s3.keys(url) if k.startswith("firms/v000002")]
        assert partial, "the writer wrote objects of its version before it was killed"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.communicate()  # reaped: its pid is gone, so its lock can be taken over
    reader = Lake(url)
    assert reader.manifest() == manifest  # the commit point never moved
    assert reader.versions() == {"firms": 1}
    pd.testing.assert_frame_equal(reader.read("firms").sort_values("ruc").reset_index(drop=True),
                                  before.sort_values("ruc").reset_index(drop=True))  # fmt: skip
    assert [r["note"] for r in reader.lineage("firms")] == ["v1"]
    # the next writer takes over the dead writer's lock, sweeps its prefix and commits version 2
    start = time.monotonic()
    assert _write(reader, "firms", _firms(3, 500), "v2") == 2
    assert time.monotonic() - start < 30
    prefixes = {k.split("/")[1] for k in s3.keys(url) if k.startswith("firms/v000002")}
    assert prefixes == {reader.manifest()["tables"]["firms"]["path"].split("/")[1]}
    assert len(reader.read("firms")) == 3


@pytest.mark.slow
def test_a_lake_on_s3_ingests_validates_builds_features_and_scores(
    s3: S3, tmp_path: Path, sme_bundle: dict[str, object]
) -> None:
    """The commands on s3:// URLs give what they give on local folders: the same snapshot, the same scores."""
    from typer.testing import CliRunner

    from pymescore.bundle import load_bundle
    from pymescore.cli import _register, app
    from pymescore.features._snapshot import build_snapshot
    from pymescore.scoring import score
    from pymescore.simulate import SimulationConfig, simulate, write_simulation
    from pymescore.sources import ingest_folder
    from pymescore.storage import filesystem, upload_tree

    _register()
    runner = CliRunner()
    write_simulation(simulate(SimulationConfig(firms=400, months=30, seed=5)), tmp_path / "sim")
    bucket = s3.bucket()
    url = f"{bucket}/lake"

    def run(*args: str) -> dict[str, object]:
        result = runner.invoke(app, list(args), catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return json.loads(result.output.strip().splitlines()[-1])  # type: ignore[no-any-return]

    ingested = run("ingest-folder", str(tmp_path / "sim"), "--lake", url)
    assert {s["table"] for s in ingested} >= {"firms", "monthly_cashflows", "bureau_ratings"}  # type: ignore[index, union-attr]
    assert run("lake", "validate", "--lake", url)["ok"] is True
    dates = "2024-06-30,2024-12-31"
    run("features", "--lake", url, "--as-of", dates, "--out", f"{bucket}/snapshot.parquet")
    fs, key = filesystem(f"{bucket}/snapshot.parquet")
    remote = pd.read_parquet(key, filesystem=fs)
    local_lake = Lake(tmp_path / "lake")
    ingest_folder(tmp_path / "sim", local_lake)
    local, _ = build_snapshot(local_lake, dates.split(","))
    pd.testing.assert_frame_equal(remote, local)
    assert fs.exists(f"{key}.lineage.json")

    upload_tree(Path(str(sme_bundle["bundle"])), f"{bucket}/bundle", last=("manifest.json",))
    run("score", "--bundle", f"{bucket}/bundle", "--table", f"{bucket}/snapshot.parquet", "--out",
        f"{bucket}/scores.parquet")  # fmt: skip
    fs, key = filesystem(f"{bucket}/scores.parquet")
    scored = pd.read_parquet(key, filesystem=fs)
    expected = score(load_bundle(Path(str(sme_bundle["bundle"]))), local)
    pd.testing.assert_frame_equal(scored, expected)
    events = [k for k in s3.keys(url) if k.startswith("openlineage/")]
    assert any(k.endswith("COMPLETE.json") for k in events)  # run events as objects: object storage cannot append
