"""Benchmark: each workbench page's server time with 10,000 decisions in the audit store, SQLite and PostgreSQL.

For each backend a fresh store is filled (``bench._console_fill``: decisions as the API stores them, spread over
bands, outcomes, regions, sectors, sizes and 24 months, people's actions on about a third of the reviews and a
few overrides, one case with uploaded histories), then every page is requested in process through the ASGI app
(Starlette's TestClient, a logged-in session: an officer, or the reviewer for the dashboard), ``--requests`` times
after 3 warm-up requests: p50 and p95 per page. The baseline measured in the same run is ``GET /healthz`` through
the same client (the framework and transport alone). Target: p95 <= 300 ms per page.

PostgreSQL: a schema made for the run and dropped after it, in ``--postgres-url`` (default CI's
``postgresql://postgres@127.0.0.1:5432/test``).

    python -m bench.console_pages --decisions 10000 --requests 30 --out bench/results/console-pages.json
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa

from bench._common import write_result

TARGET_P95_MS = 300.0
WARM_UP = 3
POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
TENANT = "bench"
FIRM_PAGE = "/app/empresas/{ruc}"


def pages(case_id: str, history: str | None) -> dict[str, tuple[str, str]]:
    """Page name -> (who asks, path): ``anon`` is not logged in; ``history`` the firm-history route, if any."""
    out = {
        "login": ("anon", "/app/login"),
        "solicitudes": ("officer", "/app/solicitudes"),
        "bandeja": ("officer", "/app/bandeja"),
        "bandeja_filtered": ("officer", "/app/bandeja?band=C&region=01&min_amount=10000&min_age=5"),
        "resultado": ("officer", f"/app/solicitudes/{case_id}"),
        "nueva": ("officer", "/app/solicitudes/nueva"),
        "panel": ("reviewer", "/app/panel"),
        "panel_all_time": ("reviewer", "/app/panel?meses=0"),
    }
    if history:
        out["historial"] = ("officer", history)
    return out


@contextlib.contextmanager
def _store_url(backend: str, work: Path, postgres_url: str) -> Iterator[tuple[str, str | None]]:
    if backend == "sqlite":
        yield f"sqlite:///{work / 'audit.db'}", None
        return
    from pymescore.sources._readers import _driver_url

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine(_driver_url(postgres_url))
    with engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield postgres_url, schema
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


def _timed(get: Callable[[], Any], n: int) -> tuple[list[float], int, int]:
    """Milliseconds of ``n`` requests after the warm-up; the last status and body size."""
    for _ in range(WARM_UP):
        get()
    times, status, size = [], 0, 0
    for _ in range(n):
        start = time.perf_counter()
        response = get()
        times.append((time.perf_counter() - start) * 1000)
        status, size = response.status_code, len(response.content)
    return times, status, size


def _summary(times: list[float], status: int, size: int) -> dict[str, Any]:
    return {"requests": len(times), "p50_ms": round(float(np.percentile(times, 50)), 2),
            "p95_ms": round(float(np.percentile(times, 95)), 2), "max_ms": round(max(times), 2),
            "status": status, "bytes": size}  # fmt: skip


def measure(backend: str, decisions: int, requests: int, postgres_url: str = POSTGRES,
            only: frozenset[str] = frozenset()) -> dict[str, Any]:  # fmt: skip
    """Fill a fresh store of ``backend`` and time every page; the result of one backend."""
    from fastapi.testclient import TestClient

    from bench._console_fill import fill
    from pymescore.config import Settings
    from pymescore.service import build_state, create_app
    from pymescore.service.console import Accounts

    with tempfile.TemporaryDirectory() as tmp, _store_url(backend, Path(tmp), postgres_url) as (url, schema):
        work = Path(tmp)
        settings = Settings(serve_bundle=work / "no-bundle", database_url=url, reload_interval_s=0, lake=work / "lake",
                            monitor_dir=work / "monitoring", auth_failures_per_min=0)  # fmt: skip
        state = build_state(settings, schema=schema)
        try:
            state.store.migrate()
            start = time.perf_counter()
            filled = fill(state.store, TENANT, decisions)
            fill_s = time.perf_counter() - start
            accounts = Accounts(state.store)
            app = create_app(state)
            clients = {"anon": TestClient(app)}
            for role, limit in (("officer", 50_000.0), ("reviewer", None)):
                password, _ = accounts.create_user(TENANT, f"bench-{role}", role, limit)
                clients[role] = _logged_in(TestClient(app), f"bench-{role}", password)
            ruc = state.store.get(TENANT, filled["case_id"])["ruc"]  # type: ignore[index]
            firm = FIRM_PAGE.replace("{ruc}", ruc)  # issue 19 item 6: timed where the app has it
            history = FIRM_PAGE if clients["officer"].get(firm).status_code == 200 else None
            out: dict[str, Any] = {"fill_s": round(fill_s, 1), **filled, "pages": {}}
            out["baseline_healthz"] = _summary(*_timed(lambda: clients["anon"].get("/healthz"), requests))
            for name, (who, path) in pages(filled["case_id"], history).items():
                if only and name not in only:
                    continue
                client, target = clients[who], path.replace("{ruc}", ruc)
                timed = _timed(lambda c=client, p=target: c.get(p), requests)
                out["pages"][name] = {"path": target, **_summary(*timed)}
            out["within_target"] = all(p["p95_ms"] <= TARGET_P95_MS and p["status"] == 200
                                       for p in out["pages"].values())  # fmt: skip
            return out
        finally:
            state.store.dispose()


def _logged_in(client: Any, username: str, password: str) -> Any:
    import re

    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/app/login").text)
    assert token is not None
    answer = client.post("/app/login", data={"username": username, "password": password, "csrf_token": token.group(1)},
                         follow_redirects=False)  # fmt: skip
    if answer.status_code != 303 or "failed" in answer.headers.get("location", ""):
        raise SystemExit(f"bench: expected {username} to log in, got {answer.status_code} {answer.headers}")
    return client


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--decisions", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=30, help="timed requests per page (after 3 warm-ups)")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--postgres-url", default=POSTGRES)
    parser.add_argument("--pages", default="", help="only these pages (comma-separated names; default: all)")
    parser.add_argument("--out", type=Path, default=Path("bench/results/console-pages.json"))
    args = parser.parse_args(argv)
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    bad = [b for b in backends if b not in ("sqlite", "postgresql")]
    if bad:
        parser.error(f"--backends: expected sqlite and/or postgresql, got {', '.join(bad)}")
    result: dict[str, Any] = {"benchmark": "console_pages", "decisions": args.decisions, "requests": args.requests,
                              "target_p95_ms": TARGET_P95_MS, "backends": {}}  # fmt: skip
    for backend in backends:
        only = frozenset(p.strip() for p in args.pages.split(",") if p.strip())
        result["backends"][backend] = measure(backend, args.decisions, args.requests, args.postgres_url, only)
    result["within_target"] = all(b["within_target"] for b in result["backends"].values())
    write_result(result, args.out)
    return result


if __name__ == "__main__":
    main()
