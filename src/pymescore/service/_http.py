"""HTTP plumbing every route shares: the body limit, the request log and metrics, language negotiation, and the
error answers the OpenAPI document declares."""

import json
import logging
import time
from typing import Any

import anyio
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pymescore.service._metrics import Metrics
from pymescore.service._problems import problem_response
from pymescore.service._schemas import Problem

log = logging.getLogger("pymescore.service")

AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "No API key, or an unknown or revoked one"},
    403: {"model": Problem, "description": "The key lacks the scope this route needs"},
    408: {"model": Problem, "description": "The body did not arrive within the configured time"},
    413: {"model": Problem, "description": "Body larger than the configured limit"},
    422: {"model": Problem, "description": "The request does not meet the contract (field-level errors)"},
    429: {
        "model": Problem,
        "description": "Too many failed authentications or requests from this address or key; see Retry-After",
        "headers": {"Retry-After": {"description": "Seconds to wait", "schema": {"type": "string"}}},
    },
    503: {"model": Problem, "description": "The audit store or the model is not available; retry"},
}
#: what a route that reads a JSON body may also answer
BODY_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": Problem, "description": "The body could not be parsed (invalid UTF-8, a number too long)"},
    415: {"model": Problem, "description": "The body is not JSON (Content-Type: application/json expected)"},
}


#: the scoring routes: their answers carry ``Server-Timing``, and the stage histogram labels them so (a batch's
#: stages are one request's, up to batch_max rows)
SINGLE, BATCH = "/v1/scores", "/v1/scores:batch"
SCORING_PATHS = frozenset({SINGLE, BATCH})


class BodyLimit:
    """413 for a body larger than ``limit`` bytes, declared or streamed, before anything parses it; 408 (and the
    connection closed) for a body that has not fully arrived ``timeout_s`` after its headers did. The body is read
    here, whole, then handed on."""

    def __init__(self, app: ASGIApp, limit: int, timeout_s: float = 10.0, metrics: Metrics | None = None) -> None:
        self.app, self.limit, self.timeout_s, self.metrics = app, limit, timeout_s, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._too_big(scope, receive, send)
            return
        chunks, seen, more = [], 0, True
        with anyio.move_on_after(self.timeout_s) as waited:
            while more:
                message = await receive()
                if message["type"] != "http.request":  # the client went away
                    return
                chunks.append(message.get("body", b""))
                seen += len(chunks[-1])
                more = message.get("more_body", False)
                if seen > self.limit:
                    await self._too_big(scope, receive, send)
                    return
        if waited.cancelled_caught:
            await self._too_slow(scope, receive, send)
            return
        body = b"".join(chunks)
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _too_big(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem_response(
            413, f"expected a body of at most {self.limit} bytes", "BODY_TOO_LARGE", instance=str(scope.get("path", ""))
        )
        await response(scope, receive, send)

    async def _too_slow(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.metrics is not None:
            self.metrics.body_timeouts.inc()
        response = problem_response(
            408, f"expected the whole body within {self.timeout_s:g} s of the headers / se esperaba el cuerpo "
            f"completo en {self.timeout_s:g} s", "BODY_TIMEOUT", headers={"Connection": "close"},
            instance=str(scope.get("path", "")),
        )  # fmt: skip
        await response(scope, receive, send)


class Observer:
    """Counts, times and logs every answer (one JSON line each): a plain ASGI middleware, which adds no task and
    no stream to a request (Starlette's ``BaseHTTPMiddleware`` added both, about 7% of the server's time). With
    ``server_timing``, a scoring answer's ``Server-Timing`` header says where its time went: the stages its route
    timed (``request.state.timings``, seconds by name: ``score``, ``audit``) and ``app``, from the request's
    entry into the app (its body still to be read) to the start of its answer, in milliseconds."""

    def __init__(self, app: ASGIApp, metrics: Metrics, server_timing: bool = True) -> None:
        self.app, self.metrics, self.server_timing = app, metrics, server_timing

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        metrics = self.metrics
        start = time.perf_counter()
        metrics.in_flight.inc()
        status = 500
        scoring = scope["method"] == "POST" and scope["path"].startswith("/v1/scores")
        timed = self.server_timing and scoring and scope["path"] in SCORING_PATHS

        async def observed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                if scoring and status < 300:
                    headers = MutableHeaders(scope=message)
                    # a replayed answer already says the language it was stored in
                    if "content-language" not in headers:
                        wanted = Headers(scope=scope).get("accept-language")
                        headers["Content-Language"] = negotiate_lang(wanted)
                    headers["Vary"] = "Accept-Language"
                    if timed:
                        headers["Server-Timing"] = timing_header(scope, time.perf_counter() - start)
            await send(message)

        try:
            await self.app(scope, receive, observed)
        finally:
            metrics.in_flight.dec()
            elapsed = time.perf_counter() - start
            route = getattr(scope.get("route"), "path", "unmatched")
            metrics.requests.labels(route, scope["method"], str(status)).inc()
            metrics.latency.labels(route).observe(elapsed)
            state = scope.get("state") or {}
            log.info(json.dumps({
                "event": "request", "method": scope["method"], "route": route, "status": status,
                "ms": round(elapsed * 1000, 2), "tenant": state.get("tenant"), "ruc_hash": state.get("ruc_hash"),
                "score_id": state.get("score_id"),
            }))  # fmt: skip


def timing_header(scope: Scope, app_s: float) -> str:
    """The ``Server-Timing`` value (W3C): each stage the route timed, then the whole app, in milliseconds."""
    timed = dict((scope.get("state") or {}).get("timings") or {})
    timed["app"] = app_s
    return ", ".join(f"{name};dur={seconds * 1000:.3f}" for name, seconds in timed.items())


def negotiate_lang(accept_language: str | None) -> str:
    """``en`` when the client prefers English to Spanish (RFC 9110 weights; Spanish on a tie or neither)."""
    named: dict[str, float] = {}
    star = 0.0
    for part in (accept_language or "").split(","):
        tag, _, params = part.strip().partition(";")
        primary = tag.strip().lower().replace("_", "-").split("-", 1)[0]  # en-US, en_US (a Java locale) → en
        weight = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    weight = min(max(float(value), 0.0), 1.0)
                except ValueError:
                    weight = 0.0
        if primary == "*":
            star = max(star, weight)
        elif primary:
            named[primary] = max(named.get(primary, 0.0), weight)
    # a language named explicitly outranks the wildcard at the same weight; "*" covers the ones not named
    rank = {lang: (named[lang], 1) if lang in named else (star, 0) for lang in ("es", "en")}
    return "en" if rank["en"] > rank["es"] and rank["en"][0] > 0 else "es"
