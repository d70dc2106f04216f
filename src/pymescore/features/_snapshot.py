"""Snapshots: (ruc, as_of, features…, default_12m, label_window_end) for many as_of dates, with lineage; with
``sequences``, also each firm's last 36 months of history (``seq_*`` columns, ``_sequences``)."""

from __future__ import annotations

import datetime as dt
import json
import os
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from pymescore.features._build import INPUT_COLUMNS, as_timestamp, build_features, build_sequences
from pymescore.features._catalog import FEATURES
from pymescore.features._config import DEFINITIONS, FeatureConfig
from pymescore.features._labels import build_labels
from pymescore.features._registry import registry_hash
from pymescore.features._sequences import SEQUENCE_MONTHS, sequence_columns
from pymescore.lake import Lake

LINEAGE_KEY = b"pymescore.lineage"
#: the lake's PEN/USD series the snapshot's amounts were converted with (JSON), kept in the Parquet's metadata and
#: in ``snapshot.attrs["exchange_rates"]`` (a string: pandas copies attrs on every operation) for the bundle
RATES_KEY = b"pymescore.exchange_rates"


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


def build_snapshot(
    lake: Lake,
    as_of_dates: Sequence[object],
    config: FeatureConfig | None = None,
    progress: Callable[[str], None] | None = None,
    sequences: bool = False,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Features and labels of every firm at risk at each date; firms already in default are left out. With
    ``sequences``, each row also holds its monthly histories (``seq_<channel>``: 36 numbers, oldest first)."""
    from pymescore import __version__

    config = config or FeatureConfig()
    dates = sorted({as_timestamp(a) for a in as_of_dates})
    tables = read_lake_tables(lake)
    parts = []
    for ts in dates:
        if progress:
            progress(str(ts.date()))
        features = build_features(tables, ts, config)
        if sequences:  # the same firms in the same order (the same batch edge)
            features = features.assign(**sequence_columns(build_sequences(tables, ts)))  # type: ignore[arg-type]
        labels = build_labels(tables, ts, features["ruc"].to_numpy(), config)
        part = features.assign(
            default_12m=labels["default_12m"].to_numpy(), label_window_end=labels["label_window_end"].to_numpy()
        )[~labels["in_default"].to_numpy()]
        part.insert(1, "as_of", ts)
        parts.append(part)
    snapshot = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    rates = rates_record(lake)
    if rates is not None:
        snapshot.attrs["exchange_rates"] = rates
    labelled = snapshot["default_12m"].notna() if len(snapshot) else pd.Series(dtype=bool)
    lineage = {
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "lake": str(lake.root),
        "lake_versions": lake.versions(),
        "code_version": __version__,
        "registry_hash": registry_hash(FEATURES),
        "n_features": len(FEATURES),
        "as_of": [str(d.date()) for d in dates],
        "default_definition": DEFINITIONS[config.default_definition],
        "config": {k: v for k, v in asdict(config).items() if k != "uit_by_year"},
        "rows": len(snapshot),
        "labelled_rows": int(labelled.sum()),
        "label_rate": float(snapshot.loc[labelled, "default_12m"].astype(float).mean()) if labelled.any() else None,
        "exchange_rates": _rates_span(rates),
        "sequence_months": SEQUENCE_MONTHS if sequences else None,
    }
    return snapshot, lineage


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


def read_lineage(path: Path) -> dict[str, Any]:
    meta = pq.read_schema(path).metadata or {}
    lineage: dict[str, Any] = json.loads(meta[LINEAGE_KEY])
    return lineage
