"""Batch scoring of a table with a bundle (``pymescore score``)."""

from __future__ import annotations

import pandas as pd

from pymescore.bundle import Bundle
from pymescore.evaluate import assign_bands
from pymescore.tables import check_table


def score(bundle: Bundle, frame: pd.DataFrame, top: int = 4, lang: str = "es") -> pd.DataFrame:
    """``pd``, ``score``, ``band`` and ``reason_1..top`` per row (reason texts in ``lang``)."""
    check_table(bundle, frame)
    summary, points = bundle.model.explain(frame)
    given = {name: frame[name].to_numpy() for name in points.columns.tolist() if name in frame.columns}
    reasons = bundle.model.reasons(points, top, values=given)
    out = pd.DataFrame({"pd": summary["pd"].to_numpy(), "score": summary["score"].to_numpy()})
    out["band"] = assign_bands(out["score"].to_numpy())
    key = "text_es" if lang == "es" else "text_en"
    for i in range(top):
        out[f"reason_{i + 1}"] = [r[i][key] if len(r) > i else None for r in reasons]
    for keep in ("ruc", "as_of"):
        if keep in frame.columns:
            out.insert(0, keep, frame[keep].to_numpy())
    return out
