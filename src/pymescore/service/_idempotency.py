"""Idempotency-Key: a retried POST gets the stored answer of the first one, never a second decision.

A request is fingerprinted once (``fingerprint``); the same value keys the claim (with the route) and is stored
with the decision. The answer's language is not part of it: a retry that asks in another language gets the stored
decision as it was given (its ``language`` and ``Content-Language`` say which), not a conflict.
"""

import hashlib
import json
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from fastapi.responses import JSONResponse

from pymescore.service._problems import ProblemError
from pymescore.service._schemas import ScoreRequest
from pymescore.service._state import ServiceState
from pymescore.service._store import IdempotencyConflictError, Principal, Replay

#: ``(tenant, key, owner token)``: a claim held on an Idempotency-Key until the decision is stored
Claim = tuple[str, str, str]
Work = Callable[[Claim | None], Awaitable[tuple[int, dict[str, Any]]]]


def fingerprint(request: ScoreRequest) -> str:
    """SHA-256 of the application as parsed (canonical JSON): the same application, the same fingerprint."""
    body = json.dumps(request.model_dump(mode="json", exclude_none=False), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(body.encode()).hexdigest()


def request_key(route: str, prints: Iterable[str]) -> str:
    """What a retry must repeat to be replayed: the route and each application (not the language asked for)."""
    return hashlib.sha256(f"{route}:{','.join(prints)}".encode()).hexdigest()


def stored_language(response: dict[str, Any]) -> str | None:
    """The language a stored answer was given in (a batch: its first scored item's)."""
    if "language" in response:
        return str(response["language"])
    for item in response.get("results", []):
        if item.get("result"):
            return str(item["result"]["language"])
    return None


def conflict(exc: IdempotencyConflictError) -> ProblemError:
    status = int(exc.fields.get("status", 409))  # type: ignore[call-overload]
    return ProblemError(status, exc.message, code="IDEMPOTENCY_CONFLICT")


def _location(body: dict[str, Any]) -> dict[str, str]:
    return {"Location": f"/v1/scores/{body['score_id']}"} if "score_id" in body else {}


async def idempotent(state: ServiceState, principal: Principal, key: str | None, fp: str, work: Work) -> JSONResponse:
    """Run ``work`` once per (tenant, key); replay its stored answer to retries.

    ``work`` gets the claim it holds, ``(tenant, key, owner token)``, to complete in the transaction that
    stores its decisions.
    """
    claim: Claim | None = None
    if key is not None:
        if not 1 <= len(key) <= 255:
            raise ProblemError(422, "Idempotency-Key: expected 1-255 characters", code="IDEMPOTENCY_KEY_INVALID",
                               errors=[{"path": "header.Idempotency-Key", "expected": "1-255 characters",
                                        "got": f"{len(key)} characters"}])  # fmt: skip
        try:
            outcome = await state.store_call(lambda: state.store.claim(principal.tenant, key, fp))
        except IdempotencyConflictError as exc:
            raise conflict(exc) from exc
        if isinstance(outcome, Replay):
            headers = {"Idempotent-Replayed": "true", **_location(outcome.response)}
            lang = stored_language(outcome.response)
            if lang is not None:  # the stored decision's language, whatever this retry's Accept-Language
                headers["Content-Language"] = lang
            return JSONResponse(outcome.response, status_code=outcome.status_code, headers=headers)
        claim = (principal.tenant, key, outcome)
    try:
        status, body = await work(claim)
    except BaseException:
        if claim is not None:  # a frozen store must not delay the 503: the release may finish after it
            held = claim
            await state.store_settle(lambda: state.store.release(*held))
        raise
    return JSONResponse(body, status_code=status, headers=_location(body))
