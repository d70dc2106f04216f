"""Small builders of valid raw rows for tests."""

from __future__ import annotations

from stdnum.pe import ruc as stdnum_ruc


def make_ruc(n: int, prefix: str = "20") -> str:
    """The n-th valid RUC with ``prefix``."""
    body = f"{prefix}{n:08d}"
    return body + stdnum_ruc.calc_check_digit(body)


def bad_ruc(n: int) -> str:
    good = make_ruc(n)
    return good[:-1] + str((int(good[-1]) + 1) % 10)


CASHFLOW_HEADER = "ruc,month,currency,income,expenses"
RATES_CSV = "date,pen_per_usd\n2023-12-29,3.70\n2024-01-31,3.72\n2024-02-29,3.75\n2024-03-29,3.71\n"
