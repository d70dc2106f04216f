"""The generic trainer knows no domain: what it knows of a table's family comes in as a ``Domain`` parameter.

The SME snapshot's knowledge (keys, firm groups, observation dates, outcome windows, the registry's types,
directions and reason texts) lives in ``pymescore.features._adapter``; the model layer imports nothing of the
features (import-linter holds that) and reads any table the same way without a domain.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pytest

from pymescore.errors import ConfigError
from pymescore.features import BY_NAME, FEATURE_NAMES
from pymescore.features._adapter import CATEGORIES, SNAPSHOT_KEYS, sme_snapshot, snapshot_domain
from pymescore.model import Domain, TrainConfig, train
from pymescore.model._data import column_types, prepare


@dataclass(frozen=True)
class Shop:
    """A made-up domain: rows keyed by shop and week, grouped by shop, dated by week."""

    name: str = "shops"
    keys: tuple[str, ...] = ("shop", "week", "window_end")
    group_col: str | None = "shop"
    time_col: str | None = "week"
    label_end_col: str | None = "window_end"
    monotone: Mapping[str, int] = field(default_factory=lambda: {"late_days": 1, "sales": -1})
    types: Mapping[str, tuple[str, tuple[str, ...]]] = field(
        default_factory=lambda: {"region": ("shops: region", ("north", "south", "east")), "sales": ("shops: sum", ())}
    )
    reasons: Mapping[str, tuple[str, str]] = field(
        default_factory=lambda: {"late_days": ("Días de atraso", "Late days")}
    )


def _shops(n: int = 600, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    weeks = pd.to_datetime(rng.choice(["2024-01-07", "2024-03-03", "2024-06-02"], n))
    late = rng.poisson(3, n).astype(float)
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-(0.4 * late - 2)))).astype(int)
    return pd.DataFrame({
        "shop": rng.integers(0, 150, n).astype(str), "week": weeks, "window_end": weeks + pd.Timedelta(days=90),
        "region": rng.choice(["north", "south"], n), "sales": rng.normal(100, 20, n), "late_days": late,
        "bad": y,
    })  # fmt: skip


def test_a_domain_satisfies_the_protocol_as_plain_data() -> None:
    # structural: the model layer never imports a domain (mypy checks the SME one where runs.py passes it)
    domain: Domain = Shop()
    assert domain.name == "shops"
    sme: Domain = sme_snapshot()
    assert sme.keys == SNAPSHOT_KEYS


def test_prepare_takes_keys_groups_dates_and_directions_from_the_domain() -> None:
    frame = _shops()
    prep = prepare(frame, TrainConfig(target="bad", monotone={"sales": 0}), Shop())
    assert list(prep.X.columns) == ["region", "sales", "late_days"]  # keys and target left out
    assert (prep.config.group_col, prep.config.time_col) == ("shop", "week")
    assert dict(prep.config.monotone or {}) == {"late_days": 1, "sales": 0}  # the config's direction wins
    assert prep.label_ends is not None
    assert prep.domain == Shop()


def test_without_a_domain_the_same_table_is_any_table() -> None:
    frame = _shops()
    prep = prepare(frame, TrainConfig(target="bad"))
    assert prep.domain is None
    assert prep.label_ends is None
    assert (prep.config.group_col, prep.config.time_col) == (None, None)
    assert {"shop", "window_end"} <= set(prep.X.columns)  # nothing says they are keys
    with pytest.raises(ConfigError, match="key or dropped"):
        prepare(frame, TrainConfig(target="bad", monotone={"shop": 1}), Shop())


def test_declared_types_win_and_the_rest_is_inferred() -> None:
    x = _shops()[["region", "sales", "late_days"]]
    types = {ct.column: ct for ct in column_types(x, Shop(), max_categories=50)}
    assert (types["region"].kind, types["region"].rule, types["region"].categories) == (
        "category", "shops: region", ("north", "south", "east"),
    )  # fmt: skip
    assert (types["sales"].kind, types["sales"].rule) == ("numeric", "shops: sum")
    assert types["late_days"].rule == column_types(x[["late_days"]], None, 50)[0].rule  # inferred as without


def test_training_with_a_domain_reports_it_and_carries_its_reasons() -> None:
    config = TrainConfig(target="bad", trials=1, time_budget=5.0, folds=3, families=("logistic",), embargo=False)
    result = train(_shops(900), config, domain=Shop())
    assert result.report["domain"] == "shops"
    assert result.report["snapshot"] is True  # trained with a domain (the bundle's and the report's flag)
    assert result.report["test_kind"] == "out_of_time"
    info = {f.name: f for f in result.model.features}
    assert (info["late_days"].reason_es, info["late_days"].reason_en, info["late_days"].monotone) == (
        "Días de atraso", "Late days", 1,
    )  # fmt: skip
    plain = train(_shops(900).drop(columns=["shop", "week", "window_end"]), config)
    assert plain.report["domain"] is None
    assert plain.report["snapshot"] is False


def test_the_sme_adapter_says_what_the_registry_says() -> None:
    domain = sme_snapshot()
    assert set(domain.types) == set(FEATURE_NAMES)
    for name, f in BY_NAME.items():
        rule, categories = domain.types[name]
        assert domain.monotone[name] == f.monotone
        assert domain.reasons[name] == (f.reason_es, f.reason_en)
        if f.kind == "categorical":
            assert (rule, categories) == ("registry: categorical", CATEGORIES[name])
        else:
            assert (rule, categories) == (f"registry: {f.kind}", ())
    assert (domain.group_col, domain.time_col, domain.label_end_col) == ("ruc", "as_of", "label_window_end")


def test_snapshot_domain_is_for_tables_holding_every_registry_feature() -> None:
    snapshot = pd.DataFrame(columns=["ruc", "as_of", *FEATURE_NAMES, "default_12m", "label_window_end"])
    assert snapshot_domain(snapshot) is sme_snapshot()
    assert snapshot_domain(snapshot.drop(columns=[FEATURE_NAMES[0]])) is None
    assert snapshot_domain(_shops()) is None
