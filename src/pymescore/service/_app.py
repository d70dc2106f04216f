"""The FastAPI application: the routers, the middleware, problem+json errors, the OpenAPI document and the
lifespan (model load, reload polling, purge of old idempotency keys)."""

import asyncio
import contextlib
import datetime as dt
import json
import logging
from collections.abc import AsyncIterator

import anyio
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp

from pymescore.config import Settings
from pymescore.service import _problems as problems
from pymescore.service._guard import Guard, unexpected_handler
from pymescore.service._http import BodyLimit, Observer
from pymescore.service._openapi import openapi_builder
from pymescore.service._problems import ProblemError
from pymescore.service._routes_admin import admin_router
from pymescore.service._routes_docs import mount_docs
from pymescore.service._routes_health import health_router
from pymescore.service._routes_reads import reads_router
from pymescore.service._routes_regulator import regulator_router
from pymescore.service._routes_requests import requests_router
from pymescore.service._routes_scoring import predict_router, scores_router
from pymescore.service._state import ServiceState
from pymescore.service._store import AuditStore
from pymescore.service.console import mount_console

log = logging.getLogger("pymescore.service")

DESCRIPTION = (
    "Authenticate with `Authorization: Bearer <API key>` (create one with `pymescore apikey create`). "
    "Scopes: `score` (POST scoring routes), `read` (GET decisions and the model), `admin` (reload). "
    "`/healthz`, `/readyz` and `/metrics` need no key. Errors are RFC 9457 problem+json with a "
    "field-level `errors` list (language-neutral `code` and `path`; `expected` and `detail` in English, "
    "for the integrating developer); every field problem of a request is listed at once. Send "
    "`Idempotency-Key` to make a retried POST safe: a retry gets the stored answer, in the language it was first "
    "given whatever its `Accept-Language`. Months and dates also read as ISO date-times at midnight "
    "(`2023-01-01T00:00:00.000`, what pandas writes); another time is refused. Reasons, "
    "policy rules and improvement hints are in Spanish unless `Accept-Language` prefers English "
    "(`en`, `en-US`, `es;q=0.5, en;q=0.9`); `Content-Language` says which was used."
)


class _App(FastAPI):
    """FastAPI with ``Guard`` outside Starlette's error middleware (security headers, OPTIONS, quiet errors)."""

    def build_middleware_stack(self) -> ASGIApp:
        return Guard(super().build_middleware_stack(), self.router.routes, self.state.log_salt)


def create_app(state: ServiceState) -> FastAPI:
    settings = state.settings

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if state.scorer is None:
            await anyio.to_thread.run_sync(state.reload, True)
        tasks = [asyncio.create_task(_purge(state)), asyncio.create_task(_count_overdue(state))]
        if settings.reload_interval_s > 0:
            tasks.append(asyncio.create_task(_poll(state)))
        yield
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if state.shadow is not None:  # the jobs already queued are scored (bounded), then the worker ends
            await anyio.to_thread.run_sync(state.shadow.stop)
        state.store.dispose()

    app = _App(
        title="pymescore scoring service",
        version="1",
        summary="Explained credit decisions for Peruvian SMEs, with an audit trail.",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served by mount_docs from the package's own copy of Swagger UI and ReDoc, not a CDN
        redoc_url=None,
    )
    app.add_exception_handler(ProblemError, problems.on_problem)
    app.add_exception_handler(RequestValidationError, problems.on_validation)
    app.add_exception_handler(StarletteHTTPException, problems.on_http)
    app.add_exception_handler(Exception, unexpected_handler(settings.log_salt))
    app.state.log_salt = settings.log_salt
    # added first, so it runs inside ``Observer``: 408s and 413s are counted and logged like every other answer
    limit, timeout_s = settings.max_body_bytes, settings.body_timeout_s
    app.add_middleware(BodyLimit, limit=limit, timeout_s=timeout_s, metrics=state.metrics)
    app.add_middleware(Observer, metrics=state.metrics, server_timing=settings.server_timing)
    # in this order, the OpenAPI document lists the paths as it always has (predict after GET /v1/model)
    for router in (
        scores_router,
        reads_router,
        predict_router,
        admin_router,
        health_router,
        requests_router,
        regulator_router,
    ):
        app.include_router(router(state))
    mount_docs(app)
    mount_console(app, state)  # the lending workbench under /app/

    app.openapi = openapi_builder(app, state)  # type: ignore[method-assign]
    return app


async def _poll(state: ServiceState) -> None:
    """Look for a new model every ``reload_interval_s``; a failure is logged and the next look goes on."""
    while True:
        await asyncio.sleep(state.settings.reload_interval_s)
        try:
            await anyio.to_thread.run_sync(state.reload)
        except Exception as exc:  # a refused model (already logged) or anything else: keep polling
            if not isinstance(exc, ProblemError):
                log.warning(json.dumps({"event": "reload_failed", "reason": f"{type(exc).__name__}: {exc}"[:300]}))


async def _count_overdue(state: ServiceState, every_s: float = 60.0) -> None:
    """Keep the gauge of reason requests past their 7-working-day deadline current (all tenants)."""
    from pymescore.service._applicant_requests import overdue
    from pymescore.service._scorer import today_lima

    while True:
        try:
            n = await anyio.to_thread.run_sync(overdue, state.store, today_lima(), limiter=state.store_slots)
            state.metrics.overdue_reason_requests.set(n)
        except Exception as exc:  # the store is down: the gauge keeps its last value until the next look
            log.warning(json.dumps({"event": "overdue_count_failed", "reason": type(exc).__name__}))
        await asyncio.sleep(every_s)


async def _purge(state: ServiceState) -> None:
    """Forget idempotency keys older than ``idempotency_hours`` (hourly)."""
    hours = dt.timedelta(hours=state.settings.idempotency_hours)
    while True:
        try:
            await anyio.to_thread.run_sync(state.store.purge_idempotency, hours, limiter=state.store_slots)
        except Exception as exc:  # the store is down: try again next hour
            log.warning(json.dumps({"event": "purge_failed", "reason": type(exc).__name__}))
        await asyncio.sleep(3600)


def build_state(settings: Settings, *, schema: str | None = None) -> ServiceState:
    """The state of one worker: audit store, model source, policy, exchange rates (nothing loaded yet)."""
    from pymescore.service._shadow import Shadow
    from pymescore.service._shadow_worker import WorkerSpec
    from pymescore.service._source import (
        exchange_rates,
        policy_from,
        rates_version,
        shadow_source_from,
        source_from,
    )

    source = source_from(settings)
    policy = policy_from(settings)
    store = AuditStore(settings.database_url, schema=schema, timeout_s=settings.store_timeout_s)
    # the lake's rates are read at each load, and a new version of them is a reason to load (the reload poll)
    state = ServiceState(settings, store, source, lambda: source.load(policy, exchange_rates(settings),
                                                                      settings.xgb_threads),
                         rates_probe=lambda: rates_version(settings))  # fmt: skip
    challenger = shadow_source_from(settings)
    if challenger is not None:  # verified and reloaded as the champion is, with the same policy and rates
        # in its own process, which rebuilds the challenger, policy and rates from the same settings
        spec = WorkerSpec(settings, settings.database_url, schema, settings.store_timeout_s)
        state.shadow = Shadow(challenger, spec, state.metrics, settings.shadow_queue)
    return state


def app_from_env() -> FastAPI:
    """The uvicorn factory each worker calls (``pymescore serve`` passes its options as PYMESCORE_* variables)."""
    settings = Settings()
    if not log.handlers:  # one JSON object per line on stderr, whatever the CLI configured for itself
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        log.addHandler(handler)
        log.propagate = False
    log.setLevel(settings.log_level.upper())
    return create_app(build_state(settings))
