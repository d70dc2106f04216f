"""The FastAPI application: the routers, the middleware, problem+json errors, the OpenAPI document and the
lifespan (model load, reload polling, purge of old idempotency keys)."""

import asyncio
import contextlib
import datetime as dt
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import anyio
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from pymescore.config import Settings
from pymescore.service import _problems as problems
from pymescore.service._http import BodyLimit, observer
from pymescore.service._problems import ProblemError
from pymescore.service._routes_admin import admin_router
from pymescore.service._routes_health import health_router
from pymescore.service._routes_reads import reads_router
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
    "for the integrating developer). Send `Idempotency-Key` to make a retried POST safe. Reasons, "
    "policy rules and improvement hints are in Spanish unless `Accept-Language` prefers English "
    "(`en`, `en-US`, `es;q=0.5, en;q=0.9`); `Content-Language` says which was used."
)


def create_app(state: ServiceState) -> FastAPI:
    settings = state.settings

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if state.scorer is None:
            await anyio.to_thread.run_sync(state.reload, True)
        tasks = [asyncio.create_task(_purge(state))]
        if settings.reload_interval_s > 0:
            tasks.append(asyncio.create_task(_poll(state)))
        yield
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        state.store.dispose()

    app = FastAPI(
        title="pymescore scoring service",
        version="1",
        summary="Explained credit decisions for Peruvian SMEs, with an audit trail.",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.add_exception_handler(ProblemError, problems.on_problem)
    app.add_exception_handler(RequestValidationError, problems.on_validation)
    app.add_exception_handler(StarletteHTTPException, problems.on_http)
    app.add_exception_handler(Exception, problems.on_unexpected)
    # added first, so it runs inside ``observe``: 413s are counted and logged like every other answer
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    app.middleware("http")(observer(state.metrics))
    # in this order, the OpenAPI document lists the paths as it always has (predict after GET /v1/model)
    for router in (scores_router, reads_router, predict_router, admin_router, health_router):
        app.include_router(router(state))
    mount_console(app, state)  # the lending workbench under /app/

    def openapi() -> dict[str, Any]:
        """FastAPI's schema, with every error response declared as ``application/problem+json``."""
        if app.openapi_schema is None:
            from fastapi.openapi.utils import get_openapi

            spec = get_openapi(title=app.title, version=app.version, summary=app.summary,
                               description=app.description, routes=app.routes)  # fmt: skip
            for path in spec.get("paths", {}).values():
                for operation in path.values():
                    for status, response in operation.get("responses", {}).items():
                        content = response.get("content", {})
                        if status.isdigit() and int(status) >= 400 and "application/json" in content:
                            content[problems.PROBLEM] = content.pop("application/json")
            # batch items are validated one by one by the route (SkipValidation), which makes pydantic inline
            # a copy of ScoreRequest: documented as the shared component instead, one type for client SDKs
            schemas = spec.get("components", {}).get("schemas", {})
            if "BatchRequest" in schemas and "ScoreRequest" in schemas:
                schemas["BatchRequest"]["properties"]["applications"]["items"] = {
                    "$ref": "#/components/schemas/ScoreRequest"
                }
            app.openapi_schema = spec
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
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
    from pymescore.service._source import exchange_rates, policy_from, source_from

    source = source_from(settings)
    policy = policy_from(settings)
    rates = exchange_rates(settings)
    store = AuditStore(settings.database_url, schema=schema, timeout_s=settings.store_timeout_s)
    return ServiceState(settings, store, source, lambda: source.load(policy, rates, settings.xgb_threads))


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
