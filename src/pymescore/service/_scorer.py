"""Score applications: raw histories → contract checks → PEN → the registry's features → PD, score, reasons,
policy decision, suggested amount and improvement hints.

The same contracts as ingestion, the same builders as training (``build_features``) and the bundle's
stored regional/sector context: one application scored here gets the features its firm would get in a
batch snapshot at the same ``as_of``. Many applications are scored in one vectorised pass.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from stdnum.pe import ruc as stdnum_ruc

from pymescore.bundle import Bundle
from pymescore.contracts import TABLES, TableContract, validate_table
from pymescore.errors import PymescoreError
from pymescore.evaluate import assign_bands
from pymescore.features import build_features
from pymescore.features._catalog import BY_NAME
from pymescore.features._context import Context
from pymescore.features._display import display_value, quantity_name
from pymescore.model import column_map, score_from_pd
from pymescore.model._typing import code_label
from pymescore.decision import RULE_TEXTS, Policy
from pymescore.service._schemas import ScoreRequest
from pymescore.sources._currency import to_pen

HISTORIES = ("monthly_cashflows", "financial_statements", "payments", "bureau_ratings")
FIRM_FIELDS = ("ciiu", "ubigeo", "start_date", "taxpayer_state", "domicile_condition")
LIMA = ZoneInfo("America/Lima")
FLOAT32_MAX = float(np.finfo(np.float32).max)


class ApplicationInvalidError(PymescoreError):
    """The application breaks the contract; ``fields['errors']`` lists path / expected / got."""

    code = "APPLICATION_INVALID"


@dataclass
class Scored:
    response: dict[str, Any]
    features: dict[str, Any]
    fingerprint: str


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
    # a contract message says "expected X, got Y" itself: ``got`` carries the value once, as it was sent
    expected = expected.split(", got ", 1)[0]
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


class Scorer:
    """A loaded bundle + policy + exchange rates; thread-safe (read-only after construction)."""

    def __init__(
        self, bundle: Bundle, policy: Policy, rates: pd.DataFrame | None = None, source: str = "", nthread: int = 1
    ) -> None:
        self.bundle = bundle
        self.policy = policy
        self.source = source or str(bundle.path)
        self.rates = None if rates is None or rates.empty else rates.sort_values("date").reset_index(drop=True)
        self._rate_dates = None if self.rates is None else self.rates["date"].astype("datetime64[us]").to_numpy()
        self._rate_values = None if self.rates is None else self.rates["pen_per_usd"].to_numpy(dtype=np.float64)
        ctx = bundle.context or {"by_department": {}, "by_section": {}}
        self.context = Context.from_dict({"by_department": ctx["by_department"], "by_section": ctx["by_section"]})
        if bundle.model.booster is not None:
            bundle.model.booster.set_param({"nthread": nthread})
        self.features = [f.name for f in bundle.model.features]
        self.info = {f.name: f for f in bundle.model.features}
        self.sme = all(name in BY_NAME for name in self.features)
        self._ref = bundle.reference.get("features", {})
        # source columns the model reads as given (one float model column of the same name)
        self._numeric = {ct.column for ct in bundle.model.preprocessor.types if ct.kind == "numeric"}
        self._categories = bundle.model.preprocessor.categorical  # built per access: read once here
        # a registry category's whole domain (CIIU sections, departments) is its training categories: another
        # value is a client's typo, refused; a generic model's unseen category is scored as missing
        self._domains = {
            ct.column: frozenset(ct.categories)
            for ct in bundle.model.preprocessor.types
            if ct.kind == "category" and ct.rule == "registry: categorical" and ct.categories
        }

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
            if not stdnum_ruc.is_valid(req.ruc):
                p.errors.append(_problem("ruc", "a valid RUC (11 digits with its check digit)", req.ruc))
            pending.append(p)
        rows: dict[int, dict[str, Any]] = {}
        from_features = [p for p in pending if p.request.features is not None and not p.errors]
        from_histories = [p for p in pending if p.request.features is None and not p.errors]
        rows.update(self._from_features(from_features))
        if from_histories:
            rows.update(self._from_histories(from_histories))
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
            frame = pd.DataFrame([rows[p.index] for p in ok], columns=self.features)
            for p, scored in zip(ok, self._decide(ok, frame, lang), strict=True):
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
        frame = pd.DataFrame([rows[p.index] for p in pending], columns=self.features)
        return self.bundle.model.predict(frame)

    # -- features --------------------------------------------------------------------------------
    def _from_features(self, pending: list[_Pending], prefix: str = "features") -> dict[int, dict[str, Any]]:
        out = {}
        categorical = {f.name for f in self.bundle.model.features if f.kind in ("category", "target_encoded")}
        for p in pending:
            given = p.request.features or {}
            row: dict[str, Any] = {}
            base = f"{prefix}[{p.index}]" if prefix == "instances" else prefix
            for name, value in given.items():
                if name not in self.info:
                    p.errors.append(_problem(f"{base}.{name}", "one of the model's features (GET /v1/model)", name))
                elif value is None:
                    row[name] = np.nan
                elif name in categorical:
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
                else:  # clipped to the registry's valid range, as build_features clips computed values
                    lo, hi = BY_NAME[name].valid_range if name in BY_NAME else (None, None)
                    row[name] = float(np.clip(value, -np.inf if lo is None else lo, np.inf if hi is None else hi))
            if not p.errors:
                out[p.index] = {name: row.get(name, np.nan) for name in self.features}
        return out

    def _from_histories(self, pending: list[_Pending]) -> dict[int, dict[str, Any]]:
        """Validate every history of every application at once, then build features per as_of group."""
        by_app = {p.index: p for p in pending}
        tables: dict[str, pd.DataFrame] = {}
        where: dict[str, np.ndarray] = {}
        for name in HISTORIES:
            contract = TABLES[name]
            records, owners, positions = [], [], []
            for p in pending:
                for j, rec in enumerate(getattr(p.request, name)):
                    # a record's fields as parsed (flat models: its __dict__ is what model_dump() would copy)
                    records.append({"ruc": p.request.ruc, **rec.__dict__})
                    owners.append(p.index)
                    positions.append(j)
            if not records:  # an absent history: the builders use an empty table (features NaN, has_* = 0)
                continue
            raw = _typed_frame(records, contract)
            result = validate_table(raw, contract, source=name)
            owner = np.asarray(owners, dtype=np.int64)
            for r, reason in zip(result.rejected.index, result.rejected["reason"], strict=True):
                for message in str(reason).split("; "):
                    col, _, rest = message.partition(": ")
                    path = f"{name}[{positions[int(r)]}]" + (f".{col}" if col in contract.column_names else "")
                    by_app[int(owner[int(r)])].errors.append(
                        _problem(path, rest if col in contract.column_names else message, _cell(raw, int(r), col))
                    )
            valid = result.valid
            key = [c for c in contract.key if c != "ruc"]
            dup = valid.assign(_owner=owner[valid.index]).duplicated(["_owner", *key], keep="first")
            for r in valid.index[dup.to_numpy()]:
                by_app[int(owner[r])].errors.append(
                    _problem(f"{name}[{positions[r]}]", f"one record per {', '.join(key)}", "a duplicate")
                )
            valid = valid[~dup.to_numpy()]
            if contract.amounts:
                valid, missing = to_pen(valid, contract, self.rates)
                for r in valid.index[missing.to_numpy()]:
                    by_app[int(owner[r])].errors.append(
                        _problem(
                            f"{name}[{positions[r]}].currency",
                            "PEN, or USD dated on or after the first exchange rate the service knows",
                            "USD without a rate",
                        )
                    )
            tables[name] = valid
            where[name] = owner[valid.index]
        firms = self._firms(pending)
        if firms is None:
            return {}
        out: dict[int, dict[str, Any]] = {}
        live = [p for p in pending if not p.errors]
        for batch in _unique_ruc_batches(live):
            ids = {p.index for p in batch}
            part = {n: t[np.isin(where[n], list(ids))] for n, t in tables.items()}  # absent tables stay absent
            part["firms"] = firms[firms["_owner"].isin(ids)]
            features = build_features(part, batch[0].as_of, context=self.context)
            position = {ruc: k for k, ruc in enumerate(features["ruc"].tolist())}
            # each column once as a list (categories as their labels, missing as NaN): no per-cell pandas access
            built = column_map(features)
            columns = {
                name: built[name].tolist() if name in built else [np.nan] * len(features) for name in self.features
            }
            for p in batch:
                if p.request.ruc not in position:
                    p.errors.append(
                        _problem("firm.start_date", "a start of activities before as_of", str(p.request.firm and
                                                                                             p.request.firm.start_date))
                    )  # fmt: skip
                    continue
                k = position[p.request.ruc]
                out[p.index] = {name: columns[name][k] for name in self.features}
        return out

    def _firms(self, pending: list[_Pending]) -> pd.DataFrame | None:
        contract = TABLES["firms"]
        groups: dict[tuple[str, ...], list[_Pending]] = defaultdict(list)
        for p in pending:
            firm = p.request.firm.model_dump(mode="json", exclude_none=True) if p.request.firm else {}
            groups[tuple(c for c in FIRM_FIELDS if c in firm)].append(p)
        parts = []
        for provided, members in groups.items():
            raw = pd.DataFrame(
                [
                    {"ruc": p.request.ruc, **(p.request.firm.model_dump(mode="json") if p.request.firm else {})}
                    for p in members
                ],
                columns=["ruc", *FIRM_FIELDS],
            )
            raw = raw.astype(object).where(raw.notna(), None)
            result = validate_table(raw, contract, source="firm", provided=list(provided))
            for r, reason in zip(result.rejected.index, result.rejected["reason"], strict=True):
                for message in str(reason).split("; "):
                    col, _, rest = message.partition(": ")
                    known = col in contract.column_names
                    members[int(r)].errors.append(
                        _problem("firm" + (f".{col}" if known else ""), rest if known else message,
                                 _cell(raw, int(r), col))
                    )  # fmt: skip
            valid = result.valid.copy()
            valid["_owner"] = [members[int(r)].index for r in valid.index]
            parts.append(valid)
        return pd.concat(parts, ignore_index=True) if parts else None

    # -- decisions -------------------------------------------------------------------------------
    def _decide(self, pending: list[_Pending], frame: pd.DataFrame, lang: str) -> list[Scored]:
        model = self.bundle.model
        matrix = model.matrix(frame)
        summary, points = model.explain_matrix(matrix)
        given = column_map(frame)  # once, for the reasons, the hints and the audit row's features
        reasons = model.reasons(points, 4, values=given)
        bands = assign_bands(summary["score"].to_numpy())
        hints = self._hints(given, matrix, points, summary["score"].to_numpy(), lang)
        key = "text_es" if lang == "es" else "text_en"
        out = []
        now = dt.datetime.now(dt.UTC)
        columns = {name: given[name].tolist() for name in self.features}
        scores, pds = summary["score"].to_numpy(), summary["pd"].to_numpy()
        for k, p in enumerate(pending):
            req = p.request
            feats = {name: _plain(columns[name][k]) for name in self.features}
            score = int(scores[k])
            decision, rules, suggested = self.policy.decide(
                score, feats, req.requested_amount, req.term_months, p.pen_per_unit
            )
            response = {
                "score_id": str(uuid.uuid4()),
                "created_at": now.isoformat(),
                "ruc": req.ruc,
                "as_of": str(p.as_of.date()),
                "model_version": self.version,
                "policy_version": self.policy.version,
                "pd": float(pds[k]),
                "score": score,
                "band": str(bands[k]),
                "decision": decision,
                "requested_amount": float(req.requested_amount),
                "suggested_amount": suggested,
                "currency": req.currency,
                "reasons": [
                    {"code": r["code"], "text": _reason_text(r, key), "impact_points": r["impact_points"]}
                    for r in reasons[k]
                ],
                "policy_rules": [
                    {
                        "code": c,
                        "text": RULE_TEXTS[c][0 if lang == "es" else 1],
                        "effect": "decline" if c.startswith("KO_") else "review",
                    }
                    for c in rules
                ],
                "improvement_hints": hints[k],
                "language": lang,
            }
            out.append(Scored(response, feats, fingerprint(req)))
        return out

    def _pen_per(self, currency: str, as_of: pd.Timestamp) -> float | None:
        if currency == "PEN":
            return 1.0
        if self._rate_dates is None or self._rate_values is None:
            return None
        pos = int(np.searchsorted(self._rate_dates, as_of.to_datetime64(), side="right")) - 1
        return None if pos < 0 else float(self._rate_values[pos])

    def _hints(
        self, values: dict[str, Any], matrix: pd.DataFrame, points: pd.DataFrame, scores: np.ndarray, lang: str
    ) -> list[list[dict[str, Any]]]:
        """For each row: monotone inputs that pull the score down, moved to a typical better value, at most one
        per registry group (cash flow, profitability, leverage, payments, bureau): each is its own advice.

        The target is the training quartile on the safe side of the declared direction (the 25th
        percentile for a feature that raises risk, the 75th for one that lowers it); the points are the
        model's own score at that value, all else equal. Only numeric inputs are moved: the model reads them
        as they are, so each trial is its preprocessed row (``matrix``) with one cell set. ``values`` are the
        rows' source features by name (``column_map`` of the frame the matrix was made from).
        """
        trials: list[tuple[int, str, float, float]] = []
        pts = points.to_numpy()
        cols = [str(c) for c in points.columns]
        for k in range(len(points)):
            picked = 0
            for j in np.argsort(pts[k]):
                if pts[k, j] >= 0 or picked >= _HINT_TRIALS:
                    break
                name = cols[j]
                info = self.info.get(name)
                mono = info.monotone if info else 0
                target = self._target(name, mono)
                current = _plain(values[name][k]) if name in values else None
                if target is None or not isinstance(current, float) or (target - current) * mono >= 0:
                    continue  # no typical better value, or it is not an improvement
                if name not in self._numeric:
                    continue  # preprocessed (dates, encodings): the model does not read the value as given
                if not _actionable(name):
                    continue  # the region's economy, the firm's size or age: not something the owner can move
                picked += 1
                trials.append((k, name, current, target))
        out: list[list[dict[str, Any]]] = [[] for _ in range(len(points))]
        if not trials:
            return out
        # each trial is its preprocessed row with one input moved: copy the rows, then set one cell per trial
        rows = matrix.iloc[[k for k, *_ in trials]].reset_index(drop=True)
        where = {name: j for j, name in enumerate(rows.columns.tolist())}
        for i, (_k, name, _current, target) in enumerate(trials):
            rows.iat[i, where[name]] = target
        model = self.bundle.model
        moved = np.rint(score_from_pd(model.predict_pd_matrix(rows), model.scale))
        for (k, name, current, target), new in zip(trials, moved, strict=True):
            gain = float(new - scores[k])
            if gain < 1:
                continue
            out[k].append(
                {"feature": name, "text": _hint_text(name, current, target, lang), "current_value": current,
                 "target_value": target, "points": round(gain, 1)}
            )  # fmt: skip
        for k, hints in enumerate(out):  # the best of each group, the best three groups
            hints.sort(key=lambda h: -h["points"])
            seen: set[str] = set()
            kept: list[dict[str, Any]] = []
            for h in hints:
                group = BY_NAME[h["feature"]].group if h["feature"] in BY_NAME else h["feature"]
                if group not in seen and len(kept) < 3:
                    seen.add(group)
                    kept.append(h)
            out[k] = kept
        return out

    def _target(self, name: str, monotone: int) -> float | None:
        if monotone == 0:
            return None
        ref = self._ref.get(name)
        if not ref or ref.get("kind") != "numeric":
            return None
        quartiles = ref.get("quartiles") or []
        if len(quartiles) == 3:  # the training quartile on the safe side
            return float(quartiles[0] if monotone > 0 else quartiles[2])
        edges = ref.get("edges", [])  # a bundle written before quartiles were stored: its bin edges
        if len(edges) < 3:
            return None
        return float(edges[len(edges) // 4] if monotone > 0 else edges[(3 * len(edges)) // 4])


#: candidate inputs tried per application; the hints are the best of each group among them, three at most
_HINT_TRIALS = 8
#: what an owner can change by how the business is run (not the region, the sector, the firm's age or size)
HINT_GROUPS = frozenset({"cash_flow", "profitability", "leverage", "payment_behaviour", "bureau"})
#: amounts measure the size of the business, not how it is run: "raise income from S/ 3,897 to S/ 55,704"
#: (the training quartile of all firms) is no advice to a micro firm; its margins and ratios are
SIZE_UNITS = frozenset({"PEN", "PEN/month", "log PEN", "UIT"})


def _actionable(name: str) -> bool:
    """Whether a hint may suggest moving this input (a generic model's columns: any monotone one)."""
    f = BY_NAME.get(name)
    return f is None or (f.group in HINT_GROUPS and f.unit not in SIZE_UNITS)


def _hint_text(name: str, current: float, target: float, lang: str) -> str:
    """``Llevar «Margen de caja…» de 5.2% a 16.2%``: the input by the name of what it measures, both values
    in its unit (soles, percent, days; a log-scale amount as the amount)."""
    f = BY_NAME.get(name)
    if f is None:  # a generic model's column: its name and plain numbers
        what, now, then = name, f"{current:.4g}", f"{target:.4g}"
    else:
        what, now, then = quantity_name(f, lang), display_value(f, current, lang), display_value(f, target, lang)
    if lang == "es":
        return f"Llevar «{what}» de {now} a {then}"
    return f"Bring «{what}» from {now} to {then}"


def _typed_frame(records: list[dict[str, Any]], contract: TableContract) -> pd.DataFrame:
    """Records (already typed by the request schema) as a frame whose dtypes take the contract's fast paths.

    Numbers stay float64 and dates datetime64, so parsing them again as text is skipped; months stay text
    (YYYY-MM) and are parsed and checked by the contract. A date pandas cannot hold stays text and is
    refused by the contract with its row and column.
    """
    columns: dict[str, pd.Series] = {}
    for col in contract.columns:
        values = [r.get(col.name) for r in records]
        if col.kind in ("float", "int"):
            columns[col.name] = pd.Series([np.nan if v is None else v for v in values], dtype="float64")
        elif col.kind == "date":
            try:
                columns[col.name] = pd.Series(pd.to_datetime(pd.Series(values, dtype=object)), dtype="datetime64[ns]")
            except (ValueError, OverflowError, pd.errors.OutOfBoundsDatetime):
                columns[col.name] = pd.Series([None if v is None else str(v) for v in values], dtype=object)
        else:
            columns[col.name] = pd.Series(values, dtype=object)
    return pd.DataFrame(columns, index=pd.RangeIndex(len(records)))


def _reason_text(reason: dict[str, Any], key: str) -> str:
    """The registry's reason text; for a feature without one, its description (never a bare code)."""
    text = str(reason[key])
    f = BY_NAME.get(reason["code"])
    if text == reason["code"] and f is not None:
        return f.description_es if key == "text_es" else f.description_en
    return text


def _unique_ruc_batches(pending: list[_Pending]) -> list[list[_Pending]]:
    """Groups of one as_of whose RUCs are distinct (build_features keys firms by RUC)."""
    batches: list[list[_Pending]] = []
    for _, members in _group(pending, lambda p: p.as_of).items():
        rounds: list[list[_Pending]] = []
        seen: list[set[str]] = []
        for p in members:
            for b, s in zip(rounds, seen, strict=True):
                if p.request.ruc not in s:
                    b.append(p)
                    s.add(p.request.ruc)
                    break
            else:
                rounds.append([p])
                seen.append({p.request.ruc})
        batches.extend(rounds)
    return batches


def _group(items: list[_Pending], key: Any) -> dict[Any, list[_Pending]]:
    out: dict[Any, list[_Pending]] = defaultdict(list)
    for item in items:
        out[key(item)].append(item)
    return out


def _cell(raw: pd.DataFrame, row: int, col: str) -> object:
    if col in raw.columns and row in raw.index:
        return raw.at[row, col]
    return ""


def _plain(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, (float, np.floating)):
        return None if math.isnan(value) else float(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if pd.isna(value):
        return None
    return str(value)
