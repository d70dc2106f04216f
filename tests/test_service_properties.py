"""Properties of the served model (a bundle loaded as the service loads it): determinism and monotonicity."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from pymescore.bundle import load_bundle
from pymescore.service import Policy, Scored, Scorer, ScoreRequest, application_bodies, fingerprint

SETTINGS = settings(max_examples=40, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip


class Served(dict[str, Any]):
    def __repr__(self) -> str:  # hypothesis prints the arguments of a failing example: keep it short
        return "<served bundle>"


@pytest.fixture(scope="module")
def served(sme_bundle: dict[str, Any]) -> Served:
    tables = sme_bundle["tables"]
    scorer = Scorer(load_bundle(sme_bundle["bundle"]), Policy(), tables["exchange_rates"])
    rucs = [str(r) for r in tables["firms"]["ruc"].iloc[:60]]
    bodies = application_bodies(tables, rucs, sme_bundle["as_of"])
    results = scorer.score([ScoreRequest.model_validate(b) for b in bodies])
    scored = [(b, r) for b, r in zip(bodies, results, strict=True) if isinstance(r, Scored)]
    assert len(scored) >= 30
    monotone = [f.name for f in scorer.bundle.model.features if f.monotone != 0 and f.kind not in ("category",)]
    return Served(scorer=scorer, scored=scored, monotone=monotone)


def _key(r: Scored) -> tuple[Any, ...]:
    return r.response["pd"], r.response["score"], r.response["reasons"], r.response["decision"]


@SETTINGS
@given(index=st.integers(0, 29))
def test_the_same_application_scored_twice_gets_the_same_answer(served: dict[str, Any], index: int) -> None:
    body, in_batch = served["scored"][index]
    first, again = (served["scorer"].score([ScoreRequest.model_validate(body)])[0] for _ in range(2))
    assert isinstance(first, Scored)
    assert isinstance(again, Scored)
    assert _key(again) == _key(first)  # bit for bit
    assert again.features == first.features
    # scored inside a batch of 60: the same features, score and reasons; the PD to the last few bits
    assert in_batch.features == first.features
    assert in_batch.response["pd"] == pytest.approx(first.response["pd"], rel=1e-12)
    assert _key(in_batch)[1:] == _key(first)[1:]


@SETTINGS
@given(index=st.integers(0, 29), which=st.integers(0, 10_000), scale=st.floats(1e-3, 3.0))
def test_a_worse_monotone_value_never_gives_a_better_score(
    served: dict[str, Any], index: int, which: int, scale: float
) -> None:
    scorer: Scorer = served["scorer"]
    body, base = served["scored"][index]
    name = served["monotone"][which % len(served["monotone"])]
    direction = scorer.info[name].monotone
    current = base.features[name]
    assume(current is not None)  # missing is its own branch, not a point on the feature's axis
    step = scale * max(1.0, abs(current))
    features = dict(base.features)
    features[name] = current + direction * step  # +1: risk rises with the value, so a higher value is worse
    common = {k: body[k] for k in ("ruc", "requested_amount", "currency", "term_months", "as_of")}
    better, worse = scorer.score(
        [ScoreRequest.model_validate({**common, "features": f}) for f in (base.features, features)]
    )
    assert isinstance(worse, Scored)
    assert isinstance(better, Scored)
    assert worse.response["pd"] >= better.response["pd"] - 1e-12, (name, current, features[name])
    assert worse.response["score"] <= better.response["score"]


def test_improvement_hints_are_the_models_own_score_at_the_target(served: dict[str, Any]) -> None:
    """Every hint moves one monotone input to the safe side of its direction and is worth what the model
    itself scores with that input changed (the general path: source features → preprocessing → PD)."""
    import numpy as np
    import pandas as pd

    scorer: Scorer = served["scorer"]
    model = scorer.bundle.model
    direction = {f.name: f.monotone for f in model.features}
    checked = 0
    for _body, scored in served["scored"]:
        hints = scored.response["improvement_hints"]
        assert len(hints) <= 3
        assert [h["points"] for h in hints] == sorted((h["points"] for h in hints), reverse=True)
        row = {k: (np.nan if v is None else v) for k, v in scored.features.items()}
        for h in hints:
            mono = direction[h["feature"]]
            assert mono != 0
            assert (h["target_value"] - h["current_value"]) * mono < 0  # towards less risk
            moved = pd.DataFrame([{**row, h["feature"]: h["target_value"]}], columns=scorer.features)
            new_score = int(model.predict(moved)["score"].iloc[0])
            assert h["points"] == pytest.approx(new_score - scored.response["score"], abs=1e-9)
            assert h["points"] >= 1
            checked += 1
    assert checked >= 10


@settings(max_examples=200, deadline=None, derandomize=True)
@given(
    score=st.integers(300, 850),
    log_income=st.floats(0, 16),
    margin=st.floats(-1, 1),
    requested=st.floats(100, 1e7),
    term=st.integers(1, 120),
    history=st.sampled_from([None, 3.0, 24.0]),
    register=st.sampled_from([None, 0.0]),
    cash=st.booleans(),
)
def test_an_amount_cut_always_names_its_rule(
    score: int, log_income: float, margin: float, requested: float, term: int, history: float | None,
    register: float | None, cash: bool,
) -> None:  # fmt: skip
    """Every review says why (a rule per reason); an approval has no rule and the full amount; an amount cut
    names the capacity rule; without the SUNAT register the knock-outs could not run, so never an approval."""
    policy = Policy()
    features = {"log_income_mean_12m": log_income if cash else None, "net_cf_margin_12m": margin,
                "months_of_history": history, "taxpayer_not_active": register, "domicile_not_habido": 0.0,
                "firm_age_years": 5.0}  # fmt: skip
    decision, rules, suggested = policy.decide(score, features, requested, term, 1.0)
    assert suggested <= requested
    if decision == "decline":
        assert suggested == 0.0
        return
    assert (decision == "review") == bool(rules), (decision, rules)
    if decision == "approve":
        assert suggested == requested
    if suggested < requested:
        assert {"REVIEW_CAPACITY", "REVIEW_NO_CAPACITY"} & set(rules), rules
    else:
        assert "REVIEW_CAPACITY" not in rules
    if register is None:
        assert "REVIEW_REGISTER_MISSING" in rules
    if not cash:
        assert "REVIEW_NO_CAPACITY" in rules


def test_a_model_without_register_or_cash_flow_features_gets_no_rule_about_them() -> None:
    decision, rules, suggested = Policy().decide(700, {"months_of_history": 24.0}, 5000.0, 12, 1.0)
    assert (decision, rules, suggested) == ("approve", [], 5000.0)


@SETTINGS
@given(index=st.integers(0, 29), seed=st.integers(0, 2**32 - 1), record=st.integers(0, 10_000))
def test_the_fingerprint_is_the_applications_whatever_its_json_order(
    served: dict[str, Any], index: int, seed: int, record: int
) -> None:
    """The idempotency fingerprint keys a retry: the same application sent with its keys in another order and
    other spacing gets the same one, with raw histories or with precomputed features; one figure changed gets
    another."""
    import json
    import random

    body, scored = served["scored"][index]
    rng = random.Random(seed)

    def shuffled(value: Any) -> Any:
        if isinstance(value, dict):
            items = [(k, shuffled(v)) for k, v in value.items()]
            rng.shuffle(items)
            return dict(items)
        return [shuffled(v) for v in value] if isinstance(value, list) else value

    def same_print(a: dict[str, Any], b: dict[str, Any]) -> bool:
        return fingerprint(ScoreRequest.model_validate(a)) == fingerprint(ScoreRequest.model_validate(b))

    resent = json.loads(json.dumps(shuffled(body), indent=rng.choice([None, 1, 4])))
    assert same_print(resent, body)
    changed = json.loads(json.dumps(body))
    flows = changed["monthly_cashflows"]
    assume(flows)
    flows[record % len(flows)]["income"] = float(flows[record % len(flows)]["income"]) + 1.0
    assert not same_print(changed, body)

    precomputed = {k: body[k] for k in ("ruc", "requested_amount", "term_months", "as_of") if k in body}
    precomputed["features"] = {k: v for k, v in scored.features.items() if v is not None}
    assert same_print(shuffled(precomputed), precomputed)
    name = sorted(precomputed["features"])[record % len(precomputed["features"])]
    other = {**precomputed, "features": {**precomputed["features"], name: "another"}}
    assert not same_print(other, precomputed)
