"""The decision policy: score cut-offs, knock-out rules and the capacity rule for the suggested amount.

Configuration, not code: a TOML file (``PYMESCORE_POLICY_FILE``) overrides the defaults below. The
policy's version (its name + a hash of every value) is recorded with each decision, so a reviewer can
tell which rules produced it.
"""

from __future__ import annotations

import hashlib
import json
import math
import tomllib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from functools import cached_property
from pathlib import Path
from typing import Any

from pymescore.errors import ConfigError

# code -> (Spanish, English)
RULE_TEXTS: dict[str, tuple[str, str]] = {
    "KO_TAXPAYER_NOT_ACTIVE": (
        "El RUC no está ACTIVO en SUNAT (baja o suspensión).",
        "The RUC is not ACTIVE at SUNAT (deregistered or suspended).",
    ),
    "KO_DOMICILE_NOT_HABIDO": (
        "Domicilio fiscal NO HABIDO en SUNAT.",
        "Tax domicile is NOT LOCATED (NO HABIDO) at SUNAT.",
    ),
    "KO_SBS_LOSS": (
        "Calificación SBS actual Pérdida.",
        "Current SBS rating is Loss (Pérdida).",
    ),
    "KO_FIRM_TOO_YOUNG": (
        "La empresa tiene menos antigüedad que la mínima de la política.",
        "The firm is younger than the policy's minimum age.",
    ),
    "REVIEW_THIN_FILE": (
        "Expediente delgado: menos meses de flujos de caja que los que pide la política; requiere revisión de un "
        "analista.",
        "Thin file: fewer months of cash-flow history than the policy asks; an analyst must review.",
    ),
    "NOTE_THIN_FILE": (
        "Expediente delgado: menos meses de flujos de caja que los que pide la política; el puntaje es menos seguro "
        "y puede cambiar con más historial.",
        "Thin file: fewer months of cash-flow history than the policy asks; the score is less certain and may "
        "change with more history.",
    ),
    "REVIEW_CAPACITY": (
        "El monto solicitado supera la capacidad de pago estimada.",
        "The requested amount exceeds the estimated repayment capacity.",
    ),
    "REVIEW_NO_CAPACITY": (
        "Sin flujo de caja neto positivo con el que estimar la capacidad de pago: un analista fija el monto.",
        "No positive net cash flow to estimate the repayment capacity from: an analyst sets the amount.",
    ),
    "REVIEW_REGISTER_MISSING": (
        "Faltan datos del padrón SUNAT (estado, domicilio o inicio de actividades): un analista debe "
        "verificarlos antes de decidir.",
        "SUNAT register data (state, domicile or start of activities) are missing: an analyst must check them "
        "before deciding.",
    ),
    "REVIEW_SCORE_BAND": (
        "Puntaje en la zona de revisión de la política.",
        "Score in the policy's review band.",
    ),
}

#: the features the knock-outs read from the SUNAT register; without them the knock-outs cannot run
REGISTER_FEATURES = ("taxpayer_not_active", "domicile_not_habido", "firm_age_years")
#: the features the capacity rule reads
CAPACITY_FEATURES = ("log_income_mean_12m", "net_cf_margin_12m")
#: every feature :meth:`Policy.decide` reads (what the decision stage hands it, row by row)
POLICY_FEATURES = ("taxpayer_not_active", "domicile_not_habido", "sbs_rating_current", "firm_age_years",
                   "months_of_history", *CAPACITY_FEATURES)  # fmt: skip


@dataclass(frozen=True)
class Policy:
    name: str = "default-2026-12"  # bump when the rules change: it is recorded with every decision
    approve_min_score: float = 600.0  # a score at or above it approves (unless a rule sends it to review)
    review_min_score: float = 570.0  # at or above it (and below approve): review; below: decline
    min_firm_age_years: float = 1.0  # a younger firm is declined (KO_FIRM_TOO_YOUNG)
    min_history_months: int = 6  # fewer months of cash flows: a thin file (REVIEW_THIN_FILE / NOTE_THIN_FILE)
    knockout_sbs_rating: int = 4  # SBS rating at or above which the firm is declined (4 = Pérdida; KO_SBS_LOSS)
    instalment_share: float = 0.30  # of the average monthly net cash flow
    annual_rate: float = 0.35  # TEA used to turn the instalment into a principal
    amount_rounding: float = 100.0  # the suggested amount is rounded down to a multiple of it

    def __post_init__(self) -> None:
        if not self.review_min_score <= self.approve_min_score:
            raise ConfigError(
                f"policy: expected review_min_score <= approve_min_score, got {self.review_min_score} > "
                f"{self.approve_min_score}"
            )
        if not 0 < self.instalment_share <= 1:
            raise ConfigError(f"policy: expected 0 < instalment_share <= 1, got {self.instalment_share}")
        if not 0 <= self.annual_rate < 5:
            raise ConfigError(f"policy: expected 0 <= annual_rate < 5, got {self.annual_rate}")

    @cached_property
    def version(self) -> str:  # frozen: computed once (it is read for every decision)
        digest = hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:12]
        return f"{self.name}+{digest}"

    # -- rules -----------------------------------------------------------------------------------
    def knockouts(self, f: dict[str, Any]) -> list[str]:
        fired = []
        if _num(f.get("taxpayer_not_active")) == 1:
            fired.append("KO_TAXPAYER_NOT_ACTIVE")
        if _num(f.get("domicile_not_habido")) == 1:
            fired.append("KO_DOMICILE_NOT_HABIDO")
        rating = _num(f.get("sbs_rating_current"))
        if rating is not None and rating >= self.knockout_sbs_rating:
            fired.append("KO_SBS_LOSS")
        age = _num(f.get("firm_age_years"))
        if age is not None and age < self.min_firm_age_years:
            fired.append("KO_FIRM_TOO_YOUNG")
        return fired

    def thin_file(self, f: dict[str, Any]) -> bool:
        """Fewer months of cash-flow history than ``min_history_months`` (none counts as none)."""
        history = _num(f.get("months_of_history"))
        return history is None or history < self.min_history_months

    def capacity(self, net_pen: float | None, term_months: int) -> float | None:
        """The principal whose instalment is ``instalment_share`` of the monthly net cash flow ``net_pen``
        (PEN, the last 12 months' average); None when it is unknown."""
        if net_pen is None or not math.isfinite(net_pen):
            return None
        if net_pen <= 0:
            return 0.0
        instalment = self.instalment_share * net_pen
        r = (1 + self.annual_rate) ** (1 / 12) - 1
        factor = term_months if r == 0 else (1 - (1 + r) ** -term_months) / r
        return instalment * factor

    def decide(
        self,
        score: int,
        f: dict[str, Any],
        requested: float | None,
        term_months: int,
        pen_per_unit: float,
        net_pen: float | None = None,
    ) -> tuple[str, list[str], float]:
        """(decision, rules fired, suggested amount in the request's currency); ``net_pen`` is the monthly net
        cash flow in PEN the capacity rule reads (:func:`monthly_net_pen`)."""
        rules = self.knockouts(f)
        decision = (
            "approve" if score >= self.approve_min_score else "review" if score >= self.review_min_score else "decline"
        )
        if rules or decision == "decline":  # a thin file is named whatever the score (a note: it declines nothing)
            thin = "months_of_history" in f and self.thin_file(f)  # a generic model's table has no such history
            return "decline", rules + (["NOTE_THIN_FILE"] if thin else []), 0.0
        if decision == "review":
            rules.append("REVIEW_SCORE_BAND")
        # the knock-outs could not be checked (a model without these features has no register to miss)
        if any(name in f and _num(f[name]) is None for name in REGISTER_FEATURES):
            rules.append("REVIEW_REGISTER_MISSING")
        if self.thin_file(f):
            rules.append("REVIEW_THIN_FILE")
        capacity = self.capacity(net_pen, term_months)
        if requested is None:  # no amount asked (a batch table without amounts): no capacity rule, no amount
            suggested = math.nan
        elif not all(name in f for name in CAPACITY_FEATURES):  # a model without cash-flow features: no rule
            suggested = requested
        elif capacity is None or capacity <= 0:  # no cash flows, or a negative net: no amount the data can back
            rules.append("REVIEW_NO_CAPACITY")
            suggested = 0.0
        else:
            cap = capacity / pen_per_unit
            rounded = math.floor(cap / self.amount_rounding) * self.amount_rounding if math.isfinite(cap) else requested
            suggested = min(requested, rounded)
            if suggested < requested:  # named whenever it cuts the amount, not only when it turns an approval
                rules.append("REVIEW_CAPACITY")
        if rules:  # every rule above sends the application to an analyst; each says why
            decision = "review"
        return decision, rules, suggested if math.isnan(suggested) else float(max(suggested, 0.0))


def monthly_net_pen(values: Mapping[str, Any], k: int) -> float | None:
    """Row ``k``'s average monthly net cash flow of the last 12 months, in PEN: mean income × net margin, from
    the features as computed (PEN amounts); from a log income only when the amount itself was not given (a
    request that sent precomputed features)."""
    margin = _num(values["net_cf_margin_12m"][k]) if "net_cf_margin_12m" in values else None
    if margin is None:
        return None
    income = _num(values["income_mean_12m"][k]) if "income_mean_12m" in values else None
    if income is None and "log_income_mean_12m" in values:  # row by row: the amount when known, else its log
        log_income = _num(values["log_income_mean_12m"][k])
        income = math.expm1(log_income) if log_income is not None and 0 <= log_income <= 25 else None
    if income is None:
        return None
    net = income * margin
    return net if math.isfinite(net) else None


def _num(value: Any) -> float | None:
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(x) else x


def load_policy(path: Path | None) -> Policy:
    if path is None:
        return Policy()
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: expected a readable TOML policy file, got {exc}") from exc
    known = {f.name for f in fields(Policy)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"{path}: expected policy keys among {', '.join(sorted(known))}, got {', '.join(unknown)}")
    try:
        return Policy(**data)
    except TypeError as exc:
        raise ConfigError(f"{path}: {exc}") from exc


def current_policy() -> Policy:
    """The policy in force: ``PYMESCORE_POLICY_FILE`` (or the settings file's ``policy_file``), else the default.

    Every consumer of a cut-off (the service, batch scoring, the report, the fairness slices, the model card
    and the promotion gate) reads it here, so one file changes them all.
    """
    from pymescore.config import Settings

    return load_policy(Settings().policy_file)


# -- the policy as the validation documents state it (report, model card, gate) ---------------------------


def cutoff_line(policy: Policy) -> str:
    """The policy's score cut-offs in both languages, as the report and the model card state them."""
    a, r = f"{policy.approve_min_score:g}", f"{policy.review_min_score:g}"
    return f"aprobar si score ≥ {a}, revisión si ≥ {r} / approve ≥ {a}, review ≥ {r}"


def policy_record(policy: Policy) -> dict[str, Any]:
    """What a bundle records of the policy it was validated with."""
    return {
        "name": policy.name,
        "version": policy.version,
        "approve_min_score": policy.approve_min_score,
        "review_min_score": policy.review_min_score,
    }


def policy_notice(recorded: Any, policy: Policy, whose: str) -> str | None:
    """A notice when the policy in force is not the one ``whose`` (say ``bundle 20261201T…``) was validated
    with; None when they agree. ``recorded`` is its ``policy_record`` (None, or anything else, for a bundle from
    before bundles recorded it). The figures use the policy in force either way: a notice, not an error."""
    if isinstance(recorded, dict) and recorded.get("version") == policy.version:
        return None
    now = f"{policy.version} ({cutoff_line(policy)})"
    if not isinstance(recorded, dict) or not recorded.get("version"):
        return (
            f"{whose}: no registra la política con que se validó / records no policy it was validated with; las "
            f"cifras usan la política vigente / the figures use the policy in force: {now}"
        )
    a, r = recorded.get("approve_min_score"), recorded.get("review_min_score")
    then = f"approve ≥ {a:g}, review ≥ {r:g}" if isinstance(a, int | float) and isinstance(r, int | float) else "?"
    return (
        f"{whose}: se validó con la política / was validated with policy {recorded['version']} ({then}); las cifras "
        f"usan la política vigente / the figures use the policy in force: {now}"
    )
