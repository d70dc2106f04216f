"""Benchmark: pymescore's test AUC against peer models on every public dataset of shared/datasets.

Protocol (benchmarks.toml): stratified 5-fold cross-validation, seed 20261127, the same folds for every method;
mean and standard deviation (ddof=1) of the test-fold AUC. ``sba_case`` uses the paper's own split instead
(Selected=1 train, Selected=0 test: one AUC, no std). Datasets larger than ``--max-rows`` (SBA national, 897k
labelled loans) are replaced by a stratified random sample of that size, recorded in the output.

``--repeats R`` repeats the 5 folds on R partitions (seeds 20261127, 20261128, …; the first is the default's), the
same for every method. pymescore against the best peer is also given as a paired gap with a 95% interval (Nadeau &
Bengio's corrected resampled t: the folds' training rows overlap, so the plain t-interval would be too narrow; on a
dataset's own split, a paired bootstrap of its test rows).

Methods: ``lightgbm``, ``xgboost``, ``logistic``, ``scorecard`` (peers) and ``pymescore``. pymescore gets the raw
columns and types them itself; the peers share one preprocessing, fitted inside each training fold
(see ``PeerPreprocessor``).

    python -m bench.accuracy --trials 10 --out bench/results/accuracy.json --md bench/results/accuracy.md
    python -m bench.accuracy --methods lightgbm,xgboost,logistic,scorecard --only german_credit,lending_club
    python -m bench.accuracy --only german_credit,polish_bankruptcy_5year --repeats 3 --out /tmp/a.json --md /tmp/a.md
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import statistics
import sys
import time
import traceback
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold

from bench._datasets import (
    DEFAULT_DATASETS_DIR,
    SEED,
    TOML_NAME,
    LoadedDataset,
    load_benchmarks,
    read_dataset,
    select,
    stratified_sample,
)

N_FOLDS = 5
TARGET = "__y__"
PEERS = ("lightgbm", "xgboost", "logistic", "scorecard")
METHODS = (*PEERS, "pymescore")

PREPROCESSING_DOC = (
    "One preprocessing shared by all peers, fitted on the training fold only: numeric and boolean columns are kept "
    "as numbers; a text column is read as numbers when at least 95% of its non-empty training values parse after "
    "stripping '$', ',', '%' and spaces (the rest become missing), as a date (days since 1970-01-01; two-digit "
    "years after the current year moved back a century) when at least 95% parse with one of a few fixed formats, "
    "as a category when it has at most 64 distinct training values (unseen test values become missing), and "
    "otherwise is frequency-encoded (share of training rows with that value; unseen values get 0). Columns empty "
    "in the training fold are dropped. lightgbm and xgboost get the categories as pandas categoricals "
    "(native categorical support); logistic one-hot encodes them (missing as its own level) and imputes numbers "
    "with the median before StandardScaler; scorecard gives categories to optbinning as categorical variables "
    "and uses the empirical WoE of the missing bin. fit seconds include this preprocessing."
)


# ---------------------------------------------------------------------------------------------------------------
# Peer preprocessing


_MONEY_JUNK = re.compile(r"[\$,%\s]")
_DATE_FORMATS = ("%Y-%m-%d", "%d-%b-%y", "%d-%b-%Y", "%m/%d/%Y", "%d/%m/%Y", "%Y%m%d")
_EPOCH = pd.Timestamp("1970-01-01")


def _as_text(col: pd.Series) -> pd.Series:
    """Object series of stripped strings, missing or empty as None."""
    if col.dtype == object and col.map(lambda v: isinstance(v, bytes)).any():
        col = col.map(lambda v: v.decode() if isinstance(v, bytes) else v)
    text = col.astype("string").str.strip()
    text = text.where(text != "", pd.NA)
    return text.astype(object).where(text.notna(), None)


def _parse_numbers(text: pd.Series) -> pd.Series:
    cleaned = text.astype("string").str.replace(_MONEY_JUNK, "", regex=True)
    return pd.to_numeric(cleaned.astype(object).where(cleaned.notna(), None), errors="coerce").astype(float)


def _parse_dates(text: pd.Series, fmt: str) -> pd.Series:
    """Days since 1970-01-01 (float), NaN where ``text`` does not match ``fmt``."""
    parsed = pd.to_datetime(text, format=fmt, errors="coerce")
    if "%y" in fmt:  # '28-Feb-62' is 1962 for a loan, not 2062
        year = parsed.dt.year
        year = year.where(year <= dt.date.today().year, year - 100)
        parsed = pd.to_datetime({"year": year, "month": parsed.dt.month, "day": parsed.dt.day}, errors="coerce")
    return ((parsed - _EPOCH).dt.total_seconds() / 86400.0).astype(float)


@dataclass
class _ColumnPlan:
    source: str
    name: str  # sanitized output name
    kind: str  # numeric | text_number | date | category | frequency
    date_format: str | None = None
    categories: list[str] = field(default_factory=list)
    frequencies: dict[str, float] = field(default_factory=dict)


class PeerPreprocessor:
    """The peers' shared, honest typing of raw columns (see PREPROCESSING_DOC); fit on training rows only."""

    def __init__(self, max_categories: int = 64, parse_share: float = 0.95) -> None:
        self.max_categories = max_categories
        self.parse_share = parse_share
        self.plans: list[_ColumnPlan] = []

    @property
    def numeric_columns(self) -> list[str]:
        return [p.name for p in self.plans if p.kind != "category"]

    @property
    def categorical_columns(self) -> list[str]:
        return [p.name for p in self.plans if p.kind == "category"]

    def kinds(self) -> dict[str, str]:
        return {p.source: p.kind for p in self.plans}

    def fit(self, frame: pd.DataFrame) -> PeerPreprocessor:
        self.plans = []
        used: set[str] = set()
        for source in frame.columns:
            plan = self._plan(frame[source], str(source))
            if plan is None:
                continue
            base = re.sub(r"[^0-9A-Za-z_]+", "_", plan.name).strip("_") or "col"
            name, i = base, 1
            while name in used:
                i += 1
                name = f"{base}_{i}"
            used.add(name)
            plan.name = name
            self.plans.append(plan)
        return self

    def _plan(self, col: pd.Series, source: str) -> _ColumnPlan | None:
        if col.isna().all():
            return None
        if pd.api.types.is_bool_dtype(col) or pd.api.types.is_numeric_dtype(col):
            return _ColumnPlan(source, source, "numeric")
        if pd.api.types.is_datetime64_any_dtype(col):
            return _ColumnPlan(source, source, "date")
        text = _as_text(col)
        present = text[text.notna()]
        if len(present) == 0:
            return None
        # Typing is decided on the first values (cheap), then confirmed on all of them.
        head = present.iloc[:2000]
        parsers: list[tuple[str | None, Callable[[pd.Series], pd.Series]]] = [(None, _parse_numbers)]
        parsers += [(fmt, lambda t, f=fmt: _parse_dates(t, f)) for fmt in _DATE_FORMATS]
        for date_format, parse in parsers:
            if parse(head).notna().mean() >= self.parse_share and parse(present).notna().mean() >= self.parse_share:
                if date_format is None:
                    return _ColumnPlan(source, source, "text_number")
                return _ColumnPlan(source, source, "date", date_format=date_format)
        counts = present.value_counts()
        if len(counts) <= self.max_categories:
            return _ColumnPlan(source, source, "category", categories=sorted(str(c) for c in counts.index))
        return _ColumnPlan(source, source, "frequency", frequencies=(counts / len(text)).to_dict())

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Float columns and pandas categoricals (with the training categories), in the fitted order."""
        out: dict[str, pd.Series] = {}
        for p in self.plans:
            col = frame[p.source].reset_index(drop=True)
            if p.kind == "numeric":
                out[p.name] = col.astype(float)
            elif p.kind == "date":
                if p.date_format is None:
                    out[p.name] = ((col - _EPOCH).dt.total_seconds() / 86400.0).astype(float)
                else:
                    out[p.name] = _parse_dates(_as_text(col), p.date_format)
            elif p.kind == "text_number":
                out[p.name] = _parse_numbers(_as_text(col))
            elif p.kind == "category":
                text = _as_text(col)
                text = text.where(text.isin(p.categories), None)  # unseen values: missing
                out[p.name] = pd.Series(pd.Categorical(text, categories=p.categories))
            else:
                text = _as_text(col)
                freq = text.map(lambda v, f=p.frequencies: np.nan if v is None else f.get(v, 0.0))
                out[p.name] = freq.astype(float)
        return pd.DataFrame(out)

    def fit_transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        return self.fit(frame).transform(frame)


def categories_as_objects(frame: pd.DataFrame, categorical: Sequence[str]) -> pd.DataFrame:
    """Categorical columns as object strings with NaN for missing (what sklearn and optbinning expect)."""
    out = frame.copy()
    for c in categorical:
        out[c] = out[c].astype(object).where(out[c].notna(), np.nan)
    return out


# ---------------------------------------------------------------------------------------------------------------
# Methods: each takes (x_train raw, y_train, x_test raw) and returns test PDs


Predictor = Callable[[pd.DataFrame, np.ndarray, pd.DataFrame], np.ndarray]


def _prep(x_train: pd.DataFrame, x_test: pd.DataFrame) -> tuple[PeerPreprocessor, pd.DataFrame, pd.DataFrame]:
    prep = PeerPreprocessor().fit(x_train)
    return prep, prep.transform(x_train), prep.transform(x_test)


def fit_lightgbm(x_train: pd.DataFrame, y: np.ndarray, x_test: pd.DataFrame) -> np.ndarray:
    from lightgbm import LGBMClassifier

    _, tr, te = _prep(x_train, x_test)
    model = LGBMClassifier(verbose=-1).fit(tr, y)
    return np.asarray(model.predict_proba(te)[:, 1])


def fit_xgboost(x_train: pd.DataFrame, y: np.ndarray, x_test: pd.DataFrame) -> np.ndarray:
    from xgboost import XGBClassifier

    _, tr, te = _prep(x_train, x_test)
    model = XGBClassifier(enable_categorical=True).fit(tr, y)
    return np.asarray(model.predict_proba(te)[:, 1])


def fit_logistic(x_train: pd.DataFrame, y: np.ndarray, x_test: pd.DataFrame) -> np.ndarray:
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    prep, tr, te = _prep(x_train, x_test)
    num, cat = prep.numeric_columns, prep.categorical_columns
    columns = ColumnTransformer(
        [
            ("num", Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]), num),
            (
                "cat",
                Pipeline(
                    [
                        ("impute", SimpleImputer(strategy="constant", fill_value="__missing__")),
                        ("onehot", OneHotEncoder(handle_unknown="ignore")),
                    ]
                ),
                cat,
            ),
        ]
    )
    model = Pipeline([("columns", columns), ("logistic", LogisticRegression(max_iter=2000))])
    model.fit(categories_as_objects(tr, cat), y)
    return np.asarray(model.predict_proba(categories_as_objects(te, cat))[:, 1])


def fit_scorecard(x_train: pd.DataFrame, y: np.ndarray, x_test: pd.DataFrame) -> np.ndarray:
    from optbinning import BinningProcess
    from sklearn.linear_model import LogisticRegression

    prep, tr, te = _prep(x_train, x_test)
    cat = prep.categorical_columns
    tr, te = categories_as_objects(tr, cat), categories_as_objects(te, cat)
    binning = BinningProcess(list(tr.columns), categorical_variables=cat).fit(tr, y)

    def woe(frame: pd.DataFrame) -> pd.DataFrame:
        return binning.transform(frame, metric="woe", metric_missing="empirical", metric_special="empirical")

    model = LogisticRegression(max_iter=2000).fit(woe(tr), y)
    return np.asarray(model.predict_proba(woe(te))[:, 1])


def pymescore_predictor(trials: int, time_budget: float | None, families: tuple[str, ...] | None = None) -> Predictor:
    """The adapter to the pymescore trainer: raw columns in, PDs out; ``families`` None: the trainer's default set
    (every installed family: XGBoost, LightGBM, scorecard, logistic)."""
    from pymescore.model import TrainConfig, fit

    def fit_pymescore(x_train: pd.DataFrame, y: np.ndarray, x_test: pd.DataFrame) -> np.ndarray:
        frame = x_train.copy()
        frame[TARGET] = y.astype(int)
        kwargs: dict[str, Any] = {"target": TARGET, "trials": trials, "seed": SEED, "families": families}
        if time_budget:  # None or 0: the trainer's default
            kwargs["time_budget"] = time_budget
        fitted = fit(frame, TrainConfig(**kwargs))
        return np.asarray(fitted.predict_pd(x_test), dtype=float)

    return fit_pymescore


PEER_FITTERS: dict[str, Predictor] = {
    "lightgbm": fit_lightgbm,
    "xgboost": fit_xgboost,
    "logistic": fit_logistic,
    "scorecard": fit_scorecard,
}


# ---------------------------------------------------------------------------------------------------------------
# The benchmark


def folds_for(data: LoadedDataset, repeats: int = 1) -> tuple[str, list[tuple[np.ndarray, np.ndarray]]]:
    """The protocol's description and its (train, test) index pairs, shared by every method: 5 stratified folds
    on each of ``repeats`` partitions (seed ``SEED + r``; the first is the one-partition protocol's), or the
    dataset's own split (one pair, whatever ``repeats``)."""
    if data.train_mask is not None:
        train, test = np.flatnonzero(data.train_mask), np.flatnonzero(~data.train_mask)
        col = data.spec.split_column
        return f"own split: {col}=1 train ({len(train)} rows), {col}=0 test ({len(test)} rows)", [(train, test)]
    pairs: list[tuple[np.ndarray, np.ndarray]] = []
    for r in range(repeats):
        skf = StratifiedKFold(N_FOLDS, shuffle=True, random_state=SEED + r)
        pairs += list(skf.split(np.zeros(len(data.y)), data.y))
    return protocol_text(repeats), pairs


def protocol_text(repeats: int) -> str:
    if repeats == 1:
        return f"stratified {N_FOLDS}-fold CV, seed {SEED}"
    return f"stratified {N_FOLDS}-fold CV repeated {repeats} times, seeds {SEED}-{SEED + repeats - 1}"


def paired_gap(own: Sequence[float], peer: Sequence[float], test_share: float) -> dict[str, Any] | None:
    """pymescore minus a peer, fold by fold on the same folds: the mean gap, the folds where pymescore is ahead,
    and a 95% interval by Nadeau & Bengio's corrected resampled t-test (Machine Learning 52, 2003): the variance of
    the J fold gaps is scaled by 1/J + n_test/n_train, not 1/J, since the folds share training rows. None for one
    split (no spread to read)."""
    d = np.asarray(own, dtype=float) - np.asarray(peer, dtype=float)
    if len(d) < 2:
        return None
    mean = float(d.mean())
    se = float(np.sqrt((1 / len(d) + test_share / (1 - test_share)) * d.var(ddof=1)))
    half = float(stats.t.ppf(0.975, len(d) - 1)) * se
    return {
        "mean": round(mean, 5),
        "ci95": [round(mean - half, 5), round(mean + half, 5)],
        "folds_ahead": int((d > 0).sum()),
        "folds": len(d),
        "test": "Nadeau-Bengio corrected resampled t, 95%",
    }


def paired_bootstrap(
    y: np.ndarray, own: np.ndarray, peer: np.ndarray, rounds: int = 2000, seed: int = SEED
) -> dict[str, Any]:
    """pymescore minus a peer on one split's test rows: the AUC gap, and a 95% percentile interval over
    ``rounds`` paired bootstrap resamples of the rows (positives and negatives resampled apart, so every resample
    has both; both methods scored on the same resample), with the share of resamples where pymescore is level
    or ahead."""
    rng = np.random.default_rng(seed)
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    gaps = np.empty(rounds)
    for b in range(rounds):
        rows = np.concatenate([rng.choice(pos, len(pos)), rng.choice(neg, len(neg))])
        gaps[b] = roc_auc_score(y[rows], own[rows]) - roc_auc_score(y[rows], peer[rows])
    lo, hi = np.percentile(gaps, [2.5, 97.5])
    return {
        "mean": round(float(roc_auc_score(y, own) - roc_auc_score(y, peer)), 5),
        "ci95": [round(float(lo), 5), round(float(hi), 5)],
        "share_level_or_ahead": round(float(np.mean(gaps >= 0)), 3),
        "rounds": rounds,
        "test": f"paired stratified bootstrap of the test rows, {rounds} resamples, 95% percentile",
    }


def _summarize(aucs: list[float]) -> tuple[float | None, float | None]:
    if not aucs:
        return None, None
    mean = statistics.fmean(aucs)
    std = statistics.stdev(aucs) if len(aucs) > 1 else None
    return mean, std


def run_method(
    name: str,
    predictor: Predictor,
    data: LoadedDataset,
    folds: list[tuple[np.ndarray, np.ndarray]],
    log: Any,
    predictions: list[np.ndarray] | None = None,
) -> dict[str, Any]:
    """One method on every fold: its test AUCs, fit seconds and warnings; each fold's test PDs appended to
    ``predictions`` when given (the paired bootstrap of a one-split dataset reads them)."""
    aucs: list[float] = []
    seconds: list[float] = []
    caught: dict[str, int] = {}
    result: dict[str, Any] = {}
    for k, (train, test) in enumerate(folds, start=1):
        x_tr, x_te = data.X.iloc[train].reset_index(drop=True), data.X.iloc[test].reset_index(drop=True)
        t0 = time.perf_counter()
        try:
            with warnings.catch_warnings(record=True) as records:
                warnings.simplefilter("always")
                p = predictor(x_tr, data.y[train], x_te)
        except Exception as exc:
            result["error"] = f"fold {k}: {type(exc).__name__}: {exc}"
            log(f"  [red]{name} failed on fold {k}: {type(exc).__name__}: {exc}[/red]")
            traceback.print_exc(file=sys.stderr)
            break
        seconds.append(time.perf_counter() - t0)
        for w in records:
            key = f"{w.category.__name__}: {str(w.message).splitlines()[0][:160]}"
            caught[key] = caught.get(key, 0) + 1
        if len(p) != len(test) or not np.all(np.isfinite(p)):
            result["error"] = f"fold {k}: {len(p)} predictions for {len(test)} rows or non-finite values"
            log(f"  [red]{name}: {result['error']}[/red]")
            break
        aucs.append(float(roc_auc_score(data.y[test], p)))
        if predictions is not None:
            predictions.append(np.asarray(p, dtype=float))
        log(f"  {name:<10} fold {k}/{len(folds)}  AUC {aucs[-1]:.4f}  ({seconds[-1]:.1f} s)")
    mean, std = _summarize(aucs)
    result.update(
        {
            "fold_auc": [round(a, 5) for a in aucs],
            "mean": None if mean is None else round(mean, 5),
            "std": None if std is None else round(std, 5),
            "fit_seconds": [round(s, 2) for s in seconds],
            "fit_seconds_total": round(sum(seconds), 2),
        }
    )
    if caught:
        result["warnings"] = dict(sorted(caught.items(), key=lambda kv: -kv[1])[:8])
    return result


def _fmt(mean: float | None, std: float | None) -> str:
    if mean is None:
        return "n/a"
    return f"{mean:.4f}" if std is None else f"{mean:.4f} ± {std:.4f}"


def _paired_cell(paired: dict[str, Any] | None) -> str:
    if paired is None:
        return "n/a"
    interval = f"[{paired['ci95'][0]:+.4f}, {paired['ci95'][1]:+.4f}]"
    if "folds" in paired:
        return f"{interval}, ahead on {paired['folds_ahead']}/{paired['folds']} folds"
    return f"{interval}, level or ahead on {100 * paired['share_level_or_ahead']:.0f}% of resamples"


def markdown(result: dict[str, Any]) -> str:
    methods: list[str] = result["methods"]
    head = [
        "dataset",
        "rows",
        "pos. rate",
        *methods,
        "best peer",
        "pymescore − best peer",
        "gap 95% interval",
        "published (toml)",
    ]
    lines = [
        "# pymescore accuracy against peers (test AUC, mean ± std over folds)",
        "",
        f"Protocol: {result['protocol']}. pymescore: trials={result['args']['trials']}, "
        f"time_budget={result['args']['time_budget']}. {result['pymescore_status']}",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for name, ds in result["datasets"].items():
        cells = [name, f"{ds['rows']:,}" + (" (sample)" if ds["sampled"] else ""), f"{100 * ds['positive_rate']:.2f}%"]
        for m in methods:
            r = ds["methods"].get(m)
            cells.append("not run" if r is None else ("error" if "error" in r else _fmt(r["mean"], r["std"])))
        best = ds.get("best_peer")
        cells.append("n/a" if best is None else f"{best} {ds['methods'][best]['mean']:.4f}")
        gap = ds.get("pymescore_gap")
        cells.append("n/a" if gap is None else f"{gap:+.4f}")
        paired = ds.get("pymescore_paired")
        cells.append(_paired_cell(paired))
        cells.append(ds["published"].replace("|", "/") or "-")
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "Protocol per dataset where it differs from the default:", ""]
    for name, ds in result["datasets"].items():
        if not ds["protocol"].startswith("stratified"):
            lines.append(f"- {name}: {ds['protocol']} (one AUC, no std)")
        if ds.get("extra_drop"):
            lines.append(f"- {name}: sensitivity run without {', '.join(ds['extra_drop'])} (--extra-drop)")
        if ds["sampled"]:
            lines.append(
                f"- {name}: stratified random sample of {ds['rows']:,} of {ds['rows_labelled']:,} labelled rows "
                f"(seed {SEED}, --max-rows)"
            )
    lines += [
        "",
        "Gap 95% interval: pymescore minus the best peer fold by fold on the same folds, Nadeau & Bengio's corrected "
        "resampled t (the folds share training rows, so the plain t-interval is too narrow), or on a dataset's own "
        "split a paired bootstrap of its test rows; an interval holding 0 "
        "is a gap the benchmark cannot tell from chance. The best peer is picked after seeing the test folds, so it "
        "is the luckiest of four.",
        "",
        f"Peer preprocessing: {result['peer_preprocessing']}",
        "",
    ]
    timing = result.get("seconds_by_method", {})
    if timing:
        lines += ["Fit seconds over all datasets and folds: " + ", ".join(f"{m} {s:.0f}" for m, s in timing.items())]
        lines += [f"Wall time: {result['total_seconds']:.0f} s", ""]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=Path, default=DEFAULT_DATASETS_DIR, help="folder with benchmarks.toml")
    parser.add_argument("--only", default="", help="comma-separated dataset names (default: all)")
    parser.add_argument(
        "--extra-drop",
        default="",
        help="more columns to drop for a sensitivity run, as dataset:column pairs (e.g. sba_national:Term)",
    )
    parser.add_argument("--methods", default=",".join(METHODS), help=f"comma-separated, from {','.join(METHODS)}")
    parser.add_argument("--trials", type=int, default=10, help="pymescore tuning trials")
    parser.add_argument(
        "--repeats",
        type=int,
        default=1,
        help="partitions of the 5 folds, the same for every method (default 1: the published protocol)",
    )
    parser.add_argument(
        "--time-budget", type=float, default=30.0, help="pymescore tuning budget per fit, seconds (0: trainer default)"
    )
    parser.add_argument(
        "--families",
        default="",
        help="pymescore's model families, comma-separated (default: the trainer's default set)",
    )
    parser.add_argument("--max-rows", type=int, default=100_000, help="stratified sample above this size (0: none)")
    parser.add_argument("--out", type=Path, default=Path("bench/results/accuracy.json"))
    parser.add_argument("--md", type=Path, default=Path("bench/results/accuracy.md"))
    args = parser.parse_args(argv)

    from rich.console import Console

    console = Console(stderr=True, highlight=False, soft_wrap=True)
    log = console.print

    toml = args.datasets / TOML_NAME
    if not toml.is_file():
        raise SystemExit(
            f"shared datasets not found at {args.datasets} (no {TOML_NAME} there): "
            "put the shared folder next to the repository or pass --datasets DIR"
        )
    if args.repeats < 1:
        raise SystemExit(f"--repeats wants a whole number of partitions, 1 or more; got {args.repeats}")
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise SystemExit(f"unknown method(s) {unknown}; known: {', '.join(METHODS)}")
    specs = select(load_benchmarks(toml), [n.strip() for n in args.only.split(",") if n.strip()])
    extra_drop: dict[str, list[str]] = {}
    for pair in filter(None, (p.strip() for p in args.extra_drop.split(","))):
        name, _, column = pair.partition(":")
        if not column:
            raise SystemExit(f"--extra-drop wants dataset:column pairs, got {pair!r}")
        extra_drop.setdefault(name, []).append(column)
    select(load_benchmarks(toml), list(extra_drop))  # fails on unknown dataset names

    fitters: dict[str, Predictor] = {m: PEER_FITTERS[m] for m in methods if m in PEER_FITTERS}
    pymescore_status = "pymescore not requested."
    if "pymescore" in methods:
        try:
            families = tuple(f.strip() for f in args.families.split(",") if f.strip()) or None
            fitters["pymescore"] = pymescore_predictor(args.trials, args.time_budget, families)
            from pymescore.model._families import resolve

            chosen, why = resolve(families)
            pymescore_status = (
                f"pymescore trainer: pymescore.model.fit on raw columns; families {','.join(chosen)} ({why})."
            )
        except ImportError as exc:
            pymescore_status = f"pymescore NOT run: import pymescore.model failed ({exc}); peers only."
            log(f"[yellow]{pymescore_status}[/yellow]")
    run_methods = list(fitters)

    started = time.perf_counter()
    datasets: dict[str, Any] = {}
    for spec in specs:
        t0 = time.perf_counter()
        full = read_dataset(spec)
        if spec.name in extra_drop:
            full.X = full.X.drop(columns=extra_drop[spec.name])
        data = stratified_sample(full, args.max_rows)
        protocol, folds = folds_for(data, args.repeats)
        log(
            f"[bold]{spec.name}[/bold]: {len(data.y):,} rows"
            + (f" (sample of {len(full.y):,})" if len(data.y) < len(full.y) else "")
            + f", {data.X.shape[1]} columns, positive rate {data.y.mean():.2%}; {protocol}"
            + f"; loaded in {time.perf_counter() - t0:.1f} s"
        )
        entry: dict[str, Any] = {
            "rows": len(data.y),
            "rows_labelled": len(full.y),
            "excluded_empty_target": full.excluded_empty_target,
            "sampled": len(data.y) < len(full.y),
            "columns": data.X.shape[1],
            "positive_rate": round(float(data.y.mean()), 5),
            "protocol": protocol,
            "published": spec.published,
            "extra_drop": extra_drop.get(spec.name, []),
            "peer_column_kinds": PeerPreprocessor().fit(data.X).kinds(),
            "methods": {},
        }
        predictions: dict[str, list[np.ndarray]] = {name: [] for name in fitters}  # kept for one split only
        for name, predictor in fitters.items():
            kept = predictions[name] if len(folds) == 1 else None
            entry["methods"][name] = run_method(name, predictor, data, folds, log, kept)
        peers = {m: r["mean"] for m, r in entry["methods"].items() if m in PEERS and r["mean"] is not None}
        peers = {m: v for m, v in peers.items() if "error" not in entry["methods"][m]}
        entry["best_peer"] = max(peers, key=lambda m: peers[m]) if peers else None
        own = entry["methods"].get("pymescore", {})
        entry["pymescore_gap"] = (
            round(own["mean"] - peers[entry["best_peer"]], 5)
            if entry["best_peer"] and own.get("mean") is not None and "error" not in own
            else None
        )
        entry["pymescore_paired"] = None
        if entry["pymescore_gap"] is not None:
            best = entry["best_peer"]
            entry["pymescore_paired"] = (
                paired_gap(own["fold_auc"], entry["methods"][best]["fold_auc"], 1 / N_FOLDS)
                if len(folds) > 1  # one split: the spread comes from its test rows
                else paired_bootstrap(data.y[folds[0][1]], predictions["pymescore"][0], predictions[best][0])
            )
        datasets[spec.name] = entry

    total = time.perf_counter() - started
    result: dict[str, Any] = {
        "benchmark": "accuracy",
        "protocol": f"{protocol_text(args.repeats)}, same folds for every method; std with ddof=1",
        "args": {
            "datasets": str(args.datasets),
            "only": args.only,
            "extra_drop": extra_drop,
            "methods": run_methods,
            "trials": args.trials,
            "repeats": args.repeats,
            "time_budget": args.time_budget,
            "families": args.families or "default",
            "max_rows": args.max_rows,
        },
        "methods": run_methods,
        "pymescore_status": pymescore_status,
        "peer_preprocessing": PREPROCESSING_DOC,
        "datasets": datasets,
        "seconds_by_method": {
            m: round(sum(d["methods"][m]["fit_seconds_total"] for d in datasets.values()), 1) for m in run_methods
        },
        "total_seconds": round(total, 1),
    }
    args.md.parent.mkdir(parents=True, exist_ok=True)
    args.md.write_text(markdown(result))
    log(f"wrote {args.md} and {args.out} in {total:.0f} s")

    from bench._common import write_result

    write_result(result, args.out)


if __name__ == "__main__":
    main()
