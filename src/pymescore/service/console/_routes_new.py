"""A new application (``/app/solicitudes/nueva``): RUC, amount, currency, term, and the firm's histories from
a workbook, CSV files or the lake. Nothing is scored while a problem remains; a clean application is scored by
the served model's ``Scorer.score`` (the API's decision stage) and audited before its page is shown."""

from __future__ import annotations

import datetime as dt
import re
import time
from pathlib import Path
from typing import Annotated, Any, cast

import anyio
from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from pymescore.service._idempotency import fingerprint
from pymescore.service._routes_scoring import _decision_row, _record_metrics
from pymescore.service._schemas import ScoreRequest
from pymescore.service._scorer import ApplicationInvalidError
from pymescore.service._state import ServiceState
from pymescore.service._store import Principal
from pymescore.service.console._accounts import Accounts, User
from pymescore.service.console._cases import Cases
from pymescore.service.console._web import check_csrf, current_user, lang_of, needs_role, redirect, render
from pymescore.service.console._workbook import SHEETS, Histories, Problem, number_of, read_upload, template_workbook

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_PATH = re.compile(r"^(?P<table>[a-z_]+)\[(?P<index>\d+)\](?:\.(?P<column>\w+))?$")
DATE_COLUMN = {"monthly_cashflows": "month", "financial_statements": "period_end", "payments": "due_date",
               "bureau_ratings": "month"}  # fmt: skip
FORM_FIELDS = {"ruc": "RUC", "requested_amount": "amount", "currency": "currency", "term_months": "term",
               "as_of": "as_of"}  # fmt: skip


def new_router(state: ServiceState, accounts: Accounts) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    cases = Cases(state.store)

    @router.get("/app/plantilla.xlsx")
    async def template() -> Response:
        data = await anyio.to_thread.run_sync(template_workbook)
        return Response(data, media_type=XLSX, headers={"Content-Disposition": 'attachment; filename="plantilla.xlsx"'})

    @router.get("/app/solicitudes/nueva")
    async def new_form(request: Request) -> Response:
        user = await current_user(state, accounts, request)
        needs_role(user, "officer")
        form = {"ruc": "", "amount": "", "currency": "PEN", "term": "", "as_of": ""}
        return render(request, "new.html", form=form, problems=[], form_problems=[])

    @router.post("/app/solicitudes/nueva")
    async def submit(
        request: Request,
        ruc: Annotated[str, Form(max_length=40)] = "",
        amount: Annotated[str, Form(max_length=40)] = "",
        currency: Annotated[str, Form(max_length=8)] = "PEN",
        term: Annotated[str, Form(max_length=10)] = "",
        as_of: Annotated[str, Form(max_length=20)] = "",
        csrf_token: Annotated[str, Form(max_length=200)] = "",
    ) -> Response:
        user = await current_user(state, accounts, request)
        check_csrf(user.csrf, csrf_token)
        needs_role(user, "officer")
        lang = lang_of(request)
        form = {"ruc": ruc.strip(), "amount": amount.strip(), "currency": currency, "term": term.strip(),
                "as_of": as_of.strip()}  # fmt: skip
        # an empty file input still sends a part (no file name): read the parts here rather than as UploadFile
        parts = (await request.form()).getlist("files")
        uploads = [(f.filename or "file", await f.read()) for f in parts if isinstance(f, UploadFile) and f.filename]
        histories, source = await _histories(state, form["ruc"], form["as_of"], uploads, lang)
        form_problems: list[Problem] = []
        if histories is None:
            why = ("un libro de Excel o archivos CSV (la empresa no está en el lago)", "an Excel workbook or CSV "
                   "files (the firm is not in the lake)")[lang == "en"]  # fmt: skip
            form_problems.append(Problem("formulario" if lang == "es" else "form", "-", "app-file", why, "-"))
            histories = Histories()
        # a form's fields are text: numbers read as the workbook's cells are (the API takes them strictly)
        body: dict[str, Any] = {"ruc": form["ruc"], "requested_amount": _form_number(form["amount"]),
                                "currency": form["currency"], "term_months": _form_number(form["term"]),
                                "as_of": form["as_of"] or None, "firm": histories.firm,
                                **{t: histories.tables.get(t, []) for t in SHEETS[1:]}}  # fmt: skip
        try:
            req = ScoreRequest.model_validate(body)
        except ValidationError as exc:
            req = None
            for e in exc.errors():
                form_problems.append(_mapped(".".join(map(str, e["loc"])), e["msg"], _got(e), histories, lang))
        if histories.problems or form_problems or req is None:
            return _again(request, form, histories.problems, form_problems)
        model = state.served()
        start = time.perf_counter()
        (result,) = await anyio.to_thread.run_sync(model.score, [req], lang, limiter=state.score_slots)
        if isinstance(result, ApplicationInvalidError):
            errors = cast(list[dict[str, str]], result.fields["errors"])
            found = [_mapped(e["path"], e["expected"], e["got"], histories, lang) for e in errors]
            return _again(request, form, [p for p in found if p.row != "-" or p.sheet in SHEETS],
                          [p for p in found if p.row == "-" and p.sheet not in SHEETS])  # fmt: skip
        ms = (time.perf_counter() - start) * 1000
        row = _decision_row(result, fingerprint(req), _principal(user), None, ms)
        case = {"decision_id": row["id"], "tenant": user.tenant, "created_by": user.username,
                "created_at": row["created_at"], "source": source, "term_months": req.term_months,
                "histories": req.model_dump(mode="json", exclude={"features"})}  # fmt: skip
        await state.store_write(lambda gate: cases.store_scored(row, case, gate))
        _record_metrics(state, [result])
        return redirect(f"/app/solicitudes/{row['id']}")

    return router


def _principal(user: User) -> Principal:
    return Principal(f"user:{user.username}", user.tenant, frozenset({"score"}))


def _again(request: Request, form: dict[str, str], problems: list[Problem], form_problems: list[Problem]) -> Response:
    """The form again, filled as sent, with every problem; nothing was scored."""
    return render(request, "new.html", status=422, form=form, problems=problems, form_problems=form_problems)


def _got(error: Any) -> str:
    value = error.get("input")
    return "(vacío / empty)" if value in (None, "") else str(value)[:80]


def _mapped(path: str, expected: str, got: str, h: Histories, lang: str) -> Problem:
    """A request path (``payments[3].due_date``, ``firm.ciiu``, ``ruc``) as the sheet, row and column of the
    upload it came from."""
    expected = expected if expected.startswith("expected") else f"{expected}"
    if (m := _PATH.match(path)) and m["table"] in SHEETS:
        table, index = m["table"], int(m["index"])
        rows = h.rows.get(table, [])
        row: int | str = rows[index] if index < len(rows) else index + 2
        column = m["column"] or "-"
        return Problem(table, row, h.headers.get(table, {}).get(column, column), expected, got)
    if path.startswith("firm"):
        column = path.split(".", 1)[1] if "." in path else "-"
        rows = h.rows.get("firms", [])
        return Problem("firms", rows[0] if rows else 2, h.headers.get("firms", {}).get(column, column), expected, got)
    head = path.split(".", 1)[0]
    return Problem("formulario" if lang == "es" else "form", "-", FORM_FIELDS.get(head, head), expected, got)


async def _histories(
    state: ServiceState, ruc: str, as_of: str, uploads: list[tuple[str, bytes]], lang: str
) -> tuple[Histories | None, str]:
    """The upload's histories; without an upload, the lake's records of the firm (None: not there)."""
    if uploads:
        source = "workbook" if any(n.lower().endswith(".xlsx") for n, _ in uploads) else "csv"
        return await anyio.to_thread.run_sync(read_upload, ruc, uploads, lang), source
    return await anyio.to_thread.run_sync(_from_lake, state.settings.lake, ruc, as_of), "lake"


def _from_lake(root: Path, ruc: str, as_of: str) -> Histories | None:
    """The firm's records in the lake (the 24 months before ``as_of``), as an upload would give them."""
    import pandas as pd

    from pymescore.errors import PymescoreError
    from pymescore.lake import Lake
    from pymescore.service._samples import application_bodies

    if not re.fullmatch(r"\d{11}", ruc) or not Path(root).is_dir():
        return None
    try:
        lake = Lake(root)
        tables = {}
        for name in SHEETS:
            frame = None if lake.current(name) is None else lake.read_firm(name, ruc)
            tables[name] = frame if frame is not None else pd.DataFrame({"ruc": pd.Series([], dtype=object)})
    except (PymescoreError, OSError, ValueError):
        return None
    if tables["firms"].empty and all(tables[n].empty for n in SHEETS[1:]):
        return None
    when = as_of or str(dt.date.today())
    for name in SHEETS[1:]:  # the builders' date columns, present even for an empty table
        if tables[name].empty:
            tables[name] = pd.DataFrame(columns=["ruc", DATE_COLUMN[name]])
    (body,) = application_bodies(tables, [ruc], when, months=24)
    out = Histories(firm={k: v for k, v in (body.get("firm") or {}).items() if v is not None} or None)
    for name in SHEETS[1:]:
        out.tables[name] = body[name]
        out.rows[name] = list(range(2, len(body[name]) + 2))
    return out


def _form_number(text: str) -> float | int | str | None:
    """A form field as a number when it reads as one (``8000``, ``8,000.50``, ``8000,5``), else as sent."""
    if not text or not text.strip():
        return None
    number = number_of(text.strip())
    return text if number is None else number
