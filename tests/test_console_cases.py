"""The workbench's cases without a browser: the workbook reader, maker-checker rules, the append-only trail,
tenant isolation, the queue. Decisions are stored as the API stores them (no model is needed here)."""

from __future__ import annotations

import ast
import datetime as dt
import io
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from pymescore.config import Settings
from pymescore.service import _applicant_requests as book
from pymescore.service import build_state, create_app
from pymescore.service.console import Accounts
from pymescore.service.console._accounts import User
from pymescore.service.console._cases import status_of
from pymescore.service.console._routes_queue import needs_approver
from pymescore.service.console._web import working_days
from pymescore.service.console._workbook import SHEETS, read_upload, template_workbook
from tests.console_support import csrf_of, log_in

RUC = "20100070970"
CONSOLE = Path(__file__).resolve().parents[1] / "src" / "pymescore" / "service" / "console"


def decision(tenant: str, verdict: str = "review", amount: float = 30_000, band: str = "C") -> dict[str, Any]:
    sid = str(uuid.uuid4())
    now = dt.datetime.now(dt.UTC)
    response = {"score_id": sid, "created_at": now.isoformat(), "ruc": RUC, "as_of": "2024-12-31",
                "model_version": "m1", "policy_version": "p1", "pd": 0.08, "score": 610, "band": band,
                "decision": verdict, "requested_amount": amount, "suggested_amount": 20_000.0, "currency": "PEN",
                "reasons": [{"code": "R1", "text": "Atrasos recientes", "impact_points": -12.0}],
                "policy_rules": [], "improvement_hints": [], "language": "es"}  # fmt: skip
    return {"id": sid, "tenant": tenant, "created_at": now, "ruc": RUC, "request_fingerprint": "f" * 64,
            "idempotency_key": None, "features": {"department": "LIMA", "ciiu_section": "G"}, "model_version": "m1",
            "policy_version": "p1", "pd": 0.08, "score": 610, "band": band, "decision": verdict,
            "reasons": response["reasons"], "policy_rules": [], "response": response, "latency_ms": 1.0}  # fmt: skip


@pytest.fixture
def web(tmp_path: Path) -> Iterator[dict[str, Any]]:
    settings = Settings(serve_bundle=tmp_path / "no-bundle", database_url=f"sqlite:///{tmp_path / 'a.db'}",
                        reload_interval_s=0)  # fmt: skip
    state = build_state(settings)
    state.store.migrate()
    accounts = Accounts(state.store)
    pw = {n: accounts.create_user(t, n, r, lim)[0] for n, t, r, lim in (
        ("ana", "bank-a", "officer", 10_000.0), ("carla", "bank-a", "approver", None),
        ("dora", "bank-a", "approver", 5_000.0), ("bob", "bank-b", "officer", 10_000.0))}  # fmt: skip
    yield {"app": create_app(state), "state": state, "pw": pw}
    state.store.dispose()


def client_for(web: dict[str, Any], name: str) -> TestClient:
    client = TestClient(web["app"])
    assert log_in(client, name, web["pw"][name]).status_code == 303
    return client


def act(client: TestClient, case_id: str, **form: str) -> Any:
    token = csrf_of(client.get(f"/app/solicitudes/{case_id}").text)
    path = "confirmacion" if "verdict" in form else "accion"
    return client.post(f"/app/solicitudes/{case_id}/{path}", data={"csrf_token": token, **form},
                       follow_redirects=False)  # fmt: skip


def test_needs_approver_above_the_limit_or_against_the_model() -> None:
    ana = User("1", "t", "ana", "officer", 10_000.0)
    assert needs_approver(ana, "approve", 9_000, "review") == ""
    assert needs_approver(ana, "approve", 12_000, "review") == "limit"
    assert needs_approver(ana, "approve", 9_000, "decline") == "override"
    assert needs_approver(ana, "decline", None, "approve") == "override"
    assert needs_approver(ana, "decline", None, "review") == ""
    assert needs_approver(User("2", "t", "eva", "officer", None), "approve", 1, "approve") == "limit"
    assert needs_approver(ana, "approve", None, "approve") == "limit"  # a USD amount without a rate


def test_status_follows_the_trail() -> None:
    a = {"id": "a", "action": "approve", "needs_approver": "limit", "target_id": None, "username": "ana"}
    assert status_of("review", []).state == "pending_review"
    assert status_of("review", [a]).state == "pending_approver"
    confirm = {"id": "c", "action": "confirm", "needs_approver": "", "target_id": "a", "username": "carla"}
    assert status_of("review", [a, confirm]).state == "approved"
    reject = {**confirm, "action": "reject"}
    assert status_of("review", [a, reject]).state == "pending_review"
    info = {"id": "i", "action": "info", "needs_approver": "", "target_id": None, "username": "ana"}
    assert status_of("approve", [info]).state == "info"


def test_working_days_skip_weekends_and_peruvian_holidays() -> None:
    assert working_days(dt.date(2025, 7, 25), dt.date(2025, 7, 31)) == 2  # Fri -> Thu: 28, 29 July are holidays
    assert working_days(dt.date(2025, 4, 16), dt.date(2025, 4, 21)) == 1  # Holy Thursday and Good Friday
    assert working_days(dt.date(2025, 1, 10), dt.date(2025, 1, 3)) == -5


def _open_reviews(web: dict[str, Any], score_id: str) -> int:
    today = dt.date.today()
    return sum(1 for r in book.open_requests(web["state"].store, "bank-a", today)
               if r["score_id"] == score_id and r["kind"] == "human_review")  # fmt: skip


def test_the_maker_checker_journey_and_the_model_decision_is_never_changed(web: dict[str, Any]) -> None:
    row = decision("bank-a")
    web["state"].store.record([row], None)
    before = web["state"].store.get("bank-a", row["id"])
    # the applicant asked for a person to look at it: answered once the committee's decision stands, not before
    book.create(web["state"].store, "human_review", "bank-a", row["id"], dt.date.today(), "phone")
    ana, carla, dora = (client_for(web, n) for n in ("ana", "carla", "dora"))
    r = act(ana, row["id"], action="approve", amount="30000", term="24", reason="A02", note="aval del socio")
    assert r.status_code == 303
    page = ana.get(f"/app/solicitudes/{row['id']}").text
    assert 'data-testid="pending-approval"' in page
    assert 'data-testid="action-confirm"' not in page
    queue = carla.get("/app/bandeja").text
    assert queue.count('data-testid="queue-row"') == 1
    pending = re.search(r'name="target" value="([^"]+)"', carla.get(f"/app/solicitudes/{row['id']}").text)
    assert pending
    # the maker cannot confirm, not even by posting the form by hand
    assert act(ana, row["id"], target=pending.group(1), verdict="confirm").status_code == 403
    # an approver whose own limit is below the amount cannot confirm it
    assert act(dora, row["id"], target=pending.group(1), verdict="confirm").status_code == 403
    assert _open_reviews(web, row["id"]) == 1  # the officer's approval waits for the committee: still open
    assert act(carla, row["id"], target=pending.group(1), verdict="confirm").status_code == 303
    assert _open_reviews(web, row["id"]) == 0  # a person's decision stands: the human-review request is answered
    assert act(carla, row["id"], target=pending.group(1), verdict="confirm").status_code == 409  # answered once
    page = carla.get(f"/app/solicitudes/{row['id']}").text
    assert "Aprobada por una persona" in page
    assert page.count('data-testid="trail-item"') == 2
    assert web["state"].store.get("bank-a", row["id"]) == before  # the model's decision, untouched
    assert carla.get("/app/bandeja").text.count('data-testid="queue-row"') == 0


def test_an_approver_never_confirms_their_own_action(web: dict[str, Any]) -> None:
    row = decision("bank-a", verdict="decline")
    web["state"].store.record([row], None)
    carla = client_for(web, "carla")
    assert act(carla, row["id"], action="approve", amount="5000", term="12", reason="A03").status_code == 422
    r = act(carla, row["id"], action="approve", amount="5000", term="12", reason="A03", note="visita al local")
    assert r.status_code == 303  # an override: waits for another approver
    page = carla.get(f"/app/solicitudes/{row['id']}").text
    assert 'data-testid="action-confirm"' not in page
    assert "Nadie confirma su propia acción" in page
    target = re.search(r'name="target" value="([^"]+)"', client_for(web, "dora").get(
        f"/app/solicitudes/{row['id']}").text)  # fmt: skip
    assert target
    assert act(carla, row["id"], target=target.group(1), verdict="confirm").status_code == 403


def test_another_tenant_gets_404_and_sees_nothing(web: dict[str, Any]) -> None:
    row = decision("bank-a")
    web["state"].store.record([row], None)
    bob = client_for(web, "bob")
    assert bob.get(f"/app/solicitudes/{row['id']}").status_code == 404
    assert act(bob, str(uuid.uuid4()), action="decline", reason="D01").status_code == 404
    token = csrf_of(bob.get("/app/solicitudes").text)
    r = bob.post(f"/app/solicitudes/{row['id']}/accion", data={"csrf_token": token, "action": "decline",
                                                                 "reason": "D01"})  # fmt: skip
    assert r.status_code == 404
    assert row["ruc"] not in bob.get("/app/solicitudes").text
    assert 'data-testid="queue-row"' not in bob.get("/app/bandeja").text


def test_a_case_without_cash_flows_says_so_and_an_api_decision_says_where_it_came_from(web: dict[str, Any]) -> None:
    from pymescore.service.console._cases import Cases

    api_row, lake_row = decision("bank-a"), decision("bank-a")
    web["state"].store.record([api_row], None)
    case = {"decision_id": lake_row["id"], "tenant": "bank-a", "created_by": "ana",
            "created_at": lake_row["created_at"], "source": "lake", "term_months": 24,
            "histories": {"ruc": RUC, "monthly_cashflows": [], "payments": []}}  # fmt: skip
    Cases(web["state"].store).store_scored(lake_row, case)
    ana = client_for(web, "ana")
    from_lake = ana.get(f"/app/solicitudes/{lake_row['id']}").text
    assert "Sin flujos de caja en los 24 meses antes de la fecha de evaluación." in from_lake
    assert "recibida por la API" not in from_lake  # taken in the workbench, from the lake
    assert "recibida por la API" in ana.get(f"/app/solicitudes/{api_row['id']}").text


def test_the_queue_filters_and_is_oldest_first(web: dict[str, Any]) -> None:
    rows = [decision("bank-a", band=b, amount=a) for b, a in (("C", 5_000), ("D", 50_000), ("C", 80_000))]
    for row in rows:
        web["state"].store.record([row], None)
    web["state"].store.record([decision("bank-a", verdict="approve")], None)  # not in review: not queued
    ana = client_for(web, "ana")
    page = ana.get("/app/bandeja").text
    assert re.findall(r'data-case="([^"]+)"', page) == [r["id"] for r in rows]
    assert re.findall(r'data-case="([^"]+)"', ana.get("/app/bandeja?band=C").text) == [rows[0]["id"], rows[2]["id"]]
    assert re.findall(r'data-case="([^"]+)"', ana.get("/app/bandeja?min_amount=10000&max_amount=60000").text) == [
        rows[1]["id"]]  # fmt: skip
    assert ana.get("/app/bandeja?region=CUSCO").text.count('data-testid="queue-row"') == 0
    assert ana.get("/app/bandeja?sector=G&min_age=0").text.count('data-testid="queue-row"') == 3


def test_no_console_code_updates_or_deletes_a_decision_or_an_action() -> None:
    """Read from the source: decisions and human actions are only ever inserted by the workbench."""
    for path in CONSOLE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                target = node.func.value
                name = target.id if isinstance(target, ast.Name) else ""
                if node.func.attr in ("update", "delete") and name in ("decisions", "actions", "cases"):
                    pytest.fail(f"{path.name}:{node.lineno}: {name}.{node.func.attr}()")


def _book(sheets: dict[str, list[list[Any]]]) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        ws = book.create_sheet(name)
        for r in rows:
            ws.append(r)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_the_workbook_reader_accepts_spanish_headers_and_lists_every_problem() -> None:
    data = _book({
        "flujos_mensuales": [["RUC", "Mes", "Moneda", "Ingresos", "Gastos"], [RUC, dt.datetime(2024, 5, 1), "PEN", 100,
                             90], [RUC, "2024-06", "PEN", "mucho", 80], ["20000000001", "2024-07", "PEN", 1, 1]],
        "payments": [["ruc", "loan_id", "due_date", "paid_date", "amount_due", "amount_paid", "currency"],
                     [RUC, "L1", "15/06/2024", None, 10, 0, "PEN"]],
        "hoja rara": [["x"], [1]],
    })  # fmt: skip
    got = read_upload(RUC, [("libro.xlsx", data)])
    assert got.tables["monthly_cashflows"][0]["month"] == "2024-05"
    assert str(got.tables["payments"][0]["due_date"]) == "2024-06-15"
    where = {(p.sheet, p.row, p.column) for p in got.problems}
    assert ("flujos_mensuales", 3, "Ingresos") in where  # "mucho" is not a number
    assert ("flujos_mensuales", 4, "RUC") in where  # another firm's row
    assert ("hoja rara", "-", "-") in where
    assert read_upload(RUC, [("x.xlsx", b"not a zip")]).problems[0].expected.startswith("un libro")
    csv = b"ruc;month;currency;income;expenses\n" + RUC.encode() + b";2024-05;PEN;100;90\n"
    assert read_upload(RUC, [("monthly_cashflows.csv", csv)]).tables["monthly_cashflows"][0]["income"] == 100


def test_the_template_has_one_sheet_per_raw_table_with_the_contract_columns(web: dict[str, Any]) -> None:
    from openpyxl import load_workbook

    from pymescore.contracts import TABLES

    body = TestClient(web["app"]).get("/app/plantilla.xlsx")
    assert body.status_code == 200
    book = load_workbook(io.BytesIO(body.content), read_only=True)
    assert tuple(book.sheetnames) == SHEETS
    for name in SHEETS:
        first = next(book[name].iter_rows(max_row=1, values_only=True))
        assert list(first) == list(TABLES[name].column_names)
    assert template_workbook()[:2] == b"PK"
    assert not read_upload(RUC, [("plantilla.xlsx", body.content)]).problems  # the template's example is clean
