"""The contract face of a scoring request: each history of a batch of applications as typed arrays, read by
the contract's own rules (text cells by ``text_cell`` / ``code_ok``, months by ``coerce_column``) and checked
by its compiled kernels; problems become the API's path / expected / got, amounts are converted to PEN."""

from __future__ import annotations

import datetime as dt
import json
import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from itertools import chain
from typing import Any

import numpy as np
import pandas as pd

from pymescore.contracts import TABLES
from pymescore.contracts._coerce import code_ok, code_shape, coerce_column, text_cell
from pymescore.contracts._kernels import Failure, after_parsing, compile_contract
from pymescore.contracts._reference import DOMICILE_CONDITIONS, TAXPAYER_STATES, canonical_or_given
from pymescore.features._build import INPUT_COLUMNS
from pymescore.features._reads import amounts_read
from pymescore.service._rates import SOURCES, RateBook, missing_rate, month_key
from pymescore.service._schemas import BureauIn, CashflowIn, PaymentIn, ScoreRequest, StatementIn
from pymescore.sources._currency import month_end

FIRM_FIELDS = ("ciiu", "ubigeo", "start_date", "taxpayer_state", "domicile_condition")


@dataclass
class _Pending:
    index: int
    request: ScoreRequest
    as_of: pd.Timestamp
    errors: list[dict[str, str]] = field(default_factory=list)
    pen_per_unit: float = 1.0  # PEN per unit of the requested amount's currency at as_of
    client_rates: dict[str, float] = field(default_factory=dict)  # the request's exchange_rates by month
    used_rates: dict[str, float] = field(default_factory=dict)  # those that converted an amount
    missing_months: set[str] = field(default_factory=set)  # months of USD amounts no rate covers
    by_source: Counter[str] = field(default_factory=Counter)  # USD amounts converted, by the rates' source
    not_read: dict[str, int] = field(default_factory=dict)  # records whose amounts the features do not read


def _problem(path: str, expected: str, got: object) -> dict[str, str]:
    """One field error; ``expected`` is what the field should hold («a month YYYY-MM»), never «expected …» again
    under the key ``expected``."""
    return {"path": path, "expected": expected.removeprefix("expected "), "got": _shown(got)[:200]}


def _shown(value: object) -> str:
    """A value as a client wrote it in JSON: null, 7 (not 7.0), 2024-01-31 (not a pandas Timestamp)."""
    if isinstance(value, str):
        return value
    if value is None or (isinstance(value, float | np.floating) and math.isnan(value)) or value is pd.NaT:
        return "null"
    if isinstance(value, pd.Timestamp | dt.datetime):
        stamp = pd.Timestamp(value)
        return stamp.date().isoformat() if stamp == stamp.normalize() else stamp.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, float | np.floating):
        number = float(value)
        return str(int(number)) if number.is_integer() and abs(number) < 1e15 else format(number, ".15g")
    if isinstance(value, int | np.integer):
        return str(int(value))
    return json.dumps(value, default=str)


class _TextCells:
    """Text cells of a request read by the contract's own rules (``text_cell`` and ``code_ok``; months by
    ``coerce_column``), each distinct value once: what a batch has not seen yet is read (months in one call),
    the rest is remembered (bounded)."""

    def __init__(self, limit: int = 50_000) -> None:
        self._seen: dict[tuple[str, str], dict[Any, tuple[Any, tuple[tuple[str, str, Any], ...]]]] = defaultdict(dict)
        self._limit = limit

    def parse(self, table: str, column: str, values: list[Any]) -> tuple[list[Any], dict[int, list[Failure]]]:
        col = TABLES[table].column(column)
        seen = self._seen[(table, column)]
        # this call's readings in a dict of its own: another request may clear the shared memo meanwhile
        distinct = dict.fromkeys(values)
        known = {v: hit for v in distinct if (hit := seen.get(v)) is not None}
        new = [v for v in distinct if v not in known] if len(known) < len(distinct) else []
        if new:
            if col.kind in ("str", "code"):  # the contract's scalar rules
                shape = code_shape(col.width)
                for v in new:
                    t = text_cell(v)
                    bad = col.kind == "code" and t is not None and not code_ok(t, col.width)
                    known[v] = (None, (("TYPE_CODE", shape, t),)) if bad else (t, ())
            else:  # months: the contract's parser, all new values in one call
                failures: list[Failure] = []
                parsed = coerce_column(pd.Series(new, dtype=object), col, failures, table).tolist()
                why: dict[int, list[tuple[str, str, Any]]] = defaultdict(list)
                for f in failures:
                    why[f.row].append((f.code, f.expected, f.got))
                for k, v in enumerate(new):  # a month as its microseconds (NaT: the smallest int64)
                    typed = parsed[k]
                    stamp = (
                        _NAT if typed is None or typed is pd.NaT else int(np.datetime64(typed, "us").astype(np.int64))
                    )
                    known[v] = (stamp, tuple(why[k]))
            if len(seen) + len(new) > self._limit:
                seen.clear()
            seen.update((v, known[v]) for v in new)
        typed = {v: hit[0] for v, hit in known.items()}
        out = list(map(typed.__getitem__, values))
        problems: dict[int, list[Failure]] = {}
        refused = {v: hit[1] for v, hit in known.items() if hit[1]}
        if refused:
            for r, v in enumerate(values):
                if v in refused:
                    problems[r] = [Failure(table, r, column, code, expected, got) for code, expected, got in refused[v]]
        return out, problems


class RequestTables:
    """Reads and checks the histories and register data of applications; thread-safe but for the text memo,
    whose races only repeat work."""

    def __init__(self, book: RateBook, history_months: int = 0) -> None:
        self.book = book
        self.history_months = history_months  # a sequence model reads this many months of cash flows
        self._text = _TextCells()

    def _to_pen(self, name: str, columns: dict[str, np.ndarray], owner: np.ndarray, first: np.ndarray,
                bad: np.ndarray, by_index: dict[int, _Pending]) -> None:  # fmt: skip
        """Add the amounts in PEN: a USD amount the features read converts at the official rate of its date (the
        lake's, else the bundle's), else at the client's rate for its month, else is refused (``bad``); one the
        features never read is accepted unconverted (NaN) and counted in ``amounts_not_read``."""
        contract = TABLES[name]
        assert contract.fx_date is not None
        n = max(by_index) + 1
        as_of = np.full(n, np.datetime64("NaT"), dtype="datetime64[us]")
        for i, p in by_index.items():
            as_of[i] = p.as_of.to_datetime64()
        read = amounts_read(name, {**columns, "entity": owner}, as_of[owner], history_months=self.history_months)
        usd = columns["currency"] == "USD"
        not_read = np.bincount(owner[~read & ~bad], minlength=n)
        for i, p in by_index.items():
            p.not_read[name] = int(not_read[i])
        if not usd.any():  # all in PEN (the usual case): nothing to look up or count
            for c in contract.amounts:
                columns[f"{c}_pen"] = columns[c].copy()
            return
        when = columns[contract.fx_date]
        when = month_end(when) if contract.column(contract.fx_date).kind == "month" else when
        rate, source = self.book.official(usd & ~bad & read, when)
        for r in np.flatnonzero(usd & ~bad & read & (source < 0)):
            p = by_index[int(owner[r])]
            key = month_key(when[r])
            if key in p.client_rates:
                rate[r], source[r] = p.client_rates[key], SOURCES.index("client")
                p.used_rates[key] = p.client_rates[key]
            else:
                p.errors.append(_problem(*missing_rate(f"{name}[{r - first[r]}].currency", when[r], self.book)))
                p.missing_months.add(key)
                bad[r] = True
        rate[usd & ~read] = np.nan  # never read: not converted
        converted = [np.bincount(owner[source == k], minlength=n) for k in range(len(SOURCES))]
        for i, p in by_index.items():
            for k, counts in enumerate(converted):
                if counts[i]:
                    p.by_source[SOURCES[k]] += int(counts[i])
        for c in contract.amounts:
            columns[f"{c}_pen"] = columns[c] * rate

    def history(self, name: str, pending: list[_Pending]) -> dict[str, np.ndarray]:
        """One history of every application as typed arrays (``owner``: the application's index), checked by
        the contract's kernels, with its amounts in PEN; the records of an application with a problem dropped."""
        contract = TABLES[name]
        histories = [getattr(p.request, name) for p in pending]
        lengths = np.fromiter(map(len, histories), dtype=np.int64, count=len(histories))
        records = list(chain.from_iterable(histories))  # the records, as parsed
        owner = np.repeat(np.array([p.index for p in pending], dtype=np.int64), lengths)
        first = np.repeat(np.cumsum(lengths) - lengths, lengths)  # each record's position: its row - first[row]
        by_index = {p.index: p for p in pending}
        failures: list[Failure] = []
        rucs = np.array([p.request.ruc for p in pending], dtype=object)
        columns: dict[str, np.ndarray] = {"ruc": np.repeat(rucs, lengths)}
        # the records' fields by their instance dicts (a model's fields live there): one pass to find each
        # record's dict, then one list per field; faster than a getattr or an attrgetter tuple per record
        fields = _FIELDS[name]
        cells = [r.__dict__ for r in records]
        read = {f: [c[f] for c in cells] for f in fields}
        for col in contract.columns:  # the fields column by column
            if col.name == "ruc":
                continue
            values: Any = read.get(col.name, ()) if col.name in fields else [None] * len(records)
            if col.kind in ("float", "int"):
                columns[col.name] = np.array(values, dtype=np.float64)  # None: NaN
            elif col.kind == "date":
                columns[col.name] = _dates(values)
            else:  # text and months: the contract's parser, each distinct value once
                parsed, problems = self._text.parse(name, col.name, values)
                for found in problems.values():
                    failures.extend(found)
                if col.kind == "month":
                    columns[col.name] = np.fromiter(parsed, dtype=np.int64, count=len(parsed)).view("datetime64[us]")
                else:
                    columns[col.name] = np.array(parsed, dtype=object)
        failures = after_parsing(failures, compile_contract(contract).check(columns, checked=_BUT_RUC[name]))
        for f in failures:
            known = f.column in contract.column_names
            path = f"{name}[{f.row - first[f.row]}]" + (f".{f.column}" if known else "")
            by_index[int(owner[f.row])].errors.append(_problem(path, f.expected, getattr(records[f.row], f.column, "")))
        bad = np.zeros(len(records), dtype=bool)
        bad[[f.row for f in failures]] = True
        # one record per key within an application (the first kept)
        key = [c for c in contract.key if c != "ruc"]
        for r in np.flatnonzero(_later_duplicates(owner, [columns[c] for c in key], bad)):
            by_index[int(owner[r])].errors.append(
                _problem(f"{name}[{r - first[r]}]", f"one record per {', '.join(key)}", "a duplicate")
            )
            bad[r] = True
        if contract.amounts:
            self._to_pen(name, columns, owner, first, bad, by_index)
        keep = ~bad  # the builders' inputs (amounts in PEN); the RUC is the application's, read as its owner
        out = {c: columns[c][keep] for c in INPUT_COLUMNS[name] if c != "ruc"}
        out["owner"] = owner[keep]
        return out

    def firms(self, pending: list[_Pending]) -> dict[str, np.ndarray]:
        """The register data of each application (one row per application index), checked by the kernels on
        the fields it gave; SUNAT's texts read as their canonical values."""
        contract = TABLES["firms"]
        n = max(p.index for p in pending) + 1
        columns: dict[str, list[Any]] = {c: [None] * n for c in ("ruc", *FIRM_FIELDS)}
        given: dict[tuple[str, ...], list[_Pending]] = defaultdict(list)
        for p in pending:
            firm = p.request.firm.__dict__ if p.request.firm else {}
            columns["ruc"][p.index] = p.request.ruc
            provided = tuple(c for c in FIRM_FIELDS if firm.get(c) is not None)
            given[provided].append(p)
            for c in provided:
                columns[c][p.index] = firm[c]
        failures: list[Failure] = []
        typed: dict[str, np.ndarray] = {"ruc": np.array(columns["ruc"], dtype=object)}
        typed["start_date"] = _dates(columns["start_date"])
        for c, allowed in (("taxpayer_state", TAXPAYER_STATES), ("domicile_condition", DOMICILE_CONDITIONS)):
            typed[c] = np.array([None if v is None else canonical_or_given(str(v), allowed) for v in columns[c]],
                                dtype=object)  # fmt: skip
        for c in ("ciiu", "ubigeo"):
            parsed, problems = self._text.parse("firms", c, columns[c])
            typed[c] = np.array(parsed, dtype=object)
            for found in problems.values():
                failures.extend(found)
        typed["name"] = np.array(["-"] * n, dtype=object)  # not read by the model
        kernel = compile_contract(contract)
        for provided, members in given.items():
            where = np.array([p.index for p in members], dtype=np.int64)
            part = {c: v[where] for c, v in typed.items()}
            failures.extend(
                # the RUC is checked once for the application (path "ruc"), not again as "firm.ruc"
                f._replace(row=int(where[f.row]))
                for f in kernel.check(part, checked=frozenset(provided))
            )
        by_index = {p.index: p for p in pending}
        for f in failures:
            known = f.column in contract.column_names
            got = columns[f.column][f.row] if f.column in columns else ""  # as the client sent it
            by_index[f.row].errors.append(_problem("firm" + (f".{f.column}" if known else ""), f.expected, got))
        return typed


_NAT = int(np.datetime64("NaT").view(np.int64))
#: each history's columns but the RUC (the application's, checked once for it: path "ruc", not on every record)
_BUT_RUC = {name: frozenset(c for c in TABLES[name].column_names if c != "ruc") for name in TABLES}
_FIELDS = {name: tuple(model.model_fields) for name, model in (
    ("monthly_cashflows", CashflowIn), ("financial_statements", StatementIn), ("payments", PaymentIn),
    ("bureau_ratings", BureauIn))}  # fmt: skip
_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()


def _dates(values: list[Any]) -> np.ndarray:
    """``datetime.date`` values (None missing) as datetime64[us], by their ordinal (each distinct date once)."""
    days = {v: _NAT if v is None else v.toordinal() - _EPOCH_ORDINAL for v in dict.fromkeys(values)}
    ordinal = np.fromiter(map(days.__getitem__, values), dtype=np.int64, count=len(values))
    out = ordinal.astype("datetime64[D]").astype("datetime64[us]")
    out[ordinal == _NAT] = np.datetime64("NaT")
    return out


def _later_duplicates(owner: np.ndarray, keys: list[np.ndarray], skip: np.ndarray) -> np.ndarray:
    """Rows (not in ``skip``) whose owner and keys repeat an earlier such row's."""
    rows = np.flatnonzero(~skip)
    out = np.zeros(len(owner), dtype=bool)
    if len(rows) < 2:
        return out
    codes = [owner[rows]]
    for values in keys:
        v = values[rows]
        if v.dtype.kind in "Mf":
            codes.append(v.view(np.int64))
        else:
            index = {x: k for k, x in enumerate(dict.fromkeys(v.tolist()))}
            codes.append(np.fromiter(map(index.__getitem__, v.tolist()), dtype=np.int64, count=len(v)))
    order = np.lexsort((rows, *reversed(codes)))
    same = np.ones(len(order) - 1, dtype=bool)
    for c in codes:
        same &= c[order[1:]] == c[order[:-1]]
    out[rows[order[1:][same]]] = True
    return out
