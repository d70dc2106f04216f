"""``GET /v1/regulator/aggregates``: the supervisor's view across institutions, aggregates only."""

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse

from pymescore.service import _applicant_requests as book
from pymescore.service._auth import needs
from pymescore.service._http import AUTH_RESPONSES
from pymescore.service._regulator import aggregates
from pymescore.service._state import ServiceState
from pymescore.service._store import Principal


def regulator_router(state: ServiceState) -> APIRouter:
    router = APIRouter()

    @router.get("/v1/regulator/aggregates", tags=["regulator"], responses=AUTH_RESPONSES)
    async def regulator_aggregates(
        principal: Annotated[Principal, Depends(needs(state, "regulator"))],
        since: Annotated[dt.date | None, Query(description="Decisions from this day on (default: all).")] = None,
    ) -> JSONResponse:
        """Across institutions: decisions and approval / review / decline rates by institution, region, sector and
        size class (groups of fewer than 10 decisions suppressed), and overdue denial-reason requests by
        institution. Never an individual decision: a regulator key reading one by id gets 404."""
        start = None if since is None else dt.datetime.combine(since, dt.time(), tzinfo=dt.UTC)
        rows = await state.store_call(lambda: state.store.recent(start))
        out: dict[str, Any] = aggregates(rows, start)
        from pymescore.service._scorer import today_lima

        out["overdue_reason_requests"] = await state.store_call(
            lambda: book.overdue_by_tenant(state.store, today_lima())
        )
        return JSONResponse(out, headers={"Cache-Control": "no-store"})

    return router
