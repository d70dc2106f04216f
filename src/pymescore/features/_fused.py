"""Per-entity kernels compiled with numba: the monthly panels, and the cash-flow, bureau, statement and payment
features in one loop per firm.

The numpy builders paid ~2 µs of call overhead for each of the ~600 array operations these two families took,
whatever the row count: ~0.5 ms for one application, most of the feature time on the request path. Here each
firm's features come out of one compiled loop over its own months or records (a few µs for one firm, and no
slower than the numpy version for a batch), with the same formulas and the same NaN rules as ``_arrays``:
``ratio`` is NaN where the denominator is not positive, either side is missing or the quotient overflows.

Compiled on first use and cached on disk (``cache=True``: next to this file, or under ``NUMBA_CACHE_DIR`` where
the package folder is read-only); imported lazily so that the CLI starts without numba.
"""

from __future__ import annotations

import numpy as np
from numba import njit

#: the cash-flow kernel's output columns, in order
CASHFLOW_COLUMNS = (
    *(f"{stem}_{what}" for stem in ("income", "expenses", "net_cf")
      for what in ("mean_3m", "mean_6m", "mean_12m", "median_12m")),
    "log_income_mean_12m", "net_cf_margin_12m", "income_cv_12m", "net_cf_negative_months_12m", "income_slope_12m",
    "net_cf_margin_24m", "net_cf_margin_median_24m", "income_growth_24m", "income_volatility_24m",
    "income_yoy_growth_3m", "seasonality_strength", "annual_sales_uit", "size_class", "usd_share_income_12m",
)  # fmt: skip
#: the payment kernel's output columns, in order
PAYMENT_COLUMNS = (
    "dpd_mean_3m", "dpd_max_3m", "dpd_mean_6m", "dpd_max_6m", "dpd_mean_12m", "dpd_max_12m",
    "pay_on_time_share_12m", "late_share_24m", "dpd_current", "payments_made_12m", "payment_completion_12m",
    "late_payments_12m", "months_since_delinquency", "usd_share_debt", "has_payments",
)  # fmt: skip
_N_CASHFLOW, _N_PAYMENT = len(CASHFLOW_COLUMNS), len(PAYMENT_COLUMNS)  # plain ints for the kernels


@njit(cache=True)
def _ratio(num: float, den: float) -> float:
    if np.isfinite(num) and np.isfinite(den) and den > 0:
        q = num / den
        if np.isfinite(q):
            return q
    return np.nan


@njit(cache=True)
def _count(x: np.ndarray) -> int:
    n = 0
    for v in x:
        if not np.isnan(v):
            n += 1
    return n


@njit(cache=True)
def _mean(x: np.ndarray) -> float:
    s, n = 0.0, 0
    for v in x:
        if not np.isnan(v):
            s += v
            n += 1
    return _ratio(s, float(n))


@njit(cache=True)
def _median(x: np.ndarray) -> float:
    n = _count(x)
    if n == 0:
        return np.nan
    ordered = np.sort(x)  # NaN sorts last
    return float(ordered[max((n - 1) // 2, 0)] + ordered[min(n // 2, len(x) - 1)]) / 2.0


@njit(cache=True)
def _std(x: np.ndarray) -> float:
    """Sample standard deviation of the non-NaN values (NaN under two values)."""
    mean, s = _mean(x), 0.0
    for v in x:
        if not np.isnan(v):
            s += (v - mean) * (v - mean)
    return float(np.sqrt(_ratio(s, float(_count(x) - 1))))


@njit(cache=True)
def _slope(x: np.ndarray) -> float:
    """OLS slope against the position (NaN under three values)."""
    n, st, sy = 0, 0.0, 0.0
    for i in range(len(x)):
        if not np.isnan(x[i]):
            n += 1
            st += i
            sy += x[i]
    if n < 3:
        return np.nan
    t_mean, y_mean = _ratio(st, float(n)), _ratio(sy, float(n))
    sxy, sxx = 0.0, 0.0
    for i in range(len(x)):
        if not np.isnan(x[i]):
            sxy += (i - t_mean) * (x[i] - y_mean)
            sxx += (i - t_mean) * (i - t_mean)
    return _ratio(sxy, sxx)


@njit(cache=True)
def _corr(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation over the positions where both are known (NaN under six pairs)."""
    n, sa, sb = 0, 0.0, 0.0
    for i in range(len(a)):
        if not (np.isnan(a[i]) or np.isnan(b[i])):
            n += 1
            sa += a[i]
            sb += b[i]
    am, bm = _ratio(sa, float(n)), _ratio(sb, float(n))
    sxy, sxx, syy = 0.0, 0.0, 0.0
    for i in range(len(a)):
        if not (np.isnan(a[i]) or np.isnan(b[i])):
            sxy += (a[i] - am) * (b[i] - bm)
            sxx += (a[i] - am) * (a[i] - am)
            syy += (b[i] - bm) * (b[i] - bm)
    denom = np.sqrt(sxx * syy)
    return sxy / denom if n >= 6 and denom > 1e-12 else np.nan


@njit(cache=True)
def _known_sums(num: np.ndarray, den: np.ndarray) -> tuple[float, float]:
    """Sums of ``num`` and ``den`` over the positions where ``num`` is known."""
    s_num, s_den = 0.0, 0.0
    for i in range(len(num)):
        if not np.isnan(num[i]):
            s_num += num[i]
            s_den += den[i]
    return s_num, s_den


@njit(cache=True)
def cashflow_block(
    income: np.ndarray, expenses: np.ndarray, usd_income: np.ndarray, uit: float, size_bounds: np.ndarray,
    margin_floor: float,
) -> np.ndarray:  # fmt: skip
    """The ``CASHFLOW_COLUMNS`` of each row of n × window monthly panels (window ≥ 24; last column = the
    month before as_of; NaN = no record that month)."""
    n, w = income.shape
    out = np.empty((n, _N_CASHFLOW))
    margin, log_income, growth = np.empty(24), np.empty(24), np.empty(23)
    for r in range(n):
        inc, exp, usd = income[r], expenses[r], usd_income[r]
        net = inc - exp
        k = 0
        for data in (inc, exp, net):
            for months in (3, 6, 12):
                out[r, k] = _mean(data[w - months :])
                k += 1
            out[r, k] = _median(data[w - 12 :])
            k += 1
        mean_income = out[r, 2]
        out[r, 12] = np.log1p(mean_income) if mean_income >= 0 else np.nan
        s_net, s_inc = _known_sums(net[w - 12 :], inc[w - 12 :])
        out[r, 13] = _ratio(s_net, s_inc)
        known_income = _count(inc[w - 12 :])
        out[r, 14] = _ratio(_std(inc[w - 12 :]), mean_income) if known_income >= 3 else np.nan
        negative = 0
        for v in net[w - 12 :]:
            if v < 0:
                negative += 1
        out[r, 15] = float(negative) if _count(net[w - 12 :]) > 0 else np.nan
        out[r, 16] = _ratio(_slope(inc[w - 12 :]), mean_income)
        s_net, s_inc = _known_sums(net[w - 24 :], inc[w - 24 :])
        out[r, 17] = _ratio(s_net, s_inc)
        for j in range(24):
            i_j, n_j = inc[w - 24 + j], net[w - 24 + j]
            margin[j] = n_j / i_j if i_j > 0 else np.nan
            if i_j == 0 and n_j < 0:  # expenses without any income: the worst month there is, not a gap
                margin[j] = margin_floor
            log_income[j] = np.log(i_j) if i_j > 0 else np.nan
        out[r, 18] = _median(margin)
        out[r, 19] = _slope(log_income)
        for j in range(23):
            growth[j] = log_income[j + 1] - log_income[j]
        out[r, 20] = _std(growth) if _count(log_income) >= 4 else np.nan
        out[r, 21] = _ratio(_mean(inc[w - 3 :]), _mean(inc[w - 15 : w - 12])) - 1.0
        out[r, 22] = _corr(inc[w - 12 :], inc[w - 24 : w - 12])
        sales = mean_income * 12.0 / uit
        out[r, 23] = sales
        out[r, 24] = np.nan if np.isnan(sales) else float(np.searchsorted(size_bounds, sales))
        s_usd, s_inc = 0.0, 0.0
        for j in range(w - 12, w):
            if not np.isnan(usd[j]):
                s_usd += usd[j]
            if not np.isnan(inc[j]):
                s_inc += inc[j]
        out[r, 25] = _ratio(s_usd, s_inc)
    return out


@njit(cache=True)
def payment_block(
    codes: np.ndarray, due: np.ndarray, paid: np.ndarray, amount_due: np.ndarray, amount_paid: np.ndarray,
    usd: np.ndarray, n: int, as_of: float, since: np.ndarray, never_delinquent: float, days_per_month: float,
) -> np.ndarray:  # fmt: skip
    """The ``PAYMENT_COLUMNS`` of ``n`` entities from instalment records (day numbers; NaN paid = unpaid).
    ``since``: the day numbers of as_of minus 3, 6, 12 and 24 months. Only instalments due before as_of count;
    a payment made on or after as_of leaves its instalment open."""
    # per entity: counts and sums by window (3, 6, 12, 24 months), then the whole history
    cnt = np.zeros((n, 4))
    dpd_sum = np.zeros((n, 3))
    dpd_max = np.full((n, 3), -np.inf)
    on_time, late24, made12, late12 = np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n)
    paid12, due12, usd12 = np.zeros(n), np.zeros(n), np.zeros(n)
    has = np.zeros(n)
    current, crossed = np.full(n, -np.inf), np.full(n, -np.inf)
    for i in range(len(codes)):
        c, d = codes[i], due[i]
        if not d < as_of:
            continue
        known = paid[i] < as_of
        dpd = max(paid[i] - d, 0.0) if known else as_of - d
        has[c] = 1.0
        for k in range(3):
            if d >= since[k]:
                cnt[c, k] += 1.0
                dpd_sum[c, k] += dpd
                dpd_max[c, k] = max(dpd_max[c, k], dpd)
        if d >= since[2]:
            on_time[c] += 1.0 if known and paid[i] <= d else 0.0
            paid12[c] += amount_paid[i] if known else 0.0
            due12[c] += amount_due[i]
            usd12[c] += amount_due[i] if usd[i] else 0.0
            late12[c] += 1.0 if dpd > 0 else 0.0
        if d >= since[3]:
            cnt[c, 3] += 1.0
            late24[c] += 1.0 if (not known) or paid[i] > d else 0.0
        if not known:
            current[c] = max(current[c], as_of - d)
        if known and paid[i] >= since[2]:
            made12[c] += 1.0
        if dpd > 30:
            crossed[c] = max(crossed[c], d + 31.0)
    out = np.empty((n, _N_PAYMENT))
    for c in range(n):
        for k in range(3):
            out[c, 2 * k] = _ratio(dpd_sum[c, k], cnt[c, k])
            out[c, 2 * k + 1] = dpd_max[c, k] if cnt[c, k] > 0 else np.nan
        out[c, 6] = _ratio(on_time[c], cnt[c, 2])
        out[c, 7] = _ratio(late24[c], cnt[c, 3])
        months = min((as_of - crossed[c]) / days_per_month, never_delinquent) if crossed[c] > -np.inf else np.nan
        if has[c] > 0:
            out[c, 8] = current[c] if current[c] > -np.inf else 0.0
            out[c, 9] = made12[c]
            out[c, 11] = late12[c]
            out[c, 12] = never_delinquent if np.isnan(months) else months
        else:
            out[c, 8] = out[c, 9] = out[c, 11] = out[c, 12] = np.nan
        out[c, 10] = _ratio(paid12[c], due12[c])
        out[c, 13] = _ratio(usd12[c], due12[c])
        out[c, 14] = has[c]
    return out


def compile_kernels() -> None:
    """Compile (or load from the disk cache) every kernel now: a service calls this at load time, so that no
    request pays the first compilation (seconds) or the cache load."""
    empty = np.empty((1, 24))
    latest, before = latest_two(np.zeros(1, dtype=np.int64), np.ones(1, dtype=np.bool_), np.zeros(1), 1)
    latest_two(np.zeros(1, dtype=np.int64), np.ones(1, dtype=np.bool_), np.zeros(1, dtype=np.int64), 1)  # _reads
    statement_block(latest, before, np.zeros(1, dtype=np.int64), np.zeros((1, 6)), 0)
    cashflow_block(empty, empty, empty, 1.0, np.array([1.0]), -10.0)
    none, days = np.zeros(0, dtype=np.int64), np.zeros(0)
    payment_block(none, days, days, days, days, np.zeros(0, dtype=np.bool_), 1, 0.0, np.zeros(4), 120.0, 30.4375)
    panels = monthly_panels(np.zeros(1, dtype=np.int64), np.zeros(1, dtype=np.int64), np.zeros((1, 3)), 1, 0, 24)
    bureau_block(panels[0], panels[1], panels[2])


#: the statement kernel's output columns, in order
STATEMENT_COLUMNS = (
    "roa", "roe", "gross_margin", "net_margin", "roa_x_gross_margin", "revenue_growth", "total_debt", "total_equity",
    "debt_to_equity", "negative_equity", "log_total_assets", "statement_age_months", "has_statements",
)  # fmt: skip
_N_STATEMENT = len(STATEMENT_COLUMNS)


@njit(cache=True)
def latest_two(codes: np.ndarray, usable: np.ndarray, period_day: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Each entity's latest usable statement row and the one before it (-1: none), by period end (on a tie, the
    later row): what the statement features read, and so what ``_reads`` says they read."""
    latest, before = np.full(n, -1), np.full(n, -1)
    for i in range(len(codes)):
        if not usable[i]:
            continue
        c = codes[i]
        if latest[c] < 0 or period_day[i] >= period_day[latest[c]]:
            before[c] = latest[c]
            latest[c] = i
        elif before[c] < 0 or period_day[i] >= period_day[before[c]]:
            before[c] = i
    return latest, before


@njit(cache=True)
def statement_block(
    latest: np.ndarray, before: np.ndarray, period_month: np.ndarray, values: np.ndarray, as_of_month: int
) -> np.ndarray:
    """The ``STATEMENT_COLUMNS`` of each entity from its latest statement and the one before (``latest_two``);
    ``values``: rows × (assets, liabilities, equity, revenue, cost of sales, net income) in PEN."""
    n = len(latest)
    out = np.full((n, _N_STATEMENT), np.nan)
    for c in range(n):
        i = latest[c]
        if i < 0:
            out[c, 12] = 0.0
            continue
        assets, liabilities, equity = values[i, 0], values[i, 1], values[i, 2]
        revenue, cost, income = values[i, 3], values[i, 4], values[i, 5]
        roa, gross = _ratio(income, assets), _ratio(revenue - cost, revenue)
        out[c, 0] = roa
        out[c, 1] = _ratio(income, equity)
        out[c, 2] = gross
        out[c, 3] = _ratio(income, revenue)
        both = roa * gross
        out[c, 4] = both if np.isfinite(both) else np.nan  # beyond float64: NaN, never inf
        out[c, 5] = _ratio(revenue, values[before[c], 3] if before[c] >= 0 else np.nan) - 1.0
        out[c, 6] = liabilities
        out[c, 7] = equity
        out[c, 8] = _ratio(liabilities, equity)
        out[c, 9] = np.nan if np.isnan(equity) else (1.0 if equity <= 0 else 0.0)
        out[c, 10] = np.log1p(assets) if assets >= 0 else np.nan
        out[c, 11] = float(as_of_month - period_month[i])
        out[c, 12] = 0.0 if np.isnan(assets) else 1.0
    return out


@njit(cache=True)
def monthly_panels(
    codes: np.ndarray, months: np.ndarray, values: np.ndarray, n: int, first: int, width: int
) -> np.ndarray:
    """Sums of each column of ``values`` (records × k) per (entity, month) as k panels of n × width, in record
    order (as ``np.bincount`` adds them); NaN where an entity has no record that month. Records of entity -1 or
    outside the window are skipped."""
    k = values.shape[1]
    out = np.zeros((k, n, width))
    seen = np.zeros((n, width), dtype=np.bool_)
    for i in range(len(codes)):
        c, m = codes[i], months[i] - first
        if c < 0 or m < 0 or m >= width:
            continue
        seen[c, m] = True
        for j in range(k):
            out[j, c, m] += values[i, j]
    for c in range(n):
        for m in range(width):
            if not seen[c, m]:
                for j in range(k):
                    out[j, c, m] = np.nan
    return out


@njit(cache=True)
def _last_valid(x: np.ndarray) -> float:
    for i in range(len(x) - 1, -1, -1):
        if not np.isnan(x[i]):
            return float(x[i])
    return np.nan


@njit(cache=True)
def _max(x: np.ndarray) -> float:
    """Maximum of the non-NaN values (NaN if none)."""
    out, found = -np.inf, False
    for v in x:
        if not np.isnan(v):
            out = max(out, v)
            found = True
    return out if found else np.nan


#: the bureau kernel's output columns, in order
BUREAU_COLUMNS = ("sbs_rating_current", "sbs_rating_worst_12m", "debt_system_pen", "debt_system_growth_12m",
                  "n_lenders", "has_bureau", "delinquent_12m")  # fmt: skip


@njit(cache=True)
def bureau_block(rating: np.ndarray, debt: np.ndarray, lenders: np.ndarray) -> np.ndarray:
    """The ``BUREAU_COLUMNS`` of each row of n × window monthly panels (window ≥ 13; last column = the month
    before as_of): the latest rating, debt and lenders, the worst rating and whether any in the last 12 months,
    debt growth over 12 months; ``delinquent_12m`` (the context's input) is 1 when the worst is Deficiente (2) or
    worse."""
    n, w = rating.shape
    out = np.empty((n, 7))
    for r in range(n):
        worst = _max(rating[r, w - 12 :])
        out[r, 0] = _last_valid(rating[r])
        out[r, 1] = worst
        out[r, 2] = _last_valid(debt[r])
        out[r, 3] = _ratio(debt[r, w - 1], debt[r, w - 13]) - 1.0
        out[r, 4] = _last_valid(lenders[r])
        out[r, 5] = 1.0 if _count(rating[r, w - 12 :]) > 0 else 0.0
        out[r, 6] = np.nan if np.isnan(worst) else (1.0 if worst >= 2 else 0.0)
    return out
