"""A frozen audit database (every process SIGSTOPped, TCP still up): every answer within 2.5 s, and the decisions
acknowledged are exactly the decisions stored — none committed after its client got a 503.

The test starts its own PostgreSQL (tests/own_postgres.py); it skips, with the reason, on a machine that cannot
run one, which CI (``.ci/run``, CI=true) turns into a failure.
"""

from __future__ import annotations

import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from pymescore.service import application_bodies
from tests.own_postgres import OwnPostgres, own_postgres
from tests.service_support import live_server, make_app

#: the README's promise is 503 within 2 s; the acceptance allows 2.5 s measured by the client
LIMIT_S = 2.5
CLIENTS = 4


@pytest.fixture(scope="module")
def frozen_pg() -> Iterator[OwnPostgres]:
    try:
        with own_postgres() as pg:
            yield pg
    except RuntimeError as exc:
        pytest.skip(f"cannot start a PostgreSQL of the test's own: {exc}")


def _scorable(base: str, auth: dict[str, str], bodies: list[dict[str, Any]]) -> dict[str, Any]:
    r = httpx.post(f"{base}/v1/scores:batch", json={"applications": bodies[:20]}, headers=auth, timeout=60)
    return bodies[next(i["index"] for i in r.json()["results"] if i["status"] == 201)]


@pytest.mark.postgres
@pytest.mark.parametrize("freeze_s", [20, 60])
def test_frozen_database_answers_fast_and_stores_only_what_it_acknowledged(
    frozen_pg: OwnPostgres, sme_bundle: dict[str, Any], tmp_path: Path, freeze_s: int
) -> None:
    shutil.copytree(sme_bundle["bundle"], tmp_path / "bundle")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    import sqlalchemy as sa

    from pymescore.sources._readers import _driver_url

    admin = sa.create_engine(_driver_url(frozen_pg.url))
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    app, state = make_app(tmp_path / "bundle", frozen_pg.url, schema=schema)
    key, _ = state.store.create_key("bank-a", ["score", "read"])
    auth = {"Authorization": f"Bearer {key}"}
    tables = sme_bundle["tables"]
    bodies = application_bodies(tables, [str(r) for r in tables["firms"]["ruc"].iloc[:20]], sme_bundle["as_of"])
    answers: list[tuple[float, int, str | None]] = []  # (seconds, status or 0 for no answer, stored id)
    stop = threading.Event()

    def client(base: str, body: dict[str, Any], n: int) -> None:
        with httpx.Client(base_url=base, timeout=120) as c:
            i = 0
            while not stop.is_set():
                i += 1
                # half the requests carry an Idempotency-Key: the claim and its release run too
                headers = {**auth, **({"Idempotency-Key": f"k-{n}-{i}-{uuid.uuid4().hex[:8]}"} if i % 2 else {})}
                start = time.perf_counter()
                try:
                    r = c.post("/v1/scores", json=body, headers=headers)
                    status, sid = r.status_code, (r.json().get("score_id") if r.status_code == 201 else None)
                except httpx.HTTPError:
                    status, sid = 0, None
                answers.append((time.perf_counter() - start, status, sid))
                time.sleep(0.02)

    try:
        with live_server(app) as base:
            body = _scorable(base, auth, bodies)
            before = state.store.ids()
            threads = [threading.Thread(target=client, args=(base, body, n), daemon=True) for n in range(CLIENTS)]
            for t in threads:
                t.start()
            time.sleep(3)
            pids = frozen_pg.freeze()
            try:
                time.sleep(freeze_s)
            finally:
                frozen_pg.thaw(pids)
            time.sleep(8)  # the service comes back by itself
            stop.set()
            for t in threads:
                t.join(timeout=180)
            time.sleep(3)  # writes abandoned during the freeze have finished (and failed) by now
            stored = state.store.ids() - before
    finally:
        state.store.dispose()
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

    acknowledged = {sid for _, status, sid in answers if status == 201 and sid}
    slow = sorted((round(s, 2), status) for s, status, _ in answers if s > LIMIT_S or status == 0)
    refused = sum(1 for _, st, _ in answers if st == 503)
    slowest = max(s for s, _, _ in answers)
    print(f"freeze {freeze_s}s: {len(answers)} answers, {len(acknowledged)} acknowledged, {refused} 503, "
          f"slowest {slowest:.2f}s, {len(stored)} stored")  # fmt: skip
    assert not slow, f"answers slower than {LIMIT_S}s or never answered: {slow[:10]} ({len(slow)} in all)"
    assert {status for _, status, _ in answers} <= {201, 503}
    assert refused > 0, "the freeze was not noticed"
    assert stored - acknowledged == set(), f"{len(stored - acknowledged)} decisions stored but never acknowledged"
    assert acknowledged - stored == set(), f"{len(acknowledged - stored)} acknowledged decisions not stored"
    assert answers[-1][1] == 201 or any(st == 201 for _, st, _ in answers[-CLIENTS * 3 :]), "did not recover"


def _row(decision_id: str) -> dict[str, Any]:
    import datetime as dt

    return {"id": decision_id, "tenant": "bank-a", "created_at": dt.datetime.now(dt.UTC), "ruc": "20100070970",
            "request_fingerprint": "f" * 64, "idempotency_key": None, "features": {}, "model_version": "m",
            "policy_version": "p", "pd": 0.1, "score": 600, "band": "B", "decision": "approve", "reasons": [],
            "policy_rules": [], "response": {}, "latency_ms": 1.0}  # fmt: skip


@pytest.mark.postgres
def test_postgres_refuses_a_commit_read_after_the_writes_deadline(pg_schema: tuple[str, str]) -> None:
    """What a COMMIT sent before a freeze and read after it meets: the trigger of migration 0003 rolls it back."""
    import sqlalchemy as sa

    from pymescore.service._deadline import WriteGate
    from pymescore.service._store import AuditStore, StoreUnavailableError

    url, schema = pg_schema
    store = AuditStore(url, schema=schema)
    try:
        store.migrate()
        gate = WriteGate(time.time() + 0.3)

        class Late(WriteGate):  # the service's own check passes: only the database is left to refuse
            def begin_commit(self) -> bool:
                time.sleep(0.6)
                return True

        with pytest.raises(StoreUnavailableError):
            store.record([_row("late")], None, Late(gate.deadline))
        store.record([_row("in-time")], None, WriteGate(time.time() + 5))
        with store.engine.connect() as conn:  # outside a write nothing is checked (no deadline is set)
            conn.execute(sa.text("SELECT 1"))
        assert store.ids() == {"in-time"}
    finally:
        store.dispose()


def test_a_write_commits_only_while_its_gate_is_open(tmp_path: Path) -> None:
    from pymescore.service._deadline import WriteGate
    from pymescore.service._store import AuditStore, StoreUnavailableError

    store = AuditStore(f"sqlite:///{tmp_path / 'audit.db'}")
    store.migrate()
    abandoned = WriteGate(time.time() + 5)
    assert abandoned.abandon()
    late = WriteGate(time.time() - 0.01)
    for gate in (abandoned, late):
        with pytest.raises(StoreUnavailableError):
            store.record([_row(f"refused-{id(gate)}")], None, gate)
    committing = WriteGate(time.time() + 5)
    store.record([_row("kept")], None, committing)
    assert not committing.abandon()  # too late to abandon: the commit had begun
    assert store.ids() == {"kept"}
    store.dispose()


def test_a_write_stuck_past_its_deadline_is_503_in_time_and_never_commits(
    sme_bundle: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database's answer is late (a stall the thread cannot see): 503 within the budget, and the write, when
    it resumes, is rolled back instead of storing a decision nobody received."""
    from fastapi.testclient import TestClient

    shutil.copytree(sme_bundle["bundle"], tmp_path / "bundle")
    app, state = make_app(tmp_path / "bundle", f"sqlite:///{tmp_path / 'audit.db'}")
    key, _ = state.store.create_key("bank-a", ["score", "read"])
    auth = {"Authorization": f"Bearer {key}"}
    tables = sme_bundle["tables"]
    bodies = application_bodies(tables, [str(r) for r in tables["firms"]["ruc"].iloc[:20]], sme_bundle["as_of"])
    record = state.store.record
    resumed = threading.Event()

    def stalled(*args: Any) -> None:
        time.sleep(3)
        try:
            record(*args)
        finally:
            resumed.set()

    with TestClient(app) as c:
        r = c.post("/v1/scores:batch", json={"applications": bodies[:20]}, headers=auth)
        body = bodies[next(i["index"] for i in r.json()["results"] if i["status"] == 201)]
        before = state.store.ids()
        monkeypatch.setattr(state.store, "record", stalled)
        start = time.perf_counter()
        r = c.post("/v1/scores", json=body, headers={**auth, "Idempotency-Key": "stalled-1"})
        took = time.perf_counter() - start
        assert r.status_code == 503, r.text
        assert took < 2.0, took
        assert resumed.wait(10)
        monkeypatch.undo()
        assert state.store.ids() == before
        r = c.post("/v1/scores", json=body, headers={**auth, "Idempotency-Key": "stalled-1"})
        assert r.status_code == 201  # the key was released: the retry decides, once
    assert state.store.ids() == before | {r.json()["score_id"]}
