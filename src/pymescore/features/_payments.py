"""Payment-behaviour features from ``payments``: what the firm had paid, and how late, by as_of.

Point in time: an instalment counts only if it fell due before as_of; a payment counts only if it was
made before as_of (a later payment leaves the instalment open, days past due running to as_of).
"""

from __future__ import annotations

import calendar
import datetime as dt

import numpy as np
import pandas as pd

from pymescore.features._arrays import F64, Arrays, day_number

#: months_since_delinquency for a firm that was never more than 30 days late
NEVER_DELINQUENT_MONTHS = 120.0
_DAYS_PER_MONTH = 30.4375
_EPOCH = dt.date(1970, 1, 1).toordinal()


def _days_before(as_of: pd.Timestamp, months: int) -> float:
    """Day number of as_of minus ``months`` whole months, the day clipped to the month's length (``add_months``
    on one date, in plain Python: a scalar needs no arrays).

    >>> _days_before(pd.Timestamp("2024-03-31 15:00"), 1) == float(np.datetime64("2024-02-29", "D").astype(int))
    True
    """
    index = as_of.year * 12 + as_of.month - 1 - months
    year, month = divmod(index, 12)
    day = min(as_of.day, calendar.monthrange(year, month + 1)[1])
    return float(dt.date(year, month + 1, day).toordinal() - _EPOCH)


def payment_features(payments: Arrays, n: int, as_of: pd.Timestamp) -> dict[str, F64]:
    """Days past due, on-time and late shares, completion, current arrears and time since the last
    delinquency: one compiled pass over the records (``_fused.payment_block``)."""
    from pymescore.features._fused import PAYMENT_COLUMNS, payment_block

    block = payment_block(
        np.asarray(payments["entity"], dtype=np.int64),
        day_number(payments["due_date"]),
        day_number(payments["paid_date"]),
        np.asarray(payments["amount_due_pen"], dtype=np.float64),
        np.asarray(payments["amount_paid_pen"], dtype=np.float64),
        np.asarray(payments["currency"], dtype=object) == "USD",
        n,
        float(day_number(np.array([as_of], dtype="datetime64[ns]"))[0]),
        np.array([_days_before(as_of, months) for months in (3, 6, 12, 24)]),
        NEVER_DELINQUENT_MONTHS,
        _DAYS_PER_MONTH,
    )
    return dict(zip(PAYMENT_COLUMNS, block.T, strict=True))
