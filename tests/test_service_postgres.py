"""The service on the real PostgreSQL, and concurrency/fault behaviour on both stores.

- integration: migrations, scoring, reading back, history (PostgreSQL; the SQLite suite is test_service.py);
- 50 concurrent requests with one Idempotency-Key against a live uvicorn server → exactly one audit row;
- audit store down (a TCP proxy in front of PostgreSQL is cut) → 503 within 2 s, /readyz 503, /healthz 200,
  nothing acknowledged that was not stored, and the service resumes by itself.
"""

from __future__ import annotations

import copy
import shutil
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from pymescore.service import application_bodies
from pymescore.sources._readers import _driver_url
from tests.service_support import TcpProxy, live_server, make_app


@pytest.fixture(scope="module")
def bodies(sme_bundle: dict[str, Any]) -> list[dict[str, Any]]:
    tables = sme_bundle["tables"]
    rucs = [str(r) for r in tables["firms"]["ruc"].iloc[:40]]
    return application_bodies(tables, rucs, sme_bundle["as_of"])


def _scorable(client: TestClient, headers: dict[str, str], bodies: list[dict[str, Any]]) -> dict[str, Any]:
    r = client.post("/v1/scores:batch", json={"applications": bodies[:20]}, headers=headers)
    index = next(i["index"] for i in r.json()["results"] if i["status"] == 201)
    return copy.deepcopy(bodies[index])


@pytest.fixture
def bundle_copy(sme_bundle: dict[str, Any], tmp_path: Path) -> Path:
    shutil.copytree(sme_bundle["bundle"], tmp_path / "bundle")
    return tmp_path / "bundle"


@pytest.mark.postgres
def test_postgres_audit_store_end_to_end(
    pg_schema: tuple[str, str], bundle_copy: Path, bodies: list[dict[str, Any]]
) -> None:
    url, schema = pg_schema
    app, state = make_app(bundle_copy, url, schema=schema)
    assert state.store.migrate() == "0008"  # idempotent: a second upgrade is a no-op
    key, _ = state.store.create_key("bank-a", ["score", "read"])
    h = {"Authorization": f"Bearer {key}"}
    with TestClient(app) as c:
        body = _scorable(c, h, bodies)
        r = c.post("/v1/scores", json=body, headers=h)
        assert r.status_code == 201, r.text
        out = r.json()
        assert c.get(f"/v1/scores/{out['score_id']}", headers=h).json() == out
        assert out["score_id"] in [
            i["score_id"] for i in c.get(f"/v1/scores?ruc={body['ruc']}", headers=h).json()["items"]
        ]
        assert c.get("/readyz").status_code == 200
    engine = sa.create_engine(_driver_url(url))
    with engine.connect() as conn:
        row = conn.execute(sa.text(f'SELECT ruc, decision, model_version FROM "{schema}".decisions WHERE id = :i'),
                           {"i": out["score_id"]}).one()  # fmt: skip
    engine.dispose()
    assert tuple(row) == (body["ruc"], out["decision"], out["model_version"])


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str | None]]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'audit.db'}", None
    else:
        yield request.getfixturevalue("pg_schema")


def test_fifty_concurrent_retries_with_one_idempotency_key_store_one_decision(
    store: tuple[str, str | None], bundle_copy: Path, bodies: list[dict[str, Any]]
) -> None:
    url, schema = store
    app, state = make_app(bundle_copy, url, schema=schema)
    key, _ = state.store.create_key("bank-a", ["score", "read"])
    h = {"Authorization": f"Bearer {key}", "Idempotency-Key": "application-7781"}
    with live_server(app) as base, httpx.Client(base_url=base, timeout=60) as client:
        body = _scorable(client, {"Authorization": h["Authorization"]}, bodies)  # type: ignore[arg-type]
        before = state.store.count()

        def send(_: int) -> httpx.Response:
            return client.post("/v1/scores", json=body, headers=h)

        with ThreadPoolExecutor(max_workers=50) as pool:
            responses = list(pool.map(send, range(50)))
    statuses = [r.status_code for r in responses]
    assert all(s in (201, 409) for s in statuses), statuses
    created = [r.json() for r in responses if r.status_code == 201]
    assert created
    assert all(c == created[0] for c in created)
    assert state.store.count() == before + 1
    assert state.store.count(idempotency_key="application-7781") == 1


@pytest.mark.postgres
def test_audit_store_outage_is_503_fast_and_recovers(
    pg_schema: tuple[str, str], bundle_copy: Path, bodies: list[dict[str, Any]]
) -> None:
    url, schema = pg_schema
    parts = urlsplit(url)
    proxy = TcpProxy((parts.hostname or "127.0.0.1", parts.port or 5432))
    proxy.start()
    proxied = url.replace(parts.netloc, f"{parts.username + '@' if parts.username else ''}127.0.0.1:{proxy.port}")
    app, state = make_app(bundle_copy, proxied, schema=schema)
    key, _ = state.store.create_key("bank-a", ["score", "read"])
    h = {"Authorization": f"Bearer {key}"}
    acknowledged: list[str] = []
    try:
        with TestClient(app) as c:
            body = _scorable(c, h, bodies)
            acknowledged += state.store.ids()  # the batch that found a scorable body was stored too
            r = c.post("/v1/scores", json=body, headers=h)
            assert r.status_code == 201
            acknowledged.append(r.json()["score_id"])

            proxy.cut()
            for _ in range(3):
                start = time.perf_counter()
                r = c.post("/v1/scores", json=body, headers=h)
                assert time.perf_counter() - start < 2.0
                assert r.status_code == 503, r.text
                assert r.json()["code"] == "AUDIT_UNAVAILABLE"
            assert c.get("/readyz").status_code == 503
            assert c.get("/healthz").status_code == 200

            proxy.start()
            deadline = time.monotonic() + 20
            while c.get("/readyz").status_code != 200:
                assert time.monotonic() < deadline, "the service did not recover when the store came back"
                time.sleep(0.2)
            r = c.post("/v1/scores", json=body, headers=h)
            assert r.status_code == 201
            acknowledged.append(r.json()["score_id"])
    finally:
        proxy.cut()
        state.store.dispose()
    direct = make_app(bundle_copy, url, schema=schema)[1].store
    assert direct.ids() == set(acknowledged)  # every acknowledged decision stored, and nothing else
    direct.dispose()
