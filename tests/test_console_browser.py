"""The workbench's journeys in a real browser: Playwright driving Debian's chromium (no browser download).

Without /usr/bin/chromium the tests skip with the reason printed; CI installs it (.ci/run), and there a skip is a
failure (conftest). Each screen is checked by axe-core (vendored) for serious or critical violations, and
photographed into ``$PYMESCORE_SCREENSHOTS`` (``docs/screenshots`` when making the README's pictures) or a
temporary folder.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pymescore.service import ScoreRequest, application_bodies
from pymescore.service._applicant_requests import PRUDENTIAL
from pymescore.service.console import Accounts
from tests.console_support import workbook_for
from tests.service_support import live_server, make_app

AXE = Path(__file__).parent / "vendor" / "axe.min.js"
AXE_SHA256 = "29348999450cdf2849a8e70b7912fc2da85a849da39c0d0d5394f51d4a9ed95c"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def site(sme_bundle: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("console")
    bundle = root / "bundle"
    shutil.copytree(sme_bundle["bundle"], bundle)
    app, state = make_app(bundle, f"sqlite:///{root / 'audit.db'}", lake=root / "no-lake")
    accounts = Accounts(state.store)
    users = {
        "ana": accounts.create_user("bank-a", "ana", "officer", 10_000)[0],
        "carla": accounts.create_user("bank-a", "carla", "approver", None)[0],
        "rita": accounts.create_user("bank-a", "rita", "reviewer")[0],
        "bob": accounts.create_user("bank-b", "bob", "officer", 10_000)[0],
    }
    shots = Path(os.environ.get("PYMESCORE_SCREENSHOTS") or root / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    with live_server(app) as url:
        yield {"url": url, "state": state, "users": users, "tables": sme_bundle["tables"],
               "as_of": sme_bundle["as_of"], "shots": shots, "picked": _pick(state, sme_bundle)}  # fmt: skip


def _pick(state: Any, sme_bundle: dict[str, Any]) -> dict[str, str]:
    """A firm of each decision the served model gives (the policy's review case is the maker-checker's)."""
    tables = sme_bundle["tables"]
    rucs = [str(r) for r in tables["firms"]["ruc"].iloc[:600]]
    bodies = application_bodies(tables, rucs, sme_bundle["as_of"], requested_amount=30_000)
    results = state.served().score([ScoreRequest.model_validate(b) for b in bodies])
    found: dict[str, str] = {}
    for ruc, r in zip(rucs, results, strict=True):
        decision = getattr(r, "response", {}).get("decision")
        if decision and decision not in found:
            found[decision] = ruc
    assert "review" in found, f"expected a review case among 600 simulated firms, got {sorted(found)}"
    return found


def _page(browser: Any, site: dict[str, Any], username: str) -> Any:
    context = browser.new_context(base_url=site["url"], viewport={"width": 1280, "height": 900})  # under its CSP
    page = context.new_page()
    page.goto("/app/login")
    page.get_by_test_id("login-username").fill(username)
    page.get_by_test_id("login-password").fill(site["users"][username])
    page.get_by_test_id("login-submit").click()
    page.wait_for_url("**/app/solicitudes")
    return page


def _check(page: Any, site: dict[str, Any], name: str) -> None:
    """No serious or critical axe-core violation on this screen; its screenshot saved."""
    assert hashlib.sha256(AXE.read_bytes()).hexdigest() == AXE_SHA256, "tests/vendor/axe.min.js changed"
    page.evaluate(AXE.read_text())  # run by the test's driver, not as the page's script: the page's CSP stays on
    found = page.evaluate("async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
                          ".map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.length}))")  # fmt: skip
    bad = [v for v in found if v["impact"] in ("serious", "critical")]
    assert not bad, f"{name}: axe-core violations {bad}"
    page.screenshot(path=str(site["shots"] / f"{name}.png"), full_page=True)


def _apply(page: Any, site: dict[str, Any], ruc: str, amount: str, workbook: bytes) -> None:
    page.goto("/app/solicitudes/nueva")
    page.get_by_test_id("app-ruc").fill(ruc)
    page.get_by_test_id("app-amount").fill(amount)
    page.get_by_test_id("app-currency").select_option("PEN")
    page.get_by_test_id("app-term").fill("24")
    page.get_by_test_id("app-as-of").fill(site["as_of"])
    page.get_by_test_id("app-file").set_input_files(files=[{"name": "historial.xlsx", "mimeType": XLSX,
                                                            "buffer": workbook}])  # fmt: skip
    page.get_by_test_id("app-submit").click()
    page.wait_for_load_state()


def test_officer_uploads_a_workbook_and_sees_the_result(browser: Any, site: dict[str, Any]) -> None:
    page = _page(browser, site, "ana")
    _check(page, site, "01-solicitudes")
    ruc = site["picked"].get("approve") or site["picked"]["review"]
    page.goto("/app/solicitudes/nueva")
    _check(page, site, "02-nueva-solicitud")
    _apply(page, site, ruc, "8000", workbook_for(site["tables"], ruc, site["as_of"], spanish=True))
    page.get_by_test_id("result-score").wait_for()
    stored = site["state"].store.get("bank-a", page.url.rsplit("/", 1)[-1])
    assert stored is not None
    assert stored["ruc"] == ruc
    assert page.get_by_test_id("result-score").inner_text() == str(stored["score"])
    assert page.get_by_test_id("result-band").inner_text() == stored["band"]
    assert page.get_by_test_id("result-decision").get_attribute("data-decision") == stored["decision"]
    assert "%" in page.get_by_test_id("result-pd").inner_text()
    assert page.get_by_test_id("result-amount").inner_text().startswith("S/")
    assert page.locator("[data-testid=result-reasons] > li").count() == len(stored["reasons"]) > 0
    assert page.get_by_test_id("result-hints").is_visible()
    assert page.get_by_test_id("result-cashflow-chart").is_visible()
    regulatory = stored["regulatory"]  # SBS category, provision and expected loss, as the API's
    assert page.get_by_test_id("result-sbs-category").inner_text() == regulatory["sbs_category"]
    assert page.get_by_test_id("result-provision").inner_text().startswith(f"S/ {regulatory['provision_amount']:,.0f}")
    assert page.get_by_test_id("result-expected-loss").inner_text() == f"S/ {regulatory['expected_loss']:,.0f}"
    _check(page, site, "03-resultado")
    page.context.close()


def test_a_broken_workbook_lists_its_problems_and_scores_nothing(browser: Any, site: dict[str, Any]) -> None:
    import io

    from openpyxl import load_workbook

    ruc = site["picked"]["review"]
    book = load_workbook(io.BytesIO(workbook_for(site["tables"], ruc, site["as_of"])))
    book["monthly_cashflows"]["D3"] = "mucho"  # income
    book["payments"]["C2"] = "ayer"  # due_date
    book["bureau_ratings"]["A1"] = "rating"  # an unknown column
    data = io.BytesIO()
    book.save(data)
    before = site["state"].store.count()
    page = _page(browser, site, "ana")
    _apply(page, site, ruc, "8000", data.getvalue())
    problems = page.get_by_test_id("upload-errors")
    assert problems.count() >= 3
    texts = [problems.nth(i).inner_text() for i in range(problems.count())]
    assert any("monthly_cashflows" in x and "3" in x and "income" in x for x in texts), texts
    assert any("payments" in x and "2" in x and "due_date" in x for x in texts), texts
    assert site["state"].store.count() == before  # nothing scored
    assert page.get_by_test_id("app-ruc").input_value() == ruc  # nothing lost: the form comes back filled
    _check(page, site, "04-libro-con-problemas")
    page.context.close()


def test_a_review_case_above_the_limit_waits_for_a_different_approver(browser: Any, site: dict[str, Any]) -> None:
    ruc = site["picked"]["review"]
    officer = _page(browser, site, "ana")
    _apply(officer, site, ruc, "30000", workbook_for(site["tables"], ruc, site["as_of"]))
    assert officer.get_by_test_id("result-decision").get_attribute("data-decision") == "review"
    case_url = officer.url
    officer.get_by_test_id("action-approve").check()
    officer.get_by_test_id("action-amount").fill("30000")  # above ana's limit of S/ 10,000
    officer.get_by_test_id("action-reason").select_option("A02")
    officer.get_by_test_id("action-submit").click()
    officer.get_by_test_id("pending-approval").wait_for()
    assert officer.get_by_test_id("action-confirm").count() == 0  # the maker cannot check
    assert "comité" in officer.get_by_test_id("case-status").inner_text()
    _check(officer, site, "05-pendiente-de-comite")
    officer.context.close()

    approver = _page(browser, site, "carla")
    approver.goto("/app/bandeja")
    rows = approver.get_by_test_id("queue-row")
    assert rows.count() >= 1
    assert approver.locator(f"[data-testid=queue-row][data-case='{case_url.rsplit('/', 1)[-1]}']").count() == 1
    _check(approver, site, "06-bandeja")
    approver.goto(case_url)
    approver.get_by_test_id("action-confirm").click()
    approver.get_by_test_id("action-trail").wait_for()
    assert approver.get_by_test_id("pending-approval").count() == 0
    assert approver.get_by_test_id("trail-item").count() == 2
    assert approver.get_by_test_id("result-decision").get_attribute("data-decision") == "review"  # model's, kept
    _check(approver, site, "07-confirmado")
    approver.context.close()


def test_an_officer_of_another_tenant_gets_404(browser: Any, site: dict[str, Any]) -> None:
    officer = _page(browser, site, "ana")
    ruc = site["picked"]["review"]
    _apply(officer, site, ruc, "8000", workbook_for(site["tables"], ruc, site["as_of"]))
    officer.get_by_test_id("result-score").wait_for()
    case_url = officer.url
    officer.context.close()
    page = _page(browser, site, "bob")
    response = page.goto(case_url)
    assert response.status == 404
    assert page.get_by_test_id("error").is_visible()
    assert page.locator("[data-testid=case-row]").count() == 0
    page.goto("/app/solicitudes")
    assert page.locator("[data-testid=case-row]").count() == 0  # bank-a's cases are not listed
    page.goto("/app/bandeja")
    assert page.get_by_test_id("queue-row").count() == 0
    page.context.close()


def test_a_form_without_its_csrf_token_is_refused(browser: Any, site: dict[str, Any]) -> None:
    page = _page(browser, site, "ana")
    before = site["state"].store.count()
    page.goto("/app/solicitudes/nueva")
    page.evaluate("document.querySelector('form[action=\"/app/solicitudes/nueva\"] input[name=csrf_token]').remove()")
    ruc = site["picked"]["review"]
    page.get_by_test_id("app-ruc").fill(ruc)
    page.get_by_test_id("app-amount").fill("5000")
    page.get_by_test_id("app-term").fill("12")
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.get_by_test_id("app-submit").click()
    assert answer.value.status == 403
    assert site["state"].store.count() == before
    page.context.close()


def test_the_reviewer_reads_the_queue_in_english(browser: Any, site: dict[str, Any]) -> None:
    page = _page(browser, site, "rita")
    page.goto("/app/bandeja")
    page.get_by_role("link", name="English").click()
    page.wait_for_url("**/app/bandeja")
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.get_by_role("heading", level=1).inner_text() == "Review queue"
    assert page.get_by_test_id("app-submit").count() == 0
    page.goto("/app/solicitudes/nueva")
    assert page.get_by_test_id("app-ruc").count() == 0  # a reviewer takes no applications (403)
    page.goto("/app/login")
    _check(page, site, "00-login")
    page.context.close()


def test_applicant_requests_reach_the_queue_and_the_letter_answers_one(browser: Any, site: dict[str, Any]) -> None:
    """A denial-reasons request and a human-review request made over the API appear in the officer's queue with their
    working days left; the letter opened from the queue holds the stored reasons and answers the request."""
    import httpx

    key, _ = site["state"].store.create_key("bank-a", ["score", "read"])
    auth = {"Authorization": f"Bearer {key}"}
    body = application_bodies(site["tables"], [site["picked"]["decline"]], site["as_of"], requested_amount=30_000)[0]
    with httpx.Client(base_url=site["url"], headers=auth, timeout=30) as api:
        decided = api.post("/v1/scores", json=body).json()
        assert decided["decision"] == "decline"
        sid = decided["score_id"]
        assert api.post(f"/v1/scores/{sid}/reason-requests", json={"channel": "branch"}).status_code == 201
        assert api.post(f"/v1/scores/{sid}/human-review-requests", json={"channel": "phone"}).status_code == 201
    page = _page(browser, site, "ana")
    page.goto("/app/bandeja")
    rows = page.locator(f"[data-testid=request-row][data-case='{sid}']")
    assert rows.count() == 2
    assert sorted(rows.nth(k).get_attribute("data-kind") or "" for k in range(2)) == ["human_review", "reason"]
    assert rows.first.locator("td.num").inner_text().strip() == "7"  # asked today: seven working days
    _check(page, site, "08-pedidos-en-bandeja")
    page.locator(f"[data-testid=request-row][data-case='{sid}'] [data-testid=request-letter]").click()
    page.wait_for_load_state()
    text = page.inner_text("body")
    if {r["code"] for r in decided["policy_rules"]} & PRUDENTIAL:
        assert "normas prudenciales" in text  # a prudential denial says only that
    else:
        for reason in decided["reasons"]:
            assert reason["text"] in text
    page.goto("/app/bandeja")  # answered: the reason request left the queue, the human review stays
    left = page.locator(f"[data-testid=request-row][data-case='{sid}']")
    assert left.count() == 1
    assert left.first.get_attribute("data-kind") == "human_review"
    page.context.close()
