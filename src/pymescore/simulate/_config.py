"""The simulator's parameters: one frozen, validated config object, and the calendar it implies."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from pymescore.errors import ConfigError

#: the earliest first simulated month (the FX and UIT tables start in the 1990s)
_EARLIEST_START = "1995-01"
_MAX_FIRMS = 1_000_000
_MIN_MONTHS = 20  # 6 months of history + a quarter-end + 12 months of performance always fit
_MAX_MONTHS = 240
_MONTH = re.compile(r"(\d{4})-(\d{2})")

#: The default definition the simulator uses (also written to simulation.json).
DEFAULT_DEFINITION = (
    "A firm defaults in the first month its SBS rating in bureau_ratings is 2 (Deficiente) or worse; "
    "ratings follow the retail days-past-due thresholds (0-8 Normal, 9-30 CPP, 31-60 Deficiente, "
    "61-120 Dudoso, >120 Perdida) and stay >= 2 after default. oracle.defaulted is true when the "
    "default month falls in the 12 months after the as_of month."
)
#: the same definition in Spanish (the model card's Spanish summary)
DEFAULT_DEFINITION_ES = (
    "Una empresa entra en default el primer mes en que su calificación SBS en bureau_ratings es 2 (Deficiente) "
    "o peor; las calificaciones siguen los umbrales minoristas de días de atraso (0-8 Normal, 9-30 CPP, "
    "31-60 Deficiente, 61-120 Dudoso, >120 Pérdida) y se mantienen en 2 o más tras el default. "
    "oracle.defaulted es verdadero cuando el mes del default cae en los 12 meses posteriores al mes as_of."
)


def _bad(name: str, expected: str, got: object) -> ConfigError:
    return ConfigError(
        f"The '{name}' parameter of SimulationConfig must be {expected}. Got {got!r} instead.",
        parameter=name,
    )


def _int_in(name: str, value: object, lo: int, hi: int) -> None:
    if not isinstance(value, int | np.integer) or isinstance(value, bool) or not lo <= value <= hi:
        raise _bad(name, f"an int in the range [{lo}, {hi}]", value)


def _float_in(name: str, value: object, lo: float, hi: float, *, open_low: bool = False) -> None:
    ok = isinstance(value, int | float | np.floating) and not isinstance(value, bool)
    if ok:
        v = float(value)  # type: ignore[arg-type]
        ok = np.isfinite(v) and (lo < v if open_low else lo <= v) and v <= hi
    if not ok:
        bracket = "(" if open_low else "["
        raise _bad(name, f"a float in the range {bracket}{lo:g}, {hi:g}]", value)


def parse_month(text: str, name: str = "end") -> np.datetime64:
    """``YYYY-MM`` as a numpy month; a ConfigError naming ``name`` when it is not one."""
    m = _MONTH.fullmatch(text.strip()) if isinstance(text, str) else None
    if m is None or not 1 <= int(m.group(2)) <= 12:
        raise _bad(name, "a month written YYYY-MM, e.g. '2025-12'", text)
    return np.datetime64(f"{m.group(1)}-{m.group(2)}", "M")


@dataclass(frozen=True)
class SimulationConfig:
    """Parameters of a simulated population; validated on construction (``ConfigError`` if invalid).

    ``end`` is the last simulated month (``YYYY-MM``); the window is the ``months`` months ending there.
    Rates are shares in [0, 1]: ``default_rate`` is the target share of oracle (ruc, as_of) pairs that
    default in the next 12 months; ``error_rate`` the share of rows of each raw table (except
    exchange_rates) that break the contract; ``outlier_rate`` the share of valid but extreme values;
    ``usd_share`` the share of firms with part of their cash flows or loans in USD; ``shock`` switches
    the El Niño-like episode on the northern coast. ``policy_history`` replays an earlier lending policy
    (``_policy``): each firm applies once, the old scorecard rejects ``rejection_rate`` of the applications,
    and the rejected firms' records after their decision are hidden from the raw tables (the oracle keeps
    every outcome and marks the rejected applications).

    >>> SimulationConfig(firms=100, months=24, seed=1).end
    '2025-12'
    """

    firms: int = 10_000
    months: int = 36
    seed: int = 0
    end: str = "2025-12"
    default_rate: float = 0.06
    error_rate: float = 0.01
    outlier_rate: float = 0.005
    usd_share: float = 0.06
    shock: bool = True
    policy_history: bool = False
    rejection_rate: float = 0.35

    def __post_init__(self) -> None:
        _int_in("firms", self.firms, 1, _MAX_FIRMS)
        _int_in("months", self.months, _MIN_MONTHS, _MAX_MONTHS)
        _int_in("seed", self.seed, 0, 2**63 - 1)
        end = parse_month(self.end)
        current = np.datetime64(dt.date.today().strftime("%Y-%m"), "M")
        if end >= current:
            raise _bad(
                "end",
                f"a completed month before {current} (the contracts reject dates in the future)",
                self.end,
            )
        start = end - (self.months - 1)
        if start < np.datetime64(_EARLIEST_START, "M"):
            raise _bad(
                "end",
                f"a month that puts the first of the {self.months} months in {_EARLIEST_START} or later",
                self.end,
            )
        _float_in("default_rate", self.default_rate, 0.001, 0.4)
        _float_in("error_rate", self.error_rate, 0.0, 0.2)
        _float_in("outlier_rate", self.outlier_rate, 0.0, 0.2)
        _float_in("usd_share", self.usd_share, 0.0, 1.0)
        if not isinstance(self.shock, bool):
            raise _bad("shock", "a bool", self.shock)
        if not isinstance(self.policy_history, bool):
            raise _bad("policy_history", "a bool", self.policy_history)
        _float_in("rejection_rate", self.rejection_rate, 0.0, 0.9)

    def to_dict(self) -> dict[str, object]:
        """The parameters as JSON-ready values (the policy's only when ``policy_history`` is on: a simulation
        without it is written exactly as before the option existed)."""
        out: dict[str, object] = {
            "firms": int(self.firms),
            "months": int(self.months),
            "seed": int(self.seed),
            "end": self.end,
            "default_rate": float(self.default_rate),
            "error_rate": float(self.error_rate),
            "outlier_rate": float(self.outlier_rate),
            "usd_share": float(self.usd_share),
            "shock": bool(self.shock),
        }
        if self.policy_history:
            out |= {"policy_history": True, "rejection_rate": float(self.rejection_rate)}
        return out


@dataclass(frozen=True)
class Calendar:
    """The simulated months. Month index 0 is the first simulated month; negative indices lie before."""

    start: np.datetime64  # datetime64[M]
    months: int

    @classmethod
    def from_config(cls, config: SimulationConfig) -> Calendar:
        return cls(parse_month(config.end) - (config.months - 1), config.months)

    def month_start(self, idx: npt.ArrayLike) -> npt.NDArray[np.datetime64]:
        """First day (datetime64[D]) of month index ``idx``."""
        return (self.start + np.asarray(idx, dtype=np.int64)).astype("datetime64[D]")

    def month_end(self, idx: npt.ArrayLike) -> npt.NDArray[np.datetime64]:
        """Last day (datetime64[D]) of month index ``idx``."""
        return (self.start + np.asarray(idx, dtype=np.int64) + 1).astype("datetime64[D]") - 1

    def month_of(self, days: npt.NDArray[np.datetime64]) -> npt.NDArray[np.int64]:
        """Month index of dates (datetime64[D])."""
        return (days.astype("datetime64[M]") - self.start).astype(np.int64)

    @property
    def calendar_month(self) -> npt.NDArray[np.int64]:
        """1..12 for each simulated month."""
        return (self.month_start(np.arange(self.months)).astype("datetime64[M]").astype(np.int64) % 12) + 1

    @property
    def year(self) -> npt.NDArray[np.int64]:
        """Calendar year of each simulated month."""
        return self.month_start(np.arange(self.months)).astype("datetime64[Y]").astype(np.int64) + 1970

    @property
    def last_day(self) -> np.datetime64:
        """The snapshot date: last day of the last simulated month."""
        out: np.datetime64 = self.month_end(np.array([self.months - 1]))[0]
        return out

    def as_of_months(self) -> npt.NDArray[np.int64]:
        """Quarter-end month indices with >= 6 months of history before and 12 months after."""
        idx = np.arange(5, self.months - 12, dtype=np.int64)
        out: npt.NDArray[np.int64] = idx[self.calendar_month[idx] % 3 == 0]
        return out
