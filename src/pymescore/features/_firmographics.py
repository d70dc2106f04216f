"""Firm data from ``firms``: age, sector, region, SUNAT state and domicile, legal form."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pymescore.contracts._reference import DEPARTMENTS, ciiu_classes
from pymescore.features._arrays import F64, Arrays, day_number

SECTIONS = tuple("ABCDEFGHIJKLMNOPQRSTU")
DEPARTMENT_CODES = tuple(sorted(DEPARTMENTS))


def firm_features(firms: Arrays, as_of: pd.Timestamp) -> dict[str, object]:
    """Numeric features as float arrays; ``ciiu_section`` and ``department`` as object arrays.

    ``firms`` holds one row per entity, in entity order (text as object arrays, None for missing).
    """

    def col(name: str) -> np.ndarray:
        return np.asarray(firms[name], dtype=object)

    a = float(day_number(np.array([as_of.to_datetime64()]))[0])
    age = (a - day_number(firms["start_date"])) / 365.25
    classes = ciiu_classes()
    ciiu = col("ciiu")
    section = np.array([classes.get(c) if isinstance(c, str) else None for c in ciiu], dtype=object)
    ubigeo = col("ubigeo")
    department = np.array(
        [u[:2] if isinstance(u, str) and u[:2] in DEPARTMENTS else None for u in ubigeo], dtype=object
    )
    state = col("taxpayer_state")
    domicile = col("domicile_condition")

    def flag(values: np.ndarray, good: str) -> F64:
        known = np.array([isinstance(v, str) for v in values])
        return np.where(known, (values != good).astype(np.float64), np.nan)

    natural = np.array([r[:2] in ("10", "15", "17") for r in col("ruc")], dtype=np.float64)
    return {
        "firm_age_years": np.maximum(age, 0.0),
        "ciiu_section": section,
        "department": department,
        "taxpayer_not_active": flag(state, "ACTIVO"),
        "domicile_not_habido": flag(domicile, "HABIDO"),
        "ruc_natural_person": natural,
    }
