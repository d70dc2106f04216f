"""The scoring service over HTTP (in-process ASGI client, SQLite audit store): contract, auth, tenancy,
idempotency, errors, reload, metrics, logs."""

from __future__ import annotations

import copy
import datetime as dt
import gc
import hashlib
import json
import logging
import shutil
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from pymescore.service import application_bodies, fingerprint
from pymescore.service._schemas import ScoreRequest
from pymescore.service._store import IdempotencyConflictError, StoreUnavailableError
from pymescore.service._tables import idempotency_keys
from tests.service_support import keys, make_app

ROUTES = [
    ("POST", "/v1/scores", "score"),
    ("POST", "/v1/scores:batch", "score"),
    ("GET", "/v1/scores/00000000-0000-0000-0000-000000000000", "read"),
    ("GET", "/v1/scores?ruc=20100070970", "read"),
    ("GET", "/v1/model", "read"),
    ("POST", "/v1/models/pymescore:predict", "score"),
    ("POST", "/v1/admin/reload", "admin"),
]


@pytest.fixture(scope="module")
def svc(sme_bundle: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("svc")
    bundle = root / "bundle"
    shutil.copytree(sme_bundle["bundle"], bundle)
    app, state = make_app(bundle, f"sqlite:///{root / 'audit.db'}", lake=sme_bundle["lake"].root)
    tables = sme_bundle["tables"]
    rucs = [str(r) for r in tables["firms"]["ruc"].iloc[:80]]
    bodies = application_bodies(tables, rucs, sme_bundle["as_of"])
    with TestClient(app) as client:
        yield {"client": client, "state": state, "keys": keys(state), "bodies": bodies, "bundle": bundle,
               "source_bundle": sme_bundle["bundle"]}  # fmt: skip


def _ok_body(svc: dict[str, Any], decision: str | None = None) -> dict[str, Any]:
    c, h = svc["client"], {"Authorization": svc["keys"]["all"]}
    for body in svc["bodies"]:
        r = c.post("/v1/scores:batch", json={"applications": [body]}, headers=h)
        item = r.json()["results"][0]
        if item["status"] == 201 and (decision is None or item["result"]["decision"] == decision):
            return copy.deepcopy(body)
    raise AssertionError(f"no sample application gets {decision}")


def test_score_is_stored_and_read_back_exactly(svc: dict[str, Any]) -> None:
    c, h = svc["client"], {"Authorization": svc["keys"]["all"]}
    body = _ok_body(svc)
    store = svc["state"].store
    before = store.count()
    r = c.post("/v1/scores", json=body, headers=h)
    assert r.status_code == 201, r.text
    out = r.json()
    assert store.count() == before + 1
    assert out["ruc"] == body["ruc"]
    assert 300 <= out["score"] <= 850
    assert 0 < out["pd"] < 1
    assert out["decision"] in ("approve", "review", "decline")
    assert out["band"] in "ABCDE"
    assert len(out["reasons"]) <= 4
    assert all(x["impact_points"] < 0 for x in out["reasons"])
    assert all(x["text"] and x["text"] != x["code"] for x in out["reasons"])
    assert out["suggested_amount"] <= body["requested_amount"]
    assert r.headers["location"] == f"/v1/scores/{out['score_id']}"
    assert c.get(r.headers["location"], headers=h).json() == out
    history = c.get(f"/v1/scores?ruc={body['ruc']}", headers=h).json()
    assert out["score_id"] in [i["score_id"] for i in history["items"]]


def test_english_reasons_on_request(svc: dict[str, Any]) -> None:
    c, h = svc["client"], {"Authorization": svc["keys"]["all"]}
    body = _ok_body(svc, "decline")
    es = c.post("/v1/scores", json=body, headers=h).json()
    en = c.post("/v1/scores", json=body, headers={**h, "Accept-Language": "en-US,en;q=0.9"}).json()
    assert (es["score"], es["decision"]) == (en["score"], en["decision"])
    assert [r["code"] for r in es["reasons"]] == [r["code"] for r in en["reasons"]]
    assert es["reasons"]
    assert [r["text"] for r in es["reasons"]] != [r["text"] for r in en["reasons"]]
    assert es["language"] == "es"
    assert en["language"] == "en"


def test_features_instead_of_histories_give_the_same_score(svc: dict[str, Any]) -> None:
    c, h = svc["client"], {"Authorization": svc["keys"]["all"]}
    body = _ok_body(svc)
    first = c.post("/v1/scores", json=body, headers=h).json()
    stored = svc["state"].store.recent()
    features = next(row["features"] for row in stored if row["id"] == first["score_id"])
    by_features = {k: body[k] for k in ("ruc", "requested_amount", "currency", "term_months", "as_of")}
    by_features["features"] = features
    second = c.post("/v1/scores", json=by_features, headers=h).json()
    assert (second["pd"], second["score"], second["reasons"]) == (first["pd"], first["score"], first["reasons"])


def test_knockout_rules_decline_whatever_the_score(svc: dict[str, Any]) -> None:
    c, h = svc["client"], {"Authorization": svc["keys"]["all"]}
    body = _ok_body(svc)
    body["firm"]["taxpayer_state"] = "BAJA DE OFICIO"
    body["firm"]["domicile_condition"] = "NO HABIDO"
    out = c.post("/v1/scores", json=body, headers=h).json()
    assert out["decision"] == "decline"
    assert out["suggested_amount"] == 0
    codes = {r["code"] for r in out["policy_rules"]}
    assert {"KO_TAXPAYER_NOT_ACTIVE", "KO_DOMICILE_NOT_HABIDO"} <= codes


@pytest.mark.parametrize(("method", "path", "scope"), ROUTES)
def test_every_route_needs_a_live_key_with_its_scope(svc: dict[str, Any], method: str, path: str, scope: str) -> None:
    c, k = svc["client"], svc["keys"]
    body: dict[str, Any] = {}
    assert c.request(method, path, json=body).status_code == 401
    assert c.request(method, path, json=body, headers={"Authorization": "Bearer pms_nope_nope"}).status_code == 401
    r = c.request(method, path, json=body, headers={"Authorization": k["revoked"]})
    assert r.status_code == 401
    assert r.headers["content-type"] == "application/problem+json"
    other = {"score": "read", "read": "score", "admin": "score"}[scope]
    r = c.request(method, path, json=body, headers={"Authorization": k[other]})
    assert r.status_code == 403
    assert r.json()["code"] == "SCOPE_MISSING"
    r = c.request(method, path, json=body, headers={"Authorization": k["all"]})
    assert r.status_code not in (401, 403)


def test_open_routes(svc: dict[str, Any]) -> None:
    c = svc["client"]
    assert c.get("/healthz").json() == {"status": "ok"}
    assert c.get("/readyz").status_code == 200
    assert "pymescore_http_requests_total" in c.get("/metrics").text


def test_a_tenant_never_sees_another_tenants_decisions(svc: dict[str, Any]) -> None:
    c, state = svc["client"], svc["state"]
    body = _ok_body(svc)
    mine = c.post("/v1/scores", json=body, headers={"Authorization": svc["keys"]["all"]}).json()
    key_b, _ = state.store.create_key("bank-b", ["score", "read"])
    hb = {"Authorization": f"Bearer {key_b}"}
    r = c.get(f"/v1/scores/{mine['score_id']}", headers=hb)
    missing = c.get("/v1/scores/does-not-exist", headers=hb)
    assert r.status_code == 404
    assert r.json()["detail"] == missing.json()["detail"]
    assert c.get(f"/v1/scores?ruc={body['ruc']}", headers=hb).json()["items"] == []


def test_a_2_mb_body_is_refused_with_413(svc: dict[str, Any]) -> None:
    c, h = svc["client"], {"Authorization": svc["keys"]["all"], "Content-Type": "application/json"}
    big = b'{"ruc": "' + b"1" * (2 * 1024 * 1024) + b'"}'
    before = svc["state"].store.count()
    r = c.post("/v1/scores", content=big, headers=h)
    assert r.status_code == 413
    assert r.json()["code"] == "BODY_TOO_LARGE"
    assert r.json()["instance"] == "/v1/scores"

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while streaming
        for _ in range(32):
            yield b" " * 65536

    r = c.post("/v1/scores", content=chunks(), headers=h)
    assert r.status_code == 413
    assert svc["state"].store.count() == before


def test_field_level_problems_name_path_expected_and_got(svc: dict[str, Any]) -> None:
    c, h = svc["client"], {"Authorization": svc["keys"]["all"]}
    body = _ok_body(svc)
    body["monthly_cashflows"][1]["month"] = "2024-13"
    body["payments"][0]["amount_due"] = -5
    r = c.post("/v1/scores", json=body, headers=h)
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    paths = {e["path"]: e for e in r.json()["errors"]}
    assert "monthly_cashflows[1].month" in paths
    assert paths["monthly_cashflows[1].month"]["got"] == "2024-13"
    assert "payments[0].amount_due" in paths
    bad_ruc = {**_ok_body(svc), "ruc": "20100070971"}
    r = c.post("/v1/scores", json=bad_ruc, headers=h)
    assert r.status_code == 422
    assert r.json()["errors"][0]["path"] == "ruc"
    r = c.post("/v1/scores", json={**body, "colour": "red"}, headers=h)
    assert r.status_code == 422
    assert any(e["path"] == "colour" for e in r.json()["errors"])
    r = c.post("/v1/scores", content=b"{not json", headers={**h, "Content-Type": "application/json"})
    assert r.status_code == 422
    assert c.get("/v1/nowhere").status_code == 404


def test_history_length_is_limited(svc: dict[str, Any]) -> None:
    c, h = svc["client"], {"Authorization": svc["keys"]["all"]}
    body = _ok_body(svc)
    body["bureau_ratings"] = [body["bureau_ratings"][0]] * 601
    r = c.post("/v1/scores", json=body, headers=h)
    assert r.status_code == 422
    assert r.json()["errors"][0]["path"] == "bureau_ratings"


def test_batch_gives_each_application_its_own_result(svc: dict[str, Any]) -> None:
    c, h = svc["client"], {"Authorization": svc["keys"]["all"]}
    good = _ok_body(svc)
    bad = {**good, "ruc": "12345678901"}
    before = svc["state"].store.count()
    r = c.post("/v1/scores:batch", json={"applications": [good, bad, good]}, headers=h)
    assert r.status_code == 200
    items = r.json()["results"]
    assert [i["status"] for i in items] == [201, 422, 201]
    assert items[1]["problem"]["errors"][0]["path"] == "ruc"
    assert items[0]["result"]["score"] == items[2]["result"]["score"]
    assert svc["state"].store.count() == before + 2


def test_idempotency_replays_and_refuses_a_different_body(svc: dict[str, Any]) -> None:
    c, h = svc["client"], {"Authorization": svc["keys"]["all"], "Idempotency-Key": "loan-42-attempt"}
    body = _ok_body(svc)
    before = svc["state"].store.count()
    first = c.post("/v1/scores", json=body, headers=h)
    again = c.post("/v1/scores", json=body, headers=h)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert svc["state"].store.count() == before + 1
    changed = {**body, "requested_amount": body["requested_amount"] + 1}
    r = c.post("/v1/scores", json=changed, headers=h)
    assert r.status_code == 422
    assert r.json()["code"] == "IDEMPOTENCY_CONFLICT"
    # a refused request does not burn its key
    h2 = {**h, "Idempotency-Key": "loan-43"}
    assert c.post("/v1/scores", json={**body, "ruc": "12345678901"}, headers=h2).status_code == 422
    assert c.post("/v1/scores", json=body, headers=h2).status_code == 201


def test_tf_serving_predict(svc: dict[str, Any]) -> None:
    c, h = svc["client"], {"Authorization": svc["keys"]["all"]}
    features = svc["state"].store.recent()[0]["features"]
    r = c.post("/v1/models/pymescore:predict", json={"instances": [features, features]}, headers=h)
    assert r.status_code == 200, r.text
    preds = r.json()["predictions"]
    assert len(preds) == 2
    assert preds[0] == preds[1]
    assert 0 < preds[0]["pd"] < 1
    r = c.post("/v1/models/pymescore:predict", json={"instances": [{"nope": 1}]}, headers=h)
    assert r.status_code == 422
    assert r.json()["errors"][0]["path"] == "instances[0].nope"


def test_model_info(svc: dict[str, Any]) -> None:
    info = svc["client"].get("/v1/model", headers={"Authorization": svc["keys"]["read"]}).json()
    assert info["version"] == svc["state"].scorer.version
    assert any(f["name"] == "dpd_current" and f["monotone"] == 1 for f in info["features"])


def test_reload_serves_a_new_champion_and_refuses_a_tampered_one(svc: dict[str, Any], tmp_path: Path) -> None:
    c, h, state = svc["client"], {"Authorization": svc["keys"]["admin"]}, svc["state"]
    bundle: Path = svc["bundle"]
    old = state.scorer.version
    manifest = json.loads((bundle / "manifest.json").read_text())
    # a tampered bundle (one byte of the model changed) is refused and the old model keeps serving
    target = bundle / "model.json"
    original = target.read_bytes()
    target.write_bytes(original.replace(b'"target"', b'"targeT"', 1))
    r = c.post("/v1/admin/reload", headers=h)
    assert r.status_code == 409
    assert "model.json" in r.json()["detail"]
    assert state.scorer.version == old
    assert c.post("/v1/scores", json=_ok_body(svc), headers={"Authorization": svc["keys"]["all"]}).status_code == 201
    target.write_bytes(original)
    # a new, valid bundle in place is picked up
    from pymescore.bundle import load_bundle, save_bundle

    fresh = load_bundle(svc["source_bundle"])
    fresh.version = manifest["version"] + "-b"
    save_bundle(fresh, bundle)
    previous = weakref.ref(state.scorer)
    r = c.post("/v1/admin/reload", headers=h)
    assert r.status_code == 200
    assert r.json()["model_version"] == fresh.version
    assert f'version="{fresh.version}"' in c.get("/metrics").text
    # the loaded model is frozen out of the garbage collector's walks; the one it replaced was not kept by that
    assert gc.get_freeze_count() > 0
    assert previous() is None


def test_logs_are_json_and_never_carry_the_ruc(svc: dict[str, Any], caplog: pytest.LogCaptureFixture) -> None:
    c, h = svc["client"], {"Authorization": svc["keys"]["all"]}
    body = _ok_body(svc)
    with caplog.at_level(logging.INFO, logger="pymescore.service"):
        c.post("/v1/scores", json=body, headers=h)
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "pymescore.service"]
    request_line = next(x for x in lines if x.get("route") == "/v1/scores")
    assert request_line["ruc_hash"]
    assert request_line["status"] == 201
    assert request_line["tenant"] == "bank-a"
    assert body["ruc"] not in caplog.text


def test_a_claim_left_by_a_dead_request_is_taken_over_after_a_minute(svc: dict[str, Any]) -> None:
    c, h = svc["client"], {"Authorization": svc["keys"]["all"], "Idempotency-Key": "crashed-once"}
    store = svc["state"].store
    body = _ok_body(svc)
    tenant = store.authenticate(svc["keys"]["all"].split(" ", 1)[1]).tenant
    fp = hashlib.sha256(f"/v1/scores:{fingerprint(ScoreRequest.model_validate(body))}".encode()).hexdigest()
    assert isinstance(store.claim(tenant, "crashed-once", fp), str)  # a request that then died
    assert c.post("/v1/scores", json=body, headers=h).status_code == 409  # fresh: still in flight
    with store.engine.begin() as conn:
        conn.execute(
            sa.update(idempotency_keys)
            .where(idempotency_keys.c.key == "crashed-once")
            .values(created_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=2))
        )
    r = c.post("/v1/scores", json=body, headers=h)
    assert r.status_code == 201
    assert c.post("/v1/scores", json=body, headers=h).json() == r.json()


def test_one_fingerprint_per_application_keys_the_claim_and_is_stored(
    svc: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from pymescore.service import _routes_scoring
    from pymescore.service._tables import decisions

    calls: list[str] = []

    def counted(request: ScoreRequest) -> str:
        calls.append(request.ruc)
        return fingerprint(request)

    c, store = svc["client"], svc["state"].store
    bodies = [_ok_body(svc), *svc["bodies"][:2]]
    monkeypatch.setattr(_routes_scoring, "fingerprint", counted)
    tenant = store.authenticate(svc["keys"]["all"].split(" ", 1)[1]).tenant
    h = {"Authorization": svc["keys"]["all"], "Idempotency-Key": "one-print"}
    single = c.post("/v1/scores", json=bodies[0], headers=h)
    assert single.status_code == 201
    batch = c.post("/v1/scores:batch", json={"applications": bodies}, headers={**h, "Idempotency-Key": "batch-print"})
    assert batch.status_code == 200
    assert len(calls) == 1 + len(bodies)  # once per application, not again by the scorer's caller
    prints = [fingerprint(ScoreRequest.model_validate(b)) for b in bodies]
    ids = [single.json()["score_id"]] + [x["result"]["score_id"] for x in batch.json()["results"] if x["result"]]
    with store.engine.begin() as conn:
        stored = dict(conn.execute(sa.select(decisions.c.id, decisions.c.request_fingerprint)
                                   .where(decisions.c.id.in_(ids))).all())  # fmt: skip
    assert stored[ids[0]] == prints[0]
    for item, printed in zip(batch.json()["results"], prints, strict=True):
        if item["result"]:
            assert stored[item["result"]["score_id"]] == printed
    # the claims were keyed on the same values: replaying them with a hand-made key is not a conflict
    single_key = hashlib.sha256(f"/v1/scores:{prints[0]}".encode()).hexdigest()
    batch_key = hashlib.sha256(f"/v1/scores:batch:{','.join(prints)}".encode()).hexdigest()
    assert store.claim(tenant, "one-print", single_key).response == single.json()
    assert store.claim(tenant, "batch-print", batch_key).response == batch.json()


def test_a_request_presumed_dead_cannot_complete_after_its_claim_was_taken_over(svc: dict[str, Any]) -> None:
    store = svc["state"].store
    first = store.claim("bank-z", "slow-one", "fp")
    assert isinstance(first, str)
    with store.engine.begin() as conn:
        conn.execute(
            sa.update(idempotency_keys)
            .where(idempotency_keys.c.key == "slow-one")
            .values(created_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=2))
        )
    second = store.claim("bank-z", "slow-one", "fp")
    assert isinstance(second, str)
    assert second != first
    row = dict(store.recent()[0])
    late = {**row, "id": "late-decision", "tenant": "bank-z"}
    with pytest.raises(IdempotencyConflictError):
        store.record([late], ("bank-z", "slow-one", first, 201, {"score_id": "late-decision"}))
    store.release("bank-z", "slow-one", first)  # the dead request's release does not free the new claim
    assert store.count(id="late-decision") == 0
    store.record([{**row, "id": "kept-decision", "tenant": "bank-z"}],
                 ("bank-z", "slow-one", second, 201, {"score_id": "kept-decision"}))  # fmt: skip
    assert store.count(id="kept-decision") == 1
    assert store.claim("bank-z", "slow-one", "fp").response == {"score_id": "kept-decision"}


def test_a_failed_decision_write_is_503_stores_nothing_and_frees_the_key(
    svc: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    c, state = svc["client"], svc["state"]
    h = {"Authorization": svc["keys"]["all"], "Idempotency-Key": "write-fails-once"}
    body = _ok_body(svc)
    before = state.store.count()
    failures = state.metrics.audit_failures._value.get()
    audited = {"route": "/v1/scores", "stage": "audit"}
    audits = state.metrics.registry.get_sample_value("pymescore_scoring_stage_duration_seconds_count", audited) or 0.0

    def down(*_args: Any, **_kwargs: Any) -> None:
        raise StoreUnavailableError("audit store: expected a reachable database, got OperationalError")

    monkeypatch.setattr(state.store, "record", down)
    r = c.post("/v1/scores", json=body, headers=h)
    assert r.status_code == 503
    assert r.json()["code"] == "AUDIT_UNAVAILABLE"
    assert state.store.count() == before
    assert state.metrics.audit_failures._value.get() == failures + 1
    # a failed write is timed too: a store that slows down shows in the stage histogram before it fails
    counted = state.metrics.registry.get_sample_value("pymescore_scoring_stage_duration_seconds_count", audited)
    assert counted == audits + 1
    monkeypatch.undo()
    r = c.post("/v1/scores", json=body, headers=h)  # the same key runs again once the store is back
    assert r.status_code == 201
    assert state.store.count() == before + 1


def test_extreme_feature_values_are_clipped_not_a_500(svc: dict[str, Any]) -> None:
    c, h = svc["client"], {"Authorization": svc["keys"]["all"]}
    features = dict(svc["state"].store.recent()[0]["features"])
    features.update({"log_income_mean_12m": 1e6, "net_cf_margin_12m": 0.2, "dpd_current": -1e9})
    body = {"ruc": "20100070970", "requested_amount": 1000, "term_months": 12, "as_of": "2025-06-30",
            "features": features}  # fmt: skip
    r = c.post("/v1/scores", json=body, headers=h)
    assert r.status_code == 201, r.text
    stored = next(x for x in svc["state"].store.recent() if x["id"] == r.json()["score_id"])
    assert stored["features"]["log_income_mean_12m"] == 25.0  # the registry's valid range


def _stored_features(svc: dict[str, Any]) -> dict[str, Any]:
    """The features of a fresh decision, as the audit store holds them (a valid predict instance)."""
    r = svc["client"].post("/v1/scores", json=_ok_body(svc), headers={"Authorization": svc["keys"]["all"]})
    assert r.status_code == 201, r.text
    return dict(next(x for x in svc["state"].store.recent() if x["id"] == r.json()["score_id"])["features"])


def test_a_feature_beyond_the_boosters_float32_range_is_a_422_not_a_500(svc: dict[str, Any]) -> None:
    c, h = svc["client"], {"Authorization": svc["keys"]["all"]}
    features = _stored_features(svc)
    unbounded = "income_mean_3m"  # the registry gives it no upper bound, so nothing clips it
    for value in (1e308, -1e39):
        r = c.post("/v1/models/pymescore:predict", json={"instances": [{**features, unbounded: value}]}, headers=h)
        assert r.status_code == 422, r.text
        assert r.json()["errors"][0]["path"] == f"instances[0].{unbounded}"
    body = {"ruc": "20100070970", "requested_amount": 1000, "term_months": 12, "as_of": "2025-06-30",
            "features": {**features, unbounded: 1e39}}  # fmt: skip
    r = c.post("/v1/scores", json=body, headers=h)
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["path"] == f"features.{unbounded}"


def test_a_registry_category_outside_its_domain_is_named(svc: dict[str, Any]) -> None:
    c, h = svc["client"], {"Authorization": svc["keys"]["all"]}
    features = _stored_features(svc)
    for bad in ("ATLANTIS", "1", ""):
        r = c.post("/v1/models/pymescore:predict", json={"instances": [{**features, "department": bad}]}, headers=h)
        assert r.status_code == 422, (bad, r.text)
        error = r.json()["errors"][0]
        assert error["path"] == "instances[0].department"
        assert "15" in error["expected"]
        assert error["got"] == bad
    for number, code in ((15, "15"), (8, "08")):  # a number that is a department code is that code
        as_number = c.post("/v1/models/pymescore:predict", json={"instances": [{**features, "department": number}]},
                           headers=h)  # fmt: skip
        as_code = c.post("/v1/models/pymescore:predict", json={"instances": [{**features, "department": code}]},
                         headers=h)  # fmt: skip
        assert as_number.status_code == 200, as_number.text
        assert as_number.json()["predictions"] == as_code.json()["predictions"]


def test_a_schema_broken_application_in_a_batch_is_its_own_422(svc: dict[str, Any]) -> None:
    c, h = svc["client"], {"Authorization": svc["keys"]["all"]}
    good = _ok_body(svc)
    negative = {**good, "requested_amount": -1}
    both = {**good, "features": {"dpd_current": 0}}
    before = svc["state"].store.count()
    empty: dict[str, Any] = {}
    r = c.post("/v1/scores:batch", json={"applications": [good, negative, empty, both, good]}, headers=h)
    assert r.status_code == 200, r.text
    items = r.json()["results"]
    assert [i["status"] for i in items] == [201, 422, 422, 422, 201]
    assert [i["index"] for i in items] == [0, 1, 2, 3, 4]
    assert items[1]["problem"]["errors"][0]["path"] == "requested_amount"
    assert items[1]["problem"]["errors"][0]["got"] == "-1"
    assert items[0]["result"]["score"] == items[4]["result"]["score"]
    assert svc["state"].store.count() == before + 2
    assert c.post("/v1/scores:batch", json={"applications": []}, headers=h).status_code == 422
    # an item that is not even an object breaks the batch's schema: the whole batch is refused, nothing stored
    r = c.post("/v1/scores:batch", json={"applications": [good, False, None, [good]]}, headers=h)
    assert r.status_code == 422, r.text
    assert r.json()["code"] == "REQUEST_INVALID"
    assert [(e["path"], e["got"]) for e in r.json()["errors"]] == [
        ("applications.1", "a JSON boolean"),
        ("applications.2", "a JSON null"),
        ("applications.3", "a JSON array"),
    ]
    assert svc["state"].store.count() == before + 2


def test_a_ruc_is_ascii_digits_with_its_check_digit(svc: dict[str, Any]) -> None:
    c, h = svc["client"], {"Authorization": svc["keys"]["all"]}
    body = _ok_body(svc)
    wide = "".join(chr(0xFF10 + int(d)) for d in body["ruc"])  # full-width digits: the same number to a reader
    r = c.post("/v1/scores", json={**body, "ruc": wide}, headers=h)
    assert r.status_code == 422
    assert r.json()["errors"][0]["path"] == "ruc"
    for ruc in (wide, "20100070971"):
        r = c.get("/v1/scores", params={"ruc": ruc}, headers=h)
        assert r.status_code == 422, (ruc, r.text)
        assert r.json()["errors"][0]["path"] == "query.ruc"
    assert c.get("/v1/scores", params={"ruc": body["ruc"]}, headers=h).status_code == 200


def test_a_month_not_written_yyyy_mm_is_refused_at_its_record(svc: dict[str, Any]) -> None:
    c, h = svc["client"], {"Authorization": svc["keys"]["all"]}
    body = _ok_body(svc)
    month = body["monthly_cashflows"][3]["month"]
    body["monthly_cashflows"][3]["month"] = f"{month[:4]}-{int(month[5:7])}"  # 2024-1: a typo pandas would read
    if body["monthly_cashflows"][3]["month"] == month[:7]:
        body["monthly_cashflows"][3]["month"] = f"{month[:4]}{month[5:7]}"
    r = c.post("/v1/scores", json=body, headers=h)
    assert r.status_code == 422, r.text
    errors = r.json()["errors"]
    assert [e["path"] for e in errors] == ["monthly_cashflows[3].month"], errors
    assert "YYYY-MM" in errors[0]["expected"]


def test_a_body_that_is_not_json_is_named(svc: dict[str, Any]) -> None:
    c, h = svc["client"], {"Authorization": svc["keys"]["all"]}
    r = c.post("/v1/scores", content=json.dumps(_ok_body(svc)), headers={**h, "Content-Type": "text/plain"})
    assert r.status_code == 415
    assert r.json()["errors"][0] == {"path": "headers.content-type", "expected": "application/json",
                                     "got": "text/plain"}  # fmt: skip
    r = c.post("/v1/scores", content=b'{"ruc": "2055', headers={**h, "Content-Type": "application/json"})
    assert r.status_code == 422
    error = r.json()["errors"][0]
    assert error["path"] == "body"
    assert "JSON" in error["expected"]
    assert "character" in error["expected"]


def test_reasons_never_assert_what_was_not_sent(svc: dict[str, Any]) -> None:
    """An application without payments or bureau history gets no reason that claims arrears or ratings:
    a reason whose input could not be measured is coded ``<feature>:missing`` and says so."""
    c, h = svc["client"], {"Authorization": svc["keys"]["all"]}
    body = {**_ok_body(svc), "payments": [], "bureau_ratings": []}
    said = {"es": ("Sin historial de pagos de préstamos", "Sin reporte en la central de riesgos (SBS)", "No medible: "),
            "en": ("No loan payment history", "No credit bureau (SBS) report", "Not measurable: ")}  # fmt: skip
    for lang in ("es", "en"):
        r = c.post("/v1/scores", json=body, headers={**h, "Accept-Language": lang})
        assert r.status_code == 201, r.text
        out = r.json()
        stored = next(x for x in svc["state"].store.recent() if x["id"] == out["score_id"])["features"]
        assert out["reasons"], "a thin file should have reasons"
        texts = [reason["text"] for reason in out["reasons"]]
        assert len(set(texts)) == len(texts), texts  # one reason per text: dpd_* are one
        for reason in out["reasons"]:
            name, _, flag = reason["code"].partition(":")
            absent = stored[name] is None
            assert (flag == "missing") == absent, (reason, stored[name])
            assert reason["text"].startswith(said[lang]) == absent, reason
        assert any(r["code"].endswith(":missing") for r in out["reasons"]), out["reasons"]
        if lang == "es":
            assert any(r["text"] == "Sin historial de pagos de préstamos" for r in out["reasons"]), out["reasons"]


def test_the_policy_still_approves_a_sound_complete_application(svc: dict[str, Any]) -> None:
    body = _ok_body(svc, "approve")  # raises when no sample application is approved any more
    r = svc["client"].post("/v1/scores", json=body, headers={"Authorization": svc["keys"]["all"]})
    assert r.json()["decision"] == "approve"
    assert r.json()["policy_rules"] == []
    assert r.json()["suggested_amount"] == body["requested_amount"]


def test_hints_only_move_what_the_owner_runs(svc: dict[str, Any]) -> None:
    from pymescore.decision._hints import HINT_GROUPS, SIZE_UNITS
    from pymescore.features import BY_NAME

    c, h = svc["client"], {"Authorization": svc["keys"]["all"]}
    r = c.post("/v1/scores:batch", json={"applications": svc["bodies"][:40]}, headers=h)
    hinted = [hint["feature"] for item in r.json()["results"] if item["result"]
              for hint in item["result"]["improvement_hints"]]  # fmt: skip
    assert hinted, "no sample application got a hint"
    for item in r.json()["results"]:
        groups = [BY_NAME[h["feature"]].group for h in (item["result"] or {}).get("improvement_hints", [])]
        assert len(set(groups)) == len(groups), groups  # one piece of advice per group
    for name in hinted:
        assert BY_NAME[name].group in HINT_GROUPS, name
        assert BY_NAME[name].unit not in SIZE_UNITS, name


def test_every_non_approval_gets_a_hint_or_is_told_none_helps(svc: dict[str, Any]) -> None:
    """Issue 17 #6: a review came back with no hint. Every review or decline now carries a hint (a second look
    tries every input the owner runs) or ``improvement_note`` saying that none helps; every reason on a
    registry input says the firm's value («…: S/ 3,000 al mes, por debajo de lo típico (S/ 9,000 al mes)»)."""
    from pymescore.features import BY_NAME

    c, h = svc["client"], {"Authorization": svc["keys"]["all"]}
    seen = 0
    for lang in ("es", "en"):
        r = c.post(
            "/v1/scores:batch", json={"applications": svc["bodies"][:60]}, headers={**h, "Accept-Language": lang}
        )
        for item in r.json()["results"]:
            out = item["result"]
            if out is None:
                continue
            if out["decision"] != "approve":
                seen += 1
                assert out["improvement_hints"] or out["improvement_note"], out
            else:
                assert out["improvement_note"] is None
            for reason in out["reasons"]:
                if reason["code"] in BY_NAME:  # a value was measured: it is said, after the reason
                    assert ": " in reason["text"], reason
    assert seen, "no sample application was reviewed or declined"


def test_every_field_problem_of_a_request_is_reported_at_once(svc: dict[str, Any]) -> None:
    """Issue 17 #8: a bad RUC hid the history errors; and ``expected`` read «expected a month …»."""
    c, h = svc["client"], {"Authorization": svc["keys"]["all"]}
    body = _ok_body(svc)
    body["monthly_cashflows"][0]["income"] = -1.0
    body["monthly_cashflows"][1]["month"] = "2024-13"
    for ruc in ("20100070971", "123"):  # a wrong check digit; not even 11 digits
        r = c.post("/v1/scores", json={**body, "ruc": ruc}, headers=h)
        assert r.status_code == 422, r.text
        errors = r.json()["errors"]
        paths = [e["path"] for e in errors]
        assert "ruc" in paths, errors
        assert "monthly_cashflows[0].income" in paths, errors
        assert "monthly_cashflows[1].month" in paths, errors
        assert "firm.ruc" not in paths  # the RUC is one problem, said once
        for e in errors:
            assert not e["expected"].lower().startswith("expected"), e


def test_a_month_or_date_at_midnight_reads_as_the_date(svc: dict[str, Any]) -> None:
    """Issue 17 #8: ``2023-01-01T00:00:00.000`` (pandas' to_json) was refused; it is the date. Another time of
    day is refused, saying so."""
    c, h = svc["client"], {"Authorization": svc["keys"]["all"]}
    body = _ok_body(svc)
    stamped = copy.deepcopy(body)
    for rec in stamped["monthly_cashflows"] + stamped["bureau_ratings"]:
        rec["month"] = f"{rec['month'][:7]}-01T00:00:00.000"
    for rec in stamped["payments"]:
        rec["due_date"] = f"{rec['due_date']}T00:00:00.000"
    plain = c.post("/v1/scores:batch", json={"applications": [body]}, headers=h).json()["results"][0]["result"]
    r = c.post("/v1/scores:batch", json={"applications": [stamped]}, headers=h)
    item = r.json()["results"][0]
    assert item["status"] == 201, item
    assert (item["result"]["score"], item["result"]["decision"]) == (plain["score"], plain["decision"])
    late = copy.deepcopy(body)
    late["monthly_cashflows"][0]["month"] = f"{late['monthly_cashflows'][0]['month'][:7]}-01T10:30:00.000"
    r = c.post("/v1/scores", json=late, headers=h)
    assert r.status_code == 422, r.text
    errors = {e["path"]: e["expected"] for e in r.json()["errors"]}
    assert "without a time" in errors["monthly_cashflows[0].month"], errors
    late = copy.deepcopy(body)
    late["payments"][0]["due_date"] = f"{late['payments'][0]['due_date']}T10:30:00"
    r = c.post("/v1/scores", json=late, headers=h)
    assert r.status_code == 422, r.text
    errors = {e["path"]: e["expected"] for e in r.json()["errors"]}
    assert "zero time" in errors["payments[0].due_date"], errors


def test_an_idempotent_retry_in_another_language_replays_the_decision(svc: dict[str, Any]) -> None:
    """Issue 17 #8: a retry with another Accept-Language was a 422 conflict; the stored decision is the same."""
    c, h = svc["client"], {"Authorization": svc["keys"]["all"]}
    body = _ok_body(svc)
    first = c.post("/v1/scores", json=body, headers={**h, "Idempotency-Key": "lang-retry-1", "Accept-Language": "es"})
    assert first.status_code == 201, first.text
    again = c.post("/v1/scores", json=body, headers={**h, "Idempotency-Key": "lang-retry-1", "Accept-Language": "en"})
    assert again.status_code == 201, again.text
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert again.headers["content-language"] == again.json()["language"] == "es"


@pytest.mark.parametrize(
    ("header", "lang"),
    [(None, "es"), ("en", "en"), ("en-US,en;q=0.9", "en"), ("es-PE", "es"), ("es;q=0.1, en;q=0.9", "en"),
     ("fr, en;q=0.8", "en"), ("fr", "es"), ("english", "es"), ("en;q=0", "es"), ("en;q=0.5, *;q=0.8", "es"),
     ("en_US", "en"), ("es;q=0, *", "en"), ("en, *", "en"), ("es, en", "es"), ("*", "es")],
)  # fmt: skip
def test_the_language_follows_accept_language_weights(svc: dict[str, Any], header: str | None, lang: str) -> None:
    from pymescore.service._http import negotiate_lang

    assert negotiate_lang(header) == lang
    if header in (None, "es;q=0.1, en;q=0.9"):
        h = {"Authorization": svc["keys"]["all"], **({"Accept-Language": header} if header else {})}
        r = svc["client"].post("/v1/scores", json=_ok_body(svc), headers=h)
        assert r.json()["language"] == r.headers["content-language"] == lang
        assert r.headers["vary"] == "Accept-Language"
        refused = svc["client"].post("/v1/scores", json={**_ok_body(svc), "ruc": "1"}, headers=h)
        assert refused.status_code == 422
        assert "content-language" not in refused.headers  # problem details are English whatever was asked


def _server_timing(header: str) -> dict[str, float]:
    """A ``Server-Timing`` value as milliseconds by stage name."""
    out = {}
    for part in header.split(","):
        name, _, params = part.strip().partition(";")
        out[name] = float(dict(p.split("=", 1) for p in params.split(";"))["dur"])
    return out


def test_a_scoring_answer_says_where_its_time_went(svc: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """Server-Timing: the scoring, the audit write, and the whole app, each stage under its own name (a scoring
    slowed by 40 ms and a store write slowed by 200 ms show as such, in the header and in the stage histogram); a
    replayed or refused answer times no stage."""
    import time

    c, h = svc["client"], {"Authorization": svc["keys"]["all"]}
    body = _ok_body(svc)
    state = svc["state"]
    model, store = state.served(), state.store
    score, record = model.score, store.record

    def slow_score(*args: Any, **kwargs: Any) -> Any:
        time.sleep(0.04)
        return score(*args, **kwargs)

    def slow_record(*args: Any, **kwargs: Any) -> Any:
        time.sleep(0.2)
        return record(*args, **kwargs)

    monkeypatch.setattr(model, "score", slow_score)
    monkeypatch.setattr(store, "record", slow_record)
    registry = state.metrics.registry

    def stages() -> dict[tuple[str, str, str], float]:
        """The stage histogram's count and sum of seconds, by route and stage."""
        return {(route, stage, part): registry.get_sample_value(f"pymescore_scoring_stage_duration_seconds_{part}",
                                                                {"route": route, "stage": stage}) or 0.0
                for route in ("/v1/scores", "/v1/scores:batch") for stage in ("score", "audit")
                for part in ("count", "sum")}  # fmt: skip

    before = stages()
    for path, payload in (("/v1/scores", body), ("/v1/scores:batch", {"applications": [body, body]})):
        r = c.post(path, json=payload, headers={**h, "Idempotency-Key": f"timing-{path}"})
        assert r.status_code in (200, 201), r.text
        t = _server_timing(r.headers["server-timing"])
        assert list(t) == ["score", "audit", "app"], t
        assert 40 <= t["score"] < t["audit"], t
        assert t["audit"] >= 200, t
        assert t["app"] >= t["score"] + t["audit"], t  # both stages lie inside the app's time
        again = c.post(path, json=payload, headers={**h, "Idempotency-Key": f"timing-{path}"})
        assert again.headers["idempotent-replayed"] == "true"
        assert list(_server_timing(again.headers["server-timing"])) == ["app"]  # nothing scored or written
    # the same stages in the metrics, for Prometheus, by route: each scored request once, not its replay
    grown = {k: v - before[k] for k, v in stages().items()}
    for route in ("/v1/scores", "/v1/scores:batch"):
        assert grown[(route, "score", "count")] == grown[(route, "audit", "count")] == 1, grown
        assert 0.04 <= grown[(route, "score", "sum")] < grown[(route, "audit", "sum")], grown
        assert grown[(route, "audit", "sum")] >= 0.2, grown
    monkeypatch.undo()
    refused = c.post("/v1/scores", json={**body, "ruc": "1"}, headers=h)
    assert refused.status_code == 422
    assert "server-timing" not in refused.headers


def test_server_timing_can_be_turned_off(sme_bundle: dict[str, Any], tmp_path: Path) -> None:
    app, state = make_app(sme_bundle["bundle"], f"sqlite:///{tmp_path / 'audit.db'}", lake=sme_bundle["lake"].root,
                          server_timing=False)  # fmt: skip
    tables = sme_bundle["tables"]
    bodies = application_bodies(tables, [str(r) for r in tables["firms"]["ruc"].iloc[:20]], sme_bundle["as_of"])
    with TestClient(app) as client:
        h = {"Authorization": keys(state)["all"]}
        answers = [client.post("/v1/scores", json=body, headers=h) for body in bodies]
    scored = [r for r in answers if r.status_code == 201]
    assert scored, [r.text for r in answers]
    assert all("server-timing" not in r.headers for r in scored)


def test_batch_items_are_documented_as_the_shared_application_schema(svc: dict[str, Any]) -> None:
    spec = svc["client"].get("/openapi.json").json()
    items = spec["components"]["schemas"]["BatchRequest"]["properties"]["applications"]["items"]
    # the shared component, or any other object: the route answers each broken one with its own 422 item
    assert items["anyOf"][0] == {"$ref": "#/components/schemas/ScoreRequest"}
    assert items["anyOf"][1]["type"] == "object"
    assert "ScoreRequest" in spec["components"]["schemas"]
