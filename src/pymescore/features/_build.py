"""``build_features``: every feature of the registry for every firm, at one as_of, by one code path."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache

import numpy as np
import pandas as pd

from pymescore.contracts import object_array
from pymescore.features._arrays import Arrays, entity_codes, month_number
from pymescore.features._bureau import BureauPanel, bureau_features, delinquent_12m
from pymescore.features._cashflow import CashflowPanel, cashflow_features, income_growth_12m
from pymescore.features._catalog import BY_NAME, FEATURE_NAMES
from pymescore.features._config import FeatureConfig
from pymescore.features._context import Context, compute_context, context_features
from pymescore.features._firmographics import DEPARTMENT_CODES, SECTIONS, firm_features
from pymescore.features._payments import payment_features
from pymescore.features._statements import statement_features

#: columns each builder reads (money in PEN: the lake adds *_pen at ingestion)
INPUT_COLUMNS: dict[str, tuple[str, ...]] = {
    "firms": ("ruc", "ciiu", "ubigeo", "start_date", "taxpayer_state", "domicile_condition"),
    "monthly_cashflows": ("ruc", "month", "currency", "income_pen", "expenses_pen"),
    "financial_statements": (
        "ruc", "period_end", "total_assets_pen", "total_liabilities_pen", "equity_pen", "revenue_pen",
        "cost_of_sales_pen", "net_income_pen",
    ),
    "payments": ("ruc", "due_date", "paid_date", "amount_due_pen", "amount_paid_pen", "currency"),
    "bureau_ratings": ("ruc", "month", "sbs_rating", "debt_total", "n_lenders"),
}  # fmt: skip
HISTORY_TABLES = ("monthly_cashflows", "financial_statements", "payments", "bureau_ratings")
_DATES = {"start_date", "month", "period_end", "due_date", "paid_date"}
_TEXT = {"ruc", "ciiu", "ubigeo", "taxpayer_state", "domicile_condition", "currency"}


def _table(tables: Mapping[str, pd.DataFrame], name: str) -> pd.DataFrame:
    """The table with the columns the builders read; an empty one when it is absent."""
    columns = INPUT_COLUMNS[name]
    frame = tables.get(name)
    if frame is None:
        return _empty(name)
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        from pymescore.errors import ContractError

        raise ContractError(
            f"{name}: expected the columns {', '.join(columns)}, got no {', '.join(missing)} "
            "(amounts must be converted to PEN first: ingest the table into the lake)",
            code="FEATURE_INPUT",
        )
    return frame


@cache
def _empty(name: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            c: pd.Series(dtype="datetime64[ns]" if c in _DATES else object if c in _TEXT else float)
            for c in INPUT_COLUMNS[name]
        }
    )


def as_timestamp(as_of: object) -> pd.Timestamp:
    ts = pd.Timestamp(as_of)  # type: ignore[arg-type]
    if ts != ts.normalize():
        from pymescore.errors import ContractError

        raise ContractError(f"as_of: expected a date, got {as_of!r} with a time of day", code="FEATURE_INPUT")
    return ts


def build_features(
    tables: Mapping[str, pd.DataFrame],
    as_of: object,
    config: FeatureConfig | None = None,
    context: Context | None = None,
) -> pd.DataFrame:
    """One row per firm of ``tables["firms"]`` that had started before ``as_of``.

    Reads only records dated before ``as_of`` (statements from ``period_end`` + the filing lag). Missing
    inputs give NaN and the ``has_*`` flags, never a silent zero. ``context`` (regional and sector
    figures) is computed from ``tables`` when not given: pass the batch's context to score one firm as
    the batch would. The batch edge: frames become arrays keyed by an entity index, then
    :func:`build_feature_arrays` computes every feature.
    """
    config = config or FeatureConfig()
    ts = as_timestamp(as_of)
    arrays, n = edge_arrays(tables, ts)
    values = build_feature_arrays(arrays, n, ts, config, context)
    return _assemble(arrays["firms"]["ruc"], values)


def edge_arrays(tables: Mapping[str, pd.DataFrame], ts: pd.Timestamp) -> tuple[dict[str, dict[str, np.ndarray]], int]:
    """The batch edge: the firms that had started before ``ts`` (one entity each, in table order) and every
    history's records of those firms, as the builders' arrays (``entity``: the firm's index)."""
    firms_table = _table(tables, "firms")
    start = firms_table["start_date"].to_numpy(dtype="datetime64[ns]")
    started = np.isnat(start) | (start < ts.to_datetime64())
    if not started.all():
        firms_table = firms_table[started]
    rucs = firms_table["ruc"].to_numpy(dtype=object)
    out = {"firms": _columns(firms_table, INPUT_COLUMNS["firms"])}
    for name in HISTORY_TABLES:
        frame = _table(tables, name)
        codes = entity_codes(rucs, frame["ruc"].to_numpy(dtype=object))
        keep = codes >= 0
        frame = frame if keep.all() else frame[keep]
        out[name] = {**_columns(frame, INPUT_COLUMNS[name]), "entity": codes[keep]}
    return out, len(rucs)


def build_sequences(tables: Mapping[str, pd.DataFrame], as_of: object) -> np.ndarray:
    """The monthly histories (``_sequences``) of the firms :func:`build_features` returns, in its row order."""
    from pymescore.features._sequences import sequence_arrays

    ts = as_timestamp(as_of)
    arrays, n = edge_arrays(tables, ts)
    return sequence_arrays(arrays, n, ts)


def _columns(frame: pd.DataFrame, names: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Columns as the builders read them: dates datetime64, text object (None missing), numbers float64."""
    out: dict[str, np.ndarray] = {}
    for c in names:
        if c in _DATES:
            out[c] = frame[c].to_numpy(dtype="datetime64[ns]")
        elif c in _TEXT:
            out[c] = object_array(frame[c])
        else:
            out[c] = frame[c].to_numpy(dtype=np.float64, na_value=np.nan)
    return out


def build_feature_arrays(
    tables: Mapping[str, Arrays],
    n: int,
    as_of: pd.Timestamp,
    config: FeatureConfig | None = None,
    context: Context | None = None,
) -> dict[str, np.ndarray]:
    """Every feature of ``n`` entities as arrays (numbers float64; ``ciiu_section`` and ``department`` as
    object arrays of labels), unclipped. ``tables["firms"]`` has one row per entity in entity order; each
    history has ``entity``. Point in time: only what is dated before ``as_of`` is read."""
    config = config or FeatureConfig()
    cash, bureau = _panels(tables, n, as_of, config)
    values: dict[str, object] = {}
    values.update(cashflow_features(cash, as_of, config))
    values.update(statement_features(tables["financial_statements"], n, as_of, config.statement_lag_months))
    values.update(payment_features(tables["payments"], n, as_of))
    values.update(bureau_features(bureau))
    values.update(firm_features(tables["firms"], as_of))
    if context is None:
        context = _context(values, cash, bureau)
    values.update(context_features(context, _obj(values["department"]), _obj(values["ciiu_section"])))
    return {k: _obj(v) for k, v in values.items()}


def clip_to_range(values: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Numeric features clipped to their registry's valid range (what a snapshot and the model hold), in one
    operation over the stacked features."""
    names, lo, hi = _clipped_features()
    out = dict(values)
    block = np.clip(np.vstack([np.asarray(values[name], dtype=np.float64) for name in names]), lo, hi)
    out.update(zip(names, block, strict=True))
    return out


@cache
def _clipped_features() -> tuple[list[str], np.ndarray, np.ndarray]:
    """The numeric features with a valid range, and their bounds as columns (±inf where open)."""
    names = [n for n in FEATURE_NAMES if BY_NAME[n].kind != "categorical" and BY_NAME[n].valid_range != (None, None)]
    lo = np.array([[-np.inf if BY_NAME[n].valid_range[0] is None else BY_NAME[n].valid_range[0]] for n in names])
    hi = np.array([[np.inf if BY_NAME[n].valid_range[1] is None else BY_NAME[n].valid_range[1]] for n in names])
    return names, lo, hi


_CATEGORY_CODES = {
    "ciiu_section": {c: i for i, c in enumerate(SECTIONS)},
    "department": {c: i for i, c in enumerate(DEPARTMENT_CODES)},
}
_CATEGORY_DTYPES = {
    "ciiu_section": pd.CategoricalDtype(pd.Index(SECTIONS)),
    "department": pd.CategoricalDtype(pd.Index(DEPARTMENT_CODES)),
}


def _assemble(rucs: np.ndarray, values: Mapping[str, np.ndarray]) -> pd.DataFrame:
    """Registry order; numeric features clipped to their valid range, in one float block."""
    numeric = [name for name in FEATURE_NAMES if BY_NAME[name].kind != "categorical"]
    clipped = clip_to_range(values)
    block = np.empty((len(rucs), len(numeric)), dtype=np.float64)
    for j, name in enumerate(numeric):
        block[:, j] = clipped[name]
    frame = pd.DataFrame(block, columns=numeric)
    frame.insert(0, "ruc", rucs)
    for position, name in enumerate(FEATURE_NAMES, start=1):
        if BY_NAME[name].kind == "categorical":
            lookup = _CATEGORY_CODES[name]
            codes = np.fromiter((lookup.get(v, -1) for v in values[name]), dtype=np.int8, count=len(rucs))
            categorical = pd.Categorical.from_codes(codes, dtype=_CATEGORY_DTYPES[name])
            frame.insert(position, name, categorical)  # type: ignore[arg-type]
    return frame


def _obj(values: object) -> np.ndarray:
    assert isinstance(values, np.ndarray)
    return values


def _panels(
    tables: Mapping[str, Arrays], n: int, as_of: pd.Timestamp, config: FeatureConfig
) -> tuple[CashflowPanel, BureauPanel]:
    """The monthly cash-flow and bureau panels of ``n`` entities over the window that ends before ``as_of``."""
    last_month = int(month_number(np.array([(as_of - pd.Timedelta(days=1)).to_datetime64()]))[0])
    return (CashflowPanel(tables["monthly_cashflows"], n, last_month, config.window_months),
            BureauPanel(tables["bureau_ratings"], n, last_month, config.window_months))  # fmt: skip


def _context(firm_values: Mapping[str, object], cash: CashflowPanel, bureau: BureauPanel) -> Context:
    return compute_context(
        _obj(firm_values["department"]),
        _obj(firm_values["ciiu_section"]),
        income_growth_12m(cash),
        delinquent_12m(bureau),
    )


def context_inputs(
    tables: Mapping[str, pd.DataFrame], as_of: object, config: FeatureConfig | None = None
) -> pd.DataFrame:
    """What the regional/sector context is computed from, one row per firm of ``tables`` at ``as_of``
    (department, section, income_growth_12m, delinquent_12m): a batch split by firm gathers its parts' rows and
    computes the one context of the whole batch from them (:func:`context_from_inputs`)."""
    config = config or FeatureConfig()
    ts = as_timestamp(as_of)
    arrays, n = edge_arrays(tables, ts)
    cash, bureau = _panels(arrays, n, ts, config)
    firm = firm_features(arrays["firms"], ts)
    return pd.DataFrame(
        {
            "department": _obj(firm["department"]),
            "section": _obj(firm["ciiu_section"]),
            "income_growth_12m": income_growth_12m(cash),
            "delinquent_12m": delinquent_12m(bureau),
        }
    )


def context_from_inputs(inputs: pd.DataFrame) -> Context:
    """The context of the firms whose :func:`context_inputs` are stacked in ``inputs``."""
    return compute_context(
        inputs["department"].to_numpy(dtype=object),
        inputs["section"].to_numpy(dtype=object),
        inputs["income_growth_12m"].to_numpy(dtype=np.float64),
        inputs["delinquent_12m"].to_numpy(dtype=np.float64),
    )


def feature_context(tables: Mapping[str, pd.DataFrame], as_of: object, config: FeatureConfig | None = None) -> Context:
    """The regional/sector context of a batch at ``as_of``: store it with a model to score one firm online."""
    return context_from_inputs(context_inputs(tables, as_of, config))
