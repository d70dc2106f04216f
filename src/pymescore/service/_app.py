"""The FastAPI application: routes, auth, idempotency, problem+json errors, metrics, model reload."""

import asyncio
import contextlib
import datetime as dt
import hashlib
import hmac
import json
import logging
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, TypeVar

import anyio
from fastapi import Depends, FastAPI, Header, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from stdnum.pe import ruc as stdnum_ruc

from pymescore.config import Settings
from pymescore.errors import PymescoreError
from pymescore.service import _problems as problems
from pymescore.service._metrics import Metrics
from pymescore.service._problems import ProblemError, problem_response
from pymescore.service._schemas import (
    BatchRequest,
    BatchResponse,
    HistoryResponse,
    ModelInfo,
    PredictRequest,
    PredictResponse,
    Problem,
    ScoreRequest,
    ScoreResponse,
)
from pymescore.service._scorer import ApplicationInvalidError, Scored, Scorer, fingerprint
from pymescore.service._source import ModelSource
from pymescore.service._store import AuditStore, IdempotencyConflictError, Principal, Replay, StoreUnavailableError

log = logging.getLogger("pymescore.service")
T = TypeVar("T")


@dataclass
class ServiceState:
    settings: Settings
    store: AuditStore
    source: ModelSource
    load: Callable[[], Scorer]
    scorer: Scorer | None = None
    loaded_probe: str = ""
    metrics: Metrics = field(default_factory=Metrics)
    reload_lock: threading.Lock = field(default_factory=threading.Lock)

    def reload(self, force: bool = False) -> dict[str, Any]:
        """Load the source's current model if it changed; a model that fails verification is not served."""
        with self.reload_lock:
            try:
                probe = self.source.probe()
                if not force and probe == self.loaded_probe and self.scorer is not None:
                    return {"reloaded": False, "model_version": self.scorer.version}
                scorer = self.load()
                scorer.warm_up()  # the first real request does not pay for first-use setup
            except Exception as exc:  # a broken bundle or an unreachable registry: keep serving the old one
                self.metrics.reloads.labels("refused").inc()
                message = exc.message if isinstance(exc, PymescoreError) else f"{type(exc).__name__}: {exc}"
                log.warning(json.dumps({"event": "reload_refused", "reason": message[:300]}))
                raise ProblemError(409, f"model reload refused, still serving the previous model: {message}",
                                   code="RELOAD_REFUSED") from exc  # fmt: skip
            self.scorer, self.loaded_probe = scorer, probe
            self.metrics.reloads.labels("loaded").inc()
            self.metrics.set_model(scorer.version, scorer.source, scorer.policy.version)
            log.info(json.dumps({"event": "model_loaded", "model_version": scorer.version}))
            return {"reloaded": True, "model_version": scorer.version}


# -- request plumbing ----------------------------------------------------------------------------------


class BodyLimit:
    """413 for a body larger than ``limit`` bytes, declared or streamed, before anything parses it."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._too_big(scope, receive, send)
            return
        if declared is not None:
            await self.app(scope, receive, send)
            return
        # no Content-Length (chunked): read up to the limit here, then hand the body on
        chunks, seen, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return
            chunks.append(message.get("body", b""))
            seen += len(chunks[-1])
            more = message.get("more_body", False)
            if seen > self.limit:
                await self._too_big(scope, receive, send)
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


def _route_of(request: Request) -> str:
    route = request.scope.get("route")
    return getattr(route, "path", "unmatched")


def _ruc_hash(ruc: str, secret: str) -> str:
    """HMAC-SHA256 of the RUC under a secret: logs can be joined on it, not turned back into RUCs."""
    return hmac.new(secret.encode(), ruc.encode(), hashlib.sha256).hexdigest()[:16]


def _conflict(exc: IdempotencyConflictError) -> ProblemError:
    status = int(exc.fields.get("status", 409))  # type: ignore[call-overload]
    return ProblemError(status, exc.message, code="IDEMPOTENCY_CONFLICT")


def _location(body: dict[str, Any]) -> dict[str, str]:
    return {"Location": f"/v1/scores/{body['score_id']}"} if "score_id" in body else {}


def _lang(accept_language: str | None) -> str:
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


AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "No API key, or an unknown or revoked one"},
    403: {"model": Problem, "description": "The key lacks the scope this route needs"},
    413: {"model": Problem, "description": "Body larger than the configured limit"},
    422: {"model": Problem, "description": "The request does not meet the contract (field-level errors)"},
    503: {"model": Problem, "description": "The audit store or the model is not available; retry"},
}
#: what a route that reads a JSON body may also answer
BODY_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": Problem, "description": "The body could not be parsed (invalid UTF-8, a number too long)"},
    415: {"model": Problem, "description": "The body is not JSON (Content-Type: application/json expected)"},
}


def create_app(state: ServiceState) -> FastAPI:
    settings = state.settings
    metrics = state.metrics
    timeout = settings.store_timeout_s

    # CPU-bound scoring and the audit store's short calls wait in separate queues: a store call's time
    # limit then measures the database, not a queue of scorings (scoring threads beyond the cores only
    # add GIL contention)
    score_slots = anyio.CapacityLimiter(settings.score_concurrency)
    store_slots = anyio.CapacityLimiter(32)
    unavailable = "the audit store is not reachable; nothing was decided, retry later"

    async def store_call(fn: Callable[[], T]) -> T:
        """A read or a claim: bounded by ``store_timeout_s`` (a late answer is simply not used)."""
        try:
            return await asyncio.wait_for(anyio.to_thread.run_sync(fn, limiter=store_slots), timeout)
        except (TimeoutError, StoreUnavailableError) as exc:
            raise ProblemError(503, unavailable, code="AUDIT_UNAVAILABLE", headers={"Retry-After": "2"}) from exc

    async def store_write(fn: Callable[[], None]) -> None:
        """A decision write: never abandoned while it may still commit; the database's own timeouts
        (connect, statement, pool, TCP keepalive / user timeout) bound it. A 503 then means that the write
        failed, so nothing was stored — except when a commit's acknowledgement itself is lost, which no
        client of a database can tell apart: retry with the same Idempotency-Key to get the stored answer."""
        try:
            await anyio.to_thread.run_sync(fn, limiter=store_slots)
        except StoreUnavailableError as exc:
            raise ProblemError(503, unavailable, code="AUDIT_UNAVAILABLE", headers={"Retry-After": "2"}) from exc

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if state.scorer is None:
            await anyio.to_thread.run_sync(state.reload, True)
        tasks = [asyncio.create_task(_purge())]
        if settings.reload_interval_s > 0:
            tasks.append(asyncio.create_task(_poll()))
        yield
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        state.store.dispose()

    async def _poll() -> None:
        """Look for a new model every ``reload_interval_s``; a failure is logged and the next look goes on."""
        while True:
            await asyncio.sleep(settings.reload_interval_s)
            try:
                await anyio.to_thread.run_sync(state.reload)
            except Exception as exc:  # a refused model (already logged) or anything else: keep polling
                if not isinstance(exc, ProblemError):
                    log.warning(json.dumps({"event": "reload_failed", "reason": f"{type(exc).__name__}: {exc}"[:300]}))

    async def _purge() -> None:
        """Forget idempotency keys older than ``idempotency_hours`` (hourly)."""
        hours = dt.timedelta(hours=settings.idempotency_hours)
        while True:
            try:
                await anyio.to_thread.run_sync(state.store.purge_idempotency, hours, limiter=store_slots)
            except Exception as exc:  # the store is down: try again next hour
                log.warning(json.dumps({"event": "purge_failed", "reason": type(exc).__name__}))
            await asyncio.sleep(3600)

    app = FastAPI(
        title="pymescore scoring service",
        version="1",
        summary="Explained credit decisions for Peruvian SMEs, with an audit trail.",
        description=(
            "Authenticate with `Authorization: Bearer <API key>` (create one with `pymescore apikey create`). "
            "Scopes: `score` (POST scoring routes), `read` (GET decisions and the model), `admin` (reload). "
            "`/healthz`, `/readyz` and `/metrics` need no key. Errors are RFC 9457 problem+json with a "
            "field-level `errors` list (language-neutral `code` and `path`; `expected` and `detail` in English, "
            "for the integrating developer). Send `Idempotency-Key` to make a retried POST safe. Reasons, "
            "policy rules and improvement hints are in Spanish unless `Accept-Language` prefers English "
            "(`en`, `en-US`, `es;q=0.5, en;q=0.9`); `Content-Language` says which was used."
        ),
        lifespan=lifespan,
    )
    app.add_exception_handler(ProblemError, problems.on_problem)
    app.add_exception_handler(RequestValidationError, problems.on_validation)
    app.add_exception_handler(StarletteHTTPException, problems.on_http)
    app.add_exception_handler(Exception, problems.on_unexpected)
    # added first, so it runs inside ``observe``: 413s are counted and logged like every other answer
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)

    @app.middleware("http")
    async def observe(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        start = time.perf_counter()
        metrics.in_flight.inc()
        status = 500
        try:
            response = await call_next(request)
            status = response.status_code
            if request.url.path.startswith("/v1/scores") and request.method == "POST" and status < 300:
                response.headers["Content-Language"] = _lang(request.headers.get("accept-language"))
                response.headers["Vary"] = "Accept-Language"
            return response
        finally:
            metrics.in_flight.dec()
            elapsed = time.perf_counter() - start
            route = _route_of(request)
            metrics.requests.labels(route, request.method, str(status)).inc()
            metrics.latency.labels(route).observe(elapsed)
            log.info(json.dumps({
                "event": "request", "method": request.method, "route": route, "status": status,
                "ms": round(elapsed * 1000, 2), "tenant": getattr(request.state, "tenant", None),
                "ruc_hash": getattr(request.state, "ruc_hash", None),
                "score_id": getattr(request.state, "score_id", None),
            }))  # fmt: skip

    # -- auth ------------------------------------------------------------------------------------
    def needs(scope: str) -> Callable[..., Awaitable[Principal]]:
        async def check(request: Request, authorization: Annotated[str | None, Header()] = None) -> Principal:
            challenge = {"WWW-Authenticate": 'Bearer realm="pymescore"'}
            if not authorization or not authorization.lower().startswith("bearer ") or len(authorization) > 512:
                got = "none" if not authorization else f"a {authorization.split(' ', 1)[0][:20]} credential"
                raise ProblemError(401, f"expected 'Authorization: Bearer <API key>', got {got}", code="AUTH_MISSING",
                                   headers=challenge)  # fmt: skip
            key = authorization[7:].strip()
            principal = await store_call(lambda: state.store.authenticate(key))
            if principal is None:
                raise ProblemError(401, "the API key is unknown or revoked", code="AUTH_INVALID", headers=challenge)
            if scope not in principal.scopes:
                raise ProblemError(403, f"this route needs the scope '{scope}'; the key has "
                                   f"{', '.join(sorted(principal.scopes))}", code="SCOPE_MISSING")  # fmt: skip
            request.state.tenant = principal.tenant
            return principal

        return check

    def scorer() -> Scorer:
        if state.scorer is None:
            raise ProblemError(503, "no model is loaded", code="MODEL_NOT_LOADED", headers={"Retry-After": "5"})
        return state.scorer

    def record_metrics(scored: list[Scored]) -> None:
        for s in scored:
            metrics.decisions.labels(s.response["decision"]).inc()
            metrics.score.observe(s.response["score"])
            metrics.pd.observe(s.response["pd"])

    def decision_row(s: Scored, principal: Principal, key: str | None, ms: float) -> dict[str, Any]:
        r = s.response
        return {
            "id": r["score_id"], "tenant": principal.tenant, "created_at": dt.datetime.fromisoformat(r["created_at"]),
            "ruc": r["ruc"], "request_fingerprint": s.fingerprint, "idempotency_key": key, "features": s.features,
            "model_version": r["model_version"], "policy_version": r["policy_version"], "pd": r["pd"],
            "score": r["score"], "band": r["band"], "decision": r["decision"], "reasons": r["reasons"],
            "policy_rules": r["policy_rules"], "response": r, "latency_ms": ms,
        }  # fmt: skip

    async def idempotent(
        principal: Principal,
        key: str | None,
        fp: str,
        work: Callable[[tuple[str, str, str] | None], Awaitable[tuple[int, dict[str, Any]]]],
    ) -> JSONResponse:
        """Run ``work`` once per (tenant, key); replay its stored answer to retries.

        ``work`` gets the claim it holds, ``(tenant, key, owner token)``, to complete in the transaction that
        stores its decisions.
        """
        claim: tuple[str, str, str] | None = None
        if key is not None:
            if not 1 <= len(key) <= 255:
                raise ProblemError(422, "Idempotency-Key: expected 1-255 characters", code="IDEMPOTENCY_KEY_INVALID",
                                   errors=[{"path": "header.Idempotency-Key", "expected": "1-255 characters",
                                            "got": f"{len(key)} characters"}])  # fmt: skip
            try:
                outcome = await store_call(lambda: state.store.claim(principal.tenant, key, fp))
            except IdempotencyConflictError as exc:
                raise _conflict(exc) from exc
            if isinstance(outcome, Replay):
                headers = {"Idempotent-Replayed": "true", **_location(outcome.response)}
                return JSONResponse(outcome.response, status_code=outcome.status_code, headers=headers)
            claim = (principal.tenant, key, outcome)
        try:
            status, body = await work(claim)
        except BaseException:
            if claim is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(anyio.to_thread.run_sync(state.store.release, *claim), timeout)
            raise
        return JSONResponse(body, status_code=status, headers=_location(body))

    async def run_scoring(
        requests: list[ScoreRequest], lang: str
    ) -> tuple[Scorer, list[Scored | ApplicationInvalidError]]:
        model = scorer()
        try:
            return model, await anyio.to_thread.run_sync(model.score, requests, lang, limiter=score_slots)
        except PymescoreError as exc:  # a contract rule the checks above did not catch: still the client's input
            raise ProblemError(422, exc.message, code=exc.code) from exc

    async def store_decisions(
        rows: list[dict[str, Any]], claim: tuple[str, str, str] | None, status: int, response: dict[str, Any]
    ) -> None:
        done = None if claim is None else (*claim, status, response)
        try:
            await store_write(lambda: state.store.record(rows, done))
        except IdempotencyConflictError as exc:
            raise _conflict(exc) from exc
        except ProblemError:
            metrics.audit_failures.inc(max(len(rows), 1))
            raise

    # -- routes ----------------------------------------------------------------------------------
    in_flight: dict[int | str, dict[str, Any]] = {409: {"model": Problem, "description": "Idempotency-Key in flight"}}

    @app.post("/v1/scores", response_model=ScoreResponse, status_code=201, tags=["scoring"],
              responses={**AUTH_RESPONSES, **BODY_RESPONSES, **in_flight})  # fmt: skip
    async def create_score(
        body: ScoreRequest,
        request: Request,
        principal: Annotated[Principal, Depends(needs("score"))],
        idempotency_key: Annotated[str | None, Header()] = None,
        accept_language: Annotated[str | None, Header()] = None,
    ) -> JSONResponse:
        """Score one application: PD, score, band, decision, suggested amount, reasons, rules, hints.

        The decision is committed to the audit store before this answers; if the store is down the
        answer is 503 and nothing was decided.
        """
        lang = _lang(accept_language)
        request.state.ruc_hash = _ruc_hash(body.ruc, settings.log_salt)
        fp = hashlib.sha256(f"/v1/scores:{lang}:{fingerprint(body)}".encode()).hexdigest()

        async def work(claim: tuple[str, str, str] | None) -> tuple[int, dict[str, Any]]:
            start = time.perf_counter()
            _, (result,) = await run_scoring([body], lang)
            if isinstance(result, ApplicationInvalidError):
                raise ProblemError(422, result.message, code=result.code, errors=result.fields["errors"])  # type: ignore[arg-type]
            ms = (time.perf_counter() - start) * 1000
            await store_decisions([decision_row(result, principal, idempotency_key, ms)], claim, 201, result.response)
            record_metrics([result])
            request.state.score_id = result.response["score_id"]
            return 201, result.response

        return await idempotent(principal, idempotency_key, fp, work)

    @app.post("/v1/scores:batch", response_model=BatchResponse, tags=["scoring"],
              responses={**AUTH_RESPONSES, **BODY_RESPONSES, **in_flight})  # fmt: skip
    async def create_scores(
        body: BatchRequest,
        principal: Annotated[Principal, Depends(needs("score"))],
        idempotency_key: Annotated[str | None, Header()] = None,
        accept_language: Annotated[str | None, Header()] = None,
    ) -> JSONResponse:
        """Score up to ``batch_max`` applications; each item has its own result (201) or problem (422)."""
        if len(body.applications) > settings.batch_max:
            raise ProblemError(422, f"expected at most {settings.batch_max} applications, got "
                               f"{len(body.applications)}", code="BATCH_TOO_LARGE",
                               errors=[{"path": "applications", "expected": f"at most {settings.batch_max} items",
                                        "got": f"{len(body.applications)} items"}])  # fmt: skip
        lang = _lang(accept_language)
        # each application validated on its own: a broken one is its own 422 item, the others are scored
        parsed: dict[int, ScoreRequest] = {}
        refused: dict[int, ApplicationInvalidError] = {}
        for i, raw in enumerate(body.applications):
            try:
                parsed[i] = ScoreRequest.model_validate(raw)
            except ValidationError as exc:
                errors = problems.validation_errors(exc)
                refused[i] = ApplicationInvalidError(
                    f"application: {len(errors)} field(s) do not meet the API contract", errors=errors
                )
        prints = ",".join(
            fingerprint(parsed[i]) if i in parsed else json.dumps(raw, sort_keys=True, default=str)
            for i, raw in enumerate(body.applications)
        )
        fp = hashlib.sha256(f"/v1/scores:batch:{lang}:{prints}".encode()).hexdigest()

        async def work(claim: tuple[str, str, str] | None) -> tuple[int, dict[str, Any]]:
            start = time.perf_counter()
            valid = sorted(parsed)
            scored_valid = (await run_scoring([parsed[i] for i in valid], lang))[1] if valid else []
            by_index: dict[int, Scored | ApplicationInvalidError] = {
                **refused,
                **dict(zip(valid, scored_valid, strict=True)),
            }
            results = [by_index[i] for i in range(len(body.applications))]
            ms = (time.perf_counter() - start) * 1000 / max(len(valid), 1)
            items, rows, scored = [], [], []
            for i, r in enumerate(results):
                if isinstance(r, ApplicationInvalidError):
                    p = problems.problem_body(422, r.message, r.code, r.fields["errors"])  # type: ignore[arg-type]
                    items.append({"index": i, "status": 422, "result": None, "problem": p})
                else:
                    items.append({"index": i, "status": 201, "result": r.response, "problem": None})
                    rows.append(decision_row(r, principal, idempotency_key, ms))
                    scored.append(r)
            response = {"results": items}
            await store_decisions(rows, claim, 200, response)
            record_metrics(scored)
            return 200, response

        return await idempotent(principal, idempotency_key, fp, work)

    not_found: dict[int | str, dict[str, Any]] = {404: {"model": Problem, "description": "No such decision"}}

    @app.get("/v1/scores/{score_id}", response_model=ScoreResponse, tags=["decisions"],
             responses={**AUTH_RESPONSES, **not_found})  # fmt: skip
    async def get_score(
        score_id: Annotated[str, Path(max_length=64, pattern=r"^[0-9A-Za-z-]+$")],
        principal: Annotated[Principal, Depends(needs("read"))],
    ) -> JSONResponse:
        """A stored decision, exactly as it was answered. Another tenant's decision is 404."""
        found = await store_call(lambda: state.store.get(principal.tenant, score_id))
        if found is None:
            raise ProblemError(404, "no decision with this id for your tenant", code="DECISION_NOT_FOUND")
        return JSONResponse(found)

    @app.get("/v1/scores", response_model=HistoryResponse, tags=["decisions"], responses=AUTH_RESPONSES)
    async def list_scores(
        ruc: Annotated[str, Query(min_length=11, max_length=11, pattern=r"^[0-9]{11}$")],
        principal: Annotated[Principal, Depends(needs("read"))],
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> JSONResponse:
        """This tenant's decisions for one RUC, newest first."""
        if not stdnum_ruc.is_valid(ruc):  # the same check as POST /v1/scores: a typo is named, not an empty list
            raise ProblemError(422, "ruc: expected a valid RUC (its last digit is a check digit)", code="RUC_INVALID",
                               errors=[{"path": "query.ruc", "expected": "a valid RUC (11 digits with its check digit)",
                                        "got": ruc}])  # fmt: skip
        items = await store_call(lambda: state.store.history(principal.tenant, ruc, limit))
        return JSONResponse({"ruc": ruc, "items": items})

    @app.get("/v1/model", response_model=ModelInfo, tags=["model"], responses=AUTH_RESPONSES)
    async def model_info(principal: Annotated[Principal, Depends(needs("read"))]) -> JSONResponse:
        """The served model: version, source, features (kinds, monotone directions), metrics, model card."""
        m = scorer()
        metrics_summary = {k: m.bundle.metrics.get(k) for k in ("cv", "test_metrics", "bands_monotone", "policy")}
        return JSONResponse({
            "name": "pymescore", "version": m.version, "source": m.source, "target": m.bundle.model.target,
            "features": [vars(f) for f in m.bundle.model.features], "metrics": metrics_summary,
            "card": m.bundle.card, "policy_version": m.policy.version,
        })  # fmt: skip

    @app.post("/v1/models/pymescore:predict", response_model=PredictResponse, tags=["model"],
              responses={**AUTH_RESPONSES, **BODY_RESPONSES})  # fmt: skip
    async def predict(body: PredictRequest, principal: Annotated[Principal, Depends(needs("score"))]) -> JSONResponse:
        """TensorFlow-Serving-style prediction on feature rows: PD and score only (no decision, not audited)."""
        m = scorer()
        try:
            out = await anyio.to_thread.run_sync(m.predict_rows, body.instances, limiter=score_slots)
        except ApplicationInvalidError as exc:
            raise ProblemError(422, exc.message, code=exc.code, errors=exc.fields["errors"]) from exc  # type: ignore[arg-type]
        preds = [{"pd": float(p), "score": int(s)} for p, s in zip(out["pd"], out["score"], strict=True)]
        return JSONResponse({"predictions": preds, "model_version": m.version})

    @app.post("/v1/admin/reload", tags=["model"], responses={**AUTH_RESPONSES, 409: {"model": Problem}})
    async def reload_model(principal: Annotated[Principal, Depends(needs("admin"))]) -> JSONResponse:
        """Load the source's current model now (this worker; the others notice within the reload interval)."""
        return JSONResponse(await anyio.to_thread.run_sync(state.reload, True))

    @app.get("/healthz", tags=["operations"])
    async def healthz() -> dict[str, str]:
        """Alive (no dependency checked)."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["operations"], responses={503: {"model": Problem}})
    async def readyz() -> JSONResponse:
        """Ready: a verified model is loaded and the audit store answers."""
        if state.scorer is None:
            return problem_response(503, "no model is loaded", "MODEL_NOT_LOADED")
        try:
            await store_call(state.store.ping)
        except ProblemError as exc:
            return problem_response(503, exc.detail, exc.code)
        return JSONResponse({"status": "ready", "model_version": state.scorer.version})

    @app.get("/metrics", tags=["operations"], response_class=Response)
    async def prometheus_metrics() -> Response:
        """Prometheus text format (all workers when several run)."""
        return Response(metrics.render(), media_type=metrics.content_type)

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
