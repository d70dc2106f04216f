"""The tenant's applications: the list, and (``_routes_new``) a new one, its result page."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from pymescore.service._state import ServiceState
from pymescore.service.console._accounts import Accounts
from pymescore.service.console._cases import Cases
from pymescore.service.console._web import current_user, render


def cases_router(state: ServiceState, accounts: Accounts) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    cases = Cases(state.store)

    @router.get("/app/solicitudes")
    async def case_list(request: Request) -> Response:
        user = await current_user(state, accounts, request)
        rows = await state.store_call(lambda: cases.recent(user.tenant))
        return render(request, "cases.html", rows=rows)

    return router
