"""Issue 17, item 12: the small things (Spanish card summary, typing table, CIIU names, importance labels,
HTML catalog, recalibration warning)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from pymescore.decision import current_policy

#: phrases of the English card and of the English default definitions that a Spanish summary must not hold
_ENGLISH = (
    "A firm defaults",
    "the firm's SBS rating",
    "instalment",
    "past due",
    "Fairness",
    "out_of_time",
    "holdout",
    "the target column",
    " the ",
    " and ",
    " of ",
    " with ",
)


def _report(test_kind: str) -> dict[str, Any]:
    return {"target": "default_12m", "rows": {"development": 900, "test": 300}, "test_kind": test_kind,
            "cv": {"mean_auc": 0.75}}  # fmt: skip


@pytest.mark.parametrize("kind", ["out_of_time", "holdout", "grouped_holdout"])
@pytest.mark.parametrize("definition", ["sim", "sbs", "basel", "free", ""])
def test_the_cards_spanish_summary_has_no_english_sentence(kind: str, definition: str) -> None:
    from pymescore.features._config import DEFINITIONS
    from pymescore.model_card import _card_summary_es
    from pymescore.simulate import DEFAULT_DEFINITION

    text = {"sim": DEFAULT_DEFINITION, "free": "Ninety days past due on any loan of the firm.", "": "",
            **DEFINITIONS}[definition]  # fmt: skip
    metrics = {"default_definition": text, "observation_dates": {"development": ["2023-12-31"], "test": ["2024-12-31"]},
               "fairness_gaps": {"macroregion": {"auc_gap": 0.1}}}  # fmt: skip
    test = {"auc": 0.74, "ks": 0.4, "ece": 0.02, "mean_pd": 0.05, "positive_rate": 0.06}
    lines = _card_summary_es(SimpleNamespace(report=_report(kind)), test, metrics, current_policy())  # type: ignore[arg-type]
    summary = "\n".join(lines)
    found = [p for p in _ENGLISH if p in summary]
    assert not found, summary
    assert "default_12m" in summary
    assert "Equidad" in summary
