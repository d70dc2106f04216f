"""The operations routes, open without a key: liveness, readiness and Prometheus metrics."""

import hmac
from typing import Annotated

from fastapi import APIRouter, Header, Response
from fastapi.responses import JSONResponse

from pymescore.service._problems import ProblemError, problem_response
from pymescore.service._schemas import Problem
from pymescore.service._state import ServiceState


def health_router(state: ServiceState) -> APIRouter:
    """``GET /healthz``, ``GET /readyz`` and ``GET /metrics``."""
    router = APIRouter()

    @router.get("/healthz", tags=["operations"])
    async def healthz() -> dict[str, str]:
        """Alive (no dependency checked)."""
        return {"status": "ok"}

    @router.get("/readyz", tags=["operations"], responses={503: {"model": Problem}})
    async def readyz() -> JSONResponse:
        """Ready: a verified model is loaded and the audit store answers."""
        if state.scorer is None:
            return problem_response(503, "no model is loaded", "MODEL_NOT_LOADED")
        try:
            await state.store_call(state.store.ping)
        except ProblemError as exc:
            return problem_response(503, exc.detail, exc.code)
        return JSONResponse({"status": "ready", "model_version": state.scorer.version})

    if state.settings.metrics_port:  # served on its own port (``serve_metrics``), not next to the API
        return router
    token = state.settings.metrics_token

    @router.get("/metrics", tags=["operations"], response_class=Response,
                responses={401: {"model": Problem, "description": "The metrics token is set: send it"}})  # fmt: skip
    async def prometheus_metrics(authorization: Annotated[str | None, Header()] = None) -> Response:
        """Prometheus text format (all workers when several run); with ``PYMESCORE_METRICS_TOKEN`` set, only for
        ``Authorization: Bearer <token>``."""
        if token is not None and not hmac.compare_digest((authorization or "").encode(), f"Bearer {token}".encode()):
            raise ProblemError(401, "expected 'Authorization: Bearer <metrics token>'", code="AUTH_INVALID",
                               headers={"WWW-Authenticate": 'Bearer realm="pymescore-metrics"'})  # fmt: skip
        return Response(state.metrics.render(), media_type=state.metrics.content_type)

    return router
