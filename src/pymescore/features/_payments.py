"""Payment-behaviour features from ``payments``: what the firm had paid, and how late, by as_of.

Point in time: an instalment counts only if it fell due before as_of; a payment counts only if it was
made before as_of (a later payment leaves the instalment open, days past due running to as_of).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pymescore.features._arrays import F64, Arrays, add_months, day_number, group_count, group_max, group_sum, ratio

#: months_since_delinquency for a firm that was never more than 30 days late
NEVER_DELINQUENT_MONTHS = 120.0
_DAYS_PER_MONTH = 30.4375


def _days_before(as_of: pd.Timestamp, months: int) -> float:
    """Day number of as_of minus ``months`` whole months (day clipped to the month's length)."""
    return float(day_number(add_months(np.array([as_of.to_datetime64()]), -months))[0])


def payment_features(payments: Arrays, n: int, as_of: pd.Timestamp) -> dict[str, F64]:
    a = float(day_number(np.array([as_of], dtype="datetime64[ns]"))[0])
    codes = np.asarray(payments["entity"], dtype=np.int64)
    due = day_number(payments["due_date"])
    keep = due < a
    codes, due = codes[keep], due[keep]
    paid = day_number(payments["paid_date"])[keep]
    amount_due = np.asarray(payments["amount_due_pen"], dtype=np.float64)[keep]
    amount_paid = np.asarray(payments["amount_paid_pen"], dtype=np.float64)[keep]
    usd = (np.asarray(payments["currency"], dtype=object) == "USD")[keep]
    paid_known = paid < a  # NaN compares False: unpaid
    dpd = np.where(paid_known, np.maximum(paid - due, 0.0), a - due)

    has = group_count(codes, n) > 0
    out: dict[str, F64] = {}
    for months in (3, 6, 12):
        w = due >= _days_before(as_of, months)
        cnt = group_count(codes[w], n)
        out[f"dpd_mean_{months}m"] = ratio(group_sum(codes[w], dpd[w], n), cnt)
        out[f"dpd_max_{months}m"] = group_max(codes[w], dpd[w], n)
    w12 = due >= _days_before(as_of, 12)
    c12 = codes[w12]
    due12 = group_count(c12, n)
    on_time = paid_known[w12] & (paid[w12] <= due[w12])
    out["pay_on_time_share_12m"] = ratio(group_sum(c12, on_time.astype(np.float64), n), due12)
    w24 = due >= _days_before(as_of, 24)
    late24 = (~paid_known[w24] | (paid[w24] > due[w24])).astype(np.float64)
    out["late_share_24m"] = ratio(group_sum(codes[w24], late24, n), group_count(codes[w24], n))
    open_now = ~paid_known
    current = group_max(codes[open_now], a - due[open_now], n)
    out["dpd_current"] = np.where(has, np.nan_to_num(current, nan=0.0), np.nan)
    made = paid_known & (paid >= _days_before(as_of, 12))
    out["payments_made_12m"] = np.where(has, group_count(codes[made], n), np.nan)
    paid_amount = np.where(paid_known, amount_paid, 0.0)
    out["payment_completion_12m"] = ratio(group_sum(c12, paid_amount[w12], n), group_sum(c12, amount_due[w12], n))
    late = np.where(has, group_count(c12[dpd[w12] > 0], n), np.nan)
    out["late_payments_12m"] = late
    delinquent = dpd > 30
    crossed = group_max(codes[delinquent], due[delinquent] + 31.0, n)
    since = np.minimum((a - crossed) / _DAYS_PER_MONTH, NEVER_DELINQUENT_MONTHS)
    out["months_since_delinquency"] = np.where(has, np.nan_to_num(since, nan=NEVER_DELINQUENT_MONTHS), np.nan)
    out["usd_share_debt"] = ratio(
        group_sum(c12, np.where(usd[w12], amount_due[w12], 0.0), n), group_sum(c12, amount_due[w12], n)
    )
    out["has_payments"] = has.astype(np.float64)
    return out
