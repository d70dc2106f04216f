"""The feature registry: every feature declared once, with what a reviewer and the model need to know.

``monotone`` is the direction of the feature's effect on the **probability of default** that the model
is constrained to: +1 = risk can only rise with the feature, -1 = risk can only fall, 0 = free. A feature
"pulls the score down" when its value moves risk up; then its ``reason_es`` / ``reason_en`` is shown.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Literal

Group = Literal[
    "cash_flow",
    "profitability",
    "leverage",
    "payment_behaviour",
    "bureau",
    "firmographics",
    "currency_exposure",
    "context",
    "data_coverage",
]
Kind = Literal["numeric", "flag", "categorical"]

GROUP_TITLES: dict[str, tuple[str, str]] = {
    "cash_flow": ("Flujo de caja", "Cash flow"),
    "profitability": ("Rentabilidad", "Profitability"),
    "leverage": ("Endeudamiento", "Leverage"),
    "payment_behaviour": ("Comportamiento de pago", "Payment behaviour"),
    "bureau": ("Central de riesgos (SBS)", "Credit bureau (SBS)"),
    "firmographics": ("Datos de la empresa", "Firmographics"),
    "currency_exposure": ("Exposición cambiaria", "Currency exposure"),
    "context": ("Contexto regional y sectorial", "Regional and sector context"),
    "data_coverage": ("Cobertura de datos", "Data coverage"),
}


@dataclass(frozen=True)
class Feature:
    name: str
    group: Group
    kind: Kind
    description_es: str
    description_en: str
    sources: tuple[str, ...]
    unit: str
    valid_range: tuple[float | None, float | None]
    monotone: int
    rationale: str
    reason_es: str
    reason_en: str

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def registry_hash(features: tuple[Feature, ...]) -> str:
    """SHA-256 of the catalog: recorded with every snapshot and model."""
    payload = json.dumps([f.to_dict() for f in features], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()
