"""Reasons for a denial on request, the letter that answers it, human-review requests (issue 20, items 2-3)."""

from __future__ import annotations

import datetime as dt
import html
import shutil
import subprocess
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from pymescore.service import _applicant_requests as book
from pymescore.service import application_bodies
from tests.service_support import keys, make_app


def test_deadline_counts_working_days_and_skips_peru_holidays() -> None:
    # Thursday 2026-07-23: Fri 24, Mon 27; Tue 28 and Wed 29 are Fiestas Patrias; Thu 30, Fri 31, Mon 3, Tue 4, Wed 5
    assert book.deadline(dt.date(2026, 7, 23)) == dt.date(2026, 8, 5)
    # Monday 2026-03-02: seven working days, no holiday: Wednesday 2026-03-11
    assert book.deadline(dt.date(2026, 3, 2)) == dt.date(2026, 3, 11)
    assert book.working_days_left(dt.date(2026, 3, 11), dt.date(2026, 3, 2)) == 7
    assert book.working_days_left(dt.date(2026, 3, 2), dt.date(2026, 3, 4)) == -2


@pytest.fixture(scope="module")
def api(sme_bundle: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("requests")
    shutil.copytree(sme_bundle["bundle"], root / "bundle")
    app, state = make_app(root / "bundle", f"sqlite:///{root / 'audit.db'}", lake=sme_bundle["lake"].root)
    tables = sme_bundle["tables"]
    firms = tables["firms"]
    started = firms[pd.to_datetime(firms["start_date"]) < pd.Timestamp(sme_bundle["as_of"])]
    bodies = application_bodies(tables, [str(r) for r in started["ruc"].iloc[:60]], sme_bundle["as_of"])
    with TestClient(app) as client:
        k = keys(state)
        decided = []
        for body in bodies:
            r = client.post("/v1/scores", json=body, headers={"Authorization": k["all"]})
            assert r.status_code == 201, r.text
            decided.append((body, r.json()))
        yield {"client": client, "keys": k, "decided": decided, "state": state}


def _headers(api: dict[str, Any], name: str = "all") -> dict[str, str]:
    return {"Authorization": api["keys"][name]}


def _declined(api: dict[str, Any], prudential: bool) -> dict[str, Any]:
    for _body, r in api["decided"]:
        codes = {x["code"] for x in r["policy_rules"]}
        if r["decision"] == "decline" and bool(codes & book.PRUDENTIAL) == prudential:
            return dict(r)
    pytest.fail(f"no declined application with prudential={prudential} among the samples")


def test_a_denial_letter_holds_the_stored_reasons_and_the_deadline(api: dict[str, Any]) -> None:
    denied = _declined(api, prudential=False)
    c = api["client"]
    r = c.post(f"/v1/scores/{denied['score_id']}/reason-requests", json={"channel": "branch",
               "requested_on": "2026-07-23"}, headers=_headers(api))  # fmt: skip
    assert r.status_code == 201, r.text
    assert r.json()["deadline"] == "2026-08-05"
    assert "server-timing" not in r.headers  # only the scoring answers say where their time went
    queue = c.get("/v1/applicant-requests", headers=_headers(api)).json()
    assert any(q["score_id"] == denied["score_id"] and q["kind"] == "reason" for q in queue)
    page = c.get(f"/v1/scores/{denied['score_id']}/letter", headers=_headers(api))
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    assert denied["reasons"]
    for reason in denied["reasons"]:
        assert html.escape(reason["text"]) in page.text
    assert "2026-08-05" in page.text
    # producing the letter answered the request: it leaves the open queue
    queue = c.get("/v1/applicant-requests", headers=_headers(api)).json()
    assert not any(q["score_id"] == denied["score_id"] and q["kind"] == "reason" for q in queue)


def test_the_pdf_letter_is_a_pdf_whose_text_holds_the_reasons(api: dict[str, Any], tmp_path: Any) -> None:
    denied = _declined(api, prudential=False)
    r = api["client"].get(f"/v1/scores/{denied['score_id']}/letter?format=pdf", headers=_headers(api))
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/pdf"
    assert r.content.startswith(b"%PDF-")
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (Debian poppler-utils) is not installed; .ci/run installs it")
    (tmp_path / "l.pdf").write_bytes(r.content)
    text = subprocess.run(["pdftotext", str(tmp_path / "l.pdf"), "-"], capture_output=True, text=True).stdout
    flat = " ".join(text.split())
    first = denied["reasons"][0]["text"]
    assert " ".join(first.split())[:40] in flat


def test_a_prudential_denial_says_only_that(api: dict[str, Any]) -> None:
    denied = _declined(api, prudential=True)
    page = api["client"].get(f"/v1/scores/{denied['score_id']}/letter", headers=_headers(api)).text
    assert "normas prudenciales" in page
    for reason in denied["reasons"]:
        assert html.escape(reason["text"]) not in page
    english = api["client"].get(f"/v1/scores/{denied['score_id']}/letter?lang=en", headers=_headers(api)).text
    assert "prudential rules" in english


def test_only_a_denial_has_reasons_to_ask_for_and_other_tenants_get_404(api: dict[str, Any]) -> None:
    c = api["client"]
    other = next(r for _b, r in api["decided"] if r["decision"] != "decline")
    r = c.post(f"/v1/scores/{other['score_id']}/reason-requests", json={"channel": "web"}, headers=_headers(api))
    assert r.status_code == 409
    assert r.json()["code"] == "DECISION_NOT_DENIED"
    denied = _declined(api, prudential=False)
    state = api["state"]
    key, _ = state.store.create_key("another-bank", ["score", "read"])
    theirs = {"Authorization": f"Bearer {key}"}
    assert c.post(f"/v1/scores/{denied['score_id']}/reason-requests", json={"channel": "web"},
                  headers=theirs).status_code == 404  # fmt: skip
    assert c.get(f"/v1/scores/{denied['score_id']}/letter", headers=theirs).status_code == 404
    tomorrow = (dt.date.today() + dt.timedelta(days=3)).isoformat()
    late = c.post(f"/v1/scores/{denied['score_id']}/reason-requests", json={"channel": "web",
                  "requested_on": tomorrow}, headers=_headers(api))  # fmt: skip
    assert late.status_code == 422


def test_a_human_review_request_joins_the_open_queue(api: dict[str, Any]) -> None:
    c = api["client"]
    _body, decided = api["decided"][0]
    r = c.post(f"/v1/scores/{decided['score_id']}/human-review-requests",
               json={"channel": "phone", "note": "el dueño pide revisión"}, headers=_headers(api))  # fmt: skip
    assert r.status_code == 201, r.text
    queue = c.get("/v1/applicant-requests", headers=_headers(api)).json()
    mine = [q for q in queue if q["id"] == r.json()["id"]]
    assert mine
    assert mine[0]["kind"] == "human_review"
    assert mine[0]["note"] == "el dueño pide revisión"
    assert mine[0]["working_days_left"] == 7  # asked today: seven working days to go


def test_overdue_requests_are_counted(api: dict[str, Any]) -> None:
    store = api["state"].store
    denied = _declined(api, prudential=False)
    book.create(store, "reason", "t-overdue", denied["score_id"], dt.date(2026, 1, 5), "mail")
    before = book.overdue(store, dt.date(2026, 1, 14))  # its deadline, 2026-01-14, not yet past
    after = book.overdue(store, dt.date(2026, 1, 15))
    assert after == before + 1
