"""Snapshots on a Dask cluster: the firms split by RUC bucket, every part built by the same builders.

There is no second feature implementation here: each part runs :func:`snapshot_rows` (``build_features`` and
``build_labels``) on its own firms' rows, read from the lake's bucket files (``Lake.read_bucket``). Two figures
belong to the whole batch, not to a part, and are computed first from every part's small inputs:

- the regional/sector context (medians and rates by department and CIIU section, at each as_of);
- how far the outcome data reach (a label needs its whole window observed).

Every part reads the lake pinned at the manifest the job started with, so a commit during the job changes
nothing it reads. The snapshot is a folder of ``part-NNNNN.parquet`` files (a Parquet dataset that pandas, pyarrow
and Dask read as one table) with ``_lineage.json`` written last: a local folder is built aside and renamed into
place; on object storage the marker object commits it (``pymescore.tables`` refuses a folder without it).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from pymescore.cluster import map_parts
from pymescore.features._build import INPUT_COLUMNS, as_timestamp, context_from_inputs, context_inputs
from pymescore.features._config import FeatureConfig
from pymescore.features._labels import known_outcomes, label_data_end
from pymescore.features._snapshot import RATES_KEY, rates_record, snapshot_lineage, snapshot_rows
from pymescore.lake import Lake, bucket_of
from pymescore.storage import MARKER, filesystem, is_remote, staged_folder


def part_name(part: int) -> str:
    return f"part-{part:05d}.parquet"


def _part_tables(root: str, manifest: dict[str, Any], part: int, parts: int) -> dict[str, pd.DataFrame]:
    """The columns the builders read, of the firms in bucket ``part`` of ``parts``, of every table present."""
    lake = Lake(root, manifest=manifest)
    present = set(lake.tables())
    return {name: lake.read_bucket(name, part, parts, list(cols)) for name, cols in INPUT_COLUMNS.items()
            if name in present}  # fmt: skip


def _part_inputs(
    part: int, root: str, manifest: dict[str, Any], parts: int, dates: list[pd.Timestamp], config: FeatureConfig
) -> tuple[dict[pd.Timestamp, pd.DataFrame], float]:
    """Pass 1, one part: its firms' context inputs at each date, and how far its outcome data reach."""
    tables = _part_tables(root, manifest, part, parts)
    return {ts: context_inputs(tables, ts, config) for ts in dates}, label_data_end(tables, config)


def _part_rows(
    part: int,
    root: str,
    manifest: dict[str, Any],
    parts: int,
    dates: list[pd.Timestamp],
    config: FeatureConfig,
    contexts: dict[pd.Timestamp, Any],
    data_end: float,
    folder: str,
    rates: str | None,
) -> tuple[int, int, int]:
    """Pass 2, one part: its snapshot rows, written as ``folder/part-NNNNN.parquet``; (rows, labelled, defaults)."""
    tables = _part_tables(root, manifest, part, parts)
    applications = Lake(root, manifest=manifest).read_optional("applications")  # small: one row per application
    rows = snapshot_rows(tables, dates, config, contexts=contexts, data_end=data_end, applications=applications)
    table = pa.Table.from_pandas(rows, preserve_index=False)
    if rates is not None:
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), RATES_KEY: rates.encode()})
    target = f"{folder.rstrip('/')}/{part_name(part)}"
    if is_remote(folder):
        fs, path = filesystem(target)
        pq.write_table(table, path, filesystem=fs)
    else:
        pq.write_table(table, target)
    labelled = rows["default_12m"].notna() if len(rows) else pd.Series(dtype=bool)
    return len(rows), int(labelled.sum()), int(rows.loc[labelled, "default_12m"].astype(bool).sum())


def default_parts(lake: Lake, workers: int) -> int:
    """The lake's RUC buckets (one part each: a worker reads one file per table); an unbucketed lake: two
    parts per worker (each part then reads the tables whole and keeps its firms: migrate the lake to avoid it)."""
    current = lake.current("firms")
    if current is not None and current.buckets > 1:
        return current.buckets
    return max(2 * workers, 1)


def build_snapshot_distributed(
    lake: Lake,
    as_of_dates: Sequence[object],
    out: str,
    client: Any,
    config: FeatureConfig | None = None,
    parts: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Build the snapshot of :func:`build_snapshot` on the cluster of ``client`` (a ``distributed.Client``) and
    write it as the partitioned snapshot ``out`` (a folder or an object-storage prefix). Returns its lineage."""
    config = config or FeatureConfig()
    say = progress or (lambda _: None)
    dates = sorted({as_timestamp(a) for a in as_of_dates})
    pinned = lake.pinned()
    root, manifest = str(pinned.root), pinned.manifest()
    n = parts or default_parts(pinned, len(client.scheduler_info().get("workers", {})) or 1)
    common = {"root": root, "manifest": manifest, "parts": n, "dates": dates, "config": config}

    inputs = _run(client, _part_inputs, n, common, say, "context inputs")
    contexts = {ts: context_from_inputs(pd.concat([p[0][ts] for p in inputs], ignore_index=True)) for ts in dates}
    data_end = max(p[1] for p in inputs)
    rates = rates_record(pinned)
    folder, commit, discard = staged_folder(out, MARKER)
    try:
        second = {**common, "contexts": contexts, "data_end": data_end, "folder": folder, "rates": rates}
        counts = _run(client, _part_rows, n, second, say, "features and labels")
        rows, labelled, defaults = (sum(c[i] for c in counts) for i in range(3))
        lineage = snapshot_lineage(pinned, dates, config, rates, rows, labelled,
                                   defaults / labelled if labelled else None)  # fmt: skip
        lineage["partitions"] = {"parts": n, "files": [part_name(p) for p in range(n)]}
        commit(json.dumps(lineage, indent=1))
    except BaseException:
        discard()
        raise
    return lineage


def _run(client: Any, task: Callable[..., Any], n: int, kwargs: dict[str, Any], say: Callable[[str], None],
         what: str) -> list[Any]:  # fmt: skip
    return map_parts(client, task, n, kwargs, say, what)


def _part_end(part: int, root: str, manifest: dict[str, Any], parts: int, config: FeatureConfig) -> float:
    return label_data_end(_part_tables(root, manifest, part, parts), config)


def _part_outcomes(
    part: int, root: str, manifest: dict[str, Any], parts: int, rucs: np.ndarray, as_ofs: np.ndarray, data_end: float
) -> np.ndarray:
    """The outcomes of the pairs whose firm is in bucket ``part``, from that bucket's rows (NaN elsewhere)."""
    mine = bucket_of(rucs, parts) == part
    out = np.full(len(rucs), np.nan)
    if mine.any():
        tables = _part_tables(root, manifest, part, parts)
        out[mine] = known_outcomes(tables, rucs[mine], as_ofs[mine], data_end=data_end)
    return out


def known_outcomes_distributed(
    lake: Lake, rucs: np.ndarray, as_ofs: np.ndarray, client: Any, parts: int | None = None
) -> np.ndarray:
    """:func:`known_outcomes` of (ruc, as_of) pairs on the cluster of ``client``: each part reads its bucket's
    bureau and payments and labels its own firms' pairs, against how far the whole lake's outcome data reach."""
    pinned = lake.pinned()
    root, manifest = str(pinned.root), pinned.manifest()
    n = parts or default_parts(pinned, len(client.scheduler_info().get("workers", {})) or 1)
    config = FeatureConfig()
    common = {"root": root, "manifest": manifest, "parts": n}
    data_end = max(_run(client, _part_end, n, {**common, "config": config}, lambda _: None, "outcome data"))
    rucs = np.asarray(rucs, dtype=object)
    as_ofs = np.asarray(as_ofs, dtype=object)
    pairs = {"rucs": client.scatter(rucs, broadcast=True), "as_ofs": client.scatter(as_ofs, broadcast=True)}
    results = _run(client, _part_outcomes, n, {**common, **pairs, "data_end": data_end}, lambda _: None, "outcomes")
    out = np.full(len(rucs), np.nan)
    for part, values in enumerate(results):
        mine = bucket_of(rucs, n) == part
        out[mine] = values[mine]
    return out
