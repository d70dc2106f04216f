"""The tenant's applications: the list and one case's page (the model's result, the charts, the human
decisions beside it). Another tenant's case is a 404, as in the API."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from pymescore.service._state import ServiceState
from pymescore.service.console._accounts import Accounts, User
from pymescore.service.console._cases import Cases
from pymescore.service.console._charts import cashflow_chart, payment_timeline
from pymescore.service.console._i18n import APPROVE_REASONS, CONFIRM_REASONS, DECLINE_REASONS, INFO_REASONS
from pymescore.service.console._owner_links import VALIDITY_HOURS, OwnerLinks
from pymescore.service.console._web import ConsoleError, current_user, lang_of, render


def cases_router(state: ServiceState, accounts: Accounts) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    cases = Cases(state.store)
    links = OwnerLinks(state.store)

    @router.get("/app/solicitudes")
    async def case_list(request: Request) -> Response:
        user = await current_user(state, accounts, request)
        rows = await state.store_call(lambda: cases.recent(user.tenant))
        return render(request, "cases.html", rows=rows)

    @router.get("/app/solicitudes/{decision_id}")
    async def case_page(request: Request, decision_id: str) -> Response:
        user = await current_user(state, accounts, request)
        case = await state.store_call(lambda: cases.case(user.tenant, decision_id[:36]))
        if case is None:
            raise ConsoleError(404, "err_404")
        own = await state.store_call(lambda: links.for_decisions(user.tenant, [case["id"]]))
        return render(request, "result.html", owner_links=own.get(case["id"], []), owner_hours=VALIDITY_HOURS,
                      **case_context(case, user, lang_of(request)))  # fmt: skip

    return router


def case_context(case: dict[str, Any], user: User, lang: str) -> dict[str, Any]:
    """What the result page shows: the model's response, charts of the uploaded histories, the trail, and
    which human actions this user may take now."""
    r = case["response"]
    upload = case["upload"]
    histories = upload["histories"] if upload else {}
    status = case["status"]
    pending = status.pending
    catalogue = {k: v[1 if lang == "en" else 0] for k, v in {**APPROVE_REASONS}.items()}
    return {
        "case": case,
        "r": r,
        "cstatus": status,
        "cashflow": cashflow_chart(histories.get("monthly_cashflows", []), r["as_of"], lang) if upload else None,
        "payments": payment_timeline(histories.get("payments", []), r["as_of"], lang) if upload else None,
        "upload": upload,
        "can_decide": user.role in ("officer", "approver") and status.state in ("model", "pending_review", "info"),
        "can_confirm": (user.role == "approver" and pending is not None and pending["username"] != user.username),
        "own_pending": pending is not None and pending["username"] == user.username,
        "approve_reasons": catalogue,
        "decline_reasons": {k: v[1 if lang == "en" else 0] for k, v in DECLINE_REASONS.items()},
        "info_reasons": {k: v[1 if lang == "en" else 0] for k, v in INFO_REASONS.items()},
        "confirm_reasons": {k: v[1 if lang == "en" else 0] for k, v in CONFIRM_REASONS.items()},
        "term": upload["term_months"] if upload else None,
    }
