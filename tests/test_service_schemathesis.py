"""schemathesis against the service's own OpenAPI, with every check it has: no 5xx, no response outside the
documented schema, every schema-valid request accepted (positive cases) and every schema-invalid one refused
(negative cases).

Fixed seed (derandomized), bounded examples; the test checks that at least 5,000 requests ran. RUCs are drawn with
their check digit, as the spec's ``format: pe-ruc`` says (a format schemathesis cannot know by itself).
"""

from __future__ import annotations

import shutil
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import CHECKS as REGISTRY
from schemathesis.checks import load_all_checks
from stdnum.pe import ruc as stdnum_ruc

from tests.service_support import make_app

load_all_checks()
#: every check schemathesis has, but the stateful ones (they follow links between operations, which this spec has not)
CHECKS = [c for c in REGISTRY.get_all() if c.__name__ not in ("use_after_free", "ensure_resource_availability")]
MIN_REQUESTS = 5000
EXAMPLES = {GenerationMode.POSITIVE: 400, GenerationMode.NEGATIVE: 200}


@st.composite
def _ruc(draw: st.DrawFn) -> str:
    head = draw(st.sampled_from(["10", "15", "17", "20"])) + draw(st.text("0123456789", min_size=8, max_size=8))
    return head + stdnum_ruc.calc_check_digit(head + "0")


schemathesis.openapi.format("pe-ruc", _ruc())
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


def _fuzzer(operation: Any, headers: dict[str, str], mode: GenerationMode) -> Any:
    label = f"{operation.label} ({mode.value})"

    @settings(max_examples=EXAMPLES[mode], derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        response = case.call(headers=headers)
        SENT[label] = SENT.get(label, 0) + 1
        case.validate_response(response, checks=CHECKS, headers=headers)

    return run


def test_api_conforms_to_its_openapi(served: dict[str, Any]) -> None:
    failures: list[str] = []
    for operation in _operations(served["app"]):
        for mode in EXAMPLES:
            try:
                _fuzzer(operation, served["headers"], mode)()
            except BaseException as exc:  # every operation runs (schemathesis raises a group); reported together
                if isinstance(exc, KeyboardInterrupt):
                    raise
                failures.append(f"{operation.label} ({mode.value}): {type(exc).__name__}: {str(exc)[:800]}")
    assert not failures, "\n\n".join(failures)
    total = sum(SENT.values())
    print(f"schemathesis requests per operation: {SENT} (total {total})")
    assert total >= MIN_REQUESTS, f"schemathesis sent {total} requests ({SENT}), expected at least {MIN_REQUESTS}"
