"""The contract rules, compiled once per table into kernels over typed arrays (``dict[str, ndarray]``).

One rule is written once, here, and runs on a scoring request's handful of records and on a million lake
rows through the same code: numbers are float64 arrays (NaN missing), dates ``datetime64[us]`` (NaT
missing), text and codes object arrays (None missing). A failure is a structured record
(:class:`Failure`: table, row, column, code, expected, got) that the lake's quarantine, the CLI and the
API's problem+json each render in their own way; nothing is flattened to a string and parsed back.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt
from stdnum.pe import ruc as stdnum_ruc

from pymescore.contracts._reference import DEPARTMENTS, DOMICILE_CONDITIONS, TAXPAYER_STATES, ciiu_classes
from pymescore.contracts._spec import Column, TableContract

Arrays = Mapping[str, np.ndarray]
Mask = npt.NDArray[np.bool_]

EARLIEST = np.datetime64("1950-01-01", "us")
#: past this the builders' nanosecond dates would wrap around (a typo for 2030 is not a date in the 1700s)
LATEST = np.datetime64("2262-01-01", "us")
_NAT = np.datetime64("NaT").view(np.int64)
#: ``got`` of a failure that concerns the row as a whole (a rule across columns): no single value to show
NO_VALUE: Any = type("NoValue", (), {"__repr__": lambda self: "<no value>"})()
#: ``got`` of a required value that is absent
EMPTY: Any = type("Empty", (), {"__repr__": lambda self: "an empty cell"})()


class Failure(NamedTuple):
    """One broken rule: where (table, row, column), which rule (code, what was expected) and what came."""

    table: str
    row: int
    column: str
    code: str
    expected: str
    got: Any = NO_VALUE

    @property
    def message(self) -> str:
        """``column: expected …, got …`` (the quarantine's and the CLI's reading)."""
        text = f"{self.column}: expected {self.expected}"
        return text if self.got is NO_VALUE else f"{text}, got {self.got!r}"


@functools.lru_cache(maxsize=65536)
def ruc_ok(value: str) -> bool:
    return bool(stdnum_ruc.is_valid(value))


def member(values: np.ndarray, allowed: Any) -> Mask:
    """Set membership of each value of an object array (a hash lookup per value, at any size)."""
    return np.fromiter(map(allowed.__contains__, values), dtype=bool, count=len(values))


def present(values: np.ndarray) -> Mask:
    """Where a typed column holds a value."""
    if values.dtype.kind == "f":
        return np.asarray(~np.isnan(values), dtype=bool)
    if values.dtype.kind == "M":
        return np.asarray(~np.isnat(values), dtype=bool)
    out: Mask = values != None  # noqa: E711 (elementwise: None is the only missing text)
    return out


@dataclass(frozen=True)
class Rule:
    """A test on the present values of one column (True = passes), with its code and expectation."""

    column: str
    code: str
    expected: str
    test: Callable[[np.ndarray], Mask]


@dataclass(frozen=True)
class RowRule:
    """A test across columns of whole rows (True = passes), reported on ``column``."""

    column: str
    code: str
    expected: str
    test: Callable[[Arrays], Mask]


def _at_least(x: np.ndarray, bound: float) -> Mask:
    return np.asarray(x >= bound, dtype=bool)


def _at_most(x: np.ndarray, bound: float) -> Mask:
    return np.asarray(x <= bound, dtype=bool)


def column_rules(col: Column, today: np.datetime64) -> list[Rule]:
    rules: list[Rule] = []
    name = col.name
    if col.ge is not None:
        code = "AMOUNT_NEGATIVE" if col.ge == 0 else "OUT_OF_RANGE"
        rules.append(Rule(name, code, f">= {col.ge:g}", functools.partial(_at_least, bound=col.ge)))
    if col.le is not None:
        rules.append(Rule(name, "OUT_OF_RANGE", f"<= {col.le:g}", functools.partial(_at_most, bound=col.le)))
    if col.isin is not None:
        allowed = frozenset(col.isin)
        rules.append(Rule(name, "VALUE_UNKNOWN", f"one of {', '.join(col.isin)}", lambda x: member(x, allowed)))
    if name == "ruc":
        rules.append(
            Rule(
                name, "RUC_INVALID", "a valid RUC (stdnum.pe.ruc)", lambda x: np.fromiter(map(ruc_ok, x), bool, len(x))
            )
        )
    if name == "ciiu":
        classes = ciiu_classes()
        rules.append(Rule(name, "CIIU_UNKNOWN", "a CIIU Rev.4 class", lambda x: member(x, classes)))
    if name == "ubigeo":
        rules.append(
            Rule(
                name,
                "UBIGEO_INVALID",
                "an INEI code whose department is 01-25",
                lambda x: np.fromiter((v[:2] in DEPARTMENTS for v in x), bool, len(x)),
            )
        )
    if name == "taxpayer_state":
        rules.append(Rule(name, "VALUE_UNKNOWN", "a SUNAT state", lambda x: member(x, TAXPAYER_STATES)))
    if name == "domicile_condition":
        rules.append(
            Rule(name, "VALUE_UNKNOWN", "a SUNAT domicile condition", lambda x: member(x, DOMICILE_CONDITIONS))
        )
    if col.kind in ("date", "month"):
        rules.append(Rule(name, "DATE_RANGE", "1950 or later", lambda x: x >= EARLIEST))
        rules.append(Rule(name, "DATE_RANGE", "a date before 2262", lambda x: x < LATEST))
    if name in ("start_date", "paid_date"):
        rules.append(Rule(name, "DATE_FUTURE", "a date not in the future", lambda x: x <= today))
    return rules


def row_rules(contract: TableContract, equity_tolerance: float) -> list[RowRule]:
    if contract.name == "financial_statements":

        def balanced(d: Arrays) -> Mask:
            assets, liabilities, equity = d["total_assets"], d["total_liabilities"], d["equity"]
            scale = np.maximum(np.fmax(np.abs(assets), np.abs(liabilities)), 1.0)
            gap = np.abs(equity - (assets - liabilities))
            with np.errstate(invalid="ignore"):
                return np.asarray((gap <= equity_tolerance * np.where(np.isnan(scale), 1.0, scale)) | np.isnan(gap))

        return [
            RowRule("equity", "EQUITY_MISMATCH", f"total_assets - total_liabilities within {equity_tolerance:.1%}",
                    balanced)
        ]  # fmt: skip
    if contract.name == "payments":
        return [
            RowRule("paid_date", "PAID_BEFORE_START", "on or after disbursement_date",
                    lambda d: ~(d["paid_date"] < d["disbursement_date"])),
            RowRule("due_date", "DUE_BEFORE_START", "after disbursement_date",
                    lambda d: ~(d["due_date"] <= d["disbursement_date"])),
            RowRule("paid_date", "PAID_WITHOUT_DATE", "a date when amount_paid > 0",
                    lambda d: ~((d["amount_paid"] > 0) & np.isnat(d["paid_date"]))),
        ]  # fmt: skip
    return []


@dataclass(frozen=True)
class CompiledContract:
    """A table's rules, ready to run on typed columns."""

    contract: TableContract
    rules: tuple[Rule, ...]
    row_rules: tuple[RowRule, ...]
    today: np.datetime64  # the day "not in the future" is read against (the rules were compiled on it)

    @functools.cached_property
    def _bounds(self) -> dict[str, tuple[str, Any, Any, bool]]:
        """Per number or date column: the dtype kind it is stacked by ("f" or "M"), the closed interval its
        rules allow (numbers: ge..le; dates: 1950 to before 2262, or to today for a date not in the future,
        as int64 microseconds) and whether a value is required."""
        out: dict[str, tuple[str, Any, Any, bool]] = {}
        for col in self.contract.columns:
            if col.kind in ("float", "int") and col.isin is None:
                lo, hi = -np.inf if col.ge is None else col.ge, np.inf if col.le is None else col.le
                out[col.name] = ("f", lo, hi, not col.nullable)
            elif col.kind in ("date", "month"):
                last = int(LATEST.view(np.int64)) - 1
                if any(r.code == "DATE_FUTURE" for r in self.by_column.get(col.name, ())):
                    last = min(last, int(self.today.astype("datetime64[us]").view(np.int64)))
                out[col.name] = ("M", int(EARLIEST.view(np.int64)), last, not col.nullable)
        return out

    def _clean(self, columns: Arrays, checked: Any) -> frozenset[str]:
        """The number and date columns whose every value is present where required and within its rules'
        interval, when all of them are (else none): one test over the stacked columns of each kind, so that a
        clean table's numbers and dates cost a few operations, not a few per column."""
        names = [c for c in self._stackable(checked) if c in columns]
        numbers = [c for c in names if self._bounds[c][0] == "f" and columns[c].dtype.kind == "f"]
        dates = [c for c in names if self._bounds[c][0] == "M" and columns[c].dtype.kind == "M"]
        if numbers:
            lo, hi, required = self._intervals(tuple(numbers))
            block = np.vstack([columns[c] for c in numbers])
            absent = np.isnan(block)
            if ((block < lo) | (block > hi) | (absent & required)).any():  # NaN compares False
                return frozenset()
        if dates:
            lo, hi, required = self._intervals(tuple(dates))
            block = np.vstack([columns[c] for c in dates]).astype("datetime64[us]").view(np.int64)
            absent = block == _NAT
            if ((~absent & ((block < lo) | (block > hi))) | (absent & required)).any():
                return frozenset()
        return frozenset(numbers + dates)

    def _stackable(self, checked: Any) -> tuple[str, ...]:
        """The number and date columns among ``checked`` (None: all), remembered per set of columns."""
        memo = self._stackable_memo
        if checked not in memo:
            memo[checked] = tuple(c for c in self._bounds if checked is None or c in checked)
        return memo[checked]

    def _intervals(self, names: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Lower and upper bounds and the required flags of these columns, as columns to compare a block with
        (remembered per tuple of columns)."""
        memo = self._intervals_memo
        if names not in memo:
            dtype = np.float64 if self._bounds[names[0]][0] == "f" else np.int64
            memo[names] = (np.array([[self._bounds[c][1]] for c in names], dtype=dtype),
                           np.array([[self._bounds[c][2]] for c in names], dtype=dtype),
                           np.array([[self._bounds[c][3]] for c in names], dtype=bool))  # fmt: skip
        return memo[names]

    @functools.cached_property
    def _stackable_memo(self) -> dict[frozenset[str] | None, tuple[str, ...]]:
        """The stackable columns of each set of checked columns seen (a handful per contract)."""
        return {}

    @functools.cached_property
    def _intervals_memo(self) -> dict[tuple[str, ...], tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """The bounds of each tuple of stacked columns seen (a handful per contract)."""
        return {}

    @functools.cached_property
    def by_column(self) -> dict[str, tuple[Rule, ...]]:
        out: dict[str, list[Rule]] = {}
        for rule in self.rules:
            out.setdefault(rule.column, []).append(rule)
        return {k: tuple(v) for k, v in out.items()}

    def check(self, columns: Arrays, rows: np.ndarray | None = None, checked: Any = None) -> list[Failure]:
        """Every broken rule of every row (in column order, then the rules across columns).

        ``columns`` holds the contract's columns typed (see the module doc); ``rows`` the source row
        number of each position (default: the position); ``checked`` limits the column rules to the
        columns it names (a partial source such as the SUNAT register); the non-nullable columns among
        them must hold a value.
        """
        table = self.contract.name
        n = len(next(iter(columns.values()))) if columns else 0
        out: list[Failure] = []
        if n == 0:  # no row breaks a rule
            return out
        labels = np.arange(n) if rows is None else rows
        # every number and date within its rules (the usual case): those columns have no failure to list
        skip = self._clean(columns, checked)
        for col in self.contract.columns:
            if (checked is not None and col.name not in checked) or col.name in skip:
                continue
            values = columns[col.name]
            here = present(values)
            everywhere = bool(here.all())
            if not col.nullable and not everywhere:
                for gap in np.flatnonzero(~here).tolist():
                    out.append(Failure(table, int(labels[gap]), col.name, "VALUE_MISSING", "a value", EMPTY))
            rules = self.by_column.get(col.name, ())
            if not rules or not (everywhere or here.any()):
                continue
            numeric = values.dtype.kind in "fM"  # a missing number or date fails no comparison: test them all
            where = None if everywhere or numeric else np.flatnonzero(here)
            given = values if where is None else values[where]
            for rule in rules:
                ok = np.asarray(rule.test(given), dtype=bool)
                if numeric and not everywhere:
                    ok |= ~here
                if ok.all():
                    continue
                for k in np.flatnonzero(~ok).tolist():
                    at = k if where is None else int(where[k])
                    out.append(Failure(table, int(labels[at]), col.name, rule.code, rule.expected, plain(values[at])))
        for row_rule in self.row_rules:
            ok = np.asarray(row_rule.test(columns), dtype=bool)
            if not ok.all():
                for r in np.flatnonzero(~ok):
                    out.append(Failure(table, int(labels[r]), row_rule.column, row_rule.code, row_rule.expected))
        return out


def after_parsing(parsed: list[Failure], checked: list[Failure]) -> list[Failure]:
    """The parser's failures then the rules', without a 'missing' for a cell whose value was sent but did not
    parse (it was there: the parse failure says what was wrong with it)."""
    unparsed = {(f.row, f.column) for f in parsed}
    return [*parsed, *(f for f in checked if f.code != "VALUE_MISSING" or (f.row, f.column) not in unparsed)]


def plain(value: Any) -> Any:
    """A failing value as Python reads it (a number as float, a date as a ``datetime.date``)."""
    if isinstance(value, np.datetime64):
        return value.astype("datetime64[us]").item()
    return value.item() if isinstance(value, np.generic) else value


def compile_contract(contract: TableContract, equity_tolerance: float = 0.01) -> CompiledContract:
    """The table's compiled rules, cached per contract object, tolerance and day ('not in the future' moves
    daily). Keyed by the contract's identity: a request checks five tables, and hashing a whole contract each
    time cost more than checking a clean table."""
    today = dt.date.today()
    key = (id(contract), equity_tolerance, today)
    hit = _COMPILED.get(key)
    if hit is None or hit[0] is not contract:  # an id is reused only after its object is gone
        if len(_COMPILED) > 256:  # yesterday's entries, contracts built on the fly
            _COMPILED.clear()
        day = np.datetime64(today, "us")
        rules = tuple(r for col in contract.columns for r in column_rules(col, day))
        compiled = CompiledContract(contract, rules, tuple(row_rules(contract, equity_tolerance)), day)
        hit = _COMPILED[key] = (contract, compiled)
    return hit[1]


_COMPILED: dict[tuple[int, float, dt.date], tuple[TableContract, CompiledContract]] = {}
