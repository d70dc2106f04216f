"""An applicant's requests on a stored decision, and the letter that answers a denial.

- **Reasons for a denial** (Ley 32294, art. 2-A of Ley 28587; Res. SBS 01689-2025): the lender tells an
  applicant who asks the aspects that prevented the approval within 7 working days (Peru's public holidays
  from the ``holidays`` package); when the denial rests on prudential rules, the letter says only that.
- **Human review** of an automated decision (DS 115-2025-PCM): recorded, with the same 7-working-day target,
  for the workbench's queue.
"""

from __future__ import annotations

import datetime as dt
import html
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager
from functools import cache
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pymescore.service._tables import human_review_requests, reason_requests

WORKING_DAYS = 7
KINDS = {"reason": reason_requests, "human_review": human_review_requests}
#: knock-outs that rest on prudential rules: the letter says only that (Res. SBS 01689-2025)
PRUDENTIAL = frozenset({"KO_SBS_LOSS", "KO_TAXPAYER_NOT_ACTIVE", "KO_DOMICILE_NOT_HABIDO"})


class _Store(Protocol):
    def _tx(self) -> AbstractContextManager[Connection]: ...


@cache
def _holidays(year: int) -> frozenset[dt.date]:
    import holidays

    return frozenset(holidays.country_holidays("PE", years=year))


def working_day(d: dt.date) -> bool:
    return d.weekday() < 5 and d not in _holidays(d.year)


def deadline(requested_on: dt.date, days: int = WORKING_DAYS) -> dt.date:
    """The ``days``-th working day after ``requested_on`` (weekends and Peru's public holidays skipped)."""
    d, left = requested_on, days
    while left:
        d += dt.timedelta(days=1)
        left -= working_day(d)
    return d


def working_days_left(until: dt.date, today: dt.date) -> int:
    """Working days from ``today`` to ``until`` (negative when overdue)."""
    if until >= today:
        return sum(working_day(today + dt.timedelta(days=k)) for k in range(1, (until - today).days + 1))
    return -sum(working_day(until + dt.timedelta(days=k)) for k in range(1, (today - until).days + 1))


def create(store: _Store, kind: str, tenant: str, score_id: str, requested_on: dt.date, channel: str,
           note: str = "") -> dict[str, Any]:  # fmt: skip
    row = {"id": str(uuid.uuid4()), "tenant": tenant, "score_id": score_id, "requested_on": requested_on,
           "channel": channel, "deadline": deadline(requested_on), "note": note,
           "created_at": dt.datetime.now(dt.UTC), "answered_at": None}  # fmt: skip
    with store._tx() as conn:
        conn.execute(KINDS[kind].insert().values(**row))
    return _public(kind, row, requested_on)


def for_decision(store: _Store, kind: str, tenant: str, score_id: str) -> list[dict[str, Any]]:
    t = KINDS[kind]
    with store._tx() as conn:
        rows = conn.execute(sa.select(t).where(t.c.tenant == tenant, t.c.score_id == score_id)).mappings().all()
    return [dict(r) for r in rows]


def mark_answered(store: _Store, kind: str, tenant: str, score_id: str) -> int:
    """Mark the decision's open requests answered (the letter was produced); returns how many."""
    t = KINDS[kind]
    with store._tx() as conn:
        done = conn.execute(t.update().where(t.c.tenant == tenant, t.c.score_id == score_id, t.c.answered_at.is_(None))
                            .values(answered_at=dt.datetime.now(dt.UTC)))  # fmt: skip
    return int(done.rowcount or 0)


def open_requests(store: _Store, tenant: str | None, today: dt.date) -> Iterator[dict[str, Any]]:
    """Every open request (of ``tenant``, or all), oldest deadline first, with its working days left."""
    for kind, t in KINDS.items():
        query = sa.select(t).where(t.c.answered_at.is_(None))
        if tenant is not None:
            query = query.where(t.c.tenant == tenant)
        with store._tx() as conn:
            rows = conn.execute(query.order_by(t.c.deadline)).mappings().all()
        for r in rows:
            yield _public(kind, dict(r), today)


def overdue(store: _Store, today: dt.date) -> int:
    """Open reason requests past their deadline, across tenants (the Prometheus gauge)."""
    t = reason_requests
    with store._tx() as conn:
        n = conn.execute(sa.select(sa.func.count()).select_from(t)
                         .where(t.c.answered_at.is_(None), t.c.deadline < today)).scalar_one()  # fmt: skip
    return int(n)


def _public(kind: str, row: dict[str, Any], today: dt.date) -> dict[str, Any]:
    return {"id": row["id"], "kind": kind, "score_id": row["score_id"], "requested_on": str(row["requested_on"]),
            "channel": row["channel"], "deadline": str(row["deadline"]), "note": row.get("note") or "",
            "working_days_left": working_days_left(row["deadline"], today),
            "answered_at": None if row.get("answered_at") is None else str(row["answered_at"])}  # fmt: skip


_LETTER = {
    "es": {
        "title": "Respuesta a su solicitud de información sobre la denegación de su crédito",
        "intro": "En atención a su solicitud del {asked}, le informamos los aspectos que impidieron la aprobación "
        "de su solicitud de crédito evaluada el {as_of} (RUC {ruc}, evaluación {score_id}).",
        "prudential": "Su solicitud fue denegada por la aplicación de normas prudenciales de la regulación vigente.",
        "reasons": "Aspectos que impidieron la aprobación",
        "rules": "Reglas de la política de crédito aplicadas",
        "hints": "Qué podría mejorar su evaluación",
        "deadline": "Plazo de respuesta: {deadline} (7 días hábiles desde su solicitud).",
        "review": "Usted puede pedir que una persona revise esta decisión.",
        "model": "Decisión tomada con el modelo {model} y la política {policy}.",
    },
    "en": {
        "title": "Answer to your request for the reasons your credit was denied",
        "intro": "As you asked on {asked}, these are the aspects that prevented the approval of your credit "
        "application assessed on {as_of} (RUC {ruc}, assessment {score_id}).",
        "prudential": "Your application was denied under the prudential rules of the regulation in force.",
        "reasons": "Aspects that prevented the approval",
        "rules": "Credit policy rules applied",
        "hints": "What could improve your assessment",
        "deadline": "Answer due by: {deadline} (7 working days from your request).",
        "review": "You may ask for a person to review this decision.",
        "model": "Decision made with model {model} and policy {policy}.",
    },
}


def letter_html(r: dict[str, Any], request: dict[str, Any] | None, lang: str) -> str:
    """The letter answering a denial, from the stored decision ``r`` (its reasons' texts as they were given)."""
    w = _LETTER["es" if lang == "es" else "en"]
    e = html.escape
    asked = request["requested_on"] if request else str(dt.date.today())
    intro = w["intro"].format(asked=asked, as_of=r["as_of"], ruc=r["ruc"], score_id=r["score_id"])
    parts = [f"<h1>{e(w['title'])}</h1>", f"<p>{e(intro)}</p>"]
    fired = [rule["code"] for rule in r.get("policy_rules", [])]
    if any(code in PRUDENTIAL for code in fired):
        parts.append(f"<p>{e(w['prudential'])}</p>")
    else:
        reasons = "".join(f"<li>{e(x['text'])}</li>" for x in r.get("reasons", []))
        parts.append(f"<h2>{e(w['reasons'])}</h2><ol>{reasons}</ol>")
        rules = [x for x in r.get("policy_rules", []) if x.get("effect") != "note"]
        if rules:
            parts.append(f"<h2>{e(w['rules'])}</h2><ul>" + "".join(f"<li>{e(x['text'])}</li>" for x in rules)
                         + "</ul>")  # fmt: skip
        hints = [h["text"] for h in r.get("improvement_hints", [])] or [r.get("improvement_note") or ""]
        hints = [h for h in hints if h]
        if hints:
            parts.append(f"<h2>{e(w['hints'])}</h2><ul>" + "".join(f"<li>{e(h)}</li>" for h in hints) + "</ul>")
    if request:
        parts.append(f"<p>{e(w['deadline'].format(deadline=request['deadline']))}</p>")
    parts.append(f"<p>{e(w['review'])}</p>")
    parts.append(f"<p><small>{e(w['model'].format(model=r['model_version'], policy=r['policy_version']))}</small></p>")
    body = "\n".join(parts)
    return (f"<!doctype html><html lang='{'es' if lang == 'es' else 'en'}'><head><meta charset='utf-8'>"
            f"<title>{e(w['title'])}</title><style>body{{font-family:sans-serif;max-width:46em;margin:2em auto;"
            f"line-height:1.4}}</style></head><body>{body}</body></html>")  # fmt: skip


def answer_denial(store: _Store, tenant: str, decision: dict[str, Any], lang: str) -> str:
    """The letter answering the stored denial ``decision`` (its earliest reason request's dates, if one was
    made), with its open reason requests marked answered: the API's and the workbench's letter alike."""
    asked = for_decision(store, "reason", tenant, decision["score_id"])
    first = min(asked, key=lambda r: r["requested_on"]) if asked else None
    request = None if first is None else {"requested_on": str(first["requested_on"]),
                                          "deadline": str(first["deadline"])}  # fmt: skip
    page = letter_html(decision, request, lang)
    mark_answered(store, "reason", tenant, decision["score_id"])
    return page


def letter_pdf(page: str) -> bytes:
    """The letter as PDF (WeasyPrint: no browser, no network; fonts from the system)."""
    from weasyprint import HTML  # type: ignore[import-untyped]

    return bytes(HTML(string=page).write_pdf())


def overdue_by_tenant(store: _Store, today: dt.date) -> dict[str, int]:
    """Open reason requests past their deadline, per institution (the regulator's view)."""
    t = reason_requests
    query = (sa.select(t.c.tenant, sa.func.count()).where(t.c.answered_at.is_(None), t.c.deadline < today)
             .group_by(t.c.tenant))  # fmt: skip
    with store._tx() as conn:
        return {str(tenant): int(n) for tenant, n in conn.execute(query)}
