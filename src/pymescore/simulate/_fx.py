"""PEN per USD: a daily, mean-reverting series on Peruvian business days."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from pymescore.simulate._config import Calendar
from pymescore.simulate._random import stream

_MEAN = 3.7
_DAILY_VOL = 0.003
_REVERSION = 0.01  # per business day
_LOW, _HIGH = 3.2, 4.1
#: national holidays with a fixed date (month, day): no rate is published on them
_HOLIDAYS = ((1, 1), (5, 1), (6, 29), (7, 28), (7, 29), (8, 30), (10, 8), (11, 1), (12, 8), (12, 25))


@dataclass(frozen=True)
class ExchangeRates:
    """Published dates (datetime64[D], ascending) and their rates."""

    dates: npt.NDArray[np.datetime64]
    rates: npt.NDArray[np.float64]

    def on(self, days: npt.NDArray[np.datetime64]) -> npt.NDArray[np.float64]:
        """The last published rate on or before each day (the first rate for days before the series)."""
        pos = np.searchsorted(self.dates, days.astype("datetime64[D]"), side="right") - 1
        out: npt.NDArray[np.float64] = self.rates[np.clip(pos, 0, self.rates.size - 1)]
        return out

    def table(self) -> pd.DataFrame:
        """The ``exchange_rates`` raw table."""
        return pd.DataFrame(
            {"date": pd.Series(self.dates.astype("datetime64[us]")), "pen_per_usd": pd.Series(self.rates)}
        )


def simulate_rates(seed: int, calendar: Calendar) -> ExchangeRates:
    """Business days from one month before the window to its last day; log-rate Ornstein-Uhlenbeck."""
    first = calendar.month_start(np.array([-1]))[0]
    days: npt.NDArray[np.datetime64] = np.arange(first, calendar.last_day + 1, dtype="datetime64[D]")
    weekday = (days.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday: 0 = Monday
    month = days.astype("datetime64[M]").astype(np.int64) % 12 + 1
    dom = (days - days.astype("datetime64[M]").astype("datetime64[D]")).astype(np.int64) + 1
    holiday = np.zeros(days.size, dtype=bool)
    for m, d in _HOLIDAYS:
        holiday |= (month == m) & (dom == d)
    days = days[(weekday < 5) & ~holiday]
    rng = stream(seed, "fx")
    shocks = rng.normal(0.0, _DAILY_VOL, days.size)
    mu = np.log(_MEAN)
    x = np.empty(days.size)
    x[0] = mu + rng.normal(0.0, 0.02)
    for k in range(1, days.size):  # a recursion over days (~21 per month), not over rows
        x[k] = x[k - 1] + _REVERSION * (mu - x[k - 1]) + shocks[k]
    rates = np.round(np.clip(np.exp(x), _LOW, _HIGH), 3)
    return ExchangeRates(days, rates)
