"""The attack run's findings (issue 18): no 500 on any text, no request data in any log, abuse limits, HTTP
hygiene. In-process ASGI client unless a real server's behaviour (uvicorn's log, slow sockets) is the point."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import shutil
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from pymescore.service import application_bodies
from tests.bad_inputs import bad_requests, surrogate_bodies
from tests.service_support import keys, live_server, make_app


@pytest.fixture(scope="module")
def hard(sme_bundle: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("hardening")
    shutil.copytree(sme_bundle["bundle"], root / "bundle")
    app, state = make_app(root / "bundle", f"sqlite:///{root / 'audit.db'}", lake=sme_bundle["lake"].root)
    tables = sme_bundle["tables"]
    bodies = application_bodies(tables, [str(r) for r in tables["firms"]["ruc"].iloc[:40]], sme_bundle["as_of"])
    with TestClient(app, raise_server_exceptions=False) as client:
        h = keys(state)
        ok = next(b for b in bodies if client.post("/v1/scores", json=b, headers={"Authorization": h["all"]})
                  .status_code == 201)  # fmt: skip
        yield {"client": client, "state": state, "app": app, "keys": h, "body": ok, "bundle": root / "bundle"}


def _strict_problem(r: httpx.Response) -> dict[str, Any]:
    """The answer decoded strictly (UTF-8, no lone surrogate): a problem whose texts are bounded."""
    text = r.content.decode("utf-8")  # raises on bytes a client could not decode
    problem = json.loads(text)
    for e in problem.get("errors", []):
        e["got"].encode("utf-8")
        assert len(e["got"]) <= 200, e
    return dict(problem)


# -- 1. a lone surrogate is a 400, whatever field holds it ------------------------------------------------------------
def test_a_lone_surrogate_in_any_text_is_a_400_not_a_500(hard: dict[str, Any]) -> None:
    c, h = hard["client"], {"Authorization": hard["keys"]["all"], "Content-Type": "application/json"}
    cases = surrogate_bodies(hard["body"])
    assert len(cases) >= 16
    for route in ("/v1/scores", "/v1/scores:batch"):
        for label, body, escape in cases:
            payload = body if route == "/v1/scores" else {"applications": [hard["body"], body]}
            raw = json.dumps(payload).replace("__bad_text__", escape).encode()
            r = c.post(route, content=raw, headers=h)
            assert r.status_code == 400, (route, label, r.status_code, r.text[:300])
            problem = _strict_problem(r)
            assert problem["code"] == "TEXT_NOT_UNICODE", problem
            assert "\\ud" in problem["errors"][0]["got"] or "\\udc" in problem["errors"][0]["got"], problem
    r = c.post("/v1/models/pymescore:predict", content=b'{"instances": [{"\\udc00x": 1}]}', headers=h)
    assert r.status_code == 400, r.text
    _strict_problem(r)


def test_a_surrogate_pair_is_ordinary_text(hard: dict[str, Any]) -> None:
    c, h = hard["client"], {"Authorization": hard["keys"]["all"], "Content-Type": "application/json"}
    body = {**hard["body"], "firm": {**(hard["body"].get("firm") or {}), "name": "__bad_text__"}}
    raw = json.dumps(body).replace("__bad_text__", "Bodega \\ud83d\\ude00").encode()  # an emoji, escaped
    r = c.post("/v1/scores", content=raw, headers=h)
    assert r.status_code == 201, r.text


def test_got_is_always_encodable_and_bounded() -> None:
    from pymescore.service._problems import escaped

    assert escaped("\ud800") == "\\ud800"
    assert escaped("a\udfffb") == "a\\udfffb"
    assert escaped("tab\there\x00") == "tab\\there\\x00"
    assert escaped("Ñandú S.A.C.") == "Ñandú S.A.C."
    long = escaped("\ud800" * 500)
    assert len(long) == 200
    long.encode("utf-8")


def test_a_value_that_fails_validation_with_a_surrogate_still_encodes(hard: dict[str, Any]) -> None:
    """The escaping itself, below the body check: a validation error whose input is not encodable."""
    from pymescore.service._problems import problem_response

    response = problem_response(422, "bad \ud800", "X", [{"path": "a\udc00", "expected": "e", "got": "\ud800" * 300}])
    body = json.loads(bytes(response.body).decode("utf-8"))
    assert body["errors"][0]["got"].startswith("\\ud800")
    assert body["detail"] == "bad \\ud800"


# -- 2. nothing a client sent reaches the log ---------------------------------------------------------------------
def test_an_unhandled_error_is_one_json_line_with_the_ruc_hashed(
    hard: dict[str, Any], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    body, state = hard["body"], hard["state"]
    scorer = state.served()

    def broken(requests: list[Any], lang: str) -> Any:
        raise RuntimeError(f"boom on {requests[0].ruc} asking {requests[0].requested_amount}")

    monkeypatch.setattr(scorer, "score", broken)
    with caplog.at_level(logging.INFO, logger="pymescore.service"), live_server(hard["app"]) as base:
        r = httpx.post(f"{base}/v1/scores", json=body, headers={"Authorization": hard["keys"]["all"]}, timeout=30)
        r2 = httpx.post(f"{base}/v1/scores:batch", json={"applications": [body]},
                        headers={"Authorization": hard["keys"]["all"]}, timeout=30)  # fmt: skip
    assert r.status_code == 500
    assert r2.status_code == 500
    assert r.json()["code"] == "INTERNAL"
    logged = capfd.readouterr()
    everything = caplog.text + logged.err + logged.out
    assert body["ruc"] not in everything, everything[-2000:]
    assert "Traceback" not in everything
    lines = [json.loads(x.getMessage()) for x in caplog.records if x.name == "pymescore.service"]
    errors = [x for x in lines if x.get("event") == "unexpected_error"]
    assert len(errors) == 2, lines
    assert errors[0]["error"] == "RuntimeError"
    assert errors[0]["route"] == "/v1/scores"
    assert (
        errors[0]["ruc_hash"]
        == hmac.new(state.settings.log_salt.encode(), body["ruc"].encode(), hashlib.sha256).hexdigest()[:16]
    )
    assert errors[1]["ruc_hash"] is None or errors[1]["ruc_hash"] != body["ruc"]


def test_after_every_bad_input_the_ruc_is_nowhere_in_the_logs(
    hard: dict[str, Any], caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    body = hard["body"]
    requests = bad_requests(body)
    assert len(requests) > 60
    statuses: dict[str, int] = {}
    with caplog.at_level(logging.DEBUG), live_server(hard["app"]) as base, httpx.Client(base_url=base) as client:
        for label, method, path, content, headers in requests:
            r = client.request(method, path, content=content, timeout=30,
                               headers={"Authorization": hard["keys"]["all"], **headers})  # fmt: skip
            statuses[label] = r.status_code
    logged = capfd.readouterr()
    server = "\n".join(
        f"{x.name} {x.getMessage()} {x.exc_text or ''}"
        for x in caplog.records
        if not x.name.startswith(("httpx", "httpcore"))
    )  # the test client's own log names its URLs
    everything = server + logged.err + logged.out
    assert not [label for label, status in statuses.items() if status >= 500], statuses
    assert body["ruc"] not in everything, everything[-3000:]
    assert "Traceback" not in everything


# -- 5. abuse limits ------------------------------------------------------------------------------------------------
def _app(hard: dict[str, Any], tmp_path: Any, **settings: Any) -> tuple[Any, Any]:
    return make_app(hard["bundle"], f"sqlite:///{tmp_path / 'audit.db'}", **settings)


def _metric(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_failed_authentications_are_limited_per_client_and_per_key(hard: dict[str, Any], tmp_path: Any) -> None:
    app, state = _app(hard, tmp_path, auth_failures_per_min=5)
    good = keys(state)["all"]
    key_id = good.split("_")[1]
    with TestClient(app) as c:
        wrong = [c.get("/v1/model", headers={"Authorization": f"Bearer pms_{key_id}_wrong{i}"}) for i in range(5)]
        assert [r.status_code for r in wrong] == [401] * 5
        r = c.get("/v1/model", headers={"Authorization": "Bearer pms_00000000_guess"})
        assert r.status_code == 429, r.text
        assert int(r.headers["retry-after"]) >= 1
        assert r.json()["code"] == "RATE_LIMITED"
        assert c.get("/v1/model", headers={"Authorization": good}).status_code == 429  # this client is locked out
        text = c.get("/metrics").text
    assert _metric(text, "pymescore_rate_limited_total", limit="auth_client") == 2
    assert _metric(text, "pymescore_auth_failures_total") == 5
    # the key id that was guessed at is locked for every client: a second address gets 429 on it too
    with TestClient(app, client=("10.0.0.2", 5000)) as other:
        assert other.get("/v1/model", headers={"Authorization": f"Bearer pms_{key_id}_again"}).status_code == 429


def test_requests_are_limited_per_key_and_per_client(hard: dict[str, Any], tmp_path: Any) -> None:
    app, state = _app(hard, tmp_path, requests_per_min_key=3, requests_per_min_client=6)
    k = keys(state)
    with TestClient(app) as c:
        assert [c.get("/v1/model", headers={"Authorization": k["read"]}).status_code for _ in range(4)] == [200] * 3 + [
            429
        ]
        r = c.get("/v1/model", headers={"Authorization": k["read"]})
        assert r.status_code == 429
        assert "Retry-After" in r.headers
        assert c.get("/v1/model", headers={"Authorization": k["all"]}).status_code == 200  # another key: the 6th
        assert c.get("/v1/model", headers={"Authorization": k["all"]}).status_code == 429  # the client's 6 are spent
        assert c.get("/healthz").status_code == 200  # probes are never limited
        text = c.get("/metrics").text
    assert _metric(text, "pymescore_rate_limited_total", limit="key") == 2
    assert _metric(text, "pymescore_rate_limited_total", limit="client") == 1


def test_an_incomplete_body_is_timed_out_with_408_and_the_connection_closed(
    hard: dict[str, Any], tmp_path: Any
) -> None:
    import socket

    app, state = _app(hard, tmp_path, body_timeout_s=1.0)
    key = keys(state)["all"]
    with live_server(app) as base:
        host, port = base.removeprefix("http://").split(":")
        socks = []
        for _ in range(50):  # the attack: many connections, each sends 2 of 1,000 bytes and waits
            s = socket.create_connection((host, int(port)), timeout=20)
            s.sendall(f"POST /v1/scores HTTP/1.1\r\nHost: x\r\nAuthorization: {key}\r\nContent-Type: application/json"
                      f"\r\nContent-Length: 1000\r\n\r\n{{}}".encode())  # fmt: skip
            socks.append(s)
        answers = []
        for s in socks:
            data = b""
            while chunk := s.recv(65536):  # until the server closes: a connection left open times this out
                data += chunk
            answers.append(data)
            s.close()
    assert all(a.startswith(b"HTTP/1.1 408") for a in answers), answers[0][:300]
    assert b"BODY_TIMEOUT" in answers[0]


# -- 6. HTTP hygiene --------------------------------------------------------------------------------------------------
def test_answers_carry_no_store_and_the_security_headers(hard: dict[str, Any]) -> None:
    c, h = hard["client"], {"Authorization": hard["keys"]["all"]}
    answers = [c.post("/v1/scores", json=hard["body"], headers=h), c.get("/v1/model", headers=h),
               c.post("/v1/scores", json={"ruc": hard["body"]["ruc"]}, headers=h), c.get("/v1/model")]  # fmt: skip
    assert [r.status_code for r in answers] == [201, 200, 422, 401]
    for r in answers:
        assert r.headers["cache-control"] == "no-store"
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "no-referrer"
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in c.get("/docs").headers["content-security-policy"]


def test_options_and_405_name_every_method_of_the_path(hard: dict[str, Any]) -> None:
    c = hard["client"]
    r = c.options("/v1/scores")
    assert r.status_code == 204
    assert {"GET", "POST"} <= {m.strip() for m in r.headers["allow"].split(",")}
    r = c.delete("/v1/scores")
    assert r.status_code == 405
    assert {"GET", "POST"} <= {m.strip() for m in r.headers["allow"].split(",")}


def test_a_body_not_in_utf8_is_a_400(hard: dict[str, Any]) -> None:
    c, h = hard["client"], {"Authorization": hard["keys"]["all"], "Content-Type": "application/json"}
    text = json.dumps(hard["body"])
    for encoding in ("utf-16", "utf-16-le", "utf-32"):
        r = c.post("/v1/scores", content=text.encode(encoding), headers=h)
        assert r.status_code == 400, (encoding, r.status_code, r.text[:200])
        assert r.json()["code"] == "BODY_NOT_UTF8"
    assert c.post("/v1/scores", content=text.encode(), headers=h).status_code == 201


@pytest.mark.parametrize(
    ("path", "value"),
    [(("requested_amount",), True), (("requested_amount",), "50000"), (("term_months",), "24"),
     (("term_months",), True), (("term_months",), 24.5), (("monthly_cashflows", 0, "income"), "42000"),
     (("monthly_cashflows", 0, "income"), True), (("bureau_ratings", 0, "n_lenders"), "2")],
)  # fmt: skip
def test_money_and_counts_are_strictly_typed(hard: dict[str, Any], path: tuple[Any, ...], value: Any) -> None:
    import copy

    c, h = hard["client"], {"Authorization": hard["keys"]["all"]}
    body = copy.deepcopy(hard["body"])
    node: Any = body
    for part in path[:-1]:
        node = node[part]
    if path[-1] not in node and len(path) > 1:
        pytest.fail(f"the sample application has no {path}")
    node[path[-1]] = value
    r = c.post("/v1/scores", json=body, headers=h)
    assert r.status_code == 422, (path, value, r.status_code)
    assert any(str(path[-1]) in e["path"] for e in r.json()["errors"]), r.json()
    assert c.post("/v1/scores", json={**hard["body"], "term_months": 24.0}, headers=h).status_code == 201


def test_metrics_show_no_file_path_nor_pid_and_can_be_protected_or_moved(hard: dict[str, Any], tmp_path: Any) -> None:
    text = hard["client"].get("/metrics").text
    assert str(hard["bundle"]) not in text
    assert "pid=" not in text
    assert 'source="bundle"' in text
    app, _ = _app(hard, tmp_path, metrics_token="s3cret-metrics-token")
    with TestClient(app) as c:
        assert c.get("/metrics").status_code == 401
        assert c.get("/metrics", headers={"Authorization": "Bearer wrong-wrong-wrong-wrong"}).status_code == 401
        assert c.get("/metrics", headers={"Authorization": "Bearer s3cret-metrics-token"}).status_code == 200
    app, _ = make_app(hard["bundle"], f"sqlite:///{tmp_path / 'other.db'}", metrics_port=9999)
    with TestClient(app) as c:
        assert c.get("/metrics").status_code == 404  # on its own port (pymescore serve --metrics-port)


def test_the_openapi_says_what_the_server_enforces(hard: dict[str, Any]) -> None:
    spec = hard["client"].get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    ruc = schemas["ScoreRequest"]["properties"]["ruc"]
    assert ruc["format"] == "pe-ruc"
    assert "check digit" in ruc["description"]
    row = schemas["FeatureRow"]
    assert row["additionalProperties"] is False
    assert set(row["properties"]) == set(hard["state"].served().features)
    assert schemas["PredictRequest"]["properties"]["instances"]["items"] == {"$ref": "#/components/schemas/FeatureRow"}
    header = next(p for p in spec["paths"]["/v1/scores"]["post"]["parameters"] if p["name"] == "idempotency-key")
    bounds = header["schema"].get("anyOf", [header["schema"]])[0]
    assert (bounds["minLength"], bounds["maxLength"]) == (1, 255)
    assert "429" in spec["paths"]["/v1/scores"]["post"]["responses"]
