"""SBS categories from days past due, the credit type of a business debtor, alignment, provision rates.

Everything works on arrays (one loan or a portfolio through the same code), with categories as codes
0 Normal … 4 Pérdida (the bureau's ``sbs_rating`` codes).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from pymescore.errors import InputError
from pymescore.regulation._rules import GUARANTEES, Regulation

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]


def category(regulation: Regulation, days_past_due: npt.ArrayLike, credit_type: str) -> I64:
    """The category code of each loan of ``credit_type`` from its days past due (0 = on time)."""
    days = np.asarray(days_past_due, dtype=np.float64)
    if np.isnan(days).any() or (days < 0).any():
        raise InputError("days_past_due: expected whole days >= 0 for every loan, got a missing or negative value")
    bounds = np.asarray(regulation.portfolio_of(credit_type).max_days, dtype=np.float64)
    # a day count above a category's upper bound falls into the next one
    return np.searchsorted(bounds, days, side="left").astype(np.int64)


def credit_types(regulation: Regulation, annual_sales_pen: npt.ArrayLike, system_debt_pen: npt.ArrayLike) -> list[str]:
    """The credit type of each business debtor: mediana by annual sales (Res. SBS 02368-2023), else
    microempresa or pequeña empresa by the debt in the system (missing sales or debt read as small)."""
    sales = np.asarray(annual_sales_pen, dtype=np.float64)
    debt = np.asarray(system_debt_pen, dtype=np.float64)
    mediana = np.nan_to_num(sales, nan=0.0) >= regulation.mediana_min_sales_pen
    micro = np.nan_to_num(debt, nan=0.0) <= regulation.micro_max_debt_pen
    kind = np.where(mediana, 2, micro.astype(np.int64))  # codes into _BUSINESS_TYPES
    return [_BUSINESS_TYPES[k] for k in kind.tolist()]


#: the business debtors' credit types by code: 0 pequeña empresa, 1 microempresa, 2 mediana empresa
_BUSINESS_TYPES = ("pequena_empresa", "microempresa", "mediana_empresa")


def align(regulation: Regulation, own: npt.ArrayLike, others: npt.ArrayLike, shares: npt.ArrayLike) -> I64:
    """Alineamiento of retail debtors: each debtor's own category (``own``, one per debtor) may be at most
    ``levels_allowed`` better than the worst category given by the institutions holding at least
    ``min_share`` of its system debt (``others`` and ``shares``: debtors × institutions, NaN where none)."""
    own_c = np.asarray(own, dtype=np.int64)
    other = np.asarray(others, dtype=np.float64)
    share = np.asarray(shares, dtype=np.float64)
    if other.shape != share.shape or other.ndim != 2 or len(other) != len(own_c):
        raise InputError(f"alignment: expected others and shares of shape ({len(own_c)}, institutions), got "
                         f"{other.shape} and {share.shape}")  # fmt: skip
    weighty = (np.nan_to_num(share, nan=0.0) >= regulation.alignment_min_share) & ~np.isnan(other)
    worst = np.where(weighty, other, -1).max(axis=1, initial=-1).astype(np.int64)
    aligned: I64 = np.maximum(own_c, worst - regulation.alignment_levels)
    return aligned


def provision_rates(regulation: Regulation, categories: npt.ArrayLike, credit_type: str | list[str],
                    guarantee: str | list[str] = "none") -> F64:  # fmt: skip
    """The provision rate of each loan: generic (plus the pro-cyclical component when active) on Normal,
    specific by guarantee on CPP … Pérdida."""
    cat = np.asarray(categories, dtype=np.int64)
    types = [credit_type] * len(cat) if isinstance(credit_type, str) else list(credit_type)
    guards = [guarantee] * len(cat) if isinstance(guarantee, str) else list(guarantee)
    unknown = sorted({g for g in guards if g not in GUARANTEES})
    if unknown:
        raise InputError(f"guarantee: expected one of {', '.join(GUARANTEES)}, got {', '.join(unknown)}")
    missing = sorted({t for t in types if t not in regulation.generic})
    if missing:
        raise InputError(
            f"credit type: expected one of {', '.join(sorted(regulation.generic))}, got {', '.join(missing)}"
        )
    generic = np.array([regulation.generic[t] for t in types], dtype=np.float64)
    if regulation.procyclical_active:
        generic += np.array([regulation.procyclical.get(t, 0.0) for t in types], dtype=np.float64)
    table = np.array([regulation.specific[g] for g in GUARANTEES], dtype=np.float64)  # guarantee × CPP..Pérdida
    g_index = np.array([GUARANTEES.index(g) for g in guards], dtype=np.int64)
    specific = table[g_index, np.clip(cat - 1, 0, table.shape[1] - 1)]
    return np.where(cat <= 0, generic, specific)


def expected_loss(pd_: npt.ArrayLike, exposure: npt.ArrayLike, regulation: Regulation,
                  guarantee: str | list[str] = "none") -> F64:  # fmt: skip
    """PD × LGD × EAD of each application (LGD by guarantee type, from the regulation file)."""
    p = np.asarray(pd_, dtype=np.float64)
    guards = [guarantee] * len(p) if isinstance(guarantee, str) else list(guarantee)
    unknown = sorted({g for g in guards if g not in regulation.lgd})
    if unknown:
        raise InputError(f"guarantee: expected one of {', '.join(GUARANTEES)}, got {', '.join(unknown)}")
    lgd = np.array([regulation.lgd[g] for g in guards], dtype=np.float64)
    return p * lgd * np.asarray(exposure, dtype=np.float64)
