"""The admin route: reload the model now."""

from typing import Annotated

import anyio
from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from pymescore.service._auth import needs
from pymescore.service._bodies import StrictJsonRoute
from pymescore.service._http import AUTH_RESPONSES
from pymescore.service._schemas import Problem
from pymescore.service._state import ServiceState
from pymescore.service._store import Principal


def admin_router(state: ServiceState) -> APIRouter:
    """``POST /v1/admin/reload`` (scope ``admin``)."""
    router = APIRouter(route_class=StrictJsonRoute)

    @router.post("/v1/admin/reload", tags=["model"], responses={**AUTH_RESPONSES, 409: {"model": Problem}})
    async def reload_model(principal: Annotated[Principal, Depends(needs(state, "admin"))]) -> JSONResponse:
        """Load the source's current model now (this worker; the others notice within the reload interval)."""
        return JSONResponse(await anyio.to_thread.run_sync(state.reload, True))

    return router
