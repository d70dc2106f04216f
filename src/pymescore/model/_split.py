"""Which rows test the model and which develop it: an out-of-time test on the latest observation dates (or a
grouped holdout), the embargo on development rows whose outcome is not known by the first test date, and the
stratified (grouped) folds of the development rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

from pymescore.model._data import Prepared


def folds(y: np.ndarray, groups: np.ndarray, k: int, seed: int, grouped: bool) -> list[tuple[np.ndarray, np.ndarray]]:
    """``k`` stratified folds (train, validation) as row positions; whole groups in one fold when ``grouped``."""
    if grouped:
        return list(StratifiedGroupKFold(k, shuffle=True, random_state=seed).split(np.zeros(len(y)), y, groups))
    return list(StratifiedKFold(k, shuffle=True, random_state=seed).split(np.zeros(len(y)), y))


def choose_test(prep: Prepared) -> tuple[np.ndarray, str | None, list[str]]:
    """Mask of test rows, its kind and (out of time) its dates."""
    cfg, n = prep.config, len(prep.y)
    if prep.times is not None:
        dates = np.unique(prep.times)
        if len(dates) >= 2:
            k = max(1, round(len(dates) * cfg.oot_fraction))
            k = min(k, len(dates) - 1)
            test = prep.times >= dates[-k]
            return test, "out_of_time", [str(pd.Timestamp(d).date()) for d in dates[-k:]]
    if cfg.holdout > 0:
        k = max(2, round(1 / cfg.holdout))
        grouped = cfg.group_col is not None
        _, test_idx = folds(prep.y, prep.groups, k, cfg.seed + 1, grouped)[0]
        test = np.zeros(n, dtype=bool)
        test[test_idx] = True
        return test, "holdout", []
    return np.zeros(n, dtype=bool), None, []


def embargo_applies(prep: Prepared, test_kind: str | None) -> bool:
    """An out-of-time test on rows that know their outcome windows (the domain's ``label_end_col``), embargo
    not turned off."""
    return prep.config.embargo and prep.label_ends is not None and test_kind == "out_of_time"


def embargoed(prep: Prepared, test_mask: np.ndarray, test_kind: str | None) -> np.ndarray:
    """Rows outside the test whose outcome window ends after the first test date (none when the embargo does
    not apply)."""
    if not embargo_applies(prep, test_kind) or prep.label_ends is None or prep.times is None or not test_mask.any():
        return np.zeros(len(prep.y), dtype=bool)
    first_test = prep.times[test_mask].min()
    out: np.ndarray = ~test_mask & (prep.label_ends > first_test)
    return out


def extra_folds(
    splits: list[tuple[np.ndarray, np.ndarray]], known_groups: np.ndarray, extra_groups: np.ndarray, seed: int
) -> np.ndarray:
    """The fold of each extra row (reject inference's rejects) for ``splits`` of the known rows: the fold its group
    validates in when the group has known rows, else a fold drawn for its group; so no group is ever in a fold's
    training and in its validation."""
    fold_of: dict[str, int] = {}
    for i, (_, valid) in enumerate(splits):
        fold_of.update(dict.fromkeys(known_groups[valid].tolist(), i))
    unseen = sorted(set(extra_groups.tolist()) - set(fold_of))
    drawn = np.random.default_rng(seed).integers(0, len(splits), len(unseen))
    fold_of.update(zip(unseen, drawn.tolist(), strict=True))
    return np.array([fold_of[g] for g in extra_groups.tolist()], dtype=np.int64)


def development_rejects(
    prep: Prepared, test_mask: np.ndarray, test_kind: str | None
) -> tuple[np.ndarray, dict[str, int]]:
    """Which rejected applications may join the development rows, and how many were left out why: never one dated
    in the out-of-time test's period (or of a test group of a holdout), nor one the embargo would leave out."""
    rejects = prep.rejects
    if rejects is None:
        return np.zeros(0, dtype=bool), {}
    use = np.ones(len(rejects.X), dtype=bool)
    why: dict[str, int] = {}
    if test_kind == "out_of_time" and rejects.times is not None and prep.times is not None and test_mask.any():
        first_test = prep.times[test_mask].min()
        late = rejects.times >= first_test
        why["test_period"] = int(late.sum())
        use &= ~late
        if embargo_applies(prep, test_kind) and rejects.label_ends is not None:
            held = use & (rejects.label_ends > first_test)
            why["embargoed"] = int(held.sum())
            use &= ~held
    elif test_kind == "holdout" and prep.config.group_col is not None:
        tested = np.isin(rejects.groups, prep.groups[test_mask])
        why["test_groups"] = int(tested.sum())
        use &= ~tested
    return use, why


def stratified_sample(y: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Positions of at most ``n`` rows, each outcome in its share of ``y`` (at least one row of each), sorted;
    every row when there are no more than ``n``."""
    if len(y) <= n:
        return np.arange(len(y))
    rng = np.random.default_rng(seed)
    picked = []
    for value in np.unique(y):
        rows = np.flatnonzero(y == value)
        take = max(1, round(n * len(rows) / len(y)))
        picked.append(rng.choice(rows, min(take, len(rows)), replace=False))
    return np.sort(np.concatenate(picked))
