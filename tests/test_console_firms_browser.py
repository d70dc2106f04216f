"""The firm's history, the case file and the SME owner's link in a real browser (Playwright driving Debian's
chromium), on the same live site, logins and axe-core check as test_console_browser.py. Each new screen is checked
for serious or critical axe-core violations and photographed (``$PYMESCORE_SCREENSHOTS``, 09 onwards)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest

from pymescore.service.console._owner_links import token_hash
from pymescore.service.console._tables import owner_links
from tests import test_console_browser as journeys
from tests.console_support import workbook_for

pytestmark = pytest.mark.slow

site = journeys.site  # the same live site (a module-scoped fixture: one per test module)
_page, _check, _apply = journeys._page, journeys._check, journeys._apply


def _case(page: Any, site: dict[str, Any], ruc: str, amount: str) -> str:
    _apply(page, site, ruc, amount, workbook_for(site["tables"], ruc, site["as_of"]))
    page.get_by_test_id("result-score").wait_for()
    return str(page.url.rsplit("/", 1)[-1])


def test_the_firm_history_shows_its_applications_and_human_actions(browser: Any, site: dict[str, Any]) -> None:
    ruc = site["picked"]["review"]
    officer = _page(browser, site, "ana")
    case_id = _case(officer, site, ruc, "30000")
    assert officer.get_by_test_id("result-decision").get_attribute("data-decision") == "review"
    officer.goto("/app/bandeja")  # from the queue
    officer.locator(f"[data-testid=queue-row][data-case='{case_id}'] [data-testid=queue-history]").click()
    officer.wait_for_url(f"**/app/empresas/{ruc}")
    assert officer.locator(f"[data-testid=history-row][data-case='{case_id}']").count() == 1
    assert officer.locator(f"[data-testid=history-action][data-case='{case_id}']").count() == 0
    officer.goto(f"/app/solicitudes/{case_id}")
    officer.get_by_test_id("action-decline").check()
    officer.get_by_test_id("action-reason").select_option("D02")
    officer.get_by_test_id("action-note").fill("atrasos con otra entidad")
    officer.get_by_test_id("action-submit").click()
    officer.get_by_test_id("trail-item").wait_for()
    officer.get_by_test_id("result-history").click()  # from the result page
    officer.wait_for_url(f"**/app/empresas/{ruc}")
    done = officer.locator(f"[data-testid=history-action][data-case='{case_id}']")
    assert done.count() == 1
    assert done.get_attribute("data-action") == "decline"
    assert "atrasos con otra entidad" in done.inner_text()
    assert officer.get_by_test_id("firm-ruc").inner_text() == ruc
    _check(officer, site, "09-historial-empresa")
    officer.locator(f"[data-testid=history-row][data-case='{case_id}'] [data-testid=history-casefile]").click()
    officer.get_by_test_id("casefile").wait_for()
    assert officer.get_by_test_id("casefile-action").count() == 1
    assert officer.get_by_test_id("casefile-score").inner_text() == str(site["state"].store.get("bank-a", case_id)[
        "score"])  # fmt: skip
    _check(officer, site, "10-expediente")
    officer.emulate_media(media="print")  # the print style sheet: no toolbar on paper
    assert not officer.get_by_test_id("casefile-pdf").is_visible()
    pdf = officer.request.get(f"/app/solicitudes/{case_id}/expediente.pdf")
    assert pdf.status == 200
    assert pdf.body().startswith(b"%PDF-")
    reviewer = _page(browser, site, "rita")  # a reviewer reads both
    assert reviewer.goto(f"/app/empresas/{ruc}").status == 200
    assert reviewer.goto(f"/app/solicitudes/{case_id}/expediente").status == 200
    officer.context.close()
    reviewer.context.close()


def test_the_owner_link_works_once_and_expires(browser: Any, site: dict[str, Any]) -> None:
    ruc = site["picked"].get("approve") or site["picked"]["review"]
    officer = _page(browser, site, "ana")
    case_id = _case(officer, site, ruc, "8000")
    stored = site["state"].store.get("bank-a", case_id)
    officer.get_by_test_id("owner-link-hours").select_option("24")
    officer.get_by_test_id("owner-link-create").click()
    url = officer.get_by_test_id("owner-link").input_value()
    assert "/app/propietario/" in url
    _check(officer, site, "11-enlace-propietario")

    owner = browser.new_context(viewport={"width": 820, "height": 1000}).new_page()  # a tablet, no login
    assert owner.goto(url).status == 200
    owner.get_by_test_id("owner-open").click()
    owner.get_by_test_id("owner-score").wait_for()
    assert owner.get_by_test_id("owner-score").inner_text() == str(stored["score"])
    assert owner.get_by_test_id("owner-band").get_attribute("data-band") == stored["band"]
    assert owner.locator("[data-testid=owner-reasons] > li").count() == max(1, len(stored["reasons"]))
    assert owner.get_by_test_id("owner-hints").is_visible()
    text = owner.inner_text("body")
    for internal in ("bank-a", "ana", "carla", stored["model_version"], stored["policy_version"]):
        assert not re.search(rf"\b{re.escape(internal)}\b", text), internal  # no tenant, user or version
    _check(owner, site, "12-propietario")
    again = owner.goto(url)
    assert again.status == 410
    assert owner.get_by_test_id("owner-used").is_visible()
    assert owner.get_by_test_id("owner-score").count() == 0
    _check(owner, site, "13-enlace-usado")

    officer.goto(f"/app/solicitudes/{case_id}")
    officer.get_by_test_id("owner-link-create").click()
    later = officer.get_by_test_id("owner-link").input_value()
    with site["state"].store._tx() as conn:  # its day is over
        conn.execute(owner_links.update().where(owner_links.c.id == token_hash(later.rsplit("/", 1)[-1]))
                     .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)))  # fmt: skip
    assert owner.goto(later).status == 410
    assert owner.get_by_test_id("owner-expired").is_visible()
    owner.get_by_test_id("owner-lang").click()  # in English, as the rest of the console
    owner.get_by_test_id("owner-expired").wait_for()
    assert owner.locator("html").get_attribute("lang") == "en"
    assert owner.get_by_role("heading", level=1).inner_text() == "This link has expired"
    _check(owner, site, "14-enlace-vencido")
    officer.goto(f"/app/solicitudes/{case_id}")
    items = officer.get_by_test_id("owner-link-item")
    assert items.count() == 2
    assert "abierto el" in items.nth(0).inner_text()
    assert "venció" in items.nth(1).inner_text()
    owner.context.close()
    officer.context.close()


def test_tenant_b_cannot_open_tenant_a_firm_history(browser: Any, site: dict[str, Any]) -> None:
    ruc = site["picked"]["review"]
    officer = _page(browser, site, "ana")
    case_id = _case(officer, site, ruc, "8000")
    officer.context.close()
    page = _page(browser, site, "bob")
    for path in (f"/app/empresas/{ruc}", f"/app/solicitudes/{case_id}/expediente",
                 f"/app/solicitudes/{case_id}/expediente.pdf"):  # fmt: skip
        response = page.goto(path) if not path.endswith(".pdf") else None
        if response is None:
            assert page.request.get(path).status == 404
            continue
        assert response.status == 404
        assert page.get_by_test_id("error").is_visible()
        assert page.get_by_test_id("history-row").count() == 0
    page.context.close()
