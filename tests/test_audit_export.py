"""``pymescore audit export``: every decision of a period, one row each, filtered by tenant and dates, in pages,
into CSV or Parquet written whole; the store read, never written."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from pymescore.cli import _register, app
from pymescore.service import AuditStore
from pymescore.service import _audit_export as export
from pymescore.service.console._tables import actions

_register()


def _decision(tenant: str, when: dt.datetime, verdict: str = "decline") -> dict[str, Any]:
    sid = str(uuid.uuid4())
    response = {"score_id": sid, "requested_amount": 30_000.0, "suggested_amount": 0.0, "currency": "PEN",
                "reasons": [{"code": "dpd_current"}, {"code": "late_share_24m"}],
                "policy_rules": [{"code": "KO_SBS_LOSS"}],
                "automated_decision_notice": {"data_used": ["payments", "bureau_ratings"]}}  # fmt: skip
    return {"id": sid, "tenant": tenant, "created_at": when, "ruc": "20100070970", "request_fingerprint": "f" * 64,
            "idempotency_key": None, "features": {}, "model_version": "m1", "policy_version": "p1", "pd": 0.31,
            "score": 512, "band": "E", "decision": verdict, "reasons": [], "policy_rules": [], "response": response,
            "latency_ms": 4.5}  # fmt: skip


@pytest.fixture
def store(tmp_path: Path) -> Any:
    s = AuditStore(f"sqlite:///{tmp_path / 'audit.db'}")
    s.migrate()
    days = [dt.datetime(2026, 11, d, 15, tzinfo=dt.UTC) for d in (1, 2, 2, 3, 30)]
    rows = [_decision("banco-a", t) for t in days] + [_decision("banco-b", days[1], "approve")]
    s.record(rows, None)
    with s.engine.begin() as conn:  # an officer's action on the first decision
        conn.execute(actions.insert().values(id=str(uuid.uuid4()), tenant="banco-a", decision_id=rows[0]["id"],
                                             created_at=days[0] + dt.timedelta(hours=1), username="ana",
                                             role="officer", action="approve", amount=20_000.0, term_months=24,
                                             currency="PEN", reason_code="A02", note="garantía",
                                             model_decision="decline", model_amount=0.0, needs_approver="override",
                                             target_id=None))  # fmt: skip
    yield {"store": s, "rows": rows}
    s.dispose()


def test_every_decision_of_the_period_once_oldest_first_in_pages(store: dict[str, Any], tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.setattr(export, "PAGE", 2)  # pages end inside a second with two decisions: none lost, none twice
    out = tmp_path / "all.parquet"
    summary = export.export_decisions(store["store"], out)
    got = pd.read_parquet(out)
    assert summary["rows"] == len(got) == 6
    assert sorted(got["score_id"]) == sorted(r["id"] for r in store["rows"])
    assert got["created_at"].is_monotonic_increasing
    first = got.set_index("score_id").loc[store["rows"][0]["id"]]
    assert first["reason_codes"] == "dpd_current;late_share_24m"
    assert first["policy_rules"] == "KO_SBS_LOSS"
    assert first["data_used"] == "payments;bureau_ratings"
    assert (first["human_actions"], first["last_human_action"], first["last_human_user"]) == (1, "approve", "ana")
    assert list(got.columns) == list(export.COLUMNS)


def test_tenant_and_dates_filter_and_csv_reads_back(store: dict[str, Any], tmp_path: Path) -> None:
    out = tmp_path / "nov2.csv"
    summary = export.export_decisions(store["store"], out, tenant="banco-a", since=dt.date(2026, 11, 2),
                                      until=dt.date(2026, 11, 3))  # fmt: skip
    got = pd.read_csv(out)
    assert summary["rows"] == len(got) == 3  # the 2nd twice and the 3rd; banco-b and the 30th left out
    assert set(got["tenant"]) == {"banco-a"}
    assert set(pd.to_datetime(got["created_at"]).dt.day) == {2, 3}


def test_bad_options_name_the_option_and_write_nothing(store: dict[str, Any], tmp_path: Path) -> None:
    before = store["store"].count()
    url = str(store["store"].url)
    for args, words in (
        (["--out", str(tmp_path / "x.xlsx")], "--out: expected a file ending in .csv or .parquet"),
        (["--out", str(tmp_path / "x.csv"), "--since", "2026-13-01"], "--since: expected a date as YYYY-MM-DD"),
        (["--out", str(tmp_path / "x.csv"), "--since", "2026-11-05", "--until", "2026-11-01"], "--until: expected"),
    ):
        done = subprocess.run([sys.executable, "-m", "pymescore", "audit", "export", *args, "--database-url", url],
                              capture_output=True, text=True)  # fmt: skip
        assert done.returncode == 2, done.stderr
        assert words in done.stderr
        assert "Traceback" not in done.stderr
    assert list(tmp_path.glob("x.*")) == []
    assert list(tmp_path.glob(".x.*")) == []  # no temporary file left either
    result = CliRunner().invoke(app, ["audit", "export", "--out", str(tmp_path / "ok.csv"), "--database-url", url])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output.strip().splitlines()[-1])["rows"] == 6
    assert store["store"].count() == before  # read, never written
    with store["store"].engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(actions)).scalar() == 1
