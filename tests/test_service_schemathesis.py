"""schemathesis against the service's own OpenAPI, with every check it has: no 5xx, no response outside the
documented schema, every schema-valid request accepted (positive cases) and every schema-invalid one refused
(negative cases).

Fixed seed (derandomized), bounded examples; the test checks that at least 5,000 requests ran. RUCs are drawn with
their check digit, as the spec's ``format: pe-ruc`` says (a format schemathesis cannot know by itself).
"""

from __future__ import annotations

import shutil
import uuid
from typing import Any

import pandas as pd
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import CHECKS as REGISTRY
from schemathesis.checks import load_all_checks
from schemathesis.config import SchemathesisConfig
from schemathesis.config._checks import NegativeDataRejectionConfig
from stdnum.pe import ruc as stdnum_ruc

from pymescore.service._scorer import today_lima
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
NOTHING_TO_NEGATE: list[str] = []


def _has_inputs(operation: Any) -> bool:
    """Whether an operation takes a parameter (path, query or header beyond auth) or a body to make invalid."""
    definition = operation.definition.raw
    params = [p for p in definition.get("parameters", []) if p.get("name", "").lower() != "authorization"]
    return bool(params) or "requestBody" in definition


@pytest.fixture(scope="module")
def served(sme_bundle: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("schemathesis")
    shutil.copytree(sme_bundle["bundle"], root / "bundle")
    # conformance, not load: a generous store deadline, so that a loaded CI machine (a batch of 100 generated
    # applications written while the other test worker trains) does not turn a valid request into a documented 503
    app, state = make_app(root / "bundle", f"sqlite:///{root / 'audit.db'}", lake=sme_bundle["lake"].root,
                          store_timeout_s=30.0)  # fmt: skip
    key, _ = state.store.create_key("fuzz", ["score", "read"])  # no admin: reload answers 403 (documented)
    state.reload(force=True)
    # the dates the lake's official rates cover: from the first to a week after the last (service._rates)
    dates = pd.to_datetime(sme_bundle["tables"]["exchange_rates"]["date"])
    rated = (str(dates.min().date()), str((dates.max() + pd.Timedelta(days=7)).date()))
    return {"app": app, "headers": {"Authorization": f"Bearer {key}"}, "rated": rated}


#: a schema-invalid request refused with a documented 413 (a generated batch beyond ``maxItems`` can also be beyond
#: the body limit, which is checked first) is refused: schemathesis's default list of refusals lacks 413
CONFIG = SchemathesisConfig.from_dict({"checks": {"negative_data_rejection": {
    "expected-statuses": [*NegativeDataRejectionConfig._DEFAULT_EXPECTED_STATUSES, "413"]}}})  # fmt: skip


def _operations(app: Any) -> list[Any]:
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=CONFIG)
    assert "413" in schema.config.checks.negative_data_rejection.expected_statuses
    return [result.ok() for result in schema.get_all_operations()]


#: The spec says every rule of a single field (bounds, codes, allowed values, dates up to today); what no JSON
#: Schema can say — a record's fields against each other, one record per key, USD only where the service knows a
#: rate — it lists under ``x-pymescore-rules``. Positive cases are made to keep those listed rules (``_lawful``),
#: and must then be accepted; nothing else is adjusted.
SCORING = ("POST /v1/scores", "POST /v1/scores:batch")


def _lawful(body: Any, rated: tuple[str, str]) -> None:
    """Make one generated application keep the rules its schema lists under ``x-pymescore-rules`` (in place)."""
    if not isinstance(body, dict):
        return
    firm = body.get("firm")
    if isinstance(firm, dict) and firm.get("start_date") is not None:
        as_of = body.get("as_of") or today_lima().isoformat()
        if firm["start_date"][:10] >= as_of[:10]:
            firm["start_date"] = None
    for st_ in body.get("financial_statements") or []:
        if isinstance(st_.get("total_assets"), float | int) and isinstance(st_.get("total_liabilities"), float | int):
            st_["equity"] = st_["total_assets"] - st_["total_liabilities"]
    for p in body.get("payments") or []:
        start = p.get("disbursement_date")
        if start is not None and (p["due_date"] <= start or (p.get("paid_date") or start) < start):
            p["disbursement_date"] = None
        if p.get("paid_date") is None and p.get("amount_paid", 0) > 0:
            p["amount_paid"] = 0
    keys = {"monthly_cashflows": ("month", "currency"), "financial_statements": ("period_end",),
            "payments": ("loan_id", "due_date"), "bureau_ratings": ("month",)}  # fmt: skip
    for table, key in keys.items():
        records = body.get(table) or []
        for r in records:  # USD outside the dates the service has official rates for: PEN
            when = r.get("month") or r.get("period_end") or r.get("due_date") or ""
            if r.get("currency") == "USD" and not rated[0] <= when[:10] <= rated[1]:
                r["currency"] = "PEN"
        seen: set[tuple[Any, ...]] = set()
        kept = []
        for r in records:
            k = tuple(
                str(r.get(c, "PEN" if c == "currency" else None)).strip()[: 7 if c == "month" else None] for c in key
            )
            if k not in seen:
                seen.add(k)
                kept.append(r)
        if table in body:
            body[table] = kept
    if body.get("currency") == "USD" and not rated[0] <= (body.get("as_of") or "9999") <= rated[1]:
        body["currency"] = "PEN"
    if body.get("exchange_rates"):  # one rate per month
        kept, months = [], set()
        for r in body["exchange_rates"]:
            if r["month"][:7] not in months:
                months.add(r["month"][:7])
                kept.append(r)
        body["exchange_rates"] = kept


def _lawful_case(case: Any, rated: tuple[str, str]) -> Any:
    body = case.body
    for application in body.get("applications", []) if isinstance(body, dict) and "applications" in body else [body]:
        _lawful(application, rated)
    return case


def _fuzzer(operation: Any, headers: dict[str, str], mode: GenerationMode, rated: tuple[str, str]) -> Any:
    label = f"{operation.label} ({mode.value})"
    cases = operation.as_strategy(generation_mode=mode)
    if mode is GenerationMode.POSITIVE and operation.label in SCORING:
        cases = cases.map(lambda case: _lawful_case(case, rated))

    @settings(max_examples=EXAMPLES[mode], derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(case=cases)
    def run(case: Any) -> None:
        sent = dict(headers)
        if mode is GenerationMode.POSITIVE and any(k.lower() == "idempotency-key" for k in (case.headers or {})):
            sent["Idempotency-Key"] = uuid.uuid4().hex  # a key reused with another body is a documented 422
        response = case.call(headers=sent)
        SENT[label] = SENT.get(label, 0) + 1
        case.validate_response(response, checks=CHECKS, headers=sent)

    return run


def test_api_conforms_to_its_openapi(served: dict[str, Any]) -> None:
    failures: list[str] = []
    for operation in _operations(served["app"]):
        for mode in EXAMPLES:
            try:
                _fuzzer(operation, served["headers"], mode, served["rated"])()
            except Unsatisfiable:
                # an operation without a parameter or body (healthz, metrics, GET /v1/model, ...) has nothing to
                # make invalid; any other operation must yield negative cases
                if mode is not GenerationMode.NEGATIVE or _has_inputs(operation):
                    failures.append(f"{operation.label} ({mode.value}): no case could be generated")
                else:
                    NOTHING_TO_NEGATE.append(operation.label)
            except BaseException as exc:  # every operation runs (schemathesis raises a group); reported together
                if isinstance(exc, KeyboardInterrupt):
                    raise
                inner = " | ".join(f"{type(e).__name__}: {str(e)[:600]}" for e in getattr(exc, "exceptions", []))
                failures.append(f"{operation.label} ({mode.value}): {type(exc).__name__}: {str(exc)[:800]} {inner}")
    assert not failures, "\n\n".join(failures)
    total = sum(SENT.values())
    print(f"schemathesis requests per operation: {SENT} (total {total}); nothing to negate: {NOTHING_TO_NEGATE}")
    assert total >= MIN_REQUESTS, f"schemathesis sent {total} requests ({SENT}), expected at least {MIN_REQUESTS}"
