"""Each decision carries its SBS provision at origination, its expected loss and the automated-decision notice
(issue 20, items 1 and 3), over the API and in batch scoring."""

from __future__ import annotations

import copy
import shutil
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from pymescore.bundle import load_bundle
from pymescore.decision._regulatory import NOTICE_VERSION
from pymescore.errors import ConfigError
from pymescore.regulation import load_regulation
from pymescore.scoring import score
from pymescore.service import application_bodies
from tests.service_support import keys, make_app

RULES = load_regulation()


@pytest.fixture(scope="module")
def api(sme_bundle: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("regulatory")
    shutil.copytree(sme_bundle["bundle"], root / "bundle")
    app, state = make_app(root / "bundle", f"sqlite:///{root / 'audit.db'}", lake=sme_bundle["lake"].root)
    tables = sme_bundle["tables"]
    firms = tables["firms"]
    started = firms[pd.to_datetime(firms["start_date"]) < pd.Timestamp(sme_bundle["as_of"])]
    bodies = application_bodies(tables, [str(r) for r in started["ruc"].iloc[:40]], sme_bundle["as_of"])
    with TestClient(app) as client:
        yield {"client": client, "keys": keys(state), "bodies": bodies}


def _post(api: dict[str, Any], body: dict[str, Any], lang: str = "es") -> dict[str, Any]:
    r = api["client"].post("/v1/scores", json=body, headers={"Authorization": api["keys"]["all"],
                                                             "Accept-Language": lang})  # fmt: skip
    assert r.status_code == 201, r.text
    return dict(r.json())


def test_every_decision_carries_its_provision_and_expected_loss(api: dict[str, Any]) -> None:
    seen = set()
    for body in api["bodies"][:15]:
        r = _post(api, body)
        reg = r["regulatory"]
        seen.add(r["decision"])
        exposure = r["suggested_amount"] if r["suggested_amount"] > 0 else r["requested_amount"]
        assert reg["exposure"] == pytest.approx(exposure)
        assert reg["provision_amount"] == pytest.approx(reg["provision_rate"] * exposure, abs=0.01)
        assert reg["expected_loss"] == pytest.approx(r["pd"] * RULES.lgd["none"] * exposure, abs=0.01)
        assert reg["guarantee"] == "none"
        assert reg["credit_type"] in ("microempresa", "pequena_empresa", "mediana_empresa")
        assert reg["regulation_version"] == RULES.version
    assert len(seen) >= 2


def test_a_new_loan_takes_the_bureau_category_aligned_one_level(api: dict[str, Any]) -> None:
    body = copy.deepcopy(next(b for b in api["bodies"] if b["bureau_ratings"]))
    last = max(range(len(body["bureau_ratings"])), key=lambda k: body["bureau_ratings"][k]["month"])
    body["bureau_ratings"][last]["sbs_rating"] = 3  # Dudoso in the system now
    reg = _post(api, body)["regulatory"]
    assert reg["sbs_category"] == "Deficiente"  # Normal may be one level better than Dudoso, no more
    assert reg["provision_rate"] == RULES.specific["none"][1]
    body["guarantee"] = "preferred_quick"
    quick = _post(api, body)["regulatory"]
    assert quick["provision_rate"] == RULES.specific["preferred_quick"][1]
    assert quick["lgd"] == RULES.lgd["preferred_quick"] < reg["lgd"]


def test_every_response_carries_the_automated_decision_notice(api: dict[str, Any]) -> None:
    body = copy.deepcopy(api["bodies"][0])
    es = _post(api, body, "es")["automated_decision_notice"]
    en = _post(api, body, "en")["automated_decision_notice"]
    assert es["version"] == en["version"] == NOTICE_VERSION
    assert "modelo automatizado" in es["text"]
    assert "revise la decisión" in es["text"]
    assert "automated credit-risk model" in en["text"]
    sent = [t for t in ("monthly_cashflows", "financial_statements", "payments", "bureau_ratings") if body[t]]
    assert es["data_used"][: len(sent)] == sent
    body["payments"] = []
    assert "payments" not in _post(api, body)["automated_decision_notice"]["data_used"]


def test_batch_scoring_writes_the_provision_columns(sme_bundle: dict[str, Any]) -> None:
    from pymescore.features._snapshot import build_snapshot

    snapshot, _ = build_snapshot(sme_bundle["lake"], ["2024-12-31"])
    frame = snapshot.head(50).copy()
    frame["requested_amount"] = 20_000.0
    frame["term_months"] = 12
    frame["guarantee"] = ["preferred"] * 25 + ["none"] * 25
    bundle = load_bundle(sme_bundle["bundle"])
    out = score(bundle, frame)
    exposure = out["suggested_amount"].where(out["suggested_amount"] > 0, out["requested_amount"])
    assert (out["provision_amount"] - out["provision_rate"] * exposure).abs().max() < 0.01
    lgd = pd.Series([RULES.lgd["preferred"]] * 25 + [RULES.lgd["none"]] * 25)
    assert (out["expected_loss"] - out["pd"] * lgd * exposure).abs().max() < 0.01
    frame.loc[frame.index[3], "guarantee"] = "oro"
    with pytest.raises(ConfigError, match="data row 4"):
        score(bundle, frame)
