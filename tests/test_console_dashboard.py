"""The risk dashboard without a browser: its figures against the decisions and actions stored (SQLite and
PostgreSQL, whose month and JSON expressions differ), who may read it, and the monitoring states."""

from __future__ import annotations

import datetime as dt
import html
import json
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from pymescore.config import Settings
from pymescore.service import build_state, create_app
from pymescore.service._regulator import SIZE_NAMES
from pymescore.service.console import Accounts
from pymescore.service.console._cases import Cases
from pymescore.service.console._dashboard import LIMA_OFFSET, since_of
from tests.console_support import log_in
from tests.test_console_cases import decision

NOW = dt.datetime.now(dt.UTC)


def stored(tenant: str, k: int) -> dict[str, Any]:
    """The k-th decision of a fixed spread: outcome, band, region, sector, size and age vary with k."""
    outcome = ("approve", "review", "decline", "approve", "review")[k % 5]
    row = decision(tenant, outcome, band="ABCDE"[k % 5])
    row["created_at"] = NOW - dt.timedelta(days=40 * (k % 4), minutes=k)
    row["score"] = 480 + 17 * (k % 13)
    row["features"] = {"department": ("15", "04", "13")[k % 3], "ciiu_section": ("G", "C")[k % 2],
                       "size_class": float(k % 4)}  # fmt: skip
    if k % 7 == 6:
        row["features"] = {}  # a decision without these features: counted under «—»
    return row


def _month(at: dt.datetime) -> str:
    return (at + LIMA_OFFSET).strftime("%Y-%m")


@pytest.fixture(params=["sqlite", "postgresql"])
def web(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, Any]]:
    schema = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'a.db'}"
    else:
        url, schema = request.getfixturevalue("pg_schema")
    settings = Settings(serve_bundle=tmp_path / "no-bundle", database_url=url, reload_interval_s=0,
                        monitor_dir=tmp_path / "monitoring", policy_sim_dir=tmp_path / "policy-sim")  # fmt: skip
    state = build_state(settings, schema=schema)
    state.store.migrate()
    accounts = Accounts(state.store)
    pw = {n: accounts.create_user(t, n, r, lim)[0] for n, t, r, lim in (
        ("ana", "bank-a", "officer", 10_000.0), ("carla", "bank-a", "approver", None), ("rita", "bank-a", "reviewer",
        None), ("adam", "bank-a", "admin", None), ("rob", "bank-b", "reviewer", None))}  # fmt: skip
    yield {
        "app": create_app(state),
        "state": state,
        "pw": pw,
        "monitor_dir": settings.monitor_dir,
        "policy_sim_dir": settings.policy_sim_dir,
    }
    state.store.dispose()


def client_for(web: dict[str, Any], name: str) -> TestClient:
    client = TestClient(web["app"])
    assert log_in(client, name, web["pw"][name]).status_code == 303
    return client


def rows_of(page: str) -> dict[tuple[str, str], dict[str, Any]]:
    """Each table row: (dimension, key) -> decisions, people's decisions and the rate cells as shown."""
    out = {}
    for m in re.finditer(r'<tr data-testid="dash-row" data-dim="(\w+)" data-key="([^"]*)" data-decisions="(\d+)" '
                         r'data-human="(\d+)">(.*?)</tr>', page, re.S):  # fmt: skip
        cells = re.findall(r'<td class="num">([^<]*)</td>', m.group(5))
        out[(m.group(1), html.unescape(m.group(2)))] = {"decisions": int(m.group(3)), "human": int(m.group(4)),
                                                        "cells": cells}  # fmt: skip
    return out


def card(page: str, testid: str) -> str:
    found = re.search(rf'data-testid="{testid}">([^<]*)<', page)
    assert found, testid
    return found.group(1).strip()


def pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f} %"


def test_the_figures_match_the_decisions_and_actions_stored(web: dict[str, Any]) -> None:
    state = web["state"]
    rows = [stored("bank-a", k) for k in range(60)]
    state.store.record(rows, None)
    state.store.record([stored("bank-b", k) for k in range(9)], None)  # another tenant's: never counted
    cases = Cases(state.store)
    acted: list[tuple[dict[str, Any], str]] = []
    for k, row in enumerate(rows[:24]):  # people decide on some: approve, decline, and info (not a decision)
        action = ("approve", "decline", "info")[k % 3]
        cases.append_action({"tenant": "bank-a", "decision_id": row["id"], "username": "ana", "role": "officer",
                             "action": action, "amount": None, "term_months": None, "currency": "PEN",
                             "reason_code": "A01", "note": "", "model_decision": row["decision"],
                             "model_amount": 1.0, "needs_approver": "", "target_id": None})  # fmt: skip
        if action != "info":
            acted.append((row, action))
    page = client_for(web, "rita").get("/app/panel?meses=0")
    assert page.status_code == 200
    text = page.text
    n = len(rows)
    outcomes = Counter(r["decision"] for r in rows)
    assert card(text, "dash-decisions") == str(n)
    for outcome in ("approve", "review", "decline"):
        assert card(text, f"dash-{outcome}-rate") == pct(outcomes[outcome], n)
    assert card(text, "dash-mean-score") == f"{sum(r['score'] for r in rows) / n:.0f}"
    high = sum(1 for r, a in acted if (a, r["decision"]) == ("approve", "decline"))
    low = sum(1 for r, a in acted if (a, r["decision"]) == ("decline", "approve"))
    agree = sum(1 for r, a in acted if a == r["decision"])
    assert card(text, "dash-human") == str(len(acted))
    assert card(text, "dash-high-side") == pct(high, len(acted))
    assert card(text, "dash-low-side") == pct(low, len(acted))
    assert card(text, "dash-agreement") == pct(agree, len(acted))
    shown = rows_of(text)

    def key(dim: str, r: dict[str, Any]) -> str:
        f = r["features"]
        if dim == "month":
            return _month(r["created_at"])
        value = {"region": f.get("department"), "sector": f.get("ciiu_section"), "size": f.get("size_class")}[dim]
        return "—" if value is None else SIZE_NAMES[value] if dim == "size" else str(value)

    for dim in ("month", "region", "sector", "size"):
        expected = Counter(key(dim, r) for r in rows)
        human = Counter(key(dim, r) for r, _ in acted)
        got = {k: v for (d, k), v in shown.items() if d == dim}
        assert {k: v["decisions"] for k, v in got.items()} == dict(expected), dim
        assert {k: v["human"] for k, v in got.items() if v["human"]} == dict(human), dim
        for k, v in got.items():
            mine = [r for r in rows if key(dim, r) == k]
            assert v["cells"][0] == str(len(mine))
            assert v["cells"][1] == pct(sum(r["decision"] == "approve" for r in mine), len(mine))
    bands = dict(re.findall(r'data-testid="dash-band" data-band="(\w)">\w (\d+)<', text))
    assert bands == {b: str(c) for b, c in Counter(r["band"] for r in rows).items()}
    assert 'data-testid="dash-months-chart"' in text
    assert 'data-testid="dash-overrides-chart"' in text


def test_the_period_leaves_older_decisions_out(web: dict[str, Any]) -> None:
    rows = [stored("bank-a", k) for k in range(20)]
    web["state"].store.record(rows, None)
    since = since_of(3)
    assert since is not None
    recent = [r for r in rows if r["created_at"] >= since]
    assert 0 < len(recent) < len(rows)
    text = client_for(web, "rita").get("/app/panel?meses=3").text
    assert card(text, "dash-decisions") == str(len(recent))
    assert 'value="3" selected' in text


def test_only_reviewers_and_admins_read_the_dashboard(web: dict[str, Any]) -> None:
    web["state"].store.record([stored("bank-a", k) for k in range(5)], None)
    for name in ("ana", "carla"):
        client = client_for(web, name)
        assert client.get("/app/panel").status_code == 403
        assert "/app/panel" not in client.get("/app/solicitudes").text  # not in their menu either
    admin = client_for(web, "adam").get("/app/panel")
    assert admin.status_code == 200
    assert card(admin.text, "dash-decisions") == "5"
    other = client_for(web, "rob").get("/app/panel")  # bank-b's reviewer: none of bank-a's decisions
    assert card(other.text, "dash-decisions") == "0"
    assert 'data-testid="dash-empty"' in other.text
    assert TestClient(web["app"]).get("/app/panel", follow_redirects=False).status_code == 303  # log in first


def test_the_monitoring_states(web: dict[str, Any]) -> None:
    from pymescore.monitoring import Thresholds, monitor, write_outputs

    reviewer = client_for(web, "rita")
    page = reviewer.get("/app/panel").text
    assert 'data-testid="dash-monitoring" data-status="none"' in page
    assert f"--out {web['monitor_dir']}" in page  # says how to feed it
    folder: Path = web["monitor_dir"]
    write_outputs(monitor(None, [], thresholds=Thresholds()), folder)  # type: ignore[arg-type]  # no decisions
    page = reviewer.get("/app/panel").text
    assert 'data-status="insufficient"' in page
    assert "datos insuficientes" in page
    result = json.loads((folder / "monitor.json").read_text())
    result.update(
        status="watch",
        psi_score={"value": 0.137, "verdict": "watch"},
        flagged_features=[],
        watched_features=["income_mean_3m"],
        model_version="m7",
        period=["2026-01-02", "2026-01-31"],
    )
    (folder / "monitor.json").write_text(json.dumps(result))
    page = reviewer.get("/app/panel").text
    assert 'data-status="watch"' in page
    assert ">0.137<" in page
    assert "income_mean_3m" in page
    (folder / "monitor.json").write_text("{not json")
    page = reviewer.get("/app/panel")
    assert page.status_code == 200
    assert 'data-status="unreadable"' in page.text


@given(st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2100, 1, 1),
                    timezones=st.just(dt.UTC)), st.integers(1, 48))  # fmt: skip
def test_a_period_starts_on_the_first_of_a_lima_month_and_holds_now(now: dt.datetime, months: int) -> None:
    since = since_of(months, now)
    assert since is not None
    assert since <= now
    local = since + LIMA_OFFSET
    assert (local.day, local.hour, local.minute) == (1, 0, 0)
    here = now + LIMA_OFFSET
    assert (here.year * 12 + here.month) - (local.year * 12 + local.month) == months - 1
    assert since_of(0, now) is None


def test_sessions_and_lock_outs_hold_on_both_stores(web: dict[str, Any]) -> None:
    """PostgreSQL hands stored times back aware, SQLite naive: a session is live and a lock-out holds on both."""
    client = client_for(web, "rita")
    assert client.get("/app/solicitudes", follow_redirects=False).status_code == 200
    other = TestClient(web["app"])
    for _ in range(5):
        assert log_in(other, "ana", "wrong-password").headers["location"].startswith("/app/login?failed=1")
    assert log_in(other, "ana", web["pw"]["ana"]).headers["location"].startswith("/app/login?failed=1")  # locked


@given(st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2060, 1, 1)), st.integers(-800, 800))
def test_working_days_by_whole_weeks_equal_the_count_day_by_day(start: dt.date, span: int) -> None:
    """The queue's fast count (weeks at once, holidays per year) against the definition, day by day."""
    from pymescore.service.console._web import is_working_day, working_days

    end = start + dt.timedelta(days=span)
    lo, hi = min(start, end), max(start, end)
    slow = sum(is_working_day(lo + dt.timedelta(days=k)) for k in range(1, (hi - lo).days + 1))
    assert working_days(start, end) == (slow if end >= start else -slow)


def test_the_queue_shows_a_hundred_cases_a_page_oldest_first(web: dict[str, Any]) -> None:
    rows = [stored("bank-a", 5 * k + 1) for k in range(105)]  # k % 5 == 1: every one in review
    web["state"].store.record(rows, None)
    oldest = [r["id"] for r in sorted(rows, key=lambda r: r["created_at"])]
    ana = client_for(web, "ana")
    first = ana.get("/app/bandeja").text
    assert "queue-row" in first, first[-3000:]
    assert re.findall(r'data-testid="queue-row" data-case="([^"]+)"', first) == oldest[:100]
    assert "1–100 de 105" in first
    nxt = re.search(r'href="([^"]+)" rel="next"', first)
    assert nxt is not None
    second = ana.get(html.unescape(nxt.group(1))).text
    assert re.findall(r'data-testid="queue-row" data-case="([^"]+)"', second) == oldest[100:]
    assert 'rel="next"' not in second
    filtered = ana.get("/app/bandeja?region=15&pagina=9").text  # a page past the end: the last one
    assert re.findall(r'data-testid="queue-row" data-case="([^"]+)"', filtered) == [
        r["id"] for r in sorted(rows, key=lambda r: r["created_at"]) if r["features"].get("department") == "15"
    ]


def test_the_queue_holds_exactly_the_open_cases(web: dict[str, Any]) -> None:
    """The queue's SQL leaves out the cases whose last action is final; what it keeps is what status_of, run on
    every case with its whole trail, calls open (bench's fill: decided, confirmed, rejected, waiting, info)."""
    from bench._console_fill import fill

    from pymescore.service.console._cases import Cases, status_of
    from pymescore.service.console._tables import actions

    store = web["state"].store
    fill(store, "bank-a", 600)
    with store._tx() as conn:
        decided = list(conn.execute(sa.select(actions).order_by(actions.c.created_at, actions.c.id)).mappings())
        every = [dict(r) for r in conn.execute(sa.text("SELECT id, decision FROM decisions")).mappings()]
    trails: dict[str, list[dict[str, Any]]] = {}
    for act in decided:
        trails.setdefault(act["decision_id"], []).append(dict(act))
    expected = {
        r["id"] for r in every
        if status_of(r["decision"], trails.get(r["id"], [])).state in ("pending_review", "info", "pending_approver")
    }  # fmt: skip
    got = Cases(store).in_review("bank-a")
    assert {r["id"] for r in got} == expected
    assert len(expected) > 20
    assert {r["status"].state for r in got} == {"pending_review", "info", "pending_approver"}


def test_the_dashboard_links_the_latest_policy_simulation(web: dict[str, Any]) -> None:
    """issue 24 item 5: what `pymescore simulate-policy --out` wrote is summed up on the dashboard and its report
    opens from it (reviewers and admins); before any simulation the page says how to make one."""
    from pymescore.policy_sim import write_outputs

    rita, ana = client_for(web, "rita"), client_for(web, "ana")
    page = rita.get("/app/panel").text
    assert 'data-testid="dash-policy-sim" data-status="none"' in page
    assert "simulate-policy" in page
    assert rita.get("/app/panel/simulacion").status_code == 404
    side = {
        "approval_rate": 0.40,
        "review_rate": 0.35,
        "decline_rate": 0.25,
        "approved": 40,
        "expected_bad_rate": 0.031,
        "observed_bad_rate": None,
        "expected_loss": 1234.0,
        "granted_amount": 9e5,
    }
    result = {
        "rows": 100,
        "policies": {"current": "default+1", "proposed": "stricter+2"},
        "target": None,
        "current": side,
        "proposed": {**side, "approval_rate": 0.30, "expected_bad_rate": 0.022},
        "swap_in": {"count": 2, "expected_bad_rate": 0.05, "observed_bad_rate": None},
        "swap_out": {"count": 12, "expected_bad_rate": 0.06, "observed_bad_rate": None},
        "segments": {},
    }
    write_outputs(result, web["policy_sim_dir"])
    page = rita.get("/app/panel").text
    assert "40.0 % → 30.0 %" in page
    assert "3.1 % → 2.2 %" in page
    assert 'data-testid="dash-policy-sim-link"' in page
    report = rita.get("/app/panel/simulacion")
    assert report.status_code == 200
    assert "Simulación de política" in report.text
    assert "img-src data:" in report.headers["content-security-policy"]
    assert ana.get("/app/panel/simulacion").status_code == 403
