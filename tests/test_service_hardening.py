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
