"""The read routes: a stored decision, one RUC's decisions, and the served model."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import JSONResponse
from stdnum.pe import ruc as stdnum_ruc

from pymescore.service._auth import needs
from pymescore.service._http import AUTH_RESPONSES
from pymescore.service._problems import ProblemError
from pymescore.service._schemas import (
    RUC_DESCRIPTION,
    RUC_PATTERN,
    RUC_SCHEMA,
    HistoryResponse,
    ModelInfo,
    Problem,
    ScoreResponse,
)
from pymescore.service._state import ServiceState
from pymescore.service._store import Principal

_RUC_QUERY = Query(
    min_length=11, max_length=11, pattern=RUC_PATTERN, description=RUC_DESCRIPTION, json_schema_extra=RUC_SCHEMA
)
RucQuery = Annotated[str, _RUC_QUERY]
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": Problem, "description": "No such decision"}}


def reads_router(state: ServiceState) -> APIRouter:
    """``GET /v1/scores/{score_id}``, ``GET /v1/scores`` and ``GET /v1/model`` (scope ``read``)."""
    router = APIRouter()

    @router.get("/v1/scores/{score_id}", response_model=ScoreResponse, tags=["decisions"],
                responses={**AUTH_RESPONSES, **NOT_FOUND})  # fmt: skip
    async def get_score(
        score_id: Annotated[str, Path(max_length=64, pattern=r"^[0-9A-Za-z-]+$")],
        principal: Annotated[Principal, Depends(needs(state, "read"))],
    ) -> JSONResponse:
        """A stored decision, exactly as it was answered. Another tenant's decision is 404."""
        found = await state.store_call(lambda: state.store.get(principal.tenant, score_id))
        if found is None:
            raise ProblemError(404, "no decision with this id for your tenant", code="DECISION_NOT_FOUND")
        return JSONResponse(found)

    @router.get("/v1/scores", response_model=HistoryResponse, tags=["decisions"], responses=AUTH_RESPONSES)
    async def list_scores(
        ruc: RucQuery,
        principal: Annotated[Principal, Depends(needs(state, "read"))],
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> JSONResponse:
        """This tenant's decisions for one RUC, newest first."""
        if not stdnum_ruc.is_valid(ruc):  # the same check as POST /v1/scores: a typo is named, not an empty list
            raise ProblemError(422, "ruc: expected a valid RUC (its last digit is a check digit)", code="RUC_INVALID",
                               errors=[{"path": "query.ruc", "expected": "a valid RUC (11 digits with its check digit)",
                                        "got": ruc}])  # fmt: skip
        items = await state.store_call(lambda: state.store.history(principal.tenant, ruc, limit))
        return JSONResponse({"ruc": ruc, "items": items})

    @router.get("/v1/model", response_model=ModelInfo, tags=["model"], responses=AUTH_RESPONSES)
    async def model_info(principal: Annotated[Principal, Depends(needs(state, "read"))]) -> JSONResponse:
        """The served model: version, source, features (kinds, monotone directions), metrics, model card."""
        m = state.served()
        metrics_summary = {k: m.bundle.metrics.get(k) for k in ("cv", "test_metrics", "bands_monotone", "policy")}
        return JSONResponse({
            "name": "pymescore", "version": m.version, "source": m.source, "target": m.bundle.model.target,
            "features": [vars(f) for f in m.bundle.model.features], "inputs": m.bundle.model.inputs(),
            "metrics": metrics_summary,
            "card": m.bundle.card, "policy_version": m.policy.version,
        })  # fmt: skip

    return router
