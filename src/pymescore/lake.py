"""The Parquet lake: one folder, versioned tables, atomic writes, lineage records.

Layout::

    LAKE/_manifest.json                  which version of each table is current (the commit point)
    LAKE/<table>/v000003/data.parquet     accepted rows
    LAKE/<table>/v000003/quarantine.parquet  rejected rows: source values + reason per row
    LAKE/<table>/v000003/lineage.json    every ingest that led to this version, newest last
    LAKE/<table>/v000003/_<name>.parquet  a source's own state committed with the data (an API source's
                                         transaction ledger), carried into later versions until replaced

A write builds the new version in a temporary folder, renames it into place, then replaces the manifest
with ``os.replace``: a crash or an error at any point leaves the lake as it was (a half-built folder is
never referenced and is swept on the next write). Writers take a file lock on the lake.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from filelock import FileLock, Timeout

from pymescore.contracts import TABLES
from pymescore.errors import LakeError

_MANIFEST = "_manifest.json"
_FORMAT = 1
#: versions kept per table besides the current one (older ones are removed after a write)
KEEP_VERSIONS = 2


@dataclass(frozen=True)
class TableVersion:
    table: str
    version: int
    path: Path

    @property
    def data_path(self) -> Path:
        return self.path / "data.parquet"

    @property
    def quarantine_path(self) -> Path:
        return self.path / "quarantine.parquet"

    @property
    def lineage_path(self) -> Path:
        return self.path / "lineage.json"


def _fsync_write(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


class Lake:
    """A lake rooted at a local folder (created on the first write)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    # -- reading -------------------------------------------------------------------------------
    def manifest(self) -> dict[str, Any]:
        path = self.root / _MANIFEST
        if not path.exists():
            others = [p for p in self.root.iterdir() if p.name != "openlineage.jsonl"] if self.root.exists() else []
            if others and not (self.root / ".lock").exists():  # the lineage events of a first run may come first
                raise LakeError(
                    f"{self.root}: expected a pymescore lake (with {_MANIFEST}) or an empty folder, "
                    "got a folder with other files; choose another --lake folder"
                )
            return {"format": _FORMAT, "tables": {}}
        try:
            manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise LakeError(f"{path}: expected a JSON manifest, got an unreadable file ({exc})") from exc
        if manifest.get("format") != _FORMAT:
            raise LakeError(f"{path}: expected lake format {_FORMAT}, got {manifest.get('format')!r}")
        return manifest

    def tables(self) -> list[str]:
        return sorted(self.manifest()["tables"])

    def current(self, table: str) -> TableVersion | None:
        entry = self.manifest()["tables"].get(table)
        if entry is None:
            return None
        return TableVersion(table, int(entry["version"]), self.root / entry["path"])

    def versions(self) -> dict[str, int]:
        """Current version of each table: what a reader records as its lineage."""
        return {t: int(e["version"]) for t, e in self.manifest()["tables"].items()}

    def read(self, table: str, columns: list[str] | None = None) -> pd.DataFrame:
        """The current accepted rows of ``table``."""
        tv = self.current(table)
        if tv is None:
            raise LakeError(
                f"{self.root}: expected table '{table}' in the lake, got only "
                f"{', '.join(self.tables()) or 'no tables'}; ingest it first (pymescore ingest)",
                code="LAKE_MISSING_TABLE",
            )
        return pd.read_parquet(tv.data_path, columns=columns)

    def read_optional(self, table: str) -> pd.DataFrame | None:
        return None if self.current(table) is None else self.read(table)

    def quarantine(self, table: str) -> pd.DataFrame:
        tv = self.current(table)
        if tv is None or not tv.quarantine_path.exists():
            return pd.DataFrame()
        return pd.read_parquet(tv.quarantine_path)

    def sidecar(self, table: str, name: str) -> pd.DataFrame | None:
        """The sidecar ``name`` of the current version of ``table`` (see :meth:`write`), if any."""
        tv = self.current(table)
        path = None if tv is None else tv.path / f"_{name}.parquet"
        return None if path is None or not path.exists() else pd.read_parquet(path)

    def lineage(self, table: str) -> list[dict[str, Any]]:
        tv = self.current(table)
        if tv is None:
            return []
        records: list[dict[str, Any]] = json.loads(tv.lineage_path.read_text(encoding="utf-8"))
        return records

    # -- writing -------------------------------------------------------------------------------
    @contextmanager
    def locked(self, timeout: float = 60.0) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(self.root / ".lock"))
        try:
            with lock.acquire(timeout=timeout):
                yield
        except Timeout as exc:
            raise LakeError(
                f"{self.root}: expected to get the write lock within {timeout:.0f} s, got it held by "
                "another writer; wait for it to finish",
                code="LAKE_LOCKED",
            ) from exc

    def write(
        self,
        table: str,
        data: pd.DataFrame,
        quarantine: pd.DataFrame,
        lineage: list[dict[str, Any]],
        sidecars: dict[str, pd.DataFrame] | None = None,
    ) -> TableVersion:
        """Commit a new version of ``table`` atomically. Call inside :meth:`locked`.

        ``sidecars`` (name -> frame) are written beside the data in the same commit; the previous version's
        sidecars that are not replaced are carried over, so a source's state lives as long as the table.
        """
        if table not in TABLES:
            raise LakeError(f"expected a table among {', '.join(TABLES)}, got {table!r}")
        manifest = self.manifest()
        previous = manifest["tables"].get(table)
        version = 1 + (int(previous["version"]) if previous else 0)
        table_dir = self.root / table
        table_dir.mkdir(parents=True, exist_ok=True)
        self._sweep(table_dir)
        tmp = table_dir / f".tmp-{uuid.uuid4().hex}"
        tmp.mkdir()
        try:
            data.to_parquet(tmp / "data.parquet", index=False)
            quarantine.to_parquet(tmp / "quarantine.parquet", index=False)
            _fsync_write(tmp / "lineage.json", json.dumps(lineage, indent=1, ensure_ascii=False, default=str))
            for name, frame in (sidecars or {}).items():
                frame.to_parquet(tmp / f"_{name}.parquet", index=False)
            if previous:
                for carried in (self.root / previous["path"]).glob("_*.parquet"):
                    if not (tmp / carried.name).exists():
                        shutil.copyfile(carried, tmp / carried.name)
            final = table_dir / f"v{version:06d}"
            os.replace(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        manifest["tables"][table] = {"version": version, "path": f"{table}/{final.name}"}
        manifest["updated"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        tmp_manifest = self.root / f".{_MANIFEST}.{uuid.uuid4().hex}"
        _fsync_write(tmp_manifest, json.dumps(manifest, indent=1, sort_keys=True))
        os.replace(tmp_manifest, self.root / _MANIFEST)
        self._prune(table_dir, keep_from=version - KEEP_VERSIONS)
        return TableVersion(table, version, final)

    @staticmethod
    def _sweep(table_dir: Path) -> None:
        for leftover in table_dir.glob(".tmp-*"):
            shutil.rmtree(leftover, ignore_errors=True)

    @staticmethod
    def _prune(table_dir: Path, keep_from: int) -> None:
        for old in table_dir.glob("v[0-9]*"):
            if int(old.name[1:]) < keep_from:
                shutil.rmtree(old, ignore_errors=True)
