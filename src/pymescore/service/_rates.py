"""The PEN/USD rates the service converts USD amounts with, in order: the lake's series (``--lake``), the bundle's
(the series its training data was converted with), then a rate the client sent for the month.

An official series covers the dates from its first publication to the later of its last publication plus
``STALE_DAYS`` and the end of that publication's month; a date there converts at the last rate published on or
before it (the ingestion rule, ``sources/_currency.py``), so a firm's amounts convert here as they did in the
lake. A month no series covers converts at the client's rate for it (``exchange_rates`` in the request), which
the response records and the audit store keeps with the decision; with none, the amount is refused, saying so.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from pymescore.contracts import TABLES
from pymescore.sources._currency import pen_rates

#: how long after its last publication an official series still gives a rate (weekends, holidays)
STALE_DAYS = 7
#: the plausible band of a PEN/USD rate: the exchange_rates contract's (catches a rate in cents, or inverted)
_RATE = TABLES["exchange_rates"].column("pen_per_usd")
RATE_MIN, RATE_MAX = float(_RATE.ge or 0.0), float(_RATE.le or np.inf)
#: a month as the client sends it (YYYY-MM; its first day as a date, or at midnight, as the histories accept)
_MONTH = re.compile(r"^([0-9]{4})-(0[1-9]|1[0-2])(-01(T00:00(:00(\.0{1,9})?)?)?)?$")
SOURCES = ("lake", "bundle", "client")


@dataclass(frozen=True)
class Series:
    """One official series: its name (lake, bundle), publication dates (datetime64[us], ascending), rates."""

    name: str
    dates: np.ndarray
    values: np.ndarray

    @classmethod
    def of(cls, name: str, frame: pd.DataFrame | None) -> Series | None:
        if frame is None or frame.empty:
            return None
        table = frame.dropna(subset=["date", "pen_per_usd"]).sort_values("date")
        dates = table["date"].astype("datetime64[us]").to_numpy()
        return cls(name, dates, table["pen_per_usd"].to_numpy(dtype=np.float64)) if len(dates) else None

    @property
    def until(self) -> np.datetime64:
        """The last date the series gives a rate for."""
        last = self.dates[-1].astype("datetime64[D]")
        month_end = (last.astype("datetime64[M]") + 1).astype("datetime64[D]") - 1
        return np.datetime64(max(last + STALE_DAYS, month_end), "us")

    def span(self) -> str:
        return f"{self.name} {str(self.dates[0])[:10]}..{str(self.dates[-1])[:10]}"

    def lookup(self, wanted: np.ndarray, when: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(PEN per USD, covered) of the ``wanted`` dates ``when``."""
        covered = wanted & (when >= self.dates[0]) & (when <= self.until)
        rate, _date, missing = pen_rates(covered, when, self.dates, self.values)
        return rate, covered & ~missing


class RateBook:
    """The official series in the order they are used."""

    def __init__(self, series: Sequence[Series | None]) -> None:
        self.series = [s for s in series if s is not None]

    def describe(self) -> str:
        """What the service knows, for an error message: ``lake 2019-01-02..2024-12-31; bundle …``."""
        return "; ".join(s.span() for s in self.series) or "no official rates"

    def official(self, usd: np.ndarray, when: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(PEN per unit, source) of each amount: 1 and -1 for PEN; for USD the first series that covers its date
        (its index in ``SOURCES``), -1 when none does (the rate is then 1: the caller must not use it)."""
        when = np.asarray(when, dtype="datetime64[us]")
        rate = np.ones(len(usd))
        source = np.full(len(usd), -1, dtype=np.int64)
        left = np.asarray(usd, dtype=bool).copy()
        for s in self.series:
            if not left.any():
                break
            found_rate, found = s.lookup(left, when)
            rate[found] = found_rate[found]
            source[found] = SOURCES.index(s.name)
            left &= ~found
        return rate, source


def month_key(when: np.datetime64) -> str:
    """YYYY-MM of a date."""
    return str(np.asarray(when, dtype="datetime64[M]"))


def client_rates(entries: Sequence[Any] | None) -> tuple[dict[str, float], list[tuple[str, str, object]]]:
    """A request's ``exchange_rates`` as {YYYY-MM: PEN per USD}, and its problems (path, expected, got): a month
    that is no month, a rate outside the plausible band, a month given twice."""
    rates: dict[str, float] = {}
    problems: list[tuple[str, str, object]] = []
    for i, entry in enumerate(entries or ()):
        month, value = str(entry.month), float(entry.pen_per_usd)
        match = _MONTH.match(month)
        if match is None:
            problems.append((f"exchange_rates[{i}].month", "a month YYYY-MM", month))
        if not RATE_MIN <= value <= RATE_MAX:
            problems.append((f"exchange_rates[{i}].pen_per_usd",
                             f"soles per US dollar between {RATE_MIN:g} and {RATE_MAX:g} (a rate in cents, or "
                             "inverted, is a typing error)", value))  # fmt: skip
        if match is None or not RATE_MIN <= value <= RATE_MAX:
            continue
        key = f"{match.group(1)}-{match.group(2)}"
        if key in rates:
            problems.append((f"exchange_rates[{i}].month", "one rate per month", f"{key} again"))
        rates[key] = value
    return rates, problems


def missing_rate(path: str, when: np.datetime64, book: RateBook) -> tuple[str, str, str]:
    """The problem of a USD amount no rate covers: (path, expected, got), saying how to fix it, in both languages."""
    month = month_key(when)
    expected = (f"a PEN/USD rate for {month}: send exchange_rates [{{\"month\": \"{month}\", \"pen_per_usd\": …}}] "
                f"or serve with --lake holding BCRP rates / un tipo de cambio PEN/USD para {month}: envíelo en "
                "exchange_rates o sirva con --lake")  # fmt: skip
    got = f"USD on {str(when)[:10]}, outside the rates known ({book.describe()}) / USD sin tipo de cambio"
    return path, expected, got


def used_client_rates(entries: Sequence[Any] | None, used: Mapping[str, float]) -> list[dict[str, Any]]:
    """The client's rates as sent, each marked ``used`` when it converted an amount of this application."""
    out = []
    for entry in entries or ():
        match = _MONTH.match(str(entry.month))
        key = f"{match.group(1)}-{match.group(2)}" if match else str(entry.month)
        out.append({"month": key, "pen_per_usd": float(entry.pen_per_usd), "used": key in used})
    return out
