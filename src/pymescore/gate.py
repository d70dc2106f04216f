"""The promotion gate: may a challenger replace the champion? Same out-of-time rows for both.

A challenger is refused, with every reason, when its AUC is worse than the champion's by more than
``max_auc_drop``, when its score bands are not monotone in bad rate (a fall between adjacent bands larger
than ``band_inversion_z`` standard errors), or when a fairness gap (AUC or approval
rate between regions, sectors, sizes) is wider than the champion's by more than ``fairness_tolerance``.

With a shadow comparison (``pymescore.evaluate.shadow_comparison``: the challenger scored in the shadow of the
champion on the same live traffic), the challenger is also refused when the comparison is of another version,
rests on fewer than ``min_shadow_n`` decisions, agrees with the champion on fewer than ``min_shadow_agreement`` of
them, or swaps (in or out) more than ``max_shadow_swap_share`` of them.

The approval rates behind the fairness gaps use the decision policy's approve cut-off (the policy in force unless
one is given), for both bundles alike; a bundle validated with another policy is named in ``notices``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from pymescore.bundle import Bundle
from pymescore.decision import Policy, current_policy, policy_notice, policy_record
from pymescore.errors import ConfigError
from pymescore.evaluate import (
    band_inversions,
    band_table,
    bands_monotone,
    binary_metrics,
    fairness_gaps,
    fairness_table,
    sme_slices,
)
from pymescore.tables import labelled


@dataclass(frozen=True)
class GatePolicy:
    max_auc_drop: float = 0.01
    fairness_tolerance: float = 0.05
    require_monotone_bands: bool = True
    #: a band inversion refuses the challenger when the fall in bad rate exceeds this many standard errors
    #: (0: any fall); on a few thousand rows a band with a handful of defaults inverts by chance
    band_inversion_z: float = 1.96
    #: with a shadow comparison: the least share of decisions on which the two models agree (None: not checked)
    min_shadow_agreement: float | None = None
    #: with a shadow comparison: the largest share of decisions swapped in or out (None: not checked)
    max_shadow_swap_share: float | None = None
    #: with a shadow comparison: the fewest decisions scored by both on which it is read
    min_shadow_n: int = 200

    def __post_init__(self) -> None:
        for name in ("min_shadow_agreement", "max_shadow_swap_share"):
            value = getattr(self, name)
            if value is not None and not 0 <= value <= 1:
                raise ConfigError(f"gate: expected {name} between 0 and 1 or unset, got {value}")
        if self.min_shadow_n < 1:
            raise ConfigError(f"gate: expected min_shadow_n >= 1, got {self.min_shadow_n}")
        if not 0 <= self.band_inversion_z <= 10:
            raise ConfigError(f"gate: expected 0 <= band_inversion_z <= 10, got {self.band_inversion_z}")
        if not 0 <= self.max_auc_drop < 0.5 or not 0 <= self.fairness_tolerance < 1:
            raise ConfigError(
                f"gate: expected 0 <= max_auc_drop < 0.5 and 0 <= fairness_tolerance < 1, got {self.max_auc_drop}, "
                f"{self.fairness_tolerance}"
            )


def _gaps(
    rows: pd.DataFrame, y: np.ndarray, scored: pd.DataFrame, approve_min_score: float
) -> dict[str, dict[str, Any]]:
    slices = sme_slices(rows)
    if not slices:
        return {}
    table = fairness_table(rows, y, scored["pd"].to_numpy(), scored["score"].to_numpy(), approve_min_score, slices)
    return fairness_gaps(table)


def _shadow_reasons(shadow: Mapping[str, Any], version: str, policy: GatePolicy) -> list[str]:
    """Why the live comparison refuses the challenger (empty: it does not)."""
    if shadow.get("challenger_version") != version:
        return [f"shadow: the comparison is of challenger {shadow.get('challenger_version')}, not of {version}"]
    n = int(shadow.get("n") or 0)
    if n < policy.min_shadow_n:
        return [f"shadow: {n} decisions scored by both models, fewer than the {policy.min_shadow_n} required"]
    reasons = []
    agreement, swaps = float(shadow["agreement"]), float(shadow["swap_share"])
    if policy.min_shadow_agreement is not None and agreement < policy.min_shadow_agreement:
        reasons.append(f"shadow: the challenger agrees with the champion on {agreement:.1%} of {n:,} live decisions "
                       f"(required: at least {policy.min_shadow_agreement:.1%})")  # fmt: skip
    if policy.max_shadow_swap_share is not None and swaps > policy.max_shadow_swap_share:
        reasons.append(f"shadow: the challenger swaps {swaps:.1%} of {n:,} live decisions in or out of approval "
                       f"(allowed: at most {policy.max_shadow_swap_share:.1%})")  # fmt: skip
    return reasons


def gate(
    challenger: Bundle,
    champion: Bundle | None,
    frame: pd.DataFrame,
    target: str,
    positive: str | None = None,
    policy: GatePolicy | None = None,
    decision_policy: Policy | None = None,
    shadow: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """``{"promote": bool, "reasons": [...], "notices": [...], ...}``; on a snapshot, the rows of its latest
    observation date. The fairness approval rates use ``decision_policy``'s approve cut-off (default: the policy in
    force, ``current_policy()``). ``shadow``: the champion-challenger comparison on live traffic (see the module's
    docstring), checked against ``policy``'s shadow thresholds."""
    policy = policy or GatePolicy()
    decision_policy = decision_policy if decision_policy is not None else current_policy()
    cutoff = decision_policy.approve_min_score
    if "as_of" in frame.columns:
        frame = frame[frame["as_of"] == frame["as_of"].max()]
    rows, y = labelled(challenger, frame, target, positive)
    if len(np.unique(y)) < 2:
        raise ConfigError(f"gate: expected both outcomes in the comparison rows, got only {np.unique(y).tolist()}")
    new = challenger.model.predict(rows)
    new_metrics = binary_metrics(y, new["pd"].to_numpy())
    bands = band_table(y, new["score"].to_numpy())
    monotone = bands_monotone(bands)
    inversions = band_inversions(bands, policy.band_inversion_z)
    reasons: list[str] = []
    compared = {"challenger": challenger, "champion": champion}
    said = [
        policy_notice(b.metrics.get("policy"), decision_policy, f"{who} {b.version}")
        for who, b in compared.items()
        if b
    ]
    notices = [note for note in said if note]
    out: dict[str, Any] = {"rows": len(rows), "policy": asdict(policy), "decision_policy":
        policy_record(decision_policy), "challenger": {"version": challenger.version, "metrics": new_metrics,
        "bands_monotone": monotone, "band_inversions": inversions}}  # fmt: skip
    if policy.require_monotone_bands and inversions:
        reasons.append(f"the challenger's score bands are not monotone in bad rate ({'; '.join(inversions)})")
    new_gaps = _gaps(rows, y, new, cutoff)
    out["challenger"]["fairness_gaps"] = new_gaps
    if champion is not None:
        old = champion.model.predict(rows)
        old_metrics = binary_metrics(y, old["pd"].to_numpy())
        old_gaps = _gaps(rows, y, old, cutoff)
        out["champion"] = {"version": champion.version, "metrics": old_metrics, "fairness_gaps": old_gaps}
        drop = (old_metrics["auc"] or 0.0) - (new_metrics["auc"] or 0.0)
        if drop > policy.max_auc_drop:
            reasons.append(
                f"AUC {new_metrics['auc']:.4f} is {drop:.4f} below the champion's {old_metrics['auc']:.4f} on the same "
                f"{len(rows):,} rows (allowed: {policy.max_auc_drop})"
            )
        for name, gap in new_gaps.items():
            for kind in ("auc_gap", "approval_gap"):
                was, now = (old_gaps.get(name) or {}).get(kind), gap.get(kind)
                if was is not None and now is not None and now > was + policy.fairness_tolerance:
                    reasons.append(
                        f"fairness: the {kind.replace('_', ' ')} across {name} widens from {was:.3f} to {now:.3f} "
                        f"(allowed: +{policy.fairness_tolerance})"
                    )
    if shadow is not None:
        out["shadow"] = {k: shadow.get(k) for k in ("n", "challenger_version", "agreement", "swap_share",
                                                     "approval_rate", "score_shift")}  # fmt: skip
        reasons.extend(_shadow_reasons(shadow, challenger.version, policy))
    out["promote"] = not reasons
    out["reasons"] = reasons
    out["notices"] = notices  # said, never a reason to refuse: the comparison above used the policy in force
    return out
