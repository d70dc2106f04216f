"""A scored application's response, as the scoring routes send it and the audit store keeps it: its PD, score,
band and decision, the suggested amount, reasons, policy rules and improvement hints, the automated decision
notice, and where its USD amounts' exchange rates came from; and its features, read when its decision is stored."""

from __future__ import annotations

import datetime as dt
import math
import uuid
from collections.abc import Mapping
from typing import Any

import numpy as np

from pymescore.decision import Decisions, rule_entries
from pymescore.decision._regulatory import notice
from pymescore.features._build import HISTORY_TABLES
from pymescore.features._reads import AMOUNT_TABLES
from pymescore.service._applications import _Pending
from pymescore.service._rates import SOURCES, used_client_rates
from pymescore.service._schemas import ScoreRequest


class Scored:
    """A scored application: its response, and (read when its decision is stored) its features as plain JSON
    values, taken from the batch's feature columns only when asked for."""

    __slots__ = ("_row", "_values", "response")

    def __init__(self, response: dict[str, Any], values: Mapping[str, np.ndarray], row: int) -> None:
        self.response = response
        self._values, self._row = values, row

    @property
    def features(self) -> dict[str, Any]:
        return {name: _plain(column[self._row]) for name, column in self._values.items()}


def responses(
    pending: list[_Pending],
    d: Decisions,
    values: Mapping[str, np.ndarray],
    model_version: str,
    policy_version: str,
    lang: str,
) -> list[Scored]:
    """The responses of the applications ``pending`` (row ``k`` of ``d``, the decision stage's output, and of
    ``values``, their feature columns, is ``pending[k]``), in ``lang``."""
    now = dt.datetime.now(dt.UTC).isoformat()
    pds, scores = d.pd.tolist(), d.score.tolist()
    out = []
    for k, p in enumerate(pending):
        req = p.request
        response = {
            "score_id": str(uuid.uuid4()),
            "created_at": now,
            "ruc": req.ruc,
            "as_of": str(p.as_of.date()),
            "model_version": model_version,
            "policy_version": policy_version,
            "pd": pds[k],
            "score": scores[k],
            "band": d.band[k],
            "decision": d.decision[k],
            "requested_amount": float(req.requested_amount),
            "suggested_amount": d.suggested[k],
            "currency": req.currency,
            "reasons": [
                {"code": r["code"], "text": r["text"], "impact_points": r["impact_points"]} for r in d.reasons[k]
            ],
            "policy_rules": rule_entries(d.rules[k], lang),
            "improvement_hints": d.hints[k],
            "improvement_note": d.hint_notes[k] if d.hint_notes else None,
            "language": lang,
            "regulatory": d.regulatory[k] if d.regulatory else None,
            "automated_decision_notice": notice(lang, model_version, _data_used(req)),
            "exchange_rates": {
                "client_rates": used_client_rates(req.exchange_rates, p.used_rates),
                "usd_amounts_by_source": {s: p.by_source[s] for s in SOURCES},
                "amounts_not_read": {name: p.not_read.get(name, 0) for name in AMOUNT_TABLES},
            },
        }
        out.append(Scored(response, values, k))
    return out


def _data_used(request: ScoreRequest) -> list[str]:
    """What an application sent: the histories with records, the register data, or features."""
    if request.features is not None:
        return ["features"]
    sent = [name for name in HISTORY_TABLES if getattr(request, name)]
    return [*sent, "firm"] if request.firm is not None else sent


def _plain(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, float | np.floating):
        return None if math.isnan(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    return str(value)
