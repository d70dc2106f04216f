"""Properties of the served model (a bundle loaded as the service loads it): determinism and monotonicity."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from pymescore.bundle import load_bundle
from pymescore.service import Policy, Scored, Scorer, ScoreRequest, application_bodies

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
