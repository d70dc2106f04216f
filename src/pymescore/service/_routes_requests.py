"""An applicant's requests on a decision: the reasons for a denial (with the letter that answers them) and a
human review; the open ones, with the working days left."""

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from pymescore.service import _applicant_requests as book
from pymescore.service._auth import needs
from pymescore.service._http import AUTH_RESPONSES, BODY_RESPONSES
from pymescore.service._problems import ProblemError
from pymescore.service._schemas import Problem
from pymescore.service._state import ServiceState
from pymescore.service._store import Principal

ScoreId = Annotated[str, Path(max_length=64, pattern=r"^[0-9A-Za-z-]+$")]
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": Problem, "description": "No such decision"}}
NOT_DENIED: dict[int | str, dict[str, Any]] = {409: {"model": Problem, "description": "The decision is no denial"}}


class ApplicantRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    channel: Literal["web", "branch", "phone", "email", "mail"] = Field(description="How the applicant asked.")
    requested_on: dt.date | None = Field(None, description="The day the applicant asked (default: today, Lima).")
    note: str = Field("", max_length=1000, description="What the applicant said, in short.")


class RequestRecord(BaseModel):
    id: str
    kind: Literal["reason", "human_review"]
    score_id: str
    requested_on: str
    channel: str
    deadline: str = Field(description="The 7th working day after the request (Peru's public holidays skipped).")
    note: str
    working_days_left: int
    answered_at: str | None


def _today() -> dt.date:
    from pymescore.service._scorer import today_lima

    return today_lima()


def requests_router(state: ServiceState) -> APIRouter:
    router = APIRouter()

    async def decision_of(principal: Principal, score_id: str) -> dict[str, Any]:
        found = await state.store_call(lambda: state.store.get(principal.tenant, score_id))
        if found is None:
            raise ProblemError(404, "no decision with this id for your tenant", code="DECISION_NOT_FOUND")
        return found

    async def record(kind: str, principal: Principal, score_id: str, body: ApplicantRequest) -> JSONResponse:
        today = _today()
        asked = body.requested_on or today
        if asked > today:
            raise ProblemError(422, f"requested_on: expected a day not after today ({today}), got {asked}",
                               code="REQUEST_INVALID")  # fmt: skip
        row = await state.store_call(lambda: book.create(state.store, kind, principal.tenant, score_id, asked,
                                                         body.channel, body.note))  # fmt: skip
        row["working_days_left"] = book.working_days_left(dt.date.fromisoformat(row["deadline"]), today)
        return JSONResponse(row, status_code=201, headers={"Cache-Control": "no-store"})

    @router.post("/v1/scores/{score_id}/reason-requests", response_model=RequestRecord, status_code=201,
                 tags=["applicant requests"], responses={**AUTH_RESPONSES, **BODY_RESPONSES, **NOT_FOUND,
                                                         **NOT_DENIED})  # fmt: skip
    async def ask_reasons(score_id: ScoreId, body: ApplicantRequest,
                          principal: Annotated[Principal, Depends(needs(state, "score"))]) -> JSONResponse:  # fmt: skip
        """Record that the applicant asked for the reasons of a denial (Ley 32294; Res. SBS 01689-2025): the
        answer is due within 7 working days; `GET /v1/scores/{score_id}/letter` gives it."""
        decision = await decision_of(principal, score_id)
        if decision["decision"] != "decline":
            raise ProblemError(409, f"expected a declined application, got a decision of {decision['decision']}",
                               code="DECISION_NOT_DENIED")  # fmt: skip
        return await record("reason", principal, score_id, body)

    @router.post("/v1/scores/{score_id}/human-review-requests", response_model=RequestRecord, status_code=201,
                 tags=["applicant requests"], responses={**AUTH_RESPONSES, **BODY_RESPONSES, **NOT_FOUND})  # fmt: skip
    async def ask_review(score_id: ScoreId, body: ApplicantRequest,
                         principal: Annotated[Principal, Depends(needs(state, "score"))]) -> JSONResponse:  # fmt: skip
        """Record that the applicant asked for a person to review the automated decision (DS 115-2025-PCM); the
        case joins the open requests (`GET /v1/applicant-requests`)."""
        await decision_of(principal, score_id)
        return await record("human_review", principal, score_id, body)

    @router.get("/v1/scores/{score_id}/letter", tags=["applicant requests"],
                responses={**AUTH_RESPONSES, **NOT_FOUND, **NOT_DENIED,
                           200: {"content": {"text/html": {}, "application/pdf": {}}}})  # fmt: skip
    async def letter(score_id: ScoreId, principal: Annotated[Principal, Depends(needs(state, "read"))],
                     format: Annotated[Literal["html", "pdf"], Query()] = "html",
                     lang: Annotated[Literal["es", "en"], Query()] = "es") -> Response:  # fmt: skip
        """The letter that answers a denial: the stored reasons in plain words and the improvement hints, or
        only the prudential wording when a prudential knock-out decided. Producing it answers the open
        reason requests of the decision."""
        decision = await decision_of(principal, score_id)
        if decision["decision"] != "decline":
            raise ProblemError(409, f"expected a declined application, got a decision of {decision['decision']}",
                               code="DECISION_NOT_DENIED")  # fmt: skip
        page = await state.store_call(lambda: book.answer_denial(state.store, principal.tenant, decision, lang))
        headers = {"Cache-Control": "no-store"}
        if format == "pdf":
            import anyio

            pdf = await anyio.to_thread.run_sync(book.letter_pdf, page)
            headers["Content-Disposition"] = f'attachment; filename="carta-{score_id}.pdf"'
            return Response(pdf, media_type="application/pdf", headers=headers)
        return HTMLResponse(page, headers=headers)

    @router.get("/v1/applicant-requests", response_model=list[RequestRecord], tags=["applicant requests"],
                responses=AUTH_RESPONSES)  # fmt: skip
    async def open_requests(principal: Annotated[Principal, Depends(needs(state, "read"))]) -> JSONResponse:
        """This tenant's open requests (reasons and human reviews), nearest deadline first, with working days
        left (negative: overdue)."""
        today = _today()
        rows = await state.store_call(lambda: list(book.open_requests(state.store, principal.tenant, today)))
        rows.sort(key=lambda r: r["deadline"])
        return JSONResponse(rows, headers={"Cache-Control": "no-store"})

    return router
