"""The decision stage shared by the service and batch scoring: the model's PD, score and exact points, then
the policy (cut-offs, knock-outs, the capacity rule on a PEN amount, the suggested amount), the reasons and
the improvement hints — for one application or a million, by one code path."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from pymescore.decision._hints import NO_HINT, Hints
from pymescore.decision._policy import POLICY_FEATURES, RULE_TEXTS, Policy, monthly_net_pen
from pymescore.decision._reasons import Reasons, typical_values
from pymescore.decision._regulatory import origination
from pymescore.evaluate import assign_bands
from pymescore.features import BY_NAME
from pymescore.model import FittedModel
from pymescore.model._compiled import CompiledModel
from pymescore.regulation import load_regulation


@dataclass
class Decisions:
    """Per row: PD, score, band, decision, rules, suggested amount, reasons and hints."""

    pd: np.ndarray
    score: np.ndarray
    band: list[str]
    decision: list[str]
    rules: list[list[str]]
    suggested: list[float]
    reasons: list[list[dict[str, Any]]]
    hints: list[list[dict[str, Any]]]
    #: per row: None, or (a non-approval with no hint) the statement that no input the firm runs can help
    hint_notes: list[str | None] | None = None
    #: per row: the SBS credit type, category at origination, provision and expected loss of the loan
    regulatory: list[dict[str, Any]] | None = None


def rule_entries(rules: list[str], lang: str) -> list[dict[str, str]]:
    """The policy rules fired, in words, with their effect."""
    return [
        {"code": c, "text": RULE_TEXTS[c][0 if lang == "es" else 1], "effect": "decline" if c.startswith("KO_") else
         "note" if c.startswith("NOTE_") else "review"}
        for c in rules
    ]  # fmt: skip


class DecisionStage:
    """A bundle's compiled model + a policy; read-only after construction but for memos of derived values, which
    threads may fill at once with equal values (thread-safe)."""

    def __init__(self, model: FittedModel, reference: Mapping[str, Any], policy: Policy, nthread: int = 1) -> None:
        self.model = model
        self.compiled = CompiledModel(model, nthread=nthread)
        self.policy = policy
        self.regulation = load_regulation()
        self.features = [f.name for f in model.features]
        numeric = {ct.column for ct in model.preprocessor.types if ct.kind == "numeric"}
        monotone = {f.name: f.monotone for f in model.features}
        self.hints = Hints(monotone, reference.get("features", {}), self.compiled.columns, numeric)
        # the reasons' texts and "lo típico" values, written once per bundle
        self.reasons = Reasons(self.compiled.sources, [*model.features, *model.history_features],
                               typical_values(reference.get("features", {})))  # fmt: skip

    def run(
        self,
        matrix: np.ndarray,
        values: Mapping[str, np.ndarray],
        requested: np.ndarray,
        term_months: np.ndarray,
        pen_per_unit: np.ndarray,
        lang: str = "es",
        top: int = 4,
        amounts: Mapping[str, np.ndarray] | None = None,
        guarantee: Sequence[str] | None = None,
        sequences: np.ndarray | None = None,
    ) -> Decisions:
        """Decide every row of the model matrix ``matrix``. ``values`` are the rows' features as the model reads
        them (clipped; categories as labels), by name; ``amounts`` the unclipped ones the capacity rule reads
        as PEN amounts (default ``values``). A requested amount of NaN means none was asked: the cut-offs and
        knock-outs decide, the capacity rule does not run and the suggested amount is NaN. ``guarantee`` (per row,
        default none) sets the provision and LGD of the loan each row would be (on the suggested amount when
        one was set, else the requested one). ``sequences``: the rows' monthly histories, for a sequence model
        (rows × months × channels; None: the rows have none)."""
        c = self.compiled
        contributions = c.contributions(matrix, sequences)
        trials = self.hints.trials(contributions.parts, c.sources, values)
        explained = c.explain(contributions, self.hints.probes(matrix, trials), _rows_of(trials))
        scores = explained.score
        rows_reasons = self.reasons(explained.points, values, top, lang)
        hints = self.hints.pick(trials, explained.probe_scores, scores, lang)
        key = "text_es" if lang == "es" else "text_en"
        for row in rows_reasons:
            for r in row:
                r["text"] = _reason_text(r, key)
        bands = [str(b) for b in assign_bands(scores)]
        decision: list[str] = []
        rules: list[list[str]] = []
        suggested: list[float] = []
        money = values if amounts is None else amounts
        # the policy reads a handful of features: only those go into each row's mapping
        columns = [(name, values[name].tolist()) for name in POLICY_FEATURES if name in values]
        for k in range(len(matrix)):
            f = {name: column[k] for name, column in columns}
            asked = None if requested[k] != requested[k] else float(requested[k])  # NaN: no amount asked
            d, fired, amount = self.policy.decide(int(scores[k]), f, asked, int(term_months[k]),
                                                  float(pen_per_unit[k]), monthly_net_pen(money, k))  # fmt: skip
            decision.append(d)
            rules.append(fired)
            suggested.append(amount)
        notes = self._second_look(matrix, values, scores, decision, hints, lang, sequences)
        asked_for = np.where(np.asarray(suggested, dtype=np.float64) > 0, suggested, requested)
        exposure = np.nan_to_num(np.asarray(asked_for, dtype=np.float64), nan=0.0)
        regulatory = origination(self.regulation, explained.pd, exposure, values, money,
                                 list(guarantee) if guarantee is not None else ["none"] * len(matrix))  # fmt: skip
        return Decisions(explained.pd, scores, bands, decision, rules, suggested, rows_reasons, hints, notes,
                         regulatory)  # fmt: skip

    def _second_look(
        self, matrix: np.ndarray, values: Mapping[str, np.ndarray], scores: np.ndarray, decision: list[str],
        hints: list[list[dict[str, Any]]], lang: str, sequences: np.ndarray | None = None,
    ) -> list[str | None]:  # fmt: skip
        """A non-approval without a hint gets every movable input tried (their scores in one call); when none
        gains a point, its note says so. Fills ``hints`` in place; returns the notes."""
        notes: list[str | None] = [None] * len(decision)
        rows = [k for k, d in enumerate(decision) if d != "approve" and not hints[k]]
        if not rows:
            return notes
        trials = self.hints.fallback(rows, values)
        if trials:
            probe_sequences = None if sequences is None else sequences[_rows_of(trials)]
            moved = self.compiled.predict(self.hints.probes(matrix, trials), probe_sequences)[1].astype(np.float64)
            found = self.hints.pick(trials, moved, scores, lang)
            for k in rows:
                hints[k] = found[k]
        for k in rows:
            if not hints[k]:
                notes[k] = NO_HINT[0 if lang == "es" else 1]
        return notes


def _rows_of(trials: Sequence[tuple[Any, ...]]) -> np.ndarray:
    """The row each improvement trial (a probe) was made from."""
    return np.array([t[0] for t in trials], dtype=np.int64)


def _reason_text(reason: dict[str, Any], key: str) -> str:
    """The registry's reason text; for a feature without one, its description (never a bare code)."""
    text = str(reason[key])
    f = BY_NAME.get(reason["code"])
    if text == reason["code"] and f is not None:
        return f.description_es if key == "text_es" else f.description_en
    return text
