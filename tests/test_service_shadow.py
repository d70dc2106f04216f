"""The shadow challenger: every decided application is also scored by the registry's challenger, whose decision is
stored (``shadow_decisions``) and never returned; a failing challenger changes no answer; monitor compares the two."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from pymescore.bundle import load_bundle
from pymescore.features._snapshot import build_snapshot
from pymescore.model import TrainConfig
from pymescore.runs import run_training
from pymescore.service import Scorer, ScoreRequest, application_bodies, load_policy, shadow_pairs
from pymescore.service._shadow import LINGER_S, ShadowJob
from tests.service_support import keys, make_app

VOLATILE = ("score_id", "created_at")


@pytest.fixture(scope="module")
def challenger(sme_bundle: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Another model of the same population (other seed, fewer features): it disagrees on some applications."""
    frame, _ = build_snapshot(sme_bundle["lake"], ["2023-12-31", "2024-12-31"])
    frame = frame.drop(columns=[c for c in frame.columns if c.startswith("bureau_")])
    out = tmp_path_factory.mktemp("challenger") / "bundle"
    config = TrainConfig(target="default_12m", group_col="ruc", time_col="as_of", trials=1, time_budget=5.0, folds=3,
                         seed=7)  # fmt: skip
    run_training(frame, config, out, dataset="sim-challenger")
    assert load_bundle(out).version != load_bundle(sme_bundle["bundle"]).version
    return out


@pytest.fixture(scope="module")
def bodies(sme_bundle: dict[str, Any]) -> list[dict[str, Any]]:
    tables = sme_bundle["tables"]
    rucs = [str(r) for r in tables["firms"]["ruc"].iloc[:40]]
    return application_bodies(tables, rucs, sme_bundle["as_of"])


def _client(bundle: Path, db: Path, lake: Path, **settings: Any) -> tuple[TestClient, Any]:
    app, state = make_app(bundle, f"sqlite:///{db}", lake=lake, **settings)
    return TestClient(app), state


@pytest.fixture(scope="module")
def both(
    sme_bundle: dict[str, Any], challenger: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """The champion served alone, and served with the challenger in its shadow (two stores)."""
    root = tmp_path_factory.mktemp("shadow")
    lake = sme_bundle["lake"].root
    alone, alone_state = _client(sme_bundle["bundle"], root / "alone.db", lake)
    shadowed, state = _client(sme_bundle["bundle"], root / "shadow.db", lake, serve_shadow_bundle=challenger)
    with alone, shadowed:
        yield {"alone": alone, "alone_keys": keys(alone_state), "client": shadowed, "state": state,
               "keys": keys(state), "root": root}  # fmt: skip


def _strip(response: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in response.items() if k not in VOLATILE}


def test_responses_carry_only_the_champions_decision(both: dict[str, Any], bodies: list[dict[str, Any]]) -> None:
    state = both["state"]
    assert state.shadow is not None
    assert state.shadow.version is not None
    champion, challenger = state.served().version, state.shadow.version
    for body in bodies[:12]:
        a = both["alone"].post("/v1/scores", json=body, headers={"Authorization": both["alone_keys"]["all"]})
        b = both["client"].post("/v1/scores", json=body, headers={"Authorization": both["keys"]["all"]})
        assert a.status_code == b.status_code
        if b.status_code != 201:
            continue
        assert _strip(b.json()) == _strip(a.json())  # what the champion alone gives, apart from ids and times
        assert b.json()["model_version"] == champion
        assert challenger not in b.text
    batch = {"applications": bodies[:12]}
    a = both["alone"].post("/v1/scores:batch", json=batch, headers={"Authorization": both["alone_keys"]["all"]})
    b = both["client"].post("/v1/scores:batch", json=batch, headers={"Authorization": both["keys"]["all"]})
    assert [_strip(i["result"] or {}) for i in b.json()["results"]] == [
        _strip(i["result"] or {}) for i in a.json()["results"]
    ]
    assert challenger not in b.text


def test_the_audit_trail_has_both_for_every_request(
    both: dict[str, Any], bodies: list[dict[str, Any]], challenger: Path, sme_bundle: dict[str, Any]
) -> None:
    c, h, state = both["client"], {"Authorization": both["keys"]["all"]}, both["state"]
    ids = []
    for body in bodies[12:20]:
        r = c.post("/v1/scores", json=body, headers=h)
        if r.status_code == 201:
            ids.append(r.json()["score_id"])
    r = c.post("/v1/scores:batch", json={"applications": bodies[20:40]}, headers=h)
    ids += [i["result"]["score_id"] for i in r.json()["results"] if i["status"] == 201]
    assert len(ids) >= 20
    assert state.shadow.drain(60)
    pairs = {p["id"]: p for p in shadow_pairs(state.store) or []}
    assert set(ids) <= set(pairs)
    assert set(pairs) == state.store.ids()  # every stored decision, from every test, has its shadow
    # the shadow row is what the challenger itself decides on the same application
    own = Scorer(load_bundle(challenger), load_policy(None), sme_bundle["lake"].read("exchange_rates"))
    batch = [ScoreRequest.model_validate(b) for b in bodies[20:40]]
    mine = [s for s in own.score(batch) if hasattr(s, "response")]
    stored = [pairs[i] for i in ids[-len(mine) :]]
    assert [round(p["shadow_pd"], 12) for p in stored] == [round(s.response["pd"], 12) for s in mine]
    assert [p["shadow_decision"] for p in stored] == [s.response["decision"] for s in mine]
    assert {p["shadow_model_version"] for p in stored} == {own.version}
    assert state.metrics.shadow_decisions._value.get() >= len(ids)


def test_a_failing_challenger_does_not_affect_answers(
    sme_bundle: dict[str, Any], challenger: Path, bodies: list[dict[str, Any]], tmp_path: Path, both: dict[str, Any]
) -> None:
    client, state = _client(sme_bundle["bundle"], tmp_path / "audit.db", sme_bundle["lake"].root,
                            serve_shadow_bundle=challenger)  # fmt: skip
    with client:
        h = {"Authorization": keys(state)["all"]}
        with state.store.engine.begin() as conn:  # the shadow's table is gone: every shadow write fails
            conn.execute(sa.text("DROP TABLE shadow_decisions"))
        got = [client.post("/v1/scores", json=b, headers=h) for b in bodies[:6]]
        assert state.shadow.drain(60)
        alone = [both["alone"].post("/v1/scores", json=b, headers={"Authorization": both["alone_keys"]["all"]})
                 for b in bodies[:6]]  # fmt: skip
        assert [r.status_code for r in got] == [r.status_code for r in alone]
        assert [_strip(r.json()) for r in got] == [_strip(r.json()) for r in alone]
        assert state.store.count() == sum(r.status_code == 201 for r in got)
        assert state.metrics.shadow_failures.labels("store")._value.get() >= 1
        assert "pymescore_shadow_failures_total" in client.get("/metrics").text


def test_a_full_queue_drops_and_counts(
    sme_bundle: dict[str, Any], challenger: Path, bodies: list[dict[str, Any]], tmp_path: Path
) -> None:
    client, state = _client(sme_bundle["bundle"], tmp_path / "audit.db", sme_bundle["lake"].root,
                            serve_shadow_bundle=challenger, shadow_queue=1)  # fmt: skip
    with client:
        request = ScoreRequest.model_validate(bodies[0])
        assert state.shadow is not None
        with state.champion_busy():  # a champion request in flight: the worker, holding the first job, waits
            state.shadow.submit(ShadowJob([request], ["id-0"], "bank-a", "es"))
            time.sleep(LINGER_S + 0.5)  # the worker stopped gathering jobs and waits for the champion
            for k in range(1, 6):
                state.shadow.submit(ShadowJob([request], [f"id-{k}"], "bank-a", "es"))
            assert state.metrics.shadow_dropped._value.get() == 4  # one queued (the queue holds one), four dropped
        assert state.shadow.drain(60)
        assert "pymescore_shadow_dropped_total" in client.get("/metrics").text


def test_a_tampered_challenger_is_refused_and_the_champion_serves(
    sme_bundle: dict[str, Any], challenger: Path, bodies: list[dict[str, Any]], tmp_path: Path
) -> None:
    forged = tmp_path / "forged"
    shutil.copytree(challenger, forged)
    manifest = json.loads((forged / "manifest.json").read_text())
    victim = forged / next(iter(manifest["files"]))
    victim.write_bytes(victim.read_bytes() + b" ")
    client, state = _client(sme_bundle["bundle"], tmp_path / "audit.db", sme_bundle["lake"].root,
                            serve_shadow_bundle=forged)  # fmt: skip
    with client:
        assert state.shadow.version is None
        assert state.metrics.shadow_failures.labels("load")._value.get() == 1
        r = client.post("/v1/scores", json=bodies[0], headers={"Authorization": keys(state)["all"]})
        assert r.status_code == 201


def test_a_stuck_challenger_process_is_ended_and_the_champion_answers_on(
    sme_bundle: dict[str, Any], challenger: Path, bodies: list[dict[str, Any]], tmp_path: Path
) -> None:
    import os
    import signal

    client, state = _client(sme_bundle["bundle"], tmp_path / "audit.db", sme_bundle["lake"].root,
                            serve_shadow_bundle=challenger)  # fmt: skip
    with client:
        h = {"Authorization": keys(state)["all"]}
        stuck = state.shadow._process
        os.kill(stuck.pid, signal.SIGSTOP)  # it takes nothing more: its socket fills, a write times out
        try:
            got = [client.post("/v1/scores", json=b, headers=h) for b in bodies * 2]
        finally:
            if stuck.is_alive():
                os.kill(stuck.pid, signal.SIGKILL)
        assert {r.status_code for r in got} <= {201, 422}
        assert sum(r.status_code == 201 for r in got) >= len(bodies)
        assert state.metrics.shadow_failures.labels("score")._value.get() >= 1
        stuck.join(10)
        assert not stuck.is_alive()  # ended by the service, not left stopped
        assert state.shadow.version is None
        state.reload(force=True)  # the next reload starts a fresh process
        assert state.shadow.version is not None
        r = client.post("/v1/scores", json=bodies[0], headers=h)
        assert r.status_code == 201
        assert state.shadow.drain(60)
        assert r.json()["score_id"] in {p["id"] for p in shadow_pairs(state.store) or []}


def test_monitor_compares_the_two_on_the_same_traffic(both: dict[str, Any], sme_bundle: dict[str, Any]) -> None:
    from pymescore.pipelines import monitor_store, shadow_comparison_from

    state = both["state"]
    assert state.shadow.drain(60)
    out = both["root"] / "monitoring"
    result, paths = monitor_store(load_bundle(sme_bundle["bundle"]), state.store.url, _epoch(), out)
    shadow = result["shadow"]
    pairs = shadow_pairs(state.store) or []
    assert shadow["n"] == len(pairs) == state.store.count()
    agree = sum(p["decision"] == p["shadow_decision"] for p in pairs)
    assert shadow["agreement"] == round(agree / len(pairs), 4)
    assert shadow["swap_in"]["n"] == sum(p["shadow_decision"] == "approve" != p["decision"] for p in pairs)
    assert set(shadow["by_segment"]) == {"region", "sector", "size_class"}
    assert sum(r["n"] for r in shadow["by_segment"]["region"]) == len(pairs)
    saved = json.loads(paths["json"].read_text())["shadow"]
    assert saved["agreement"] == shadow["agreement"]
    assert "Shadow challenger" in paths["html"].read_text()
    assert "pymescore_monitor_shadow_agreement" in paths["prom"].read_text()
    assert shadow_comparison_from(str(out), shadow["challenger_version"]) == saved


def _epoch() -> Any:
    import datetime as dt

    return dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
