"""schemathesis against the service's own OpenAPI: no 5xx and no response outside the documented schema.

Fixed seed (derandomized), bounded examples; the last test checks that at least 2,000 requests ran.
"""

from __future__ import annotations

import shutil
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.service_support import make_app

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
MIN_REQUESTS = 2000
SENT: dict[str, int] = {}


@pytest.fixture(scope="module")
def served(sme_bundle: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("schemathesis")
    shutil.copytree(sme_bundle["bundle"], root / "bundle")
    app, state = make_app(root / "bundle", f"sqlite:///{root / 'audit.db'}", lake=sme_bundle["lake"].root)
    key, _ = state.store.create_key("fuzz", ["score", "read"])  # no admin: reload answers 403 (documented)
    state.reload(force=True)
    return {"app": app, "headers": {"Authorization": f"Bearer {key}"}}


def _operations(app: Any) -> list[Any]:
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    return [result.ok() for result in schema.get_all_operations()]


def _fuzzer(operation: Any, headers: dict[str, str]) -> Any:
    label = str(operation.label)

    @settings(max_examples=320, derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(case=operation.as_strategy())
    def run(case: Any) -> None:
        response = case.call(headers=headers)
        SENT[label] = SENT.get(label, 0) + 1
        case.validate_response(response, checks=CHECKS, headers=headers)

    return run


def test_api_conforms_to_its_openapi(served: dict[str, Any]) -> None:
    failures: list[str] = []
    for operation in _operations(served["app"]):
        try:
            _fuzzer(operation, served["headers"])()
        except Exception as exc:  # every operation runs; the failures are reported together
            failures.append(f"{operation.label}: {type(exc).__name__}: {str(exc)[:800]}")
    assert not failures, "\n\n".join(failures)
    total = sum(SENT.values())
    print(f"schemathesis requests per operation: {SENT} (total {total})")
    assert total >= MIN_REQUESTS, f"schemathesis sent {total} requests ({SENT}), expected at least {MIN_REQUESTS}"
