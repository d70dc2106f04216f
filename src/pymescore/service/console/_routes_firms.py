"""A firm's history (``/app/empresas/{ruc}``: every application of the RUC, the model's decisions, the human
actions and the owner's links) and a case's printable file (``/app/solicitudes/{id}/expediente``, HTML with a
print style sheet, and the same page as PDF by WeasyPrint). Officers, approvers and reviewers of the tenant read
them; another tenant's firm or case is a 404, as in the API."""

from __future__ import annotations

import datetime as dt
from typing import Any

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import Response

from pymescore.service._applicant_requests import letter_pdf
from pymescore.service._state import ServiceState
from pymescore.service.console._accounts import Accounts, User
from pymescore.service.console._cases import Cases
from pymescore.service.console._firms import history
from pymescore.service.console._owner_links import OwnerLinks
from pymescore.service.console._routes_cases import case_context
from pymescore.service.console._web import HERE, ConsoleError, current_user, lang_of, needs_role, render

#: the roles that read a firm's history and a case file (an admin manages users, not cases)
READERS = ("officer", "approver", "reviewer")


def firms_router(state: ServiceState, accounts: Accounts) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    cases = Cases(state.store)
    links = OwnerLinks(state.store)

    @router.get("/app/empresas/{ruc}")
    async def firm_page(request: Request, ruc: str) -> Response:
        user = await current_user(state, accounts, request)
        needs_role(user, *READERS)
        found = await state.store_call(lambda: history(state.store, user.tenant, ruc[:11]))
        if found is None:
            raise ConsoleError(404, "err_404")
        return render(request, "firm.html", firm=found)

    async def case_file(request: Request, user: User, decision_id: str, inline_css: str = "") -> Response:
        needs_role(user, *READERS)
        case = await state.store_call(lambda: cases.case(user.tenant, decision_id[:36]))
        if case is None:
            raise ConsoleError(404, "err_404")
        firm = await state.store_call(lambda: history(state.store, user.tenant, case["ruc"]))
        own = await state.store_call(lambda: links.for_decisions(user.tenant, [case["id"]]))
        context: dict[str, Any] = case_context(case, user, lang_of(request))
        others = [r for r in (firm or {"rows": []})["rows"] if r["id"] != case["id"]]
        printed = dt.datetime.now(dt.UTC).isoformat()
        return render(request, "casefile.html", others=others, links=own.get(case["id"], []), printed=printed,
                      inline_css=inline_css, **context)  # fmt: skip

    @router.get("/app/solicitudes/{decision_id}/expediente")
    async def case_file_html(request: Request, decision_id: str) -> Response:
        user = await current_user(state, accounts, request)
        return await case_file(request, user, decision_id)

    @router.get("/app/solicitudes/{decision_id}/expediente.pdf")
    async def case_file_pdf(request: Request, decision_id: str) -> Response:
        user = await current_user(state, accounts, request)
        css = (HERE / "static" / "casefile.css").read_text()  # the page's own style sheet, inlined: no network
        page = bytes((await case_file(request, user, decision_id, css)).body).decode()
        pdf = await anyio.to_thread.run_sync(letter_pdf, page)  # WeasyPrint
        name = f"expediente-{decision_id[:36]}.pdf"
        return Response(
            pdf,
            media_type="application/pdf",
            headers={"Cache-Control": "no-store", "Content-Disposition": f'inline; filename="{name}"'},
        )

    return router
