"""The SME owner's page. From a case's result the officer makes a link (``POST /app/solicitudes/{id}/enlace``,
recorded in the trail) and hands it to the owner; the link (``/app/propietario/{token}``) shows the owner, once,
their score, the reasons and how to improve it in plain words — nothing internal: no policy rules, no probability,
no model or policy version, no institution, user or other firm.

Opening takes a click on the link's page (a form post), so a messaging app's link preview does not use it up.
A used link says so, an expired one too (410); an unknown one is a 404.
"""

from __future__ import annotations

import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from pymescore.decision import hint_text
from pymescore.service._state import ServiceState
from pymescore.service.console._accounts import Accounts
from pymescore.service.console._cases import Cases
from pymescore.service.console._owner_links import VALIDITY_HOURS, Opened, OwnerLinks
from pymescore.service.console._web import (
    LOGIN_CSRF_COOKIE,
    ConsoleError,
    check_csrf,
    current_user,
    lang_of,
    needs_role,
    render,
    set_cookie,
)

#: an owner's page is nobody else's: not cached, not indexed, its address not sent on as a referrer
PRIVATE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex, nofollow"}
STATUS = {"ready": 200, "shown": 200, "used": 410, "expired": 410, "unknown": 404}


def owner_router(state: ServiceState, accounts: Accounts) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    cases = Cases(state.store)
    links = OwnerLinks(state.store)

    @router.post("/app/solicitudes/{decision_id}/enlace")
    async def make_link(
        request: Request,
        decision_id: str,
        hours: Annotated[int, Form(ge=1, le=10_000)] = VALIDITY_HOURS[0],
        csrf_token: Annotated[str, Form(max_length=200)] = "",
    ) -> Response:
        user = await current_user(state, accounts, request)
        check_csrf(user.csrf, csrf_token)
        needs_role(user, "officer")
        if hours not in VALIDITY_HOURS:
            raise ConsoleError(422, "err_hours")
        case = await state.store_call(lambda: cases.case(user.tenant, decision_id[:36]))
        if case is None:
            raise ConsoleError(404, "err_404")
        token, row = await state.store_call(lambda: links.create(user.tenant, case["id"], user.username, hours))
        url = str(request.base_url).rstrip("/") + f"/app/propietario/{token}"
        return render(request, "owner_link.html", case=case, url=url, expires_at=row["expires_at"], hours=hours)

    @router.get("/app/propietario/{token}")
    async def owner_intro(request: Request, token: str) -> Response:
        found = await state.store_call(lambda: links.peek(token))
        csrf = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(24)
        response = _owner_page(request, found, token, csrf)
        set_cookie(response, request, LOGIN_CSRF_COOKIE, csrf, max_age=3600)
        return response

    @router.post("/app/propietario/{token}")
    async def owner_open(
        request: Request, token: str, csrf_token: Annotated[str, Form(max_length=200)] = ""
    ) -> Response:
        check_csrf(request.cookies.get(LOGIN_CSRF_COOKIE, ""), csrf_token)
        found = await state.store_call(lambda: links.open(token))
        return _owner_page(request, found, token, "")

    return router


def _owner_page(request: Request, found: Opened, token: str, csrf: str) -> Response:
    lang = lang_of(request)
    shown = owner_view(found.response, lang) if found.response is not None else None
    response = render(request, "owner.html", status=STATUS[found.state], state=found.state, token=token, csrf=csrf,
                      expires_at=found.expires_at, shown=shown)  # fmt: skip
    response.headers.update(PRIVATE)
    return response


def owner_view(r: dict[str, Any], lang: str) -> dict[str, Any]:
    """What the owner sees of a stored response: the score and its band, the reasons as they were given (in the
    evaluation's language), the hints written in the page's language (the decision stage's own sentences), the
    dates. Nothing else leaves: not the policy, the probability, the versions, the institution."""
    hints = [{"text": hint_text(h["feature"], float(h["current_value"]), float(h["target_value"]), lang)
              if h.get("current_value") is not None else h["text"], "points": float(h["points"])}
             for h in r.get("improvement_hints", [])]  # fmt: skip
    return {
        "ruc": r["ruc"],
        "as_of": r["as_of"],
        "score": int(r["score"]),
        "band": str(r["band"]),
        "reasons": [{"text": x["text"], "points": float(x["impact_points"])} for x in r.get("reasons", [])],
        "reasons_lang": "en" if r.get("language") == "en" else "es",
        "hints": hints,
        "note": None if hints else r.get("improvement_note"),
        "score_id": r["score_id"],
    }
