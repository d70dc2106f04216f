"""USD histories in production (issue 17, item 9): a service without a lake converts with the bundle's rates (the
series its training data was converted with), then with the client's rate for a month, which is stored with the
decision; amounts the features never read need no rate and are counted; a USD amount no rate covers is refused
naming the table, row and month."""

from __future__ import annotations

import copy
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from pymescore.bundle import Bundle, BundleError, load_bundle, save_bundle
from pymescore.features._snapshot import rates_record, write_snapshot
from pymescore.lake import Lake
from pymescore.service import application_bodies
from pymescore.service._tables import decisions
from pymescore.sources import ingest
from pymescore.sources._readers import read_source
from pymescore.tables import read_table
from tests.service_support import keys, make_app

AMOUNTS = ("monthly_cashflows", "financial_statements", "payments")
#: beyond the simulated lake's last rate (2025-12-31): no official series covers the months of 2026
LATE_AS_OF = "2026-06-30"


def _has_usd(body: dict[str, Any]) -> bool:
    return any(r.get("currency") == "USD" for name in AMOUNTS for r in body[name])


@pytest.fixture(scope="module")
def rates_svc(sme_bundle: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The bundle served as in production: no lake."""
    root = tmp_path_factory.mktemp("rates_svc")
    bundle = root / "bundle"
    shutil.copytree(sme_bundle["bundle"], bundle)
    app, state = make_app(bundle, f"sqlite:///{root / 'audit.db'}")  # lake: a path that does not exist
    tables = sme_bundle["tables"]
    rucs = [str(r) for r in tables["firms"]["ruc"].iloc[:400]]
    with TestClient(app) as client:
        yield {"client": client, "state": state, "h": {"Authorization": keys(state)["all"]}, "tables": tables,
               "rucs": rucs, "bundle": bundle, "root": root, "lake": sme_bundle["lake"]}  # fmt: skip


def _usd_bodies(svc: dict[str, Any], as_of: str, n: int = 6) -> list[dict[str, Any]]:
    bodies = [b for b in application_bodies(svc["tables"], svc["rucs"], as_of) if _has_usd(b)]
    assert len(bodies) >= 2, "the simulated population has firms with USD records"
    return bodies[:n]


def test_the_bundle_carries_its_training_rates_in_the_signed_manifest(rates_svc: dict[str, Any]) -> None:
    bundle = rates_svc["bundle"]
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert "exchange_rates.json" in manifest["files"]
    rates = json.loads((bundle / "exchange_rates.json").read_text())
    lake_rates = rates_svc["lake"].read("exchange_rates").sort_values("date")
    assert rates["dates"] == [str(d.date()) for d in lake_rates["date"]]
    assert rates["pen_per_usd"] == lake_rates["pen_per_usd"].tolist()


def test_a_service_without_a_lake_scores_usd_histories_as_one_with_the_lake(
    rates_svc: dict[str, Any], sme_bundle: dict[str, Any], tmp_path: Path
) -> None:
    c, h = rates_svc["client"], rates_svc["h"]
    bodies = _usd_bodies(rates_svc, "2024-12-31")
    app, state = make_app(rates_svc["bundle"], f"sqlite:///{tmp_path / 'a.db'}", lake=sme_bundle["lake"].root)
    with TestClient(app) as with_lake:
        lake_h = {"Authorization": keys(state)["all"]}
        for body in bodies:
            r = c.post("/v1/scores", json=body, headers=h)
            assert r.status_code == 201, r.text
            out = r.json()
            by_source = out["exchange_rates"]["usd_amounts_by_source"]
            assert by_source["bundle"] > 0
            assert by_source["lake"] == by_source["client"] == 0
            ref = with_lake.post("/v1/scores", json=body, headers=lake_h).json()
            assert ref["exchange_rates"]["usd_amounts_by_source"]["lake"] == by_source["bundle"]
            assert (out["pd"], out["score"], out["decision"]) == (ref["pd"], ref["score"], ref["decision"])


def _late_body(svc: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """A firm scored at LATE_AS_OF with one USD cash flow of 2026-03 (inside the window, no official rate)."""
    body = copy.deepcopy(_usd_bodies(svc, LATE_AS_OF, 1)[0])
    body["monthly_cashflows"].append({"month": "2026-03", "currency": "USD", "income": 9000.0, "expenses": 7000.0})
    return body, len(body["monthly_cashflows"]) - 1


def test_a_usd_month_without_any_rate_is_refused_naming_table_row_and_month(rates_svc: dict[str, Any]) -> None:
    c, h = rates_svc["client"], rates_svc["h"]
    body, row = _late_body(rates_svc)
    r = c.post("/v1/scores", json=body, headers=h)
    assert r.status_code == 422, r.text
    problem = r.json()
    found = [e for e in problem["errors"] if e["path"] == f"monthly_cashflows[{row}].currency"]
    assert len(found) == 1, problem["errors"]
    expected, got = found[0]["expected"], found[0]["got"]
    assert "2026-03" in expected
    assert "exchange_rates" in expected
    assert "--lake" in expected
    assert "tipo de cambio" in expected  # Spanish and English
    assert "2026-03-31" in got
    assert "bundle 20" in got
    assert "2026-03" in problem["detail"]
    assert "exchange_rates" in problem["detail"]


def test_a_client_rate_converts_the_month_and_is_stored_with_the_decision(rates_svc: dict[str, Any]) -> None:
    c, h, store = rates_svc["client"], rates_svc["h"], rates_svc["state"].store
    body, _row = _late_body(rates_svc)
    outs = []
    for rate in (3.70, 4.40):
        sent = {**body, "exchange_rates": [{"month": "2026-03", "pen_per_usd": rate},
                                           {"month": "2025-06", "pen_per_usd": 3.9}]}  # fmt: skip
        r = c.post("/v1/scores", json=sent, headers=h)
        assert r.status_code == 201, r.text
        out = r.json()
        conversion = out["exchange_rates"]
        # the official (bundle) rate covers 2025-06: the client's is kept on record, not used
        assert conversion["client_rates"] == [{"month": "2026-03", "pen_per_usd": rate, "used": True},
                                              {"month": "2025-06", "pen_per_usd": 3.9, "used": False}]  # fmt: skip
        assert conversion["usd_amounts_by_source"]["client"] == 1
        assert c.get(f"/v1/scores/{out['score_id']}", headers=h).json() == out
        with store.engine.connect() as conn:
            row = conn.execute(sa.select(decisions).where(decisions.c.id == out["score_id"])).mappings().one()
        stored = row["response"] if isinstance(row["response"], dict) else json.loads(row["response"])
        assert stored["exchange_rates"]["client_rates"][0] == {"month": "2026-03", "pen_per_usd": rate, "used": True}
        features = row["features"] if isinstance(row["features"], dict) else json.loads(row["features"])
        outs.append(features)
    # the rate is what converted the amount: another rate, other features
    assert outs[0] != outs[1]


def test_months_the_features_never_read_are_accepted_and_counted(rates_svc: dict[str, Any]) -> None:
    c, h = rates_svc["client"], rates_svc["h"]
    body = copy.deepcopy(_usd_bodies(rates_svc, "2025-06-30", 1)[0])
    r = c.post("/v1/scores", json=body, headers=h)
    assert r.status_code == 201, r.text
    before = r.json()
    # USD records from years before any rate the service knows, outside every window the features read
    body["monthly_cashflows"] += [{"month": f"2019-0{m}", "currency": "USD", "income": 1e9, "expenses": 1.0}
                                  for m in (1, 2, 3)]  # fmt: skip
    body["payments"].append({"loan_id": "OLD-1", "due_date": "2019-05-15", "paid_date": None, "amount_due": 5e8,
                             "amount_paid": 0.0, "currency": "USD"})  # fmt: skip
    r = c.post("/v1/scores", json=body, headers=h)
    assert r.status_code == 201, r.text
    after = r.json()
    not_read = after["exchange_rates"]["amounts_not_read"]
    was = before["exchange_rates"]["amounts_not_read"]
    assert not_read["monthly_cashflows"] == was["monthly_cashflows"] + 3
    assert not_read["payments"] == was["payments"] + 1
    # not read, so nothing changes but the months of history (an unpaid 2019 instalment is still days past due)
    assert after["exchange_rates"]["usd_amounts_by_source"] == before["exchange_rates"]["usd_amounts_by_source"]
    # the same record inside the window, in a month no rate covers, is refused
    late, _ = _late_body(rates_svc)
    assert c.post("/v1/scores", json=late, headers=h).status_code == 422


def test_the_requested_amount_in_usd_takes_the_client_rate_of_its_month(rates_svc: dict[str, Any]) -> None:
    c, h = rates_svc["client"], rates_svc["h"]
    body = {**_usd_bodies(rates_svc, LATE_AS_OF, 1)[0], "currency": "USD"}
    r = c.post("/v1/scores", json=body, headers=h)
    assert r.status_code == 422
    assert any(e["path"] == "currency" and "2026-06" in e["expected"] for e in r.json()["errors"])
    r = c.post("/v1/scores", json={**body, "exchange_rates": [{"month": "2026-06", "pen_per_usd": 3.8}]}, headers=h)
    assert r.status_code == 201, r.text
    assert r.json()["exchange_rates"]["client_rates"] == [{"month": "2026-06", "pen_per_usd": 3.8, "used": True}]


def test_client_rates_are_checked_with_every_other_problem_at_once(rates_svc: dict[str, Any]) -> None:
    c, h = rates_svc["client"], rates_svc["h"]
    body = copy.deepcopy(_usd_bodies(rates_svc, "2025-06-30", 1)[0])
    body["ruc"] = "20100070971"  # a wrong check digit
    body["exchange_rates"] = [{"month": "2024-13", "pen_per_usd": 3.7}, {"month": "2024-01", "pen_per_usd": 370.0},
                              {"month": "2024-02", "pen_per_usd": 0.27}, {"month": "2024-03", "pen_per_usd": 3.7},
                              {"month": "2024-03-01", "pen_per_usd": 3.8}]  # fmt: skip
    r = c.post("/v1/scores", json=body, headers=h)
    assert r.status_code == 422
    paths = {e["path"]: e for e in r.json()["errors"]}
    assert {"ruc", "exchange_rates[0].month", "exchange_rates[1].pen_per_usd", "exchange_rates[2].pen_per_usd",
            "exchange_rates[4].month"} <= set(paths)  # fmt: skip
    assert "2.5" in paths["exchange_rates[1].pen_per_usd"]["expected"]
    assert paths["exchange_rates[4].month"]["expected"] == "one rate per month"
    for bad in ({"month": "2024-01", "pen_per_usd": "3.7"}, {"month": "2024-01", "pen_per_usd": True},
                {"month": "2024-01"}, {"month": "2024-01", "pen_per_usd": 3.7, "source": "x"}):  # fmt: skip
        r = c.post("/v1/scores", json={**body, "exchange_rates": [bad]}, headers=h)
        assert r.status_code == 422, bad


def test_new_lake_rates_are_used_after_a_reload(rates_svc: dict[str, Any], tmp_path: Path) -> None:
    lake_root = tmp_path / "lake"
    shutil.copytree(rates_svc["lake"].root, lake_root)
    app, state = make_app(rates_svc["bundle"], f"sqlite:///{tmp_path / 'a.db'}", lake=lake_root)
    body, _ = _late_body(rates_svc)
    with TestClient(app) as c:
        h = {"Authorization": keys(state)["all"]}
        assert c.post("/v1/scores", json=body, headers=h).status_code == 422
        days = pd.bdate_range("2026-01-02", "2026-06-30")
        path = tmp_path / "rates.csv"
        pd.DataFrame({"date": days.strftime("%Y-%m-%d"), "pen_per_usd": 3.65}).to_csv(path, index=False)
        ingest(read_source(str(path)), "exchange_rates", Lake(lake_root))
        assert c.post("/v1/admin/reload", headers=h).json()["reloaded"] is True  # the rates changed, not the model
        r = c.post("/v1/scores", json=body, headers=h)
        assert r.status_code == 201, r.text
        assert r.json()["exchange_rates"]["usd_amounts_by_source"]["lake"] >= 1


def test_a_bundle_with_malformed_rates_is_refused(rates_svc: dict[str, Any], tmp_path: Path) -> None:
    good = load_bundle(rates_svc["bundle"])
    for bad in (
        {"dates": ["2024-01-02", "2024-01-01"], "pen_per_usd": [3.7, 3.7]},
        {"dates": ["2024-01-02"], "pen_per_usd": [-3.7]},
        {"dates": ["2024-01-02"], "pen_per_usd": []},
    ):
        out = tmp_path / "b"
        save_bundle(Bundle(model=good.model, metrics=good.metrics, reference=good.reference, exchange_rates=bad,
                           card=good.card), out)  # fmt: skip
        with pytest.raises(BundleError, match=r"exchange_rates\.json"):
            load_bundle(out)


def test_a_snapshot_file_carries_its_rates_to_train(rates_svc: dict[str, Any], tmp_path: Path) -> None:
    """``pymescore features`` writes the lake's rates into the snapshot's Parquet; ``train`` reads them from it."""
    record = rates_record(rates_svc["lake"])
    assert record is not None
    snapshot = pd.DataFrame({"ruc": ["20100070970"], "as_of": [pd.Timestamp("2024-12-31")], "x": [1.0]})
    snapshot.attrs["exchange_rates"] = record
    write_snapshot(snapshot, {"rows": 1}, tmp_path / "snap.parquet")
    frame = read_table(tmp_path / "snap.parquet")
    assert json.loads(frame.attrs["exchange_rates"]) == json.loads(record)
    assert json.loads(record)["source"].startswith("lake ")


def test_the_openapi_documents_client_rates_and_the_conversion(rates_svc: dict[str, Any]) -> None:
    spec = rates_svc["client"].get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    field = schemas["ScoreRequest"]["properties"]["exchange_rates"]
    assert {"$ref": "#/components/schemas/ClientRate"} in [a.get("items") for a in field["anyOf"]]
    rate = schemas["ClientRate"]["properties"]
    assert (rate["pen_per_usd"]["minimum"], rate["pen_per_usd"]["maximum"]) == (2.5, 4.5)
    assert rate["month"]["pattern"].startswith("^[0-9]{4}-")
    conversion = schemas["Conversion"]["properties"]
    assert {"client_rates", "usd_amounts_by_source", "amounts_not_read"} <= set(conversion)
    assert "exchange_rates" in schemas["ScoreResponse"]["properties"]
