"""The lake: versioned tables, the manifest as the commit point, lineage records, optional RUC buckets."""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from pymescore.contracts import TABLES
from pymescore.errors import LakeError
from pymescore.lake._buckets import KEY, bucket_name, bucket_of, split
from pymescore.lake._store import store_for

_MANIFEST = "_manifest.json"
_FORMAT = 1
#: versions kept per table besides the current one (older ones are removed after a write)
KEEP_VERSIONS = 2
#: buckets at most (one file each per table version)
MAX_BUCKETS = 4096


@dataclass(frozen=True)
class TableVersion:
    table: str
    version: int
    path: Path | str
    #: 1: one ``data.parquet``; n > 1: ``data/b00000.parquet`` … one file per RUC bucket
    buckets: int = 1

    def _join(self, name: str) -> Path | str:
        return self.path / name if isinstance(self.path, Path) else f"{self.path}/{name}"

    @property
    def data_path(self) -> Path | str:
        """``data.parquet``, or the ``data`` folder of a bucketed version."""
        return self._join("data.parquet" if self.buckets == 1 else "data")

    @property
    def quarantine_path(self) -> Path | str:
        return self._join("quarantine.parquet")

    @property
    def lineage_path(self) -> Path | str:
        return self._join("lineage.json")


class Lake:
    """A lake rooted at a local folder (created on the first write) or an object-storage URL (``s3://…``).

    ``buckets`` (n > 1) spreads the RUC-keyed tables of a new lake over n files per version (see
    ``pymescore.lake._buckets``); an existing lake keeps the count in its manifest (``pymescore lake migrate``
    changes it). ``manifest`` pins the lake to a manifest already read, so that the workers of one job read the
    same versions whatever commits meanwhile.
    """

    def __init__(
        self, root: str | os.PathLike[str], *, buckets: int | None = None, manifest: dict[str, Any] | None = None
    ) -> None:
        if buckets is not None and not 1 <= buckets <= MAX_BUCKETS:
            raise LakeError(f"buckets: expected a whole number from 1 to {MAX_BUCKETS}, got {buckets}")
        self._store = store_for(root)
        self.root: Path | str = self._store.root
        self._buckets = buckets
        self._pinned = manifest

    @property
    def remote(self) -> bool:
        return not isinstance(self.root, Path)

    # -- reading -------------------------------------------------------------------------------
    def manifest(self) -> dict[str, Any]:
        if self._pinned is not None:
            return self._pinned
        text = self._store.read_text(_MANIFEST)
        if text is None:
            if not self._store.is_lake_or_empty(_MANIFEST):
                raise LakeError(
                    f"{self.root}: expected a pymescore lake (with {_MANIFEST}) or an empty folder, "
                    "got a folder with other files; choose another --lake folder"
                )
            return {"format": _FORMAT, "tables": {}}
        where = self._store.location(_MANIFEST)
        try:
            manifest: dict[str, Any] = json.loads(text)
        except ValueError as exc:
            raise LakeError(f"{where}: expected a JSON manifest, got an unreadable file ({exc})") from exc
        if manifest.get("format") != _FORMAT:
            raise LakeError(f"{where}: expected lake format {_FORMAT}, got {manifest.get('format')!r}")
        return manifest

    def pinned(self) -> Lake:
        """This lake fixed at its current manifest (what a distributed job hands its workers)."""
        return Lake(self.root, manifest=self.manifest())

    @property
    def buckets(self) -> int:
        """The RUC buckets of new versions: the manifest's count, else the one given, else 1."""
        return int(self.manifest().get("buckets") or self._buckets or 1)

    def tables(self) -> list[str]:
        return sorted(self.manifest()["tables"])

    def current(self, table: str) -> TableVersion | None:
        entry = self.manifest()["tables"].get(table)
        if entry is None:
            return None
        return TableVersion(table, int(entry["version"]), self._store.location(entry["path"]),
                            int(entry.get("buckets", 1)))  # fmt: skip

    def versions(self) -> dict[str, int]:
        """Current version of each table: what a reader records as its lineage."""
        return {t: int(e["version"]) for t, e in self.manifest()["tables"].items()}

    def _entry(self, table: str) -> dict[str, Any]:
        entry: dict[str, Any] | None = self.manifest()["tables"].get(table)
        if entry is None:
            raise LakeError(
                f"{self.root}: expected table '{table}' in the lake, got only "
                f"{', '.join(self.tables()) or 'no tables'}; ingest it first (pymescore ingest)",
                code="LAKE_MISSING_TABLE",
            )
        return entry

    def data_files(self, table: str) -> list[str]:
        """The current data files of ``table``, relative to the lake root (one per bucket)."""
        entry = self._entry(table)
        n = int(entry.get("buckets", 1))
        if n == 1:
            return [f"{entry['path']}/data.parquet"]
        return [f"{entry['path']}/data/{bucket_name(b)}" for b in range(n)]

    def read(self, table: str, columns: list[str] | None = None, filters: Any = None) -> pd.DataFrame:
        """The current accepted rows of ``table`` (every bucket, in bucket order)."""
        return self._store.read_parquet(self.data_files(table), columns, filters)

    def read_bucket(self, table: str, bucket: int, of: int, columns: list[str] | None = None) -> pd.DataFrame:
        """The rows of the firms in bucket ``bucket`` of ``of`` (a worker's share): one file of a lake bucketed
        that way; a lake bucketed otherwise, or not at all, is read whole and filtered (``pymescore lake migrate``
        avoids that). A table without RUCs is read whole."""
        entry = self._entry(table)
        n = int(entry.get("buckets", 1))
        if n == of and n > 1:
            return self._store.read_parquet([f"{entry['path']}/data/{bucket_name(bucket)}"], columns)
        wanted = None if columns is None else list(dict.fromkeys([*columns, KEY]))
        frame = self.read(table, wanted)
        if KEY not in frame.columns or of <= 1:
            return frame if columns is None else frame.loc[:, columns]
        keep = bucket_of(frame[KEY].to_numpy(dtype=object), of) == bucket
        out: pd.DataFrame = frame[keep].reset_index(drop=True)
        return out if columns is None else out.loc[:, columns]

    def read_firm(self, table: str, ruc: str) -> pd.DataFrame:
        """One firm's rows (only its bucket's file is opened in a bucketed lake)."""
        entry = self._entry(table)
        n = int(entry.get("buckets", 1))
        files = self.data_files(table)
        if n > 1:
            files = [files[int(bucket_of([ruc], n)[0])]]
        return self._store.read_parquet(files, None, filters=[(KEY, "==", ruc)])

    def read_optional(self, table: str) -> pd.DataFrame | None:
        return None if self.current(table) is None else self.read(table)

    def quarantine(self, table: str) -> pd.DataFrame:
        entry = self.manifest()["tables"].get(table)
        rel = None if entry is None else f"{entry['path']}/quarantine.parquet"
        if rel is None or not self._store.exists(rel):
            return pd.DataFrame()
        return self._store.read_parquet([rel], None)

    def sidecar(self, table: str, name: str) -> pd.DataFrame | None:
        """The sidecar ``name`` of the current version of ``table`` (see :meth:`write`), if any."""
        entry = self.manifest()["tables"].get(table)
        rel = None if entry is None else f"{entry['path']}/_{name}.parquet"
        return None if rel is None or not self._store.exists(rel) else self._store.read_parquet([rel], None)

    def lineage(self, table: str) -> list[dict[str, Any]]:
        entry = self.manifest()["tables"].get(table)
        if entry is None:
            return []
        records: list[dict[str, Any]] = json.loads(self._store.read_text(f"{entry['path']}/lineage.json") or "[]")
        return records

    def schema(self, table: str) -> pa.Schema:
        """The Arrow schema of the current data of ``table``."""
        return self._store.schema(self.data_files(table)[0])

    # -- writing -------------------------------------------------------------------------------
    @contextmanager
    def locked(self, timeout: float = 60.0) -> Iterator[None]:
        with self._store.locked(timeout):
            yield

    def write(
        self,
        table: str,
        data: pd.DataFrame,
        quarantine: pd.DataFrame,
        lineage: list[dict[str, Any]],
        sidecars: dict[str, pd.DataFrame] | None = None,
        *,
        buckets: int | None = None,
    ) -> TableVersion:
        """Commit a new version of ``table`` atomically. Call inside :meth:`locked`.

        ``sidecars`` (name -> frame) are written beside the data in the same commit; the previous version's
        sidecars that are not replaced are carried over, so a source's state lives as long as the table.
        ``buckets`` overrides the lake's bucket count for this version (and becomes the lake's count).
        """
        if table not in TABLES:
            raise LakeError(f"expected a table among {', '.join(TABLES)}, got {table!r}")
        if self._pinned is not None:
            raise LakeError(f"{self.root}: expected a writable lake, got one pinned to a manifest (read only)")
        manifest = self.manifest()
        lake_buckets = buckets or self.buckets
        n = lake_buckets if KEY in data.columns else 1
        previous = manifest["tables"].get(table)
        version = 1 + (int(previous["version"]) if previous else 0)
        self._store.sweep(table, version)
        stage = self._store.stage(table, version)
        try:
            if n == 1:
                stage.write_frame("data.parquet", data)
            else:
                _write_buckets(stage, data, n)
            stage.write_frame("quarantine.parquet", quarantine)
            stage.write_text("lineage.json", json.dumps(lineage, indent=1, ensure_ascii=False, default=str))
            for name, frame in (sidecars or {}).items():
                stage.write_frame(f"_{name}.parquet", frame)
            if previous:
                for carried in self._store.names(previous["path"]):
                    if carried.startswith("_") and carried.endswith(".parquet") and not stage.has(carried):
                        stage.copy_in(str(self._store.location(f"{previous['path']}/{carried}")), carried)
            rel = stage.finish()
        except BaseException:
            stage.abort()
            raise
        manifest["tables"][table] = {"version": version, "path": rel, **({"buckets": n} if n > 1 else {})}
        if lake_buckets > 1:
            manifest["buckets"] = lake_buckets
        manifest["updated"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        self._store.commit_manifest(json.dumps(manifest, indent=1, sort_keys=True))
        self._store.prune(table, keep_from=version - KEEP_VERSIONS)
        return TableVersion(table, version, self._store.location(rel), n)

    def write_buckets(
        self,
        table: str,
        buckets: int,
        part: Callable[[int], pd.DataFrame],
        quarantine: pd.DataFrame,
        lineage: list[dict[str, Any]],
    ) -> TableVersion:
        """Commit a new version of ``table`` from its rows bucket by bucket (``part(b)``: the rows of bucket
        ``b``, each checked), never the whole table in memory: what a partitioned writer uses. Call inside
        :meth:`locked`. Every bucket file gets the first bucket's schema."""
        if table not in TABLES:
            raise LakeError(f"expected a table among {', '.join(TABLES)}, got {table!r}")
        if not 2 <= buckets <= MAX_BUCKETS:
            raise LakeError(f"buckets: expected a whole number from 2 to {MAX_BUCKETS}, got {buckets}")
        manifest = self.manifest()
        previous = manifest["tables"].get(table)
        version = 1 + (int(previous["version"]) if previous else 0)
        self._store.sweep(table, version)
        stage = self._store.stage(table, version)
        try:
            schema = None
            for b in range(buckets):
                frame = part(b)
                wrong = bucket_of(frame[KEY].to_numpy(dtype=object), buckets) != b
                if wrong.any():
                    raise LakeError(f"{table}: expected only rows of bucket {b} of {buckets}, got "
                                    f"{int(wrong.sum())} of other buckets")  # fmt: skip
                arrow = pa.Table.from_pandas(frame, schema=schema, preserve_index=False)
                schema = schema or arrow.schema
                stage.write_table(f"data/{bucket_name(b)}", arrow)
            stage.write_frame("quarantine.parquet", quarantine)
            stage.write_text("lineage.json", json.dumps(lineage, indent=1, ensure_ascii=False, default=str))
            rel = stage.finish()
        except BaseException:
            stage.abort()
            raise
        manifest["tables"][table] = {"version": version, "path": rel, "buckets": buckets}
        manifest["buckets"] = buckets
        manifest["updated"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        self._store.commit_manifest(json.dumps(manifest, indent=1, sort_keys=True))
        self._store.prune(table, keep_from=version - KEEP_VERSIONS)
        return TableVersion(table, version, self._store.location(rel), buckets)

    def migrate(self, buckets: int) -> dict[str, int]:
        """Rewrite the current version of every RUC-keyed table in ``buckets`` files (a new version each, the
        same rows, lineage and quarantine) and make it the lake's bucket count. Returns table -> new version."""
        if not 1 <= buckets <= MAX_BUCKETS:
            raise LakeError(f"--buckets: expected a whole number from 1 to {MAX_BUCKETS}, got {buckets}")
        done: dict[str, int] = {}
        with self.locked():
            for table in self.tables():
                if KEY not in self.schema(table).names and self.current(table).buckets == 1:  # type: ignore[union-attr]
                    continue  # exchange_rates: no firms to spread
                data = self.read(table)
                record = {"kind": "migrate", "buckets": buckets,
                          "time": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}  # fmt: skip
                written = self.write(table, data, self.quarantine(table), [*self.lineage(table), record],
                                     buckets=buckets)  # fmt: skip
                done[table] = written.version
        return done


def _write_buckets(stage: Any, data: pd.DataFrame, n: int) -> None:
    """One file per bucket, every one with the table's schema (an empty bucket too)."""
    table = pa.Table.from_pandas(data, preserve_index=False)
    order, bounds = split(data[KEY].to_numpy(dtype=object), n)
    ordered = table.take(pa.array(order)) if len(order) else table
    for b in range(n):
        stage.write_table(f"data/{bucket_name(b)}", ordered.slice(int(bounds[b]), int(bounds[b + 1] - bounds[b])))
