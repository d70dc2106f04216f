"""A firm's history, the printable case file and the SME owner's single-use link, without a browser (the
journeys in Chromium are in test_console_firms_browser.py). Decisions are stored as the API stores them."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pymescore.config import Settings
from pymescore.decision import hint_text
from pymescore.service import build_state, create_app
from pymescore.service.console import Accounts
from pymescore.service.console._i18n import FIRMS, M
from pymescore.service.console._owner_links import OwnerLinks, token_hash
from pymescore.service.console._tables import owner_links
from tests.console_support import csrf_of, log_in
from tests.test_console_cases import RUC, act, decision

CONSOLE = Path(__file__).resolve().parents[1] / "src" / "pymescore" / "service" / "console"
OTHER_RUC = "20512345678"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def web(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """The app on an embedded SQLite store, and on PostgreSQL (a fresh schema; skipped without one, never in CI)."""
    url, schema = f"sqlite:///{tmp_path / 'a.db'}", None
    if request.param == "postgres":
        url, schema = request.getfixturevalue("pg_schema")
    settings = Settings(serve_bundle=tmp_path / "no-bundle", database_url=url, reload_interval_s=0)
    state = build_state(settings, schema=schema)
    assert state.store.migrate() == "0008"
    accounts = Accounts(state.store)
    pw = {n: accounts.create_user(t, n, r, lim)[0] for n, t, r, lim in (
        ("ana", "bank-a", "officer", 10_000.0), ("rita", "bank-a", "reviewer", None),
        ("adam", "bank-a", "admin", None), ("bob", "bank-b", "officer", 10_000.0))}  # fmt: skip
    yield {"app": create_app(state), "state": state, "pw": pw, "accounts": accounts}
    state.store.dispose()


def client_for(web: dict[str, Any], name: str) -> TestClient:
    client = TestClient(web["app"])
    assert log_in(client, name, web["pw"][name]).status_code == 303
    return client


def _hinted(tenant: str, verdict: str = "review") -> dict[str, Any]:
    """A stored decision with an improvement hint on a registry feature (its text in Spanish, as scored)."""
    row = decision(tenant, verdict)
    hint = {"feature": "dpd_max_6m", "current_value": 45.0, "target_value": 0.0, "points": 22.0,
            "text": hint_text("dpd_max_6m", 45.0, 0.0, "es")}  # fmt: skip
    row["response"] = {
        **row["response"],
        "improvement_hints": [hint],
        "policy_rules": [{"code": "RV_BAND", "text": "Banda C: revisión", "effect": "review"}],
    }
    return row


def _make_link(client: TestClient, case_id: str, hours: str = "72") -> tuple[Any, str]:
    token = csrf_of(client.get(f"/app/solicitudes/{case_id}").text)
    r = client.post(f"/app/solicitudes/{case_id}/enlace", data={"csrf_token": token, "hours": hours})
    found = re.search(r'data-testid="owner-link" aria-describedby="owner-link-hint">|value="(http[^"]+)"', r.text)
    return r, (found.group(1) or "") if found else ""


def _owner_open(url: str, app: Any) -> Any:
    owner = TestClient(app)  # no login: the owner has no account
    page = owner.get(url)
    if page.status_code != 200:
        return page
    return owner.post(url, data={"csrf_token": csrf_of(page.text)})


def test_the_firm_history_lists_the_tenants_applications_and_human_actions(web: dict[str, Any]) -> None:
    store = web["state"].store
    first, second = decision("bank-a"), decision("bank-a", verdict="approve")
    other_firm, other_tenant = decision("bank-a"), decision("bank-b")
    other_firm["ruc"] = OTHER_RUC
    for row in (first, second, other_firm, other_tenant):
        store.record([row], None)
    ana = client_for(web, "ana")
    assert act(ana, first["id"], action="decline", reason="D02", note="atrasos").status_code == 303
    r, url = _make_link(ana, second["id"])
    assert r.status_code == 200
    assert url
    page = ana.get(f"/app/empresas/{RUC}")
    assert page.status_code == 200
    assert re.findall(r'data-testid="history-row" data-case="([^"]+)"', page.text) == [second["id"], first["id"]]
    assert other_tenant["id"] not in page.text
    assert other_firm["id"] not in page.text
    actions = re.findall(r'data-testid="history-action" data-action="(\w+)" data-case="([^"]+)"', page.text)
    assert actions == [("decline", first["id"])]
    assert "«atrasos»" in page.text
    assert "D02" in page.text
    assert page.text.count('data-testid="history-link"') == 1  # the owner's link, in the same timeline
    # reachable from the result page and from the queue
    assert f'href="/app/empresas/{RUC}" data-testid="result-history"' in ana.get(f"/app/solicitudes/{first['id']}").text
    queue = client_for(web, "rita").get("/app/bandeja").text  # the other firm's case waits for review
    assert f'href="/app/empresas/{OTHER_RUC}" class="hint" data-testid="queue-history"' in queue
    assert client_for(web, "rita").get(f"/app/empresas/{RUC}").status_code == 200  # a reviewer reads it
    assert client_for(web, "adam").get(f"/app/empresas/{RUC}").status_code == 403  # an admin manages users


def test_another_tenants_firm_is_a_404(web: dict[str, Any]) -> None:
    web["state"].store.record([decision("bank-a")], None)
    bob = client_for(web, "bob")
    page = bob.get(f"/app/empresas/{RUC}")
    assert page.status_code == 404
    assert 'data-testid="history-row"' not in page.text
    assert bob.get("/app/empresas/123").status_code == 404  # not a RUC
    web["state"].store.record([decision("bank-b")], None)  # bob's own application of the same RUC: his alone
    assert bob.get(f"/app/empresas/{RUC}").text.count('data-testid="history-row"') == 1


def test_the_case_file_prints_the_trail_and_comes_as_a_pdf(web: dict[str, Any], tmp_path: Path) -> None:
    store = web["state"].store
    row, older = _hinted("bank-a"), decision("bank-a", verdict="decline")
    store.record([older], None)
    store.record([row], None)
    ana = client_for(web, "ana")
    assert act(ana, row["id"], action="info", reason="I02", note="boletas de venta").status_code == 303
    page = ana.get(f"/app/solicitudes/{row['id']}/expediente")
    assert page.status_code == 200
    assert '<link rel="stylesheet" href="/app/static/casefile.css">' in page.text  # its print style sheet
    css = TestClient(web["app"]).get("/app/static/casefile.css").text
    assert "@page" in css
    assert "@media print" in css
    assert page.text.count('data-testid="casefile-action"') == 1
    assert "boletas de venta" in page.text
    assert older["created_at"].isoformat()[:10] in page.text
    assert client_for(web, "rita").get(f"/app/solicitudes/{row['id']}/expediente").status_code == 200
    assert client_for(web, "bob").get(f"/app/solicitudes/{row['id']}/expediente").status_code == 404
    assert client_for(web, "bob").get(f"/app/solicitudes/{row['id']}/expediente.pdf").status_code == 404
    pdf = ana.get(f"/app/solicitudes/{row['id']}/expediente.pdf")
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF-")
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (Debian poppler-utils) is not installed; .ci/run installs it")
    (tmp_path / "c.pdf").write_bytes(pdf.content)
    text = subprocess.run(["pdftotext", str(tmp_path / "c.pdf"), "-"], capture_output=True, text=True).stdout
    text = " ".join(text.split())  # a table cell's words wrap onto lines
    assert "Expediente de crédito" in text
    assert RUC in text
    assert "boletas de venta" in text
    assert "Descargar PDF" not in text  # the screen's toolbar is not printed


def test_the_owner_link_works_once_shows_nothing_internal_and_is_audited(web: dict[str, Any]) -> None:
    store = web["state"].store
    row = _hinted("bank-a")
    store.record([row], None)
    ana = client_for(web, "ana")
    r, url = _make_link(ana, row["id"])
    assert r.status_code == 200
    token = url.rsplit("/", 1)[-1]
    with store._tx() as conn:
        kept = conn.execute(sa.select(owner_links)).mappings().one()
    assert kept["id"] == token_hash(token)
    assert token not in str(dict(kept))
    created = [e for e in web["accounts"].events("bank-a") if e["event"] == "owner_link_created"]
    assert [(e["username"], e["detail"]["decision_id"]) for e in created] == [("ana", row["id"])]
    assert token not in str(created)
    shown = _owner_open(url, web["app"])
    assert shown.status_code == 200
    assert re.search(r'data-testid="owner-score">610<', shown.text)
    assert "Atrasos recientes" in shown.text
    assert hint_text("dpd_max_6m", 45.0, 0.0, "es") in shown.text
    for internal in ("bank-a", "ana", "m1", "p1", "Banda C: revisión", "8.0 %", "20,000", "Revisión"):
        assert internal not in shown.text, internal  # no tenant, user, versions, policy, PD, amounts, decision
    again = _owner_open(url, web["app"])
    assert again.status_code == 410
    assert 'data-testid="owner-used"' in again.text
    assert TestClient(web["app"]).post(url, data={}).status_code == 403  # a form without its token
    opened = [e for e in web["accounts"].events("bank-a") if e["event"] == "owner_link_opened"]
    assert len(opened) == 1
    assert "abierto el" in ana.get(f"/app/solicitudes/{row['id']}").text  # the officer sees it was opened


def test_an_expired_link_says_so_in_either_language(web: dict[str, Any]) -> None:
    store = web["state"].store
    row = _hinted("bank-a")
    store.record([row], None)
    _, url = _make_link(client_for(web, "ana"), row["id"], hours="24")
    with store._tx() as conn:  # a day passes: the link's time is up
        conn.execute(owner_links.update().values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)))
    owner = TestClient(web["app"])
    page = owner.get(url)
    assert page.status_code == 410
    assert 'data-testid="owner-expired"' in page.text
    owner.cookies.set("pms_lang", "en")
    assert "This link has expired" in owner.get(url).text
    assert OwnerLinks(store).open(url.rsplit("/", 1)[-1]).state == "expired"  # opening it does not either
    assert TestClient(web["app"]).get("/app/propietario/not-a-token").status_code == 404
    assert TestClient(web["app"]).get(url[:-3]).status_code == 404


def test_the_owner_reads_the_hints_in_english_and_the_reasons_as_scored(web: dict[str, Any]) -> None:
    row = _hinted("bank-a")
    web["state"].store.record([row], None)
    _, url = _make_link(client_for(web, "ana"), row["id"])
    owner = TestClient(web["app"])
    owner.cookies.set("pms_lang", "en")
    page = owner.get(url)
    shown = owner.post(url, data={"csrf_token": csrf_of(page.text)})
    assert "Your credit evaluation" in shown.text
    assert hint_text("dpd_max_6m", 45.0, 0.0, "en") in shown.text  # the stage's own sentence, in English
    assert '<ul aria-labelledby="owner-reasons" data-testid="owner-reasons" lang="es">' in shown.text


def test_only_an_officer_of_the_tenant_makes_a_link_and_with_its_csrf_token(web: dict[str, Any]) -> None:
    row = _hinted("bank-a")
    web["state"].store.record([row], None)
    assert _make_link(client_for(web, "rita"), row["id"])[0].status_code == 403
    bob = client_for(web, "bob")
    token = csrf_of(bob.get("/app/solicitudes").text)
    assert bob.post(f"/app/solicitudes/{row['id']}/enlace", data={"csrf_token": token}).status_code == 404
    ana = client_for(web, "ana")
    assert ana.post(f"/app/solicitudes/{row['id']}/enlace", data={"hours": "72"}).status_code == 403
    assert _make_link(ana, row["id"], hours="5")[0].status_code == 422  # not a validity on the list
    with web["state"].store._tx() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(owner_links)).scalar_one() == 0


def test_racing_opens_show_the_page_once(web: dict[str, Any]) -> None:
    row = _hinted("bank-a")
    web["state"].store.record([row], None)
    links = OwnerLinks(web["state"].store)
    token, _ = links.create("bank-a", row["id"], "ana", 24)
    results: list[str] = []
    threads = [threading.Thread(target=lambda: results.append(links.open(token).state)) for _ in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert sorted(results) == ["shown"] + ["used"] * 7


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(st.sampled_from(["peek", "open"]), min_size=1, max_size=6))
def test_a_link_is_shown_at_most_once_whatever_is_asked(web: dict[str, Any], steps: list[str]) -> None:
    row = _hinted("bank-a")
    web["state"].store.record([row], None)
    links = OwnerLinks(web["state"].store)
    token, _ = links.create("bank-a", row["id"], "ana", 24)
    seen = [(links.peek(token) if s == "peek" else links.open(token)).state for s in steps]
    opens = [state for s, state in zip(steps, seen, strict=True) if s == "open"]
    assert opens[:1] in ([], ["shown"])
    assert all(s == "used" for s in opens[1:])
    first_open = steps.index("open") if "open" in steps else len(steps)
    assert all(state == ("ready" if k < first_open else "used")
               for k, (s, state) in enumerate(zip(steps, seen, strict=True)) if s == "peek")  # fmt: skip


def test_every_text_key_of_every_template_exists() -> None:
    """``t("key")`` falls back to the key itself: a missing text would show as code on a page."""
    for path in (CONSOLE / "templates").glob("*.html"):
        for key in re.findall(r"""\bt\(\s*["']([a-z0-9_]+)["']\s*\)""", path.read_text()):
            assert key in M or key in FIRMS, f"{path.name}: t({key!r}) has no text"


def test_the_console_runs_under_its_own_content_security_policy(web: dict[str, Any]) -> None:
    """The workbench loads its own style sheet and htmx and posts its forms to itself; the API's answers keep the
    policy that lets nothing load or post (a console under the API's policy could not log anyone in)."""
    client = TestClient(web["app"])
    csp = client.get("/app/login").headers["content-security-policy"]
    assert "form-action 'self'" in csp
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert "form-action 'none'" in client.get("/v1/model").headers["content-security-policy"]


def test_sessions_and_lock_outs_hold_on_either_store(web: dict[str, Any]) -> None:
    """PostgreSQL gives stored times back aware, SQLite naive: a session lives and a lock-out holds on both."""
    accounts = web["accounts"]
    token, _ = accounts.login("ana", web["pw"]["ana"])
    user = accounts.session(token)
    assert user is not None
    assert user.username == "ana"
    for _ in range(5):
        assert accounts.login("bob", "wrong") is None
    assert accounts.login("bob", web["pw"]["bob"]) is None  # locked for 15 minutes, the right password or not
