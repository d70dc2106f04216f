"""What Peru's rules attach to each decision: the provision the loan would need at origination and its expected
loss (Res. SBS 11356-2008, through :mod:`pymescore.regulation`), and the automated-decision notice (DS
016-2024-JUS on automated decisions and profiling; DS 115-2025-PCM, credit evaluation as high-risk AI).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from pymescore.regulation import Regulation, align, credit_types, expected_loss, provision_rates

NOTICE_VERSION = "aviso-decision-automatizada-2026-12"
_NOTICE = {
    "es": (
        "Esta evaluación fue hecha con un modelo automatizado de riesgo de crédito (pymescore, modelo {model}) a "
        "partir de los datos de la empresa: {data}. Usted puede pedir que una persona revise la decisión y, si "
        "la solicitud es denegada, conocer las razones que impidieron su aprobación (respuesta en un plazo de 7 "
        "días hábiles)."
    ),
    "en": (
        "This assessment was made with an automated credit-risk model (pymescore, model {model}) from the firm's "
        "data: {data}. You may ask for a person to review the decision and, if the application is denied, to "
        "learn the reasons that prevented its approval (answered within 7 working days)."
    ),
}
_DATA = {
    "monthly_cashflows": ("flujos de caja mensuales", "monthly cash flows"),
    "financial_statements": ("estados financieros", "financial statements"),
    "payments": ("historial de pagos de préstamos", "loan payment history"),
    "bureau_ratings": ("calificaciones de la central de riesgos de la SBS", "SBS credit bureau ratings"),
    "firm": ("datos del padrón RUC de SUNAT", "the SUNAT taxpayer register"),
    "features": ("indicadores enviados por la entidad", "indicators sent by the lender"),
}


def notice(lang: str, model_version: str, used: Sequence[str]) -> dict[str, Any]:
    """The automated-decision notice of one decision: its version, text and the data it used."""
    es = lang == "es"
    data = [_DATA[u][0 if es else 1] for u in used if u in _DATA]
    text = _NOTICE["es" if es else "en"].format(model=model_version, data="; ".join(data) or ("ninguno" if es else
                                                                                               "none"))  # fmt: skip
    return {"version": NOTICE_VERSION, "text": text, "data_used": [u for u in used if u in _DATA]}


def origination(
    regulation: Regulation,
    pd_: np.ndarray,
    exposure: np.ndarray,
    values: Mapping[str, np.ndarray],
    amounts: Mapping[str, np.ndarray],
    guarantee: Sequence[str],
) -> list[dict[str, Any]]:
    """Per row: the SBS credit type, the category a new loan would take (Normal, aligned to the bureau's current
    rating with one level of discrepancy), its provision rate and amount, LGD and expected loss (PD × LGD ×
    ``exposure``, in the request's currency)."""
    n = len(pd_)

    def column(source: Mapping[str, np.ndarray], name: str) -> np.ndarray:
        return np.asarray(source[name], dtype=np.float64) if name in source else np.full(n, np.nan)

    sales = column(amounts, "income_mean_12m") * 12.0
    kinds = credit_types(regulation, sales, column(values, "debt_system_pen"))
    bureau = column(values, "sbs_rating_current")
    category = align(regulation, np.zeros(n, dtype=np.int64), bureau[:, None], np.ones((n, 1)))
    rate = provision_rates(regulation, category, kinds, list(guarantee))
    loss = expected_loss(pd_, exposure, regulation, list(guarantee))
    names = regulation.categories
    return [
        {"credit_type": kinds[k], "sbs_category": names[int(category[k])], "guarantee": guarantee[k],
         "exposure": round(float(exposure[k]), 2), "provision_rate": float(rate[k]),
         "provision_amount": round(float(rate[k] * exposure[k]), 2), "lgd": regulation.lgd[guarantee[k]],
         "expected_loss": round(float(loss[k]), 2), "regulation_version": regulation.version}
        for k in range(n)
    ]  # fmt: skip
