"""The regulator's view: aggregates across tenants, never an individual decision (issue 20, item 5)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from pymescore.errors import PymescoreError
from pymescore.service import application_bodies
from pymescore.service._regulator import MIN_CELL, aggregates
from tests.service_support import make_app

#: an as_of whose 12-month window the simulated lake (2023-01..2025-12) fully shows
OBSERVED = "2024-06-30"


@pytest.fixture(scope="module")
def two_banks(sme_bundle: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("regulator")
    shutil.copytree(sme_bundle["bundle"], root / "bundle")
    app, state = make_app(root / "bundle", f"sqlite:///{root / 'audit.db'}", lake=sme_bundle["lake"].root)
    tables = sme_bundle["tables"]
    firms = tables["firms"]
    started = firms[pd.to_datetime(firms["start_date"]) < pd.Timestamp(OBSERVED)]
    rucs = [str(r) for r in started["ruc"].iloc[:50]]
    # bank-a asks at the fixture's date (outcome not yet observed in the lake), bank-b a year earlier (observed)
    bodies = application_bodies(tables, rucs[:30], sme_bundle["as_of"])
    bodies += application_bodies(tables, rucs[30:], OBSERVED)
    with TestClient(app) as client:
        ids: dict[str, list[str]] = {}
        for bank, part in (("bank-a", bodies[:30]), ("bank-b", bodies[30:])):
            key, _ = state.store.create_key(bank, ["score", "read"])
            ids[bank] = []
            for body in part:
                r = client.post("/v1/scores", json=body, headers={"Authorization": f"Bearer {key}"})
                assert r.status_code == 201, r.text
                ids[bank].append(r.json()["score_id"])
        regulator, _ = state.store.create_key("regulator:sbs", ["regulator"])
        headers = {"Authorization": f"Bearer {regulator}"}
        yield {"client": client, "state": state, "ids": ids, "rucs": rucs, "tables": tables, "headers": headers}


def test_the_regulator_reads_aggregates_of_both_banks(two_banks: dict[str, Any]) -> None:
    r = two_banks["client"].get("/v1/regulator/aggregates", headers=two_banks["headers"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["total"]["decisions"] == 50
    assert set(body["institution"]["groups"]) == {"bank-a", "bank-b"}
    assert body["institution"]["groups"]["bank-a"]["decisions"] == 30
    rates = body["institution"]["groups"]["bank-b"]
    assert rates["approve_rate"] + rates["review_rate"] + rates["decline_rate"] == pytest.approx(1.0)
    for dim in ("region", "sector", "size_class"):
        groups = body[dim]["groups"]
        assert all(g["decisions"] >= MIN_CELL for g in groups.values())
        assert sum(g["decisions"] for g in groups.values()) <= 50
    assert "ruc" not in r.text  # no firm is named anywhere
    assert body["overrides"] == {}  # no person has decided yet


def test_bad_rates_join_the_outcomes_the_lake_shows(two_banks: dict[str, Any]) -> None:
    """bank-b's bad rate is the share of its firms that default in the 12 months after its as_of (the label
    training uses), over those whose outcome is known; bank-a's outcomes are not observed yet, so it has none."""
    from pymescore.features import build_labels

    body = two_banks["client"].get("/v1/regulator/aggregates", headers=two_banks["headers"]).json()
    labels = build_labels(two_banks["tables"], OBSERVED, pd.Series(two_banks["rucs"][30:]).to_numpy(dtype=object))
    known = labels.loc[labels["window_complete"], "default_12m"].dropna().astype(int)
    assert len(known) >= MIN_CELL, "the fixture must give bank-b enough known outcomes"
    b = body["institution"]["groups"]["bank-b"]
    assert b["outcomes_known"] == len(known)
    assert b["bad_rate"] == pytest.approx(known.mean())
    a = body["institution"]["groups"]["bank-a"]
    assert a["outcomes_known"] == 0
    assert a["bad_rate"] is None
    assert a["approved_bad_rate"] is None
    assert body["outcomes"]["known"] == len(known) == body["total"]["outcomes_known"]
    for dim in ("region", "sector", "size_class"):
        for g in body[dim]["groups"].values():
            assert g["bad_rate"] is None or g["outcomes_known"] >= MIN_CELL


def test_without_a_lake_bad_rates_say_why() -> None:
    rows = [{"id": str(i), "tenant": "t", "decision": "approve", "features": {}} for i in range(12)]
    body = aggregates(rows)
    assert body["total"]["bad_rate"] is None
    assert "--lake" in body["outcomes"]["note"]
    outcomes = {str(i): float(i < 3) for i in range(12)}
    rates = aggregates(rows, outcomes=outcomes)["total"]
    assert rates["bad_rate"] == pytest.approx(3 / 12)
    assert rates["approved_bad_rate"] == pytest.approx(3 / 12)


def test_the_regulator_gets_404_on_any_decision_and_cannot_score(two_banks: dict[str, Any]) -> None:
    c, h = two_banks["client"], two_banks["headers"]
    for bank_ids in two_banks["ids"].values():
        for score_id in bank_ids[:5]:
            assert c.get(f"/v1/scores/{score_id}", headers=h).status_code == 404
            assert c.get(f"/v1/scores/{score_id}/letter", headers=h).status_code == 404
    assert c.post("/v1/scores", json={}, headers=h).status_code == 403
    assert c.get("/v1/applicant-requests", headers=h).json() == []


def test_a_bank_key_cannot_read_the_aggregates(two_banks: dict[str, Any]) -> None:
    key, _ = two_banks["state"].store.create_key("bank-a", ["score", "read", "admin"])
    r = two_banks["client"].get("/v1/regulator/aggregates", headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 403


def test_regulator_keys_are_kept_apart(two_banks: dict[str, Any]) -> None:
    store = two_banks["state"].store
    with pytest.raises(PymescoreError, match="regulator key"):
        store.create_key("sbs", ["regulator"])
    with pytest.raises(PymescoreError, match="regulator key"):
        store.create_key("regulator:sbs", ["regulator", "read"])
    with pytest.raises(PymescoreError, match="kept for regulator keys"):
        store.create_key("regulator:bank", ["score"])


def test_small_groups_are_suppressed() -> None:
    rows = [{"tenant": "a", "decision": "approve", "features": {"department": "15"}}] * MIN_CELL
    rows += [{"tenant": "a", "decision": "decline", "features": {"department": "08"}}] * (MIN_CELL - 1)
    out = aggregates(rows)
    assert set(out["region"]["groups"]) == {"15"}
    assert out["region"]["suppressed_groups"] == 1
    assert out["total"]["decisions"] == 2 * MIN_CELL - 1


def test_override_rates_by_institution() -> None:
    from pymescore.service._regulator import overrides

    rows = [("a", "approve", "decline")] * 2 + [("a", "decline", "approve")] + [("a", "approve", "approve")] * 7
    rows += [("b", "approve", "decline")] * 3  # under the minimum: hidden
    out = overrides(rows)
    assert set(out) == {"a"}
    assert out["a"]["human_decisions"] == 10
    assert out["a"]["high_side_override_rate"] == pytest.approx(0.2)
    assert out["a"]["low_side_override_rate"] == pytest.approx(0.1)
    assert out["a"]["agreement_rate"] == pytest.approx(0.7)
