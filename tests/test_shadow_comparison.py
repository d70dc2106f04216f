"""Champion vs shadow challenger on known decisions: agreement, swap sets and score shifts by segment."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from pymescore.evaluate import shadow_comparison

DECISIONS = ("approve", "review", "decline")


def _pair(i: int, champion: str, challenger: str, score: int, shift: int, region: str, version: str = "v2") -> dict:
    return {"id": f"d{i}", "model_version": "v1", "decision": champion, "score": score, "shadow_model_version": version,
            "shadow_decision": challenger, "shadow_score": score + shift, "region": region, "sector": "G",
            "size_class": 1.0, "shadow_created_at": f"2026-01-01T00:00:{i:02d}"}  # fmt: skip


def test_known_decisions() -> None:
    pairs = [
        _pair(0, "approve", "approve", 700, 10, "LIMA"),
        _pair(1, "approve", "decline", 690, -40, "LIMA"),  # swap-out
        _pair(2, "review", "approve", 640, 30, "CUSCO"),  # swap-in
        _pair(3, "decline", "decline", 500, 0, "CUSCO"),
        _pair(4, "decline", "review", 520, 20, "PIURA"),
    ]
    c = shadow_comparison(pairs)
    assert c["n"] == 5
    assert c["challenger_version"] == "v2"
    assert c["agreement"] == 0.4
    assert c["swap_in"] == {"n": 1, "ids": ["d2"]}
    assert c["swap_out"] == {"n": 1, "ids": ["d1"]}
    assert c["swap_share"] == 0.4
    assert c["approval_rate"] == {"champion": 0.4, "challenger": 0.4}
    assert c["score_shift"] == {"mean": 4.0, "p10": -24.0, "p50": 10.0, "p90": 26.0}
    regions = {r["value"]: r for r in c["by_segment"]["region"]}
    assert regions["LIMA"]["n"] == 2
    assert regions["LIMA"]["agreement"] == 0.5
    assert regions["LIMA"]["swap_out"] == 1
    assert regions["LIMA"]["mean"] == -15.0
    assert regions["CUSCO"]["swap_in"] == 1
    assert c["by_segment"]["size_class"] == [{**c["by_segment"]["size_class"][0], "value": "1", "n": 5}]
    assert c["decisions"]["approve"] == {"approve": 1, "decline": 1, "review": 0}


def test_one_version_at_a_time() -> None:
    pairs = [_pair(0, "approve", "approve", 700, 0, "LIMA", "old"), _pair(1, "approve", "decline", 700, -9, "LIMA")]
    assert shadow_comparison(pairs)["n"] == 1  # the version stored last
    assert shadow_comparison(pairs, "old")["agreement"] == 1.0
    assert shadow_comparison(pairs)["challenger_versions"] == {"old": 1, "v2": 1}
    assert shadow_comparison([]) == {"n": 0, "challenger_version": None}


ROW = st.tuples(st.sampled_from(DECISIONS), st.sampled_from(DECISIONS), st.integers(300, 850),
                st.integers(-200, 200), st.sampled_from(["LIMA", "CUSCO"]))  # fmt: skip


@given(st.lists(ROW, min_size=1, max_size=60))
def test_swaps_account_for_the_change_in_approvals(rows: list[tuple[str, str, int, int, str]]) -> None:
    pairs = [_pair(i, *row) for i, row in enumerate(rows)]
    c = shadow_comparison(pairs)
    n = len(rows)
    approved = {who: sum(r[k] == "approve" for r in rows) for who, k in (("champion", 0), ("challenger", 1))}
    assert c["swap_in"]["n"] - c["swap_out"]["n"] == approved["challenger"] - approved["champion"]
    assert 0 <= c["agreement"] <= 1 - c["swap_share"] + 1e-9
    shifts = np.array([r[3] for r in rows], dtype=float)
    assert c["score_shift"]["p10"] <= c["score_shift"]["p50"] <= c["score_shift"]["p90"]
    assert abs(c["score_shift"]["mean"] - shifts.mean()) < 0.01
    assert sum(r["n"] for r in c["by_segment"]["region"]) == n
    assert sum(r["swap_in"] for r in c["by_segment"]["region"]) == c["swap_in"]["n"]
