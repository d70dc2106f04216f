"""Score applications: raw histories → the contracts' kernels → PEN → the registry's builders on arrays →
the compiled model → the decision stage (policy, suggested amount, reasons, improvement hints) → each
application's response (``_scored``).

The same contract rules as ingestion, the same feature builders as training (``build_feature_arrays``,
keyed by application rather than RUC) and the bundle's stored regional/sector context: one application
scored here gets the features its firm would get in a batch snapshot at the same ``as_of``. Many
applications go through every stage together, as arrays; pandas is not on this path.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from pymescore.bundle import Bundle
from pymescore.contracts._kernels import ruc_ok
from pymescore.decision import DecisionStage, Policy
from pymescore.errors import PymescoreError
from pymescore.features import BY_NAME, build_feature_arrays, clip_to_range, compile_feature_kernels
from pymescore.features._build import HISTORY_TABLES
from pymescore.features._context import Context
from pymescore.features._sequences import history_channel, sequence_arrays
from pymescore.model._typing import code_label
from pymescore.service._applications import FIRM_FIELDS, RequestTables, _Pending, _problem
from pymescore.service._model_rows import FLOAT32_MAX, model_rows
from pymescore.service._rates import SOURCES, RateBook, Series, client_rates, missing_rate, month_key
from pymescore.service._schemas import ScoreRequest
from pymescore.service._scored import Scored, responses

__all__ = ["FIRM_FIELDS", "HISTORIES", "ApplicationInvalidError", "Scored", "Scorer"]

HISTORIES = HISTORY_TABLES
LIMA = ZoneInfo("America/Lima")
#: the amounts the capacity rule reads (:func:`pymescore.decision.monthly_net_pen`)
MONEY = ("income_mean_12m", "net_cf_margin_12m", "log_income_mean_12m")


class ApplicationInvalidError(PymescoreError):
    """The application breaks the contract; ``fields['errors']`` lists path / expected / got."""

    code = "APPLICATION_INVALID"


def today_lima() -> dt.date:
    return dt.datetime.now(LIMA).date()


class Scorer:
    """A loaded bundle + policy + exchange rates; thread-safe (read-only after construction, but for the
    text cells' memo, whose races only repeat work)."""

    def __init__(
        self, bundle: Bundle, policy: Policy, rates: pd.DataFrame | None = None, source: str = "", nthread: int = 1
    ) -> None:
        self.bundle = bundle
        self.policy = policy
        self.source = source or str(bundle.path)
        # the lake's rates (--lake) first, then the bundle's: the series its training data was converted with
        trained = bundle.exchange_rates
        trained_frame = None if not trained else pd.DataFrame(
            {"date": pd.to_datetime(trained["dates"]), "pen_per_usd": trained["pen_per_usd"]}
        )  # fmt: skip
        self.book = RateBook([Series.of("lake", rates), Series.of("bundle", trained_frame)])
        first = self.book.series[0] if self.book.series else None
        #: the first official series (the workbench reads its latest rate)
        self.rates = None if first is None else pd.DataFrame({"date": first.dates, "pen_per_usd": first.values})
        ctx = bundle.context or {"by_department": {}, "by_section": {}}
        self.context = Context.from_dict({"by_department": ctx["by_department"], "by_section": ctx["by_section"]})
        self.stage = DecisionStage(bundle.model, bundle.reference, policy, nthread=nthread)
        # a sequence model's histories: its channels among the builders' (``sequence_arrays``), in its order
        self._channels = bundle.model.channels
        self._months = bundle.model.months
        self._channel_at = [history_channel(c) for c in self._channels]
        self.features = [f.name for f in bundle.model.features]
        self.info = {f.name: f for f in bundle.model.features}
        self._categorical = {f.name for f in bundle.model.features if f.kind in ("category", "target_encoded")}
        self._categories = bundle.model.preprocessor.categorical
        # a registry category's whole domain (CIIU sections, departments) is its training categories: another
        # value is a client's typo, refused; a generic model's unseen category is scored as missing
        self._domains = {
            ct.column: frozenset(ct.categories)
            for ct in bundle.model.preprocessor.types
            if ct.kind == "category" and ct.rule == "registry: categorical" and ct.categories
        }
        self.tables = RequestTables(self.book, self._months)

    @property
    def version(self) -> str:
        return self.bundle.version

    def warm_up(self) -> None:
        """Score one empty application and compile the feature kernels, so that first-use setup happens at
        load time, not in a request."""
        compile_feature_kernels()
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
            if not (req.ruc.isascii() and ruc_ok(req.ruc)):  # full-width digits read alike, but are no RUC
                p.errors.append(_problem("ruc", "a valid RUC (11 digits with its check digit)", req.ruc))
            p.client_rates, problems = client_rates(req.exchange_rates)
            p.errors.extend(_problem(*problem) for problem in problems)
            pending.append(p)
        n = len(pending)
        built = np.zeros(n, dtype=bool)
        numbers = np.full((len(self.features), n), np.nan)  # every number missing until built, in one block
        values = {name: np.full(n, None, dtype=object) if name in self._categorical else numbers[i]
                  for i, name in enumerate(self.features)}  # fmt: skip
        # what the capacity rule reads, row by row: the PEN amounts the builders computed from the histories, else
        # what a request sent as features (the income amount, or its log: monthly_net_pen falls back to it)
        money = {c: np.full(n, np.nan) for c in MONEY}
        # the monthly histories a sequence model reads (none for an application sent as features)
        histories = None if not self._channels else np.full((n, self._months, len(self._channels)), np.nan, np.float32)
        # an application with a bad RUC or as_of still has its histories (or features) checked: every problem at once
        given = self._from_features([p for p in pending if p.request.features is not None])
        for index, row in given.items():
            built[index] = True
            for name, value in row.items():
                values[name][index] = value
            for c in MONEY:
                money[c][index] = row.get(c, np.nan)
        from_histories = [p for p in pending if p.request.features is None]
        if from_histories:
            self._from_histories(from_histories, values, money, built, histories)
        self._requested_in_pen(pending)
        ok = [p for p in pending if not p.errors and built[p.index]]
        results: list[Scored | ApplicationInvalidError] = [
            ApplicationInvalidError(f"application: {len(p.errors)} field(s) do not meet the contract"
                                    + _rates_hint(p.missing_months), errors=p.errors)
            for p in pending
        ]  # fmt: skip
        if ok:
            rows = np.array([p.index for p in ok], dtype=np.int64)
            taken = {name: column[rows] for name, column in values.items()}
            decided = self._decide(ok, taken, {c: v[rows] for c, v in money.items()}, lang,
                                   None if histories is None else histories[rows])  # fmt: skip
            for p, scored in zip(ok, decided, strict=True):
                results[p.index] = scored
        return results

    def predict_rows(self, instances: list[dict[str, Any]] | list[Any]) -> pd.DataFrame:
        """PD and score of feature rows (TF-Serving style): objects of features, or lists of the model's inputs
        (``model_rows``); raises ApplicationInvalidError on a bad row."""
        compiled = self.stage.compiled
        lists = sum(isinstance(i, list) for i in instances)
        if lists:
            if lists < len(instances):
                raise ApplicationInvalidError("instances: expected one form for every instance, got both", errors=[
                    _problem("instances", "every instance an object of features, or every one a list of the "
                             "model's inputs", "objects and lists")])  # fmt: skip
            inputs, problems = model_rows(instances, self.bundle.model.inputs())  # type: ignore[arg-type]
            if problems:
                raise ApplicationInvalidError(f"instances: {len(problems)} value(s) do not meet the model's inputs",
                                              errors=[_problem(*p) for p in problems])  # fmt: skip
            p_, s_ = compiled.predict(*self.bundle.model.split_inputs(inputs))
            return pd.DataFrame({"pd": p_, "score": s_})
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
        p_, s_ = compiled.predict(compiled.matrix(values, len(pending)))
        return pd.DataFrame({"pd": p_, "score": s_})

    def _requested_in_pen(self, pending: list[_Pending]) -> None:
        """PEN per unit of each requested amount's currency at its as_of (the histories' rule), in one look-up."""
        when = np.array([p.as_of.to_datetime64() for p in pending], dtype="datetime64[us]")
        usd = np.array([p.request.currency == "USD" for p in pending], dtype=bool)
        rate, source = self.book.official(usd, when)
        for p, per_unit, k, wanted, day in zip(pending, rate.tolist(), source.tolist(), usd, when, strict=True):
            key = month_key(day)
            if not wanted:
                continue
            if k >= 0:
                p.pen_per_unit = per_unit
                p.by_source[SOURCES[k]] += 1
            elif key in p.client_rates:
                p.pen_per_unit = p.used_rates[key] = p.client_rates[key]
                p.by_source["client"] += 1
            else:
                p.errors.append(_problem(*missing_rate("currency", day, self.book)))
                p.missing_months.add(key)

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
    def _from_histories(
        self,
        pending: list[_Pending],
        values: dict[str, np.ndarray],
        money: dict[str, np.ndarray],
        built: np.ndarray,
        histories: np.ndarray | None = None,
    ) -> None:
        """Check every history of every application at once, then build features per as_of group, into the
        rows (application indices) of ``values`` and ``money``, marked in ``built`` — and, for a sequence model,
        the monthly histories into ``histories``, by the same point-in-time code as a snapshot's."""
        tables: dict[str, dict[str, np.ndarray]] = {}
        for name in HISTORIES:
            tables[name] = self.tables.history(name, pending)
        firms = self.tables.firms(pending)
        live = [p for p in pending if not p.errors]
        start = firms["start_date"]
        entity = np.full(len(built), -1, dtype=np.int64)
        for as_of, group in _group(live, lambda p: p.as_of).items():
            started = []
            for p in group:  # a start date not known (NaT) compares False: the firm is scored
                if start[p.index] >= as_of.to_datetime64():
                    p.errors.append(_problem("firm.start_date", "a start of activities before as_of",
                                             str(p.request.firm and p.request.firm.start_date)))  # fmt: skip
                else:
                    started.append(p)
            if not started:
                continue
            members = np.array([p.index for p in started], dtype=np.int64)
            entity[:] = -1
            entity[members] = np.arange(len(started))
            part = {"firms": {c: v[members] for c, v in firms.items()}}
            for name, table in tables.items():
                codes = entity[table["owner"]]
                keep = codes >= 0
                part[name] = {**{c: v[keep] for c, v in table.items()}, "entity": codes[keep]}
            raw = build_feature_arrays(part, len(started), as_of, context=self.context)
            clipped = clip_to_range(raw)
            # a feature the registry does not build (a generic model's column) stays missing
            for name in self.features:
                if name in clipped:
                    values[name][members] = clipped[name]
            for c in MONEY:  # the amounts as computed (PEN); the log as the model reads it
                source = clipped if c == "log_income_mean_12m" else raw
                if c in source:
                    money[c][members] = source[c]
            if histories is not None:
                histories[members] = sequence_arrays(part, len(started), as_of)[:, -self._months :, self._channel_at]
            built[members] = True

    # -- decisions -------------------------------------------------------------------------------
    def _decide(
        self,
        pending: list[_Pending],
        values: dict[str, np.ndarray],
        money: dict[str, np.ndarray],
        lang: str,
        histories: np.ndarray | None = None,
    ) -> list[Scored]:
        n = len(pending)
        matrix = self.stage.compiled.matrix(values, n)
        requested = np.array([p.request.requested_amount for p in pending], dtype=np.float64)
        term = np.array([p.request.term_months for p in pending], dtype=np.int64)
        rate = np.array([p.pen_per_unit for p in pending], dtype=np.float64)
        guarantee = [p.request.guarantee for p in pending]
        d = self.stage.run(matrix, values, requested, term, rate, lang, amounts=money, guarantee=guarantee,
                           sequences=histories)  # fmt: skip
        return responses(pending, d, values, self.version, self.policy.version, lang)


def _rates_hint(months: set[str]) -> str:
    """The 422's detail, when USD amounts had no rate: which months, and the two ways to give one."""
    if not months:
        return ""
    listed = ", ".join(sorted(months)[:12]) + (" …" if len(months) > 12 else "")
    return (
        f"; USD amounts without an exchange rate for {listed}: send them in exchange_rates or serve with --lake / "
        f"montos en USD sin tipo de cambio para {listed}: envíelos en exchange_rates o sirva con --lake"
    )


def _group(items: list[_Pending], key: Callable[[_Pending], Any]) -> dict[Any, list[_Pending]]:
    out: dict[Any, list[_Pending]] = defaultdict(list)
    for item in items:
        out[key(item)].append(item)
    return out
