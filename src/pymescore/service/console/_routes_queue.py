"""The review queue (``/app/bandeja``) and the human decisions: approve, decline with a coded reason, ask for
information; beyond the officer's delegation limit or against the model (an override) an approver must confirm,
and never their own action (maker-checker). Every action is a new row: who, when, what, why, and the model's
decision it departs from; the model's decision itself is never changed."""

from __future__ import annotations

import datetime as dt
import math
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from pymescore.contracts._reference import ciiu_section_label
from pymescore.service import _applicant_requests as book
from pymescore.service._deadline import WriteGate
from pymescore.service._state import ServiceState
from pymescore.service.console._accounts import Accounts, User
from pymescore.service.console._cases import ActionTakenError, Cases
from pymescore.service.console._i18n import APPROVE_REASONS, DECLINE_REASONS, INFO_REASONS
from pymescore.service.console._web import (
    ConsoleError,
    add_working_days,
    check_csrf,
    current_user,
    lang_of,
    needs_role,
    redirect,
    render,
    working_days,
)

#: an internal service level for a case in review (working days from the model's decision)
REVIEW_DAYS = 7
#: cases per page of the queue (oldest first)
PAGE = 100
CATALOGUE = {"approve": APPROVE_REASONS, "decline": DECLINE_REASONS, "info": INFO_REASONS}


def needs_approver(user: User, action: str, amount_pen: float | None, model_decision: str) -> str:
    """Why an approver must confirm this action ("" when nobody needs to): ``limit`` (an approval above the
    officer's delegation limit; no limit means no delegated authority), ``override`` (against the model)."""
    why = []
    if action == "approve" and (user.limit_pen is None or amount_pen is None or amount_pen > user.limit_pen):
        why.append("limit")
    if (action, model_decision) in (("approve", "decline"), ("decline", "approve")):
        why.append("override")
    return "+".join(why)


def queue_router(state: ServiceState, accounts: Accounts) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    cases = Cases(state.store)

    def pen(amount: float, currency: str) -> float | None:
        if currency == "PEN":
            return amount
        rates = state.scorer.rates if state.scorer is not None else None
        return None if rates is None or rates.empty else amount * float(rates["pen_per_usd"].iloc[-1])

    @router.get("/app/bandeja")
    async def queue(
        request: Request, band: str = "", region: str = "", sector: str = "", min_amount: str = "",
        max_amount: str = "", min_age: str = "", pagina: str = "1",
    ) -> Response:  # fmt: skip
        user = await current_user(state, accounts, request)
        rows = await state.store_call(lambda: cases.in_review(user.tenant, band.strip()[:2] or None))
        today = dt.datetime.now(dt.UTC).date()
        lo, hi, age = _number(min_amount), _number(max_amount), _number(min_age)
        shown, regions, sectors = [], set(), set()
        for r in rows:
            r["region"], r["sector"] = str(r["region"] or "—"), str(r["sector"] or "—")
            regions.add(r["region"])
            sectors.add(r["sector"])
            created = r["created_at"].date()
            r["age"] = working_days(created, today)
            waiting = r["status"].pending
            r["days_left"] = (working_days(today, add_working_days(created, REVIEW_DAYS))
                              if r["status"].state != "pending_approver" else None)  # fmt: skip
            r["since"] = waiting["created_at"] if waiting else r["created_at"]
            amount = float(r["requested_amount"] or 0)
            if (region and r["region"] != region) or (sector and r["sector"] != sector):
                continue
            if (lo is not None and amount < lo) or (hi is not None and amount > hi) or (age is not None and
                                                                                         r["age"] < age):  # fmt: skip
                continue
            shown.append(r)
        shown.sort(key=lambda r: str(r["since"]))
        filters = {"band": band, "region": region, "sector": sector, "min_amount": min_amount,
                   "max_amount": max_amount, "min_age": min_age}  # fmt: skip
        pages = max(math.ceil(len(shown) / PAGE), 1)
        page = min(max(int(pagina), 1), pages) if pagina.isdigit() else 1
        total, shown = len(shown), shown[(page - 1) * PAGE : page * PAGE]  # the oldest first, a page at a time
        link = "&".join(f"{k}={quote(v)}" for k, v in filters.items() if v)
        asked = await state.store_call(lambda: list(book.open_requests(state.store, user.tenant, today)))
        asked.sort(key=lambda r: r["deadline"])
        for r in shown:  # a CIIU section by its letter and its name
            r["sector_name"] = ciiu_section_label(r["sector"])
        return render(request, "queue.html", rows=shown, filters=filters, regions=sorted(regions),
                      sectors=[(x, ciiu_section_label(x)) for x in sorted(sectors)],
                      bands=["A", "B", "C", "D", "E"], asked=asked,
                      pager={"page": page, "pages": pages, "total": total, "first": (page - 1) * PAGE + 1,
                             "last": (page - 1) * PAGE + len(shown), "link": link})  # fmt: skip

    @router.get("/app/solicitudes/{decision_id}/carta")
    async def letter(request: Request, decision_id: str) -> Response:
        """The letter that answers a denial-reasons request (the API's letter, for the officer to send or print);
        producing it answers the open request."""
        user = await current_user(state, accounts, request)
        case = await _case(state, cases, user, decision_id)
        if case["decision"] != "decline":
            raise ConsoleError(409, "err_closed")
        lang = lang_of(request)
        page = await state.store_call(lambda: book.answer_denial(state.store, user.tenant, case["response"], lang))
        return HTMLResponse(page, headers={"Cache-Control": "no-store"})

    @router.post("/app/solicitudes/{decision_id}/accion")
    async def act(
        request: Request,
        decision_id: str,
        action: Annotated[str, Form(max_length=16)] = "",
        amount: Annotated[str, Form(max_length=40)] = "",
        term: Annotated[str, Form(max_length=10)] = "",
        reason: Annotated[str, Form(max_length=16)] = "",
        note: Annotated[str, Form(max_length=2000)] = "",
        csrf_token: Annotated[str, Form(max_length=200)] = "",
    ) -> Response:
        user = await current_user(state, accounts, request)
        check_csrf(user.csrf, csrf_token)
        needs_role(user, "officer", "approver")
        case = await _case(state, cases, user, decision_id)
        if case["status"].state not in ("model", "pending_review", "info"):
            raise ConsoleError(409, "err_closed")
        r = case["response"]
        if action not in CATALOGUE or reason not in CATALOGUE[action]:
            raise ConsoleError(422, "err_action")
        value = _number(amount) if action == "approve" else None
        months = _number(term) if action == "approve" else None
        if action == "approve" and (value is None or value <= 0 or months is None or not 1 <= months <= 120):
            raise ConsoleError(422, "err_amount")
        why = needs_approver(user, action, None if value is None else pen(value, r["currency"]), r["decision"])
        if "override" in why and not note.strip():
            raise ConsoleError(422, "err_note")
        row = {"tenant": user.tenant, "decision_id": case["id"], "username": user.username, "role": user.role,
               "action": action, "amount": value, "term_months": None if months is None else int(months),
               "currency": r["currency"], "reason_code": reason, "note": note.strip(),
               "model_decision": r["decision"], "model_amount": float(r["suggested_amount"]),
               "needs_approver": why, "target_id": None}  # fmt: skip
        await state.store_write(lambda gate: _append(cases, row, gate))
        if not why and action in ("approve", "decline"):  # a person decided: an open human-review request is answered
            await state.store_call(lambda: book.mark_answered(state.store, "human_review", user.tenant, case["id"]))
        return redirect(f"/app/solicitudes/{case['id']}")

    @router.post("/app/solicitudes/{decision_id}/confirmacion")
    async def confirm(
        request: Request,
        decision_id: str,
        target: Annotated[str, Form(max_length=36)] = "",
        verdict: Annotated[str, Form(max_length=16)] = "",
        note: Annotated[str, Form(max_length=2000)] = "",
        csrf_token: Annotated[str, Form(max_length=200)] = "",
    ) -> Response:
        user = await current_user(state, accounts, request)
        check_csrf(user.csrf, csrf_token)
        needs_role(user, "approver")
        case = await _case(state, cases, user, decision_id)
        pending = case["status"].pending
        if pending is None or pending["id"] != target or verdict not in ("confirm", "reject"):
            raise ConsoleError(409, "err_closed")
        if pending["username"] == user.username:
            raise ConsoleError(403, "err_own")
        amount_pen = None if pending["amount"] is None else pen(pending["amount"], pending["currency"] or "PEN")
        if (
            verdict == "confirm"
            and pending["action"] == "approve"
            and user.limit_pen is not None
            and (amount_pen is None or amount_pen > user.limit_pen)
        ):
            raise ConsoleError(403, "err_limit")
        row = {"tenant": user.tenant, "decision_id": case["id"], "username": user.username, "role": user.role,
               "action": verdict, "amount": pending["amount"], "term_months": pending["term_months"],
               "currency": pending["currency"], "reason_code": "C01" if verdict == "confirm" else "C02",
               "note": note.strip(), "model_decision": case["decision"],
               "model_amount": float(case["response"]["suggested_amount"]), "needs_approver": "",
               "target_id": pending["id"]}  # fmt: skip
        await state.store_write(lambda gate: _append(cases, row, gate))
        if verdict == "confirm" and pending["action"] in ("approve", "decline"):  # the committee's decision stands
            await state.store_call(lambda: book.mark_answered(state.store, "human_review", user.tenant, case["id"]))
        return redirect(f"/app/solicitudes/{case['id']}")

    return router


def _append(cases: Cases, row: dict[str, Any], gate: WriteGate) -> None:
    try:
        cases.append_action(row, gate)
    except ActionTakenError as exc:
        raise ConsoleError(409, "err_closed") from exc


async def _case(state: ServiceState, cases: Cases, user: User, decision_id: str) -> dict[str, Any]:
    case = await state.store_call(lambda: cases.case(user.tenant, decision_id[:36]))
    if case is None:
        raise ConsoleError(404, "err_404")
    return case


def _number(text: str) -> float | None:
    try:
        value = float(text.replace(",", "").strip()) if text.strip() else None
    except ValueError:
        return None
    return value if value is not None and math.isfinite(value) else None
