"""Score applications: raw histories → the contracts' kernels → PEN → the registry's builders on arrays →
the compiled model → the decision stage (policy, suggested amount, reasons, improvement hints).

The same contract rules as ingestion, the same feature builders as training (``build_feature_arrays``,
keyed by application rather than RUC) and the bundle's stored regional/sector context: one application
scored here gets the features its firm would get in a batch snapshot at the same ``as_of``. Many
applications go through every stage together, as arrays; pandas is not on this path.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import math
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from pymescore.bundle import Bundle
from pymescore.contracts import TABLES
from pymescore.contracts._coerce import code_ok, coerce_column, text_cell
from pymescore.contracts._kernels import Failure, after_parsing, compile_contract, ruc_ok
from pymescore.contracts._reference import DOMICILE_CONDITIONS, TAXPAYER_STATES, canonical_register_value
from pymescore.decision import DecisionStage, Policy, rule_entries
from pymescore.errors import PymescoreError
from pymescore.features import BY_NAME, build_feature_arrays, clip_to_range
from pymescore.features._context import Context
from pymescore.model._typing import code_label
from pymescore.service._schemas import BureauIn, CashflowIn, PaymentIn, ScoreRequest, StatementIn
from pymescore.sources._currency import month_end, pen_rates

HISTORIES = ("monthly_cashflows", "financial_statements", "payments", "bureau_ratings")
FIRM_FIELDS = ("ciiu", "ubigeo", "start_date", "taxpayer_state", "domicile_condition")
LIMA = ZoneInfo("America/Lima")
FLOAT32_MAX = float(np.finfo(np.float32).max)
#: the builders' input columns of each history (amounts become ``<col>_pen``)
_BUILDER_INPUTS = {
    "monthly_cashflows": ("month", "currency", "income", "expenses"),
    "financial_statements": ("period_end", "total_assets", "total_liabilities", "equity", "revenue",
                             "cost_of_sales", "net_income"),
    "payments": ("due_date", "paid_date", "amount_due", "amount_paid", "currency"),
    "bureau_ratings": ("month", "sbs_rating", "debt_total", "n_lenders"),
}  # fmt: skip


class ApplicationInvalidError(PymescoreError):
    """The application breaks the contract; ``fields['errors']`` lists path / expected / got."""

    code = "APPLICATION_INVALID"


@dataclass
class Scored:
    response: dict[str, Any]
    features: dict[str, Any]
    request: ScoreRequest | None = None

    @property
    def fingerprint(self) -> str:
        assert self.request is not None
        return fingerprint(self.request)


@dataclass
class _Pending:
    index: int
    request: ScoreRequest
    as_of: pd.Timestamp
    errors: list[dict[str, str]] = field(default_factory=list)
    pen_per_unit: float = 1.0  # PEN per unit of the requested amount's currency at as_of


def fingerprint(request: ScoreRequest) -> str:
    body = json.dumps(request.model_dump(mode="json", exclude_none=False), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(body.encode()).hexdigest()


def today_lima() -> dt.date:
    return dt.datetime.now(LIMA).date()


def _problem(path: str, expected: str, got: object) -> dict[str, str]:
    return {"path": path, "expected": expected, "got": _shown(got)[:200]}


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
        new = list(dict.fromkeys(v for v in values if v not in seen))
        if new:
            if len(seen) + len(new) > self._limit:
                seen.clear()
            if col.kind in ("str", "code"):  # the contract's scalar rules
                shape = f"{col.width} digits" if col.width else "digits"
                for v in new:
                    t = text_cell(v)
                    bad = col.kind == "code" and t is not None and not code_ok(t, col.width)
                    seen[v] = (None, (("TYPE_CODE", shape, t),)) if bad else (t, ())
            else:  # months: the contract's parser, all new values in one call
                failures: list[Failure] = []
                parsed = coerce_column(pd.Series(new, dtype=object), col, failures, table).tolist()
                why: dict[int, list[tuple[str, str, Any]]] = defaultdict(list)
                for f in failures:
                    why[f.row].append((f.code, f.expected, f.got))
                for k, v in enumerate(new):  # a month as its microseconds (NaT: the smallest int64)
                    typed = parsed[k]
                    stamp = _NAT if typed is None or typed is pd.NaT else int(pd.Timestamp(typed).value // 1000)
                    seen[v] = (stamp, tuple(why[k]))
        out, problems = [], {}
        for r, v in enumerate(values):
            typed, why_not = seen[v]
            out.append(typed)
            if why_not:
                problems[r] = [Failure(table, r, column, code, expected, got) for code, expected, got in why_not]
        return out, problems


class Scorer:
    """A loaded bundle + policy + exchange rates; thread-safe (read-only after construction, but for the
    text cells' memo, whose races only repeat work)."""

    def __init__(
        self, bundle: Bundle, policy: Policy, rates: pd.DataFrame | None = None, source: str = "", nthread: int = 1
    ) -> None:
        self.bundle = bundle
        self.policy = policy
        self.source = source or str(bundle.path)
        rates = None if rates is None or rates.empty else rates.sort_values("date").reset_index(drop=True)
        self.rates = rates
        self._rate_dates = None if rates is None else rates["date"].astype("datetime64[us]").to_numpy()
        self._rate_values = None if rates is None else rates["pen_per_usd"].to_numpy(dtype=np.float64)
        ctx = bundle.context or {"by_department": {}, "by_section": {}}
        self.context = Context.from_dict({"by_department": ctx["by_department"], "by_section": ctx["by_section"]})
        self.stage = DecisionStage(bundle.model, bundle.reference, policy, nthread=nthread)
        self.features = [f.name for f in bundle.model.features]
        self.info = {f.name: f for f in bundle.model.features}
        self.sme = all(name in BY_NAME for name in self.features)
        self._categorical = {f.name for f in bundle.model.features if f.kind in ("category", "target_encoded")}
        self._categories = bundle.model.preprocessor.categorical
        # a registry category's whole domain (CIIU sections, departments) is its training categories: another
        # value is a client's typo, refused; a generic model's unseen category is scored as missing
        self._domains = {
            ct.column: frozenset(ct.categories)
            for ct in bundle.model.preprocessor.types
            if ct.kind == "category" and ct.rule == "registry: categorical" and ct.categories
        }
        self._text = _TextCells()

    @property
    def version(self) -> str:
        return self.bundle.version

    def warm_up(self) -> None:
        """Score one empty application, so that first-use setup happens at load time, not in a request."""
        self.predict_rows([{}])

    # -- public ----------------------------------------------------------------------------------
    def score(self, requests: list[ScoreRequest], lang: str = "es") -> list[Scored | ApplicationInvalidError]:
        """One result per request, in order: a scored application or the reasons it was refused."""
        today = today_lima()
        pending = []
        for i, req in enumerate(requests):
            p = _Pending(i, req, pd.Timestamp(req.as_of or today))
            if req.as_of is not None and req.as_of > today:
                p.errors.append(_problem("as_of", f"a date not after today ({today})", str(req.as_of)))
            if not ruc_ok(req.ruc):
                p.errors.append(_problem("ruc", "a valid RUC (11 digits with its check digit)", req.ruc))
            pending.append(p)
        rows: dict[int, dict[str, Any]] = {}
        rows.update(self._from_features([p for p in pending if p.request.features is not None and not p.errors]))
        amounts: dict[int, dict[str, Any]] = {}
        from_histories = [p for p in pending if p.request.features is None and not p.errors]
        if from_histories:
            built, amounts = self._from_histories(from_histories)
            rows.update(built)
        for p in pending:
            if p.errors:
                continue
            rate = self._pen_per(p.request.currency, p.as_of)
            if rate is None:
                p.errors.append(_problem("currency", "PEN, or USD with an exchange rate known to the service", "USD"))
            else:
                p.pen_per_unit = rate
        ok = [p for p in pending if not p.errors and p.index in rows]
        results: list[Scored | ApplicationInvalidError] = [
            ApplicationInvalidError(f"application: {len(p.errors)} field(s) do not meet the contract", errors=p.errors)
            for p in pending
        ]
        if ok:
            for p, scored in zip(ok, self._decide(ok, rows, amounts, lang), strict=True):
                results[p.index] = scored
        return results

    def predict_rows(self, instances: list[dict[str, Any]]) -> pd.DataFrame:
        """PD and score of feature rows (TF-Serving style); raises ApplicationInvalidError on a bad row."""
        pending = [
            _Pending(i, ScoreRequest.model_construct(features=row), pd.Timestamp.now())  # type: ignore[call-arg]
            for i, row in enumerate(instances)
        ]
        rows = self._from_features(pending, prefix="instances")
        errors = [e for p in pending for e in p.errors]
        if errors:
            raise ApplicationInvalidError(
                f"instances: {len(errors)} value(s) do not meet the model's features", errors=errors
            )
        values = self._columns([rows[p.index] for p in pending])
        compiled = self.stage.compiled
        p_, s_ = compiled.predict(compiled.matrix(values, len(pending)))
        return pd.DataFrame({"pd": p_, "score": s_})

    # -- features given as such ------------------------------------------------------------------
    def _from_features(self, pending: list[_Pending], prefix: str = "features") -> dict[int, dict[str, Any]]:
        out = {}
        for p in pending:
            given = p.request.features or {}
            row: dict[str, Any] = {}
            base = f"{prefix}[{p.index}]" if prefix == "instances" else prefix
            for name, value in given.items():
                if name not in self.info:
                    p.errors.append(_problem(f"{base}.{name}", "one of the model's features (GET /v1/model)", name))
                elif value is None:
                    row[name] = None if name in self._categorical else np.nan
                elif name in self._categorical:
                    # a number sent for a category is the code it stands for (8 -> "08", 15.0 -> "15")
                    codes = self._categories.get(name, ())
                    label = str(code_label(value, codes)) if isinstance(value, float) else str(value)
                    allowed = self._domains.get(name)
                    if allowed is not None and label not in allowed:
                        p.errors.append(_problem(f"{base}.{name}", f"one of {', '.join(sorted(allowed))}", value))
                    row[name] = label
                elif isinstance(value, str):
                    p.errors.append(_problem(f"{base}.{name}", "a number", value))
                elif not math.isfinite(value):
                    p.errors.append(_problem(f"{base}.{name}", "a finite number", value))
                elif abs(value) > FLOAT32_MAX:  # the booster reads float32: beyond it the value would be infinite
                    p.errors.append(_problem(f"{base}.{name}", f"a number between -{FLOAT32_MAX:.4g} and "
                                                               f"{FLOAT32_MAX:.4g}", value))  # fmt: skip
                else:  # clipped to the registry's valid range, as the builders' values are
                    lo, hi = BY_NAME[name].valid_range if name in BY_NAME else (None, None)
                    row[name] = float(np.clip(value, -np.inf if lo is None else lo, np.inf if hi is None else hi))
            if not p.errors:
                out[p.index] = {
                    name: row.get(name, None if name in self._categorical else np.nan) for name in self.features
                }
        return out

    def _columns(self, rows: list[dict[str, Any]]) -> dict[str, np.ndarray]:
        """Feature rows as the model's source columns: numbers float64, categories object (None missing)."""
        out = {}
        for name in self.features:
            values = [r[name] for r in rows]
            out[name] = np.array(values, dtype=object if name in self._categorical else np.float64)
        return out

    # -- features from raw histories ---------------------------------------------------------------
    def _from_histories(self, pending: list[_Pending]) -> tuple[dict[int, dict[str, Any]], dict[int, dict[str, Any]]]:
        """Check every history of every application at once, then build features per as_of group."""
        tables: dict[str, dict[str, np.ndarray]] = {}
        for name in HISTORIES:
            tables[name] = self._history(name, pending)
        firms = self._firms(pending)
        rows: dict[int, dict[str, Any]] = {}
        amounts: dict[int, dict[str, Any]] = {}
        live = [p for p in pending if not p.errors]
        start = firms["start_date"]
        for as_of, group in _group(live, lambda p: p.as_of).items():
            started = [p for p in group if not (start[p.index] >= as_of.to_datetime64())]  # NaT: not known
            for p in group:
                if start[p.index] >= as_of.to_datetime64():
                    p.errors.append(_problem("firm.start_date", "a start of activities before as_of",
                                             str(p.request.firm and p.request.firm.start_date)))  # fmt: skip
            if not started:
                continue
            entity = np.full(max(p.index for p in pending) + 1, -1, dtype=np.int64)
            entity[[p.index for p in started]] = np.arange(len(started))
            part = {"firms": {c: v[[p.index for p in started]] for c, v in firms.items()}}
            for name, table in tables.items():
                codes = entity[table["owner"]]
                keep = codes >= 0
                part[name] = {**{c: v[keep] for c, v in table.items()}, "entity": codes[keep]}
            raw = build_feature_arrays(part, len(started), as_of, context=self.context)
            clipped = clip_to_range(raw)
            for k, p in enumerate(started):
                rows[p.index] = {name: clipped[name][k] for name in self.features if name in clipped}
                amounts[p.index] = {name: raw[name][k] for name in ("income_mean_12m", "net_cf_margin_12m")}
        return rows, amounts

    def _history(self, name: str, pending: list[_Pending]) -> dict[str, np.ndarray]:
        """One history of every application as typed arrays (``owner``: the application's index), checked by
        the contract's kernels, with its amounts in PEN; the records of an application with a problem dropped."""
        contract = TABLES[name]
        records: list[dict[str, Any]] = []
        owners: list[int] = []
        positions: list[int] = []
        for p in pending:
            history = getattr(p.request, name)
            records.extend(rec.__dict__ for rec in history)  # a flat model's fields as parsed (model_dump's values)
            owners.extend([p.index] * len(history))
            positions.extend(range(len(history)))
        by_index = {p.index: p for p in pending}
        owner = np.asarray(owners, dtype=np.int64)
        failures: list[Failure] = []
        rucs = np.array([p.request.ruc for p in pending], dtype=object)
        slot = np.full(max(by_index) + 1, -1, dtype=np.int64)
        slot[[p.index for p in pending]] = np.arange(len(pending))
        columns: dict[str, np.ndarray] = {"ruc": rucs[slot[owner]] if len(owner) else np.zeros(0, dtype=object)}
        # the records' fields column by column, in one transposition (every record of a table has its model's
        # fields in the model's order)
        fields = list(_FIELDS[name])
        transposed = list(zip(*map(tuple, map(dict.values, records)), strict=True)) if records else []
        by_field = {f: list(v) for f, v in zip(fields, transposed, strict=True)} if records else {}
        for col in contract.columns:
            if col.name == "ruc":
                continue
            values = by_field.get(col.name, [])
            if col.kind in ("float", "int"):
                columns[col.name] = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
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
        failures = after_parsing(failures, compile_contract(contract).check(columns))
        for f in failures:
            known = f.column in contract.column_names
            path = f"{name}[{positions[f.row]}]" + (f".{f.column}" if known else "")
            by_index[int(owner[f.row])].errors.append(_problem(path, f"expected {f.expected}", _got(records[f.row], f)))
        bad = np.zeros(len(records), dtype=bool)
        bad[[f.row for f in failures]] = True
        # one record per key within an application (the first kept)
        key = [c for c in contract.key if c != "ruc"]
        for r in np.flatnonzero(_later_duplicates(owner, [columns[c] for c in key], bad)):
            by_index[int(owner[r])].errors.append(
                _problem(f"{name}[{positions[r]}]", f"one record per {', '.join(key)}", "a duplicate")
            )
            bad[r] = True
        if contract.amounts:
            usd = columns["currency"] == "USD"
            assert contract.fx_date is not None
            when = columns[contract.fx_date]
            when = month_end(when) if contract.column(contract.fx_date).kind == "month" else when
            rate, _date, missing = pen_rates(usd & ~bad, when, self._rate_dates, self._rate_values)
            for r in np.flatnonzero(missing):
                by_index[int(owner[r])].errors.append(
                    _problem(f"{name}[{positions[r]}].currency",
                             "PEN, or USD dated on or after the first exchange rate the service knows",
                             "USD without a rate")
                )  # fmt: skip
            bad |= missing
            for c in contract.amounts:
                columns[f"{c}_pen"] = columns[c] * rate
        keep = ~bad
        out = {c: columns[c][keep] for c in _inputs(name)}
        out["owner"] = owner[keep]
        return out

    def _firms(self, pending: list[_Pending]) -> dict[str, np.ndarray]:
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
        typed["start_date"] = np.array(columns["start_date"], dtype="datetime64[us]")
        for c, allowed in (("taxpayer_state", TAXPAYER_STATES), ("domicile_condition", DOMICILE_CONDITIONS)):
            typed[c] = np.array([None if v is None else _canonical(str(v), allowed) for v in columns[c]], dtype=object)
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
                f._replace(row=int(where[f.row])) for f in kernel.check(part, checked=frozenset(("ruc", *provided)))
            )
        by_index = {p.index: p for p in pending}
        for f in failures:
            known = f.column in contract.column_names
            got = columns[f.column][f.row] if f.column in columns else ""  # as the client sent it
            by_index[f.row].errors.append(_problem("firm" + (f".{f.column}" if known else ""), f"expected {f.expected}",
                                                   got))  # fmt: skip
        return typed

    # -- decisions -------------------------------------------------------------------------------
    def _decide(
        self, pending: list[_Pending], rows: dict[int, dict[str, Any]], amounts: dict[int, dict[str, Any]], lang: str
    ) -> list[Scored]:
        values = self._columns([rows[p.index] for p in pending])
        money = None
        if amounts and all(p.index in amounts for p in pending):
            money = {c: np.array([amounts[p.index][c] for p in pending]) for c in ("income_mean_12m",
                                                                                  "net_cf_margin_12m")}  # fmt: skip
        elif amounts:
            money = {c: np.array([amounts.get(p.index, {}).get(c, np.nan) for p in pending])
                     for c in ("income_mean_12m", "net_cf_margin_12m")}  # fmt: skip
            # a request that sent features has no PEN amount: its log income stands in
            for k, p in enumerate(pending):
                if p.index not in amounts and "log_income_mean_12m" in values:
                    log_income = values["log_income_mean_12m"][k]
                    money["income_mean_12m"][k] = math.expm1(log_income) if 0 <= log_income <= 25 else np.nan
                    money["net_cf_margin_12m"][k] = values.get("net_cf_margin_12m", np.full(len(pending), np.nan))[k]
        matrix = self.stage.compiled.matrix(values, len(pending))
        requested = np.array([p.request.requested_amount for p in pending], dtype=np.float64)
        term = np.array([p.request.term_months for p in pending], dtype=np.int64)
        rate = np.array([p.pen_per_unit for p in pending], dtype=np.float64)
        d = self.stage.run(matrix, values, requested, term, rate, lang, amounts=money)
        now = dt.datetime.now(dt.UTC).isoformat()
        out = []
        for k, p in enumerate(pending):
            req = p.request
            response = {
                "score_id": str(uuid.uuid4()),
                "created_at": now,
                "ruc": req.ruc,
                "as_of": str(p.as_of.date()),
                "model_version": self.version,
                "policy_version": self.policy.version,
                "pd": float(d.pd[k]),
                "score": int(d.score[k]),
                "band": d.band[k],
                "decision": d.decision[k],
                "requested_amount": float(req.requested_amount),
                "suggested_amount": d.suggested[k],
                "currency": req.currency,
                "reasons": [
                    {"code": r["code"], "text": r["text"], "impact_points": r["impact_points"]} for r in d.reasons[k]
                ],
                "policy_rules": rule_entries(d.rules[k], lang),
                "improvement_hints": d.hints[k],
                "language": lang,
            }
            out.append(Scored(response, {name: _plain(values[name][k]) for name in self.features}, req))
        return out

    def _pen_per(self, currency: str, as_of: pd.Timestamp) -> float | None:
        if currency == "PEN":
            return 1.0
        if self._rate_dates is None or self._rate_values is None:
            return None
        pos = int(np.searchsorted(self._rate_dates, as_of.to_datetime64(), side="right")) - 1
        return None if pos < 0 else float(self._rate_values[pos])


_NAT = int(np.datetime64("NaT").view(np.int64))
_FIELDS = {name: tuple(model.model_fields) for name, model in (
    ("monthly_cashflows", CashflowIn), ("financial_statements", StatementIn), ("payments", PaymentIn),
    ("bureau_ratings", BureauIn))}  # fmt: skip
_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()


def _dates(values: list[Any]) -> np.ndarray:
    """``datetime.date`` values (None missing) as datetime64[us], by their ordinal (no per-value conversion)."""
    days = np.fromiter((_NAT if v is None else v.toordinal() - _EPOCH_ORDINAL for v in values), dtype=np.int64,
                       count=len(values))  # fmt: skip
    out = days.astype("datetime64[D]").astype("datetime64[us]")
    out[days == _NAT] = np.datetime64("NaT")
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
            index: dict[Any, int] = {}
            codes.append(np.fromiter((index.setdefault(x, len(index)) for x in v), dtype=np.int64, count=len(v)))
    order = np.lexsort((rows, *reversed(codes)))
    same = np.ones(len(order) - 1, dtype=bool)
    for c in codes:
        same &= c[order[1:]] == c[order[:-1]]
    out[rows[order[1:][same]]] = True
    return out


@functools.lru_cache(maxsize=1024)
def _canonical(value: str, allowed: tuple[str, ...]) -> str:
    return canonical_register_value(value, allowed) or value


@functools.cache
def _inputs(name: str) -> tuple[str, ...]:
    contract = TABLES[name]
    return tuple(f"{c}_pen" if c in contract.amounts else c for c in _BUILDER_INPUTS[name])


def _got(record: dict[str, Any], failure: Failure) -> object:
    """The value a client sent for the failing cell (as parsed by the request schema)."""
    return record.get(failure.column, "") if failure.column in record else ""


def _group(items: list[_Pending], key: Callable[[_Pending], Any]) -> dict[Any, list[_Pending]]:
    out: dict[Any, list[_Pending]] = defaultdict(list)
    for item in items:
        out[key(item)].append(item)
    return out


def _plain(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, float | np.floating):
        return None if math.isnan(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    return str(value)
