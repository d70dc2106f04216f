"""The risk dashboard in Chromium: a reviewer reads figures that match the decisions made in the test (scored by
the API with a trained model, two decided by an officer in the browser) and the monitoring run computed on them;
an officer is refused. axe-core finds no serious or critical violation; the screen is photographed."""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from pymescore.service import application_bodies
from pymescore.service.console import Accounts
from tests.service_support import live_server, make_app
from tests.test_console_browser import _check, _page

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def site(sme_bundle: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    import os

    root = tmp_path_factory.mktemp("dashboard")
    bundle = root / "bundle"
    shutil.copytree(sme_bundle["bundle"], bundle)
    app, state = make_app(bundle, f"sqlite:///{root / 'audit.db'}", lake=root / "no-lake",
                          monitor_dir=root / "monitoring")  # fmt: skip
    accounts = Accounts(state.store)
    users = {"ana": accounts.create_user("bank-a", "ana", "officer", 10_000)[0],
             "rita": accounts.create_user("bank-a", "rita", "reviewer")[0]}  # fmt: skip
    shots = Path(os.environ.get("PYMESCORE_SCREENSHOTS") or root / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    with live_server(app) as url:
        yield {"url": url, "state": state, "users": users, "tables": sme_bundle["tables"],
               "as_of": sme_bundle["as_of"], "shots": shots, "bundle": bundle, "root": root}  # fmt: skip


def _decide(page: Any, case: str, action: str, reason: str, amount: str = "") -> None:
    page.goto(f"/app/solicitudes/{case}")
    page.get_by_test_id(f"action-{action}").check()
    if amount:
        page.get_by_test_id("action-amount").fill(amount)
    page.get_by_test_id("action-reason").select_option(reason)
    page.get_by_test_id("action-submit").click()
    page.get_by_test_id("action-trail").wait_for()


def test_a_reviewer_reads_the_dashboard_and_an_officer_is_refused(browser: Any, site: dict[str, Any]) -> None:
    from pymescore.bundle import load_bundle
    from pymescore.monitoring import monitor, write_outputs

    state = site["state"]
    rucs = [str(r) for r in site["tables"]["firms"]["ruc"].iloc[:30]]
    bodies = application_bodies(site["tables"], rucs, site["as_of"], requested_amount=30_000)
    key, _ = state.store.create_key("bank-a", ["score"])
    with httpx.Client(base_url=site["url"], headers={"Authorization": f"Bearer {key}"}, timeout=60) as api:
        answers = [api.post("/v1/scores", json=b) for b in bodies]
    made = [a.json() for a in answers if a.status_code == 201]  # a firm without enough history is refused (422)
    assert len(made) >= 20, [(a.status_code, a.text[:200]) for a in answers if a.status_code != 201][:3]
    outcomes = Counter(m["decision"] for m in made)
    assert outcomes["review"], outcomes
    assert outcomes["approve"], outcomes

    officer = _page(browser, site, "ana")
    review = next(m for m in made if m["decision"] == "review")
    approve = next(m for m in made if m["decision"] == "approve")
    _decide(officer, review["score_id"], "decline", "D01")  # a person declines a case in review
    _decide(officer, approve["score_id"], "approve", "A01", "8000")  # and approves as the model did
    response = officer.goto("/app/panel")
    assert response is not None
    assert response.status == 403
    assert officer.get_by_test_id("error").is_visible()
    assert officer.get_by_role("link", name="Panel de riesgo").count() == 0
    officer.context.close()

    write_outputs(monitor(load_bundle(site["bundle"]), state.store.recent()), site["root"] / "monitoring")
    page = _page(browser, site, "rita")
    page.get_by_role("link", name="Panel de riesgo").click()
    page.wait_for_url("**/app/panel")
    n = len(made)
    assert page.get_by_test_id("dash-decisions").inner_text() == str(n)
    for outcome in ("approve", "review", "decline"):
        assert page.get_by_test_id(f"dash-{outcome}-rate").inner_text() == f"{100 * outcomes[outcome] / n:.1f} %"
    assert page.get_by_test_id("dash-mean-score").inner_text() == f"{sum(m['score'] for m in made) / n:.0f}"
    assert page.get_by_test_id("dash-human").inner_text() == "2"
    assert page.get_by_test_id("dash-agreement").inner_text() == "50.0 %"  # the approval agrees, the decline not
    assert page.get_by_test_id("dash-high-side").inner_text() == "0.0 %"
    assert page.get_by_test_id("dash-low-side").inner_text() == "0.0 %"
    bands = Counter(m["band"] for m in made)
    for band, count in bands.items():
        assert page.locator(f"[data-testid=dash-band][data-band='{band}']").inner_text() == f"{band} {count}"
    months = page.locator("[data-testid=dash-row][data-dim=month]")
    assert sum(int(months.nth(i).get_attribute("data-decisions") or 0) for i in range(months.count())) == n
    for chart in ("dash-months-chart", "dash-score-chart", "dash-overrides-chart"):
        assert page.get_by_test_id(chart).is_visible()
    monitoring = page.get_by_test_id("dash-monitoring")
    assert monitoring.get_attribute("data-status") == "insufficient"  # 30 decisions: fewer than a PSI needs
    assert page.get_by_test_id("dash-psi").inner_text() != "—"  # the PSI is computed, only not read as drift
    _check(page, site, "15-panel-de-riesgo")
    page.context.close()
