"""The outermost layer of the app: security headers on every answer, ``OPTIONS`` and ``Allow`` from every route of
a path, and unhandled exceptions logged as one JSON line without the request (never a traceback with its body).

Starlette re-raises an unhandled exception after answering 500 so that the server can log it; uvicorn's log would
then carry the traceback, and a pydantic error in it carries the request's values (the RUC, the amounts). Here the
exception is logged once, as JSON, with the RUC hashed, and not raised further.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Iterable, Iterator
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pymescore.service._problems import problem_response

log = logging.getLogger("pymescore.service")

#: the API answers data only: nothing may run, load, frame it or be cached from it
API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
#: the OpenAPI pages (Swagger UI, ReDoc) run their own script and style, from here or their CDN
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
    "img-src 'self' data: https://fastapi.tiangolo.com https://cdn.redoc.ly; "
    "font-src 'self' https://fonts.gstatic.com; "
    "worker-src 'self' blob:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
DOCS_PATHS = ("/docs", "/redoc")
#: the workbench (/app/) loads its own style sheet and htmx, sends htmx requests and posts its forms to itself;
#: nothing inline runs or styles (htmx is configured not to add its indicator style), nothing frames it
CONSOLE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
LOGGED = "pymescore.logged_error"


def ruc_hash(ruc: str, secret: str) -> str:
    """HMAC-SHA256 of the RUC under a secret: logs can be joined on it, not turned back into RUCs."""
    return hmac.new(secret.encode(), ruc.encode(), hashlib.sha256).hexdigest()[:16]


def log_unexpected(scope: Scope, exc: BaseException, salt: str) -> None:
    """One JSON line for an unhandled exception: its type and where it was raised, the route, the RUC's hash.
    Neither the request nor the exception's message is written: either can carry the applicant's data."""
    if scope.get(LOGGED):
        return
    scope[LOGGED] = True
    state = scope.get("state") or {}
    ruc = state.get("ruc_sent")
    where = "unknown"
    tb = exc.__traceback__
    while tb is not None:  # the innermost frame: the module and line that raised
        where = f"{tb.tb_frame.f_globals.get('__name__', '?')}:{tb.tb_lineno}"
        tb = tb.tb_next
    route = getattr(scope.get("route"), "path", None) or "unmatched"
    log.error(json.dumps({
        "event": "unexpected_error", "method": scope.get("method"), "route": route, "error": type(exc).__name__,
        "where": where, "ruc_hash": state.get("ruc_hash") or (ruc_hash(ruc, salt) if isinstance(ruc, str) else None),
    }))  # fmt: skip


def unexpected_handler(salt: str) -> Any:
    """The app's handler of ``Exception``: logs (``log_unexpected``) and answers 500 problem+json."""

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        log_unexpected(request.scope, exc, salt)
        return problem_response(500, "an unexpected error; it was logged", "INTERNAL", instance=request.url.path)

    return on_unexpected


def allowed_methods(routes: Iterable[BaseRoute], scope: Scope) -> list[str]:
    """Every method some route of this path answers (``OPTIONS`` included), sorted; empty when none matches."""
    methods: set[str] = set()
    for route in _flat(routes):
        match, _ = route.matches({**scope, "method": "GET"})
        if match == Match.NONE:
            continue
        methods |= set(getattr(route, "methods", None) or ())
    return sorted(methods | {"OPTIONS"}) if methods else []


def _flat(routes: Iterable[BaseRoute]) -> Iterator[BaseRoute]:
    """The routes themselves: FastAPI keeps an included router (without prefix, as the service's are) whole."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from _flat(inner.routes)
        else:
            yield route


class Guard:
    """Wraps the whole app (outside Starlette's error middleware)."""

    def __init__(self, app: ASGIApp, routes: Iterable[BaseRoute], salt: str) -> None:
        self.app, self.routes, self.salt = app, routes, salt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", ""))
        if scope.get("method") == "OPTIONS":
            allow = allowed_methods(self.routes, scope)
            if allow:
                await Response(status_code=204, headers={"Allow": ", ".join(allow)})(
                    scope, receive, _secured(send, path)
                )
                return
        started = False
        secured = _secured(send, path)

        async def watched(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if message["status"] == 405:  # Starlette names the methods of one route only: name them all
                    allow = ", ".join(allowed_methods(self.routes, scope)).encode()
                    message["headers"] = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"allow"]
                    message["headers"].append((b"allow", allow))
            await secured(message)

        try:
            await self.app(scope, receive, watched)
        except Exception as exc:  # answered 500 already (Starlette's error middleware); logged once, not re-raised
            log_unexpected(scope, exc, self.salt)
            if not started:
                response = problem_response(500, "an unexpected error; it was logged", "INTERNAL", instance=path)
                await response(scope, receive, watched)


def _secured(send: Send, path: str) -> Send:
    """``send`` with the security headers added to the answer's start (those the route set itself are kept)."""
    docs = path.startswith(DOCS_PATHS)
    csp = DOCS_CSP if docs else CONSOLE_CSP if path == "/app" or path.startswith("/app/") else API_CSP
    extra = {
        b"cache-control": b"no-store",
        b"x-content-type-options": b"nosniff",
        b"referrer-policy": b"no-referrer",
        b"x-frame-options": b"DENY",
        b"content-security-policy": csp.encode(),
    }

    async def send_secured(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", []))
            present = {k.lower() for k, _ in headers}
            headers += [(k, v) for k, v in extra.items() if k not in present]
            message["headers"] = headers
        await send(message)

    return send_secured
