"""Champion and shadow challenger on the same traffic: how often they agree, which applications one approves and
the other does not (swap-in: approved by the challenger only; swap-out: by the champion only), and how the score
moves (challenger − champion) overall and by segment (region, sector, size class).

Computed on pairs the caller hands over (``pymescore.service.shadow_pairs`` reads them from the audit store):
each a champion decision beside the challenger's on the same application.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

#: the segments the score shift is broken down by (columns of the pairs)
SEGMENTS = ("region", "sector", "size_class")
#: at most this many ids of each swap set are listed (the counts are exact)
LISTED = 100


def _shift(delta: np.ndarray) -> dict[str, float | None]:
    if not len(delta):
        return {"mean": None, "p10": None, "p50": None, "p90": None}
    p10, p50, p90 = np.percentile(delta, [10, 50, 90])
    return {"mean": round(float(delta.mean()), 2), "p10": float(p10), "p50": float(p50), "p90": float(p90)}


def _segment_label(value: Any) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "missing"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def shadow_comparison(pairs: Sequence[Mapping[str, Any]], version: str | None = None) -> dict[str, Any]:
    """The comparison of ``pairs`` (keys ``id``, ``decision``, ``score``, ``shadow_model_version``,
    ``shadow_decision``, ``shadow_score``, ``shadow_created_at`` and the segments), on one challenger version:
    ``version``, else the one stored last. ``{"n": 0}`` without pairs.

    >>> pairs = [{"id": "a", "decision": "approve", "score": 700, "shadow_model_version": "v2",
    ...           "shadow_decision": "decline", "shadow_score": 640, "region": "LIMA"},
    ...          {"id": "b", "decision": "review", "score": 600, "shadow_model_version": "v2",
    ...           "shadow_decision": "approve", "shadow_score": 690, "region": "CUSCO"}]
    >>> c = shadow_comparison(pairs)
    >>> c["agreement"], c["swap_in"]["ids"], c["swap_out"]["ids"], c["score_shift"]["mean"]
    (0.0, ['b'], ['a'], 15.0)
    """
    frame = pd.DataFrame([dict(p) for p in pairs])
    if frame.empty:
        return {"n": 0, "challenger_version": version}
    if version is None:
        order = "shadow_created_at" if "shadow_created_at" in frame.columns else "shadow_model_version"
        version = str(frame.sort_values(order)["shadow_model_version"].iloc[-1])
    versions = {str(k): int(v) for k, v in frame["shadow_model_version"].value_counts().items()}
    frame = frame[frame["shadow_model_version"].astype(str) == version]
    n = len(frame)
    if not n:
        return {"n": 0, "challenger_version": version, "challenger_versions": versions}
    champion_ok = frame["decision"].to_numpy() == "approve"
    challenger_ok = frame["shadow_decision"].to_numpy() == "approve"
    swap_in, swap_out = frame[challenger_ok & ~champion_ok], frame[champion_ok & ~challenger_ok]
    delta = frame["shadow_score"].to_numpy(dtype=np.float64) - frame["score"].to_numpy(dtype=np.float64)
    matrix = pd.crosstab(frame["decision"], frame["shadow_decision"])
    by_segment: dict[str, list[dict[str, Any]]] = {}
    for segment in SEGMENTS:
        if segment not in frame.columns:
            continue
        labels = frame[segment].map(_segment_label).to_numpy(dtype=object)
        rows = []
        for label in sorted(set(labels)):
            at = labels == label
            rows.append({
                "value": label, "n": int(at.sum()),
                "agreement": round(float((frame["decision"].to_numpy()[at] == frame["shadow_decision"].to_numpy()[at])
                                         .mean()), 4),
                "swap_in": int((challenger_ok & ~champion_ok & at).sum()),
                "swap_out": int((champion_ok & ~challenger_ok & at).sum()),
                **_shift(delta[at]),
            })  # fmt: skip
        by_segment[segment] = rows
    return {
        "n": n,
        "challenger_version": version,
        "challenger_versions": versions,
        "champion_versions": {str(k): int(v) for k, v in frame["model_version"].value_counts().items()}
        if "model_version" in frame.columns
        else {},
        "agreement": round(float((frame["decision"] == frame["shadow_decision"]).mean()), 4),
        "approval_rate": {
            "champion": round(float(champion_ok.mean()), 4),
            "challenger": round(float(challenger_ok.mean()), 4),
        },
        "swap_in": {"n": len(swap_in), "ids": [str(i) for i in swap_in["id"].iloc[:LISTED]]},
        "swap_out": {"n": len(swap_out), "ids": [str(i) for i in swap_out["id"].iloc[:LISTED]]},
        "swap_share": round((len(swap_in) + len(swap_out)) / n, 4),
        "decisions": {str(a): {str(b): int(matrix.loc[a, b]) for b in matrix.columns} for a in matrix.index},
        "score_shift": _shift(delta),
        "by_segment": by_segment,
    }
