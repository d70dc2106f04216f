"""Snapshots: (ruc, as_of, features…, default_12m, label_window_end) for many as_of dates, with lineage; with
``sequences``, also each firm's last 36 months of history (``seq_*`` columns, ``_sequences``).

A lake with an ``applications`` table (a lender's applications and its decisions, e.g. ``simulate
--policy-history``) gives one row per application instead of one per firm at risk: the firms that applied on each
as_of, with ``rejected`` (1 for a rejected application, whose label is missing: no loan, no outcome; 0 otherwise).
What the trainer does with the rejected rows is ``train --reject-inference``'s choice (docs/reject-inference.md).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from pymescore.features._build import INPUT_COLUMNS, as_timestamp, build_features, build_sequences
from pymescore.features._catalog import FEATURES
from pymescore.features._config import DEFINITIONS, FeatureConfig
from pymescore.features._context import Context
from pymescore.features._labels import build_labels
from pymescore.features._registry import registry_hash
from pymescore.features._sequences import SEQUENCE_MONTHS, sequence_columns
from pymescore.lake import Lake

LINEAGE_KEY = b"pymescore.lineage"
#: the lake's PEN/USD series the snapshot's amounts were converted with (JSON), kept in the Parquet's metadata and
#: in ``snapshot.attrs["exchange_rates"]`` (a string: pandas copies attrs on every operation) for the bundle
RATES_KEY = b"pymescore.exchange_rates"
#: the snapshot column that marks a rejected application (only with an ``applications`` table in the lake)
REJECTED = "rejected"


def rates_record(lake: Lake) -> str | None:
    """The lake's exchange_rates as the bundle stores them (JSON): source, dates, rates; None without any."""
    rates = lake.read_optional("exchange_rates")
    if rates is None:
        return None
    table = rates.dropna(subset=["date", "pen_per_usd"]).sort_values("date")
    if table.empty:
        return None
    version = lake.versions().get("exchange_rates")
    return json.dumps({
        "source": f"lake {lake.root}, exchange_rates version {version}",
        "dates": [str(d.date()) for d in pd.to_datetime(table["date"])],
        "pen_per_usd": [float(v) for v in table["pen_per_usd"]],
    })  # fmt: skip


def read_lake_tables(lake: Lake) -> dict[str, pd.DataFrame]:
    """The columns the builders read, of every table the lake has."""
    present = set(lake.tables())
    return {name: lake.read(name, columns=list(cols)) for name, cols in INPUT_COLUMNS.items() if name in present}


def snapshot_rows(
    tables: Mapping[str, pd.DataFrame],
    dates: Sequence[pd.Timestamp],
    config: FeatureConfig,
    contexts: Mapping[pd.Timestamp, Context] | None = None,
    data_end: float | None = None,
    progress: Callable[[str], None] | None = None,
    applications: pd.DataFrame | None = None,
    sequences: bool = False,
) -> pd.DataFrame:
    """The snapshot rows of the firms in ``tables`` at each date: features and labels, firms already in default
    left out. ``contexts`` (by date) and ``data_end`` are the whole batch's when ``tables`` hold a part of it
    (one partition of firms: ``pymescore.features._partitioned``); without them, computed from ``tables``.
    ``applications`` (the lake's table): only the firms that applied on each date (``applications_at``);
    ``sequences``: each row's monthly histories too (``seq_*``)."""
    parts = []
    for ts in dates:
        if progress:
            progress(str(ts.date()))
        features = build_features(tables, ts, config, None if contexts is None else contexts[ts])
        if sequences:  # the same firms in the same order (the same batch edge)
            features = features.assign(**sequence_columns(build_sequences(tables, ts)))  # type: ignore[arg-type]
        labels = build_labels(tables, ts, features["ruc"].to_numpy(), config, data_end)
        part = features.assign(
            default_12m=labels["default_12m"].to_numpy(), label_window_end=labels["label_window_end"].to_numpy()
        )[~labels["in_default"].to_numpy()]
        part.insert(1, "as_of", ts)
        parts.append(part if applications is None else applications_at(part, applications, ts))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def build_snapshot(
    lake: Lake,
    as_of_dates: Sequence[object],
    config: FeatureConfig | None = None,
    progress: Callable[[str], None] | None = None,
    sequences: bool = False,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Features and labels of every firm at risk at each date; firms already in default are left out. With an
    ``applications`` table in the lake, only the firms that applied on each date, ``rejected`` marking the
    applications the lender rejected (their label missing). With ``sequences``, each row also holds its monthly
    histories (``seq_<channel>``: 36 numbers, oldest first)."""
    config = config or FeatureConfig()
    dates = sorted({as_timestamp(a) for a in as_of_dates})
    applications = lake.read_optional("applications")
    snapshot = snapshot_rows(read_lake_tables(lake), dates, config, progress=progress, applications=applications,
                             sequences=sequences)  # fmt: skip
    rates = rates_record(lake)
    if rates is not None:
        snapshot.attrs["exchange_rates"] = rates
    labelled = snapshot["default_12m"].notna() if len(snapshot) else pd.Series(dtype=bool)
    lineage = snapshot_lineage(
        lake, dates, config, rates, len(snapshot), int(labelled.sum()),
        float(snapshot.loc[labelled, "default_12m"].astype(float).mean()) if labelled.any() else None, sequences,
    )  # fmt: skip
    if applications is not None:
        rejected = int(snapshot[REJECTED].sum()) if len(snapshot) else 0
        lineage["applications"] = {"rows": len(snapshot), "rejected": rejected,
                                   "in_lake": len(applications)}  # fmt: skip
    return snapshot, lineage


def snapshot_lineage(
    lake: Lake,
    dates: Sequence[pd.Timestamp],
    config: FeatureConfig,
    rates: str | None,
    rows: int,
    labelled: int,
    label_rate: float | None,
    sequences: bool = False,
) -> dict[str, Any]:
    """The lineage record of a snapshot (its Parquet metadata and ``<out>.lineage.json``)."""
    from pymescore import __version__

    return {
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "lake": str(lake.root),
        "lake_versions": lake.versions(),
        "code_version": __version__,
        "registry_hash": registry_hash(FEATURES),
        "n_features": len(FEATURES),
        "as_of": [str(d.date()) for d in dates],
        "default_definition": DEFINITIONS[config.default_definition],
        "config": {k: v for k, v in asdict(config).items() if k != "uit_by_year"},
        "rows": rows,
        "labelled_rows": labelled,
        "label_rate": label_rate,
        "exchange_rates": _rates_span(rates),
        "sequence_months": SEQUENCE_MONTHS if sequences else None,
    }


def applications_at(part: pd.DataFrame, applications: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """The rows of ``part`` (one as_of) whose firm applied on that date, with ``rejected`` (0/1) after the label;
    a rejected application's label is missing whatever the lake shows (the lender made no loan)."""
    dates = pd.to_datetime(applications["application_date"])
    today = applications[(dates == as_of).to_numpy()]
    decision = today.drop_duplicates("ruc", keep="last").set_index("ruc")["decision"]
    decided = decision.reindex(part["ruc"].to_numpy())
    out = part[decided.notna().to_numpy()].reset_index(drop=True)
    rejected = (decided.dropna() == "rejected").to_numpy()
    out.insert(list(out.columns).index("label_window_end") + 1, REJECTED, rejected.astype(np.int8))
    out["default_12m"] = out["default_12m"].mask(pd.Series(rejected))
    return out


def _rates_span(record: str | None) -> dict[str, Any] | None:
    if record is None:
        return None
    data = json.loads(record)
    return {"first": data["dates"][0], "last": data["dates"][-1], "n": len(data["dates"])}


def write_snapshot(snapshot: pd.DataFrame, lineage: dict[str, Any], out: Path) -> None:
    """Write the snapshot Parquet (lineage in its metadata) and ``<out>.lineage.json``, atomically each."""
    out.parent.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pandas(snapshot, preserve_index=False)
    meta = dict(table.schema.metadata or {})
    meta[LINEAGE_KEY] = json.dumps(lineage).encode()
    if snapshot.attrs.get("exchange_rates"):
        meta[RATES_KEY] = str(snapshot.attrs["exchange_rates"]).encode()
    table = table.replace_schema_metadata(meta)
    tmp = out.with_name(f".{out.name}.{uuid.uuid4().hex}")
    try:
        pq.write_table(table, tmp)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    side = out.with_name(out.name + ".lineage.json")
    tmp_side = side.with_name(f".{side.name}.{uuid.uuid4().hex}")
    tmp_side.write_text(json.dumps(lineage, indent=1), encoding="utf-8")
    os.replace(tmp_side, side)


def write_snapshot_at(snapshot: pd.DataFrame, lineage: dict[str, Any], out: str) -> None:
    """:func:`write_snapshot` to a local path or an object-storage URL (``<out>.lineage.json`` first, then the
    snapshot object: each one PUT, whole or absent)."""
    from pymescore.storage import is_remote, local_path, put_file

    if not is_remote(out):
        write_snapshot(snapshot, lineage, local_path(out))
        return
    with tempfile.TemporaryDirectory(prefix="pymescore-") as tmp:
        local = Path(tmp) / out.rstrip("/").rsplit("/", 1)[-1]
        write_snapshot(snapshot, lineage, local)
        put_file(local.with_name(local.name + ".lineage.json"), out + ".lineage.json")
        put_file(local, out)


def read_lineage(path: Path) -> dict[str, Any]:
    meta = pq.read_schema(path).metadata or {}
    lineage: dict[str, Any] = json.loads(meta[LINEAGE_KEY])
    return lineage
