"""The firms: identity (RUC, name, CIIU, UBIGEO, SUNAT register), size, start and latent quality."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import numpy.typing as npt
import pandas as pd

from pymescore.contracts._reference import ciiu_classes, ubigeo_districts
from pymescore.simulate import _catalog as cat
from pymescore.simulate._columns import text
from pymescore.simulate._config import Calendar, SimulationConfig
from pymescore.simulate._random import sigmoid, stream, weighted_choice

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
Bool = npt.NDArray[np.bool_]

_RUC_WEIGHTS = np.array([5, 4, 3, 2, 7, 6, 5, 4, 3, 2], dtype=np.int64)
_SECTIONS = tuple(cat.SECTORS)
#: firms started before the window: age at the window's start in months, 2 + exponential(mean)
_MEAN_AGE_MONTHS = 84.0
_EARLIEST_START = np.datetime64("1992-01", "M")
_YOUNG_SHARE = 0.15
#: how many company (RUC 20…) and person (RUC 10…) numbers the simulator draws from
_COMPANY_NUMBERS, _PERSON_NUMBERS = 51_000_000, 79_000_000


@dataclass(frozen=True)
class Population:
    """One entry per firm (arrays of length ``n``); the latent quality ``z`` is N(0, 1), higher is better."""

    n: int
    ruc: npt.NDArray[np.str_]
    is_company: Bool
    name: pd.Series
    ciiu: npt.NDArray[np.str_]
    section: I64  # index into _SECTIONS
    ubigeo: npt.NDArray[np.str_]
    department: npt.NDArray[np.str_]
    poverty: F64  # share of the district's population in poverty
    size: I64  # index into cat.SIZES
    base_income: F64  # monthly income (PEN) at the window's start, before seasonality
    start_month: I64  # month index of the start of activities (negative: before the window)
    start_date: npt.NDArray[np.datetime64]
    taxpayer_state: npt.NDArray[np.str_]
    domicile_condition: npt.NDArray[np.str_]
    z: F64
    delta: F64  # yearly drift of latent quality
    static_logit: F64  # sector + region + register + size effects on the hazard
    growth: F64  # yearly log growth of income
    volatility: F64  # monthly log-income noise
    expense_ratio: F64
    usd_cashflow_share: F64  # share of cash flows in USD (0 for most firms)
    usd_loans: Bool

    @property
    def sections(self) -> npt.NDArray[np.str_]:
        return np.asarray(_SECTIONS)[self.section]

    def sector_table(self, field: str) -> F64:
        """Per-firm value of a numeric ``Sector`` field."""
        values = np.array([getattr(cat.SECTORS[s], field) for s in _SECTIONS], dtype=np.float64)
        return values[self.section]


def ruc_check_digits(body: I64) -> I64:
    """Check digit of 10-digit RUC bodies (PERU_DOMAIN 3.1), vectorised."""
    digits = (body[:, None] // 10 ** np.arange(9, -1, -1, dtype=np.int64)) % 10
    r = 11 - (digits @ _RUC_WEIGHTS) % 11
    return r % 10


def ruc_numbers(rng: np.random.Generator, n: int) -> tuple[I64, I64]:
    """``n`` distinct company and ``n`` distinct person RUC numbers (before the type prefix and check digit): a
    population's whole pool, its chunks taking disjoint slices of it (``simulate_chunked``)."""
    return (rng.choice(_COMPANY_NUMBERS, size=n, replace=False).astype(np.int64),
            rng.choice(_PERSON_NUMBERS, size=n, replace=False).astype(np.int64))  # fmt: skip


def _rucs(rng: np.random.Generator, is_company: Bool, pool: tuple[I64, I64] | None = None) -> npt.NDArray[np.str_]:
    n_comp = int(is_company.sum())
    if pool is None:
        comp = rng.choice(_COMPANY_NUMBERS, size=n_comp, replace=False).astype(np.int64)
        pers = rng.choice(_PERSON_NUMBERS, size=is_company.size - n_comp, replace=False).astype(np.int64)
    else:  # a chunk: the first numbers of its slice of the population's pool
        comp, pers = pool[0][:n_comp], pool[1][: is_company.size - n_comp]
    comp, pers = comp + 10_000_000, pers + 1_000_000
    body = np.empty(is_company.size, dtype=np.int64)
    body[is_company] = 20 * 10**8 + comp
    body[~is_company] = 10 * 10**8 + pers
    return (body * 10 + ruc_check_digits(body)).astype("U11")


def _pick(rng: np.random.Generator, options: tuple[str, ...], size: int) -> pd.Series:
    return pd.Series(np.asarray(options, dtype=object)[rng.integers(0, len(options), size)], dtype="str")


def _names(rng: np.random.Generator, is_company: Bool, section: I64) -> pd.Series:
    n = is_company.size
    # companies: "<prefix> <surname or place> <suffix>", the prefix often from the sector
    prefix = _pick(rng, cat.GENERIC_PREFIXES, n)
    for k, s in enumerate(_SECTIONS):
        own = (section == k) & (rng.random(n) < 0.7)
        if own.any():
            prefix[own] = _pick(rng, cat.SECTORS[s].name_prefixes, int(own.sum())).to_numpy()
    middle = _pick(rng, cat.SURNAMES, n).where(rng.random(n) < 0.7, _pick(rng, cat.PLACE_WORDS, n))
    suffix = pd.Series(
        np.asarray(cat.COMPANY_SUFFIXES, dtype=object)[weighted_choice(rng, cat.COMPANY_SUFFIX_WEIGHTS, n)],
        dtype="str",
    )
    company = prefix + " " + middle + " " + suffix
    # persons (RUC 10): "<surname> <surname> <given names>", as the RUC register writes them
    person = _pick(rng, cat.SURNAMES, n) + " " + _pick(rng, cat.SURNAMES, n) + " " + _pick(rng, cat.GIVEN_NAMES, n)
    return company.where(pd.Series(is_company), person)


def _districts(rng: np.random.Generator, n: int) -> tuple[npt.NDArray[np.str_], F64]:
    table = ubigeo_districts()
    codes = table["inei"].to_numpy(dtype=str)
    dept = table["inei"].str[:2]
    by_dept = table["pct_pobreza_total"].fillna(table.groupby(dept)["pct_pobreza_total"].transform("mean"))
    poverty = by_dept.fillna(by_dept.mean()).to_numpy(dtype=np.float64) / 100.0
    capital = (table["inei"].str[2:4] == "01").to_numpy()
    within = np.where(capital, 10.0, 1.0)
    dept_total = pd.Series(within).groupby(dept.to_numpy()).transform("sum").to_numpy()
    weight = dept.map(cat.DEPARTMENT_WEIGHTS).fillna(0.0).to_numpy(dtype=np.float64) * within / dept_total
    idx = weighted_choice(rng, weight, n)
    return codes[idx], poverty[idx]


def _ciiu(rng: np.random.Generator, n: int) -> tuple[npt.NDArray[np.str_], I64]:
    classes = {c: s for c, s in ciiu_classes().items() if s in cat.SECTORS}
    codes = np.asarray(sorted(classes))
    sections = np.asarray([classes[c] for c in codes])
    within = np.where(np.char.startswith(codes, "47"), 3.0, np.where(np.char.startswith(codes, "46"), 2.0, 1.0))
    sec_total = pd.Series(within).groupby(sections).transform("sum").to_numpy()
    sec_weight = np.array([cat.SECTORS[s].weight for s in sections])
    idx = weighted_choice(rng, sec_weight * within / sec_total, n)
    section_index = {s: k for k, s in enumerate(_SECTIONS)}
    return codes[idx], np.array([section_index[s] for s in sections], dtype=np.int64)[idx]


def _sizes(rng: np.random.Generator, z: F64, level: F64) -> I64:
    logits = np.stack(
        [s.logit + s.quality_slope * z + (0.4 * np.log(level) if k else 0.0) for k, s in enumerate(cat.SIZES)],
        axis=1,
    )
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    cdf = np.cumsum(p / p.sum(axis=1, keepdims=True), axis=1)
    out: I64 = (rng.random(z.size)[:, None] > cdf[:, :-1]).sum(axis=1).astype(np.int64)
    return out


def _register(
    rng: np.random.Generator, z: F64, base: float, others: tuple[str, ...], usual: str
) -> npt.NDArray[np.str_]:
    other = rng.random(z.size) < sigmoid(base - 0.6 * z)
    values = np.full(z.size, usual, dtype=f"U{max(map(len, (*others, usual)))}")
    values[other] = np.asarray(others)[rng.integers(0, len(others), int(other.sum()))]
    return values


def build_population(
    config: SimulationConfig, calendar: Calendar, ruc_pool: tuple[I64, I64] | None = None
) -> Population:
    """Draw the firms of a simulation; ``ruc_pool`` (a chunk of a larger population): the RUC numbers to take
    (see :func:`ruc_numbers`), instead of drawing them."""
    n = config.firms
    rng = stream(config.seed, "population")
    z = rng.standard_normal(n)
    delta = rng.normal(0.0, 0.35, n)
    is_company = rng.random(n) < 0.6
    ruc = _rucs(stream(config.seed, "ruc"), is_company, ruc_pool)
    ciiu, section = _ciiu(rng, n)
    ubigeo, poverty = _districts(rng, n)
    department = ubigeo.astype("U2")
    level = np.array([cat.SECTORS[s].level for s in _SECTIONS])[section]
    size = _sizes(rng, z, level)
    # annual sales within the size band, higher for better firms, richer places and bigger sectors
    lima = np.isin(department, ("15", "07"))
    pos = 0.6 * z + 0.8 * np.log(level) + 0.3 * lima - 1.0 * (poverty - 0.3) + 1.2 * rng.standard_normal(n)
    u = sigmoid(1.2 * pos)
    low = np.array([s.low_uit for s in cat.SIZES])[size]
    high = np.array([s.high_uit for s in cat.SIZES])[size]
    sales_uit = low * (high / low) ** u
    first_year = int(calendar.year[0])
    base_income = sales_uit * cat.uit(first_year) / 12.0
    # start of activities: most firms before the window, some during it (young firms)
    young = rng.random(n) < _YOUNG_SHARE
    age = 2 + np.floor(rng.exponential(_MEAN_AGE_MONTHS, n)).astype(np.int64)
    oldest = int((_EARLIEST_START - calendar.start).astype(np.int64))
    start_month = np.where(young, rng.integers(1, calendar.months, n), np.maximum(-age, oldest))
    start_date = calendar.month_start(start_month) + rng.integers(0, 28, n).astype("timedelta64[D]")
    taxpayer_state = _register(rng, z, -3.6, cat.OTHER_TAXPAYER_STATES, "ACTIVO")
    domicile = _register(rng, z, -2.6, cat.OTHER_DOMICILE_CONDITIONS, "HABIDO")
    region_logit = 0.8 * (poverty - 0.25) - 0.1 * lima
    static_logit = (
        np.array([cat.SECTORS[s].hazard for s in _SECTIONS])[section]
        + region_logit
        + cat.TAXPAYER_STATE_HAZARD * (taxpayer_state != "ACTIVO")
        + cat.DOMICILE_HAZARD * (domicile != "HABIDO")
        + np.array([s.hazard for s in cat.SIZES])[size]
    )
    growth = 0.03 + 0.04 * z + 0.25 * delta + rng.normal(0.0, 0.05, n)
    volatility = np.clip(np.exp(np.log(0.13) - 0.25 * z + rng.normal(0.0, 0.2, n)), 0.04, 0.6)
    expense_ratio = np.clip(0.87 - 0.035 * z + rng.normal(0.0, 0.02, n), 0.6, 1.1)
    # dollarisation: more common for bigger firms (BCRP: ~6% of SME credit in USD)
    size_usd = np.array([0.7, 1.6, 4.0])[size]
    usd = rng.random(n) < np.clip(config.usd_share * size_usd / size_usd.mean(), 0.0, 1.0)
    usd_cf = usd & (rng.random(n) < 0.7)
    usd_cashflow_share = np.where(usd_cf, rng.uniform(0.2, 0.8, n), 0.0)
    usd_loans = usd & (~usd_cf | (rng.random(n) < 0.5))
    pop = Population(
        n=n, ruc=ruc, is_company=is_company, name=_names(stream(config.seed, "names"), is_company, section),
        ciiu=ciiu, section=section, ubigeo=ubigeo, department=department, poverty=poverty, size=size,
        base_income=base_income, start_month=start_month, start_date=start_date,
        taxpayer_state=taxpayer_state, domicile_condition=domicile, z=z, delta=delta,
        static_logit=static_logit, growth=growth, volatility=volatility, expense_ratio=expense_ratio,
        usd_cashflow_share=usd_cashflow_share, usd_loans=usd_loans,
    )  # fmt: skip
    return _sorted_by_ruc(pop)


def _sorted_by_ruc(pop: Population) -> Population:
    order = np.argsort(pop.ruc, kind="stable")
    values: dict[str, object] = {}
    for f in fields(pop):
        v = getattr(pop, f.name)
        if isinstance(v, pd.Series):
            values[f.name] = v.iloc[order].reset_index(drop=True)
        elif isinstance(v, np.ndarray):
            values[f.name] = v[order]
        else:
            values[f.name] = v
    return Population(**values)  # type: ignore[arg-type]


def firms_table(pop: Population) -> pd.DataFrame:
    """The ``firms`` raw table (contract columns, sorted by RUC)."""
    return pd.DataFrame(
        {
            "ruc": text(pop.ruc),
            "name": pop.name.reset_index(drop=True),
            "ciiu": text(pop.ciiu),
            "ubigeo": text(pop.ubigeo),
            "start_date": pd.Series(pop.start_date.astype("datetime64[us]")),
            "taxpayer_state": text(pop.taxpayer_state),
            "domicile_condition": text(pop.domicile_condition),
        }
    )
