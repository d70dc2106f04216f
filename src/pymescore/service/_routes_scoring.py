"""The scoring routes: ``POST /v1/scores`` (one application), ``/v1/scores:batch`` and the TensorFlow-Serving-style
``/v1/models/pymescore:predict`` on feature rows."""

import datetime as dt
import json
import time
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from pymescore.errors import PymescoreError
from pymescore.service import _problems as problems
from pymescore.service._auth import needs
from pymescore.service._bodies import StrictJsonRoute
from pymescore.service._guard import ruc_hash
from pymescore.service._http import AUTH_RESPONSES, BATCH, BODY_RESPONSES, SINGLE, negotiate_lang
from pymescore.service._idempotency import Claim, conflict, fingerprint, idempotent, request_key
from pymescore.service._problems import ProblemError
from pymescore.service._schemas import (
    BatchRequest,
    BatchResponse,
    PredictRequest,
    PredictResponse,
    Problem,
    ScoreRequest,
    ScoreResponse,
)
from pymescore.service._scorer import ApplicationInvalidError, Scored
from pymescore.service._state import ServiceState
from pymescore.service._store import IdempotencyConflictError, Principal

#: 1-255 characters, as the claim checks (FastAPI enforces the bounds the spec declares)
IdempotencyKey = Annotated[str | None, Header(min_length=1, max_length=255,
                                              description="Makes a retried POST safe (1-255 characters).")]  # fmt: skip
IN_FLIGHT: dict[int | str, dict[str, Any]] = {409: {"model": Problem, "description": "Idempotency-Key in flight"}}

_JSON_KINDS = {bool: "boolean", int: "number", float: "number", str: "string", list: "array", type(None): "null"}


def scores_router(state: ServiceState) -> APIRouter:
    """``POST /v1/scores`` and ``POST /v1/scores:batch``: decisions, audited before they are answered."""
    router = APIRouter(route_class=StrictJsonRoute)
    settings = state.settings

    @router.post(SINGLE, response_model=ScoreResponse, status_code=201, tags=["scoring"],
                 responses={**AUTH_RESPONSES, **BODY_RESPONSES, **IN_FLIGHT})  # fmt: skip
    async def create_score(
        body: ScoreRequest,
        request: Request,
        principal: Annotated[Principal, Depends(needs(state, "score"))],
        idempotency_key: IdempotencyKey = None,
        accept_language: Annotated[str | None, Header()] = None,
    ) -> JSONResponse:
        """Score one application: PD, score, band, decision, suggested amount, reasons, rules, hints.

        The decision is committed to the audit store before this answers; if the store is down the
        answer is 503 and nothing was decided.
        """
        lang = negotiate_lang(accept_language)
        request.state.ruc_hash = ruc_hash(body.ruc, settings.log_salt)
        printed = fingerprint(body)

        async def work(claim: Claim | None) -> tuple[int, dict[str, Any]]:
            start = time.perf_counter()
            with state.champion_busy():
                (result,) = await _score(state, [body], lang, SINGLE)
                if isinstance(result, ApplicationInvalidError):
                    raise ProblemError(422, result.message, code=result.code, errors=result.fields["errors"])  # type: ignore[arg-type]
                scored = time.perf_counter()
                row = _decision_row(result, printed, principal, idempotency_key, (scored - start) * 1000)
                stored = await _store_decisions(state, [row], claim, 201, result.response, SINGLE)
            request.state.timings = {"score": scored - start, "audit": stored}  # for Server-Timing
            state.to_shadow([body], [result.response["score_id"]], principal.tenant, lang)  # after the commit
            _record_metrics(state, [result])
            request.state.score_id = result.response["score_id"]
            return 201, result.response

        return await idempotent(state, principal, idempotency_key, request_key(SINGLE, [printed]), work)

    @router.post(BATCH, response_model=BatchResponse, tags=["scoring"],
                 responses={**AUTH_RESPONSES, **BODY_RESPONSES, **IN_FLIGHT})  # fmt: skip
    async def create_scores(
        body: BatchRequest,
        request: Request,
        principal: Annotated[Principal, Depends(needs(state, "score"))],
        idempotency_key: IdempotencyKey = None,
        accept_language: Annotated[str | None, Header()] = None,
    ) -> JSONResponse:
        """Score up to ``batch_max`` applications; each item has its own result (201) or problem (422)."""
        if len(body.applications) > settings.batch_max:
            raise ProblemError(422, f"expected at most {settings.batch_max} applications, got "
                               f"{len(body.applications)}", code="BATCH_TOO_LARGE",
                               errors=[{"path": "applications", "expected": f"at most {settings.batch_max} items",
                                        "got": f"{len(body.applications)} items"}])  # fmt: skip
        # the spec takes any object as an item (a broken application is its own 422 item); a non-object is a
        # malformed batch, refused whole like any other body that breaks the contract
        loose = [{"path": f"applications.{i}", "expected": "an object (an application)",
                  "got": f"a JSON {_JSON_KINDS.get(type(raw), 'value')}"}
                 for i, raw in enumerate(body.applications) if not isinstance(raw, dict)]  # fmt: skip
        if loose:
            raise ProblemError(422, f"the request does not meet the API contract ({len(loose)} problem(s))",
                               code="REQUEST_INVALID", errors=loose)  # fmt: skip
        lang = negotiate_lang(accept_language)
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
        printed = {i: fingerprint(request) for i, request in parsed.items()}
        prints = (
            printed[i] if i in printed else json.dumps(raw, sort_keys=True, default=str)
            for i, raw in enumerate(body.applications)
        )

        async def work(claim: Claim | None) -> tuple[int, dict[str, Any]]:
            with state.champion_busy():
                status, response, shadowed = await decide(claim)
            state.to_shadow([parsed[i] for i in shadowed], [s.response["score_id"] for s in shadowed.values()],
                            principal.tenant, lang)  # after the commit  # fmt: skip
            return status, response

        async def decide(claim: Claim | None) -> tuple[int, dict[str, Any], dict[int, Scored]]:
            start = time.perf_counter()
            valid = sorted(parsed)
            scored_valid = await _score(state, [parsed[i] for i in valid], lang, BATCH) if valid else []
            by_index: dict[int, Scored | ApplicationInvalidError] = {
                **refused,
                **dict(zip(valid, scored_valid, strict=True)),
            }
            scored_at = time.perf_counter()
            ms = (scored_at - start) * 1000 / max(len(valid), 1)
            items, rows, scored, shadowed = [], [], [], {}
            for i in range(len(body.applications)):
                r = by_index[i]
                if isinstance(r, ApplicationInvalidError):
                    p = problems.problem_body(422, r.message, r.code, r.fields["errors"])  # type: ignore[arg-type]
                    items.append({"index": i, "status": 422, "result": None, "problem": p})
                else:
                    items.append({"index": i, "status": 201, "result": r.response, "problem": None})
                    rows.append(_decision_row(r, printed[i], principal, idempotency_key, ms))
                    scored.append(r)
                    shadowed[i] = r
            response = {"results": items}
            stored = await _store_decisions(state, rows, claim, 200, response, BATCH)
            request.state.timings = {"score": scored_at - start, "audit": stored}  # for Server-Timing
            _record_metrics(state, scored)
            return 200, response, shadowed

        return await idempotent(state, principal, idempotency_key, request_key(BATCH, prints), work)

    return router


def predict_router(state: ServiceState) -> APIRouter:
    """``POST /v1/models/pymescore:predict``: PD and score on feature rows, no decision, not audited."""
    router = APIRouter(route_class=StrictJsonRoute)

    @router.post("/v1/models/pymescore:predict", response_model=PredictResponse, tags=["model"],
                 responses={**AUTH_RESPONSES, **BODY_RESPONSES})  # fmt: skip
    async def predict(
        body: PredictRequest, principal: Annotated[Principal, Depends(needs(state, "score"))]
    ) -> JSONResponse:
        """TensorFlow-Serving-style prediction on feature rows: PD and score only (no decision, not audited)."""
        m = state.served()
        try:
            out = await anyio.to_thread.run_sync(m.predict_rows, body.instances, limiter=state.score_slots)
        except ApplicationInvalidError as exc:
            raise ProblemError(422, exc.message, code=exc.code, errors=exc.fields["errors"]) from exc  # type: ignore[arg-type]
        preds = [{"pd": float(p), "score": int(s)} for p, s in zip(out["pd"], out["score"], strict=True)]
        return JSONResponse({"predictions": preds, "model_version": m.version})

    return router


async def _score(
    state: ServiceState, requests: list[ScoreRequest], lang: str, route: str
) -> list[Scored | ApplicationInvalidError]:
    """The requests scored in a scoring thread (timed in the stage histogram under ``route``, a wait for a slot
    included)."""
    model = state.served()
    start = time.perf_counter()
    try:
        return await anyio.to_thread.run_sync(model.score, requests, lang, limiter=state.score_slots)
    except PymescoreError as exc:  # a contract rule the checks above did not catch: still the client's input
        raise ProblemError(422, exc.message, code=exc.code) from exc
    finally:
        state.metrics.stages.labels(route, "score").observe(time.perf_counter() - start)


def _decision_row(s: Scored, printed: str, principal: Principal, key: str | None, ms: float) -> dict[str, Any]:
    """The audit row of one decision; ``printed`` is the application's ``fingerprint``."""
    r = s.response
    return {
        "id": r["score_id"], "tenant": principal.tenant, "created_at": dt.datetime.fromisoformat(r["created_at"]),
        "ruc": r["ruc"], "request_fingerprint": printed, "idempotency_key": key, "features": s.features,
        "model_version": r["model_version"], "policy_version": r["policy_version"], "pd": r["pd"],
        "score": r["score"], "band": r["band"], "decision": r["decision"], "reasons": r["reasons"],
        "policy_rules": r["policy_rules"], "response": r, "latency_ms": ms,
    }  # fmt: skip


async def _store_decisions(
    state: ServiceState, rows: list[dict[str, Any]], claim: Claim | None, status: int, response: dict[str, Any],
    route: str,
) -> float:  # fmt: skip
    """Store the decisions and complete the claim in one transaction; the seconds it took (timed in the stage
    histogram under ``route``, a write that failed or timed out included: a slow store shows there before it
    fails)."""
    done = None if claim is None else (*claim, status, response)
    start = time.perf_counter()
    try:
        await state.store_write(lambda gate: state.store.record(rows, done, gate))
    except IdempotencyConflictError as exc:
        raise conflict(exc) from exc
    except ProblemError:
        state.metrics.audit_failures.inc(max(len(rows), 1))
        raise
    finally:
        spent = time.perf_counter() - start
        state.metrics.stages.labels(route, "audit").observe(spent)
    return spent


def _record_metrics(state: ServiceState, scored: list[Scored]) -> None:
    for s in scored:
        state.metrics.decisions.labels(s.response["decision"]).inc()
        state.metrics.score.observe(s.response["score"])
        state.metrics.pd.observe(s.response["pd"])
