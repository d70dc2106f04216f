"""Where a lake's files live: a local folder (rename-based commits, a file lock) or object storage (a new prefix
per version, the manifest object written last, a lock object created only if absent).

Both give the lake the same few operations; :class:`pymescore.lake.Lake` holds the rules (versions, manifest,
buckets, lineage) and never touches a path itself.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import shutil
import socket
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from filelock import FileLock, Timeout

from pymescore.errors import LakeError
from pymescore.storage import filesystem, local_path

#: a lock object older than this is taken over (its writer is gone); a dead process on this host sooner
LOCK_TTL_S = float(os.environ.get("PYMESCORE_LAKE_LOCK_TTL", 6 * 3600))


def _fsync_write(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


def _locked_error(where: object, timeout: float) -> LakeError:
    return LakeError(
        f"{where}: expected to get the write lock within {timeout:.0f} s, got it held by another writer; wait for "
        "it to finish",
        code="LAKE_LOCKED",
    )


class Stage(Protocol):
    """A version being written: files go in, then :meth:`finish` makes it the version folder (not yet current:
    the manifest commit does that)."""

    def write_frame(self, name: str, frame: pd.DataFrame) -> None: ...
    def write_table(self, name: str, table: pa.Table) -> None: ...
    def write_text(self, name: str, text: str) -> None: ...
    def has(self, name: str) -> bool: ...
    def copy_in(self, source: str, name: str) -> None: ...
    def finish(self) -> str: ...
    def abort(self) -> None: ...


class Store(Protocol):
    root: Path | str

    def location(self, rel: str) -> Path | str: ...
    def read_text(self, rel: str) -> str | None: ...
    def exists(self, rel: str) -> bool: ...
    def names(self, rel: str) -> list[str]: ...
    def read_parquet(self, rels: Sequence[str], columns: list[str] | None, filters: Any = None) -> pd.DataFrame: ...
    def schema(self, rel: str) -> pa.Schema: ...
    def stage(self, table: str, version: int) -> Stage: ...
    def commit_manifest(self, text: str) -> None: ...
    def locked(self, timeout: float) -> Any: ...
    def sweep(self, table: str, next_version: int) -> None: ...
    def prune(self, table: str, keep_from: int) -> None: ...
    def is_lake_or_empty(self, manifest: str) -> bool: ...


def _version_number(name: str) -> int | None:
    head = name.split("-", 1)[0]
    return int(head[1:]) if head[:1] == "v" and head[1:].isdigit() else None


# -- a local folder ----------------------------------------------------------------------------------------------
class _LocalStage:
    def __init__(self, table_dir: Path, version: int) -> None:
        self.tmp = table_dir / f".tmp-{uuid.uuid4().hex}"
        self.tmp.mkdir()
        self.final = table_dir / f"v{version:06d}"

    def write_frame(self, name: str, frame: pd.DataFrame) -> None:
        frame.to_parquet(self.tmp / name, index=False)

    def write_table(self, name: str, table: pa.Table) -> None:
        (self.tmp / name).parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, self.tmp / name)

    def write_text(self, name: str, text: str) -> None:
        _fsync_write(self.tmp / name, text)

    def has(self, name: str) -> bool:
        return (self.tmp / name).exists()

    def copy_in(self, source: str, name: str) -> None:
        shutil.copyfile(source, self.tmp / name)

    def finish(self) -> str:
        os.replace(self.tmp, self.final)
        return f"{self.final.parent.name}/{self.final.name}"

    def abort(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)


class LocalStore:
    """A folder: a version is built in a temporary folder renamed into place; ``os.replace`` commits the
    manifest; a file lock serialises writers."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root: Path = local_path(root)

    def location(self, rel: str) -> Path:
        return self.root / rel

    def read_text(self, rel: str) -> str | None:
        path = self.root / rel
        return path.read_text(encoding="utf-8") if path.exists() else None

    def exists(self, rel: str) -> bool:
        return (self.root / rel).exists()

    def names(self, rel: str) -> list[str]:
        folder = self.root / rel
        return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []

    def read_parquet(self, rels: Sequence[str], columns: list[str] | None, filters: Any = None) -> pd.DataFrame:
        if len(rels) == 1:
            return pd.read_parquet(self.root / rels[0], columns=columns, filters=filters)
        data = pq.ParquetDataset([str(self.root / r) for r in rels], filters=filters)
        frame: pd.DataFrame = data.read(columns=columns, use_pandas_metadata=True).to_pandas()
        return frame

    def schema(self, rel: str) -> pa.Schema:
        return pq.read_schema(self.root / rel)

    def stage(self, table: str, version: int) -> _LocalStage:
        table_dir = self.root / table
        table_dir.mkdir(parents=True, exist_ok=True)
        return _LocalStage(table_dir, version)

    def commit_manifest(self, text: str) -> None:
        tmp = self.root / f"._manifest.json.{uuid.uuid4().hex}"
        _fsync_write(tmp, text)
        os.replace(tmp, self.root / "_manifest.json")

    @contextmanager
    def locked(self, timeout: float) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(self.root / ".lock"))
        try:
            with lock.acquire(timeout=timeout):
                yield
        except Timeout as exc:
            raise _locked_error(self.root, timeout) from exc

    def sweep(self, table: str, next_version: int) -> None:
        for leftover in (self.root / table).glob(".tmp-*"):
            shutil.rmtree(leftover, ignore_errors=True)

    def prune(self, table: str, keep_from: int) -> None:
        for old in (self.root / table).glob("v[0-9]*"):
            number = _version_number(old.name)
            if number is not None and number < keep_from:
                shutil.rmtree(old, ignore_errors=True)

    def is_lake_or_empty(self, manifest: str) -> bool:
        if not self.root.exists():
            return True
        others = [p for p in self.root.iterdir() if p.name != "openlineage.jsonl"]
        return not others or (self.root / ".lock").exists()  # the lineage events of a first run may come first


# -- object storage ----------------------------------------------------------------------------------------------
class _ObjectStage:
    """Objects are written straight under the version's own prefix (``v000004-<random>``): no reader looks there
    before the manifest names it, and a crashed writer's prefix is never named (the next writer sweeps it)."""

    def __init__(self, store: ObjectStore, table: str, version: int) -> None:
        self.store = store
        self.rel = f"{table}/v{version:06d}-{uuid.uuid4().hex[:12]}"
        self.written: set[str] = set()

    def _path(self, name: str) -> str:
        return f"{self.store.base}/{self.rel}/{name}"

    def write_frame(self, name: str, frame: pd.DataFrame) -> None:
        frame.to_parquet(self._path(name), index=False, filesystem=self.store.fs)
        self.written.add(name)

    def write_table(self, name: str, table: pa.Table) -> None:
        pq.write_table(table, self._path(name), filesystem=self.store.fs)
        self.written.add(name)

    def write_text(self, name: str, text: str) -> None:
        self.store.fs.pipe_file(self._path(name), text.encode("utf-8"))
        self.written.add(name)

    def has(self, name: str) -> bool:
        return name in self.written

    def copy_in(self, source: str, name: str) -> None:
        self.store.fs.copy(source, self._path(name))
        self.written.add(name)

    def finish(self) -> str:
        return self.rel

    def abort(self) -> None:
        with contextlib.suppress(OSError):  # nothing written yet, or the store refuses: the next writer sweeps
            self.store.fs.rm(f"{self.store.base}/{self.rel}", recursive=True)


class ObjectStore:
    """Object storage (s3://…): no rename, so a version is written under a prefix of its own and the manifest
    object, one PUT written last, is the commit point. Writers take a lock object created only if absent
    (a conditional PUT); a lock left by a dead writer is taken over (same host: its process is gone; else after
    ``PYMESCORE_LAKE_LOCK_TTL`` seconds)."""

    def __init__(self, root: str) -> None:
        self.root: str = root.rstrip("/")
        self.fs, self.base = filesystem(self.root)

    def location(self, rel: str) -> str:
        return f"{self.root}/{rel}"

    def _path(self, rel: str) -> str:
        return f"{self.base}/{rel}"

    def read_text(self, rel: str) -> str | None:
        try:
            return bytes(self.fs.cat_file(self._path(rel))).decode("utf-8")
        except FileNotFoundError:
            return None

    def exists(self, rel: str) -> bool:
        return bool(self.fs.exists(self._path(rel)))

    def names(self, rel: str) -> list[str]:
        try:
            listed = self.fs.ls(self._path(rel) if rel else self.base, detail=False)
        except FileNotFoundError:
            return []
        return sorted(str(p).rstrip("/").rsplit("/", 1)[-1] for p in listed)

    def read_parquet(self, rels: Sequence[str], columns: list[str] | None, filters: Any = None) -> pd.DataFrame:
        paths = [self._path(r) for r in rels]
        if len(paths) == 1:
            return pd.read_parquet(paths[0], columns=columns, filters=filters, filesystem=self.fs)
        data = pq.ParquetDataset(paths, filesystem=self.fs, filters=filters)
        frame: pd.DataFrame = data.read(columns=columns, use_pandas_metadata=True).to_pandas()
        return frame

    def schema(self, rel: str) -> pa.Schema:
        with self.fs.open(self._path(rel), "rb") as f:
            return pq.read_schema(f)

    def stage(self, table: str, version: int) -> _ObjectStage:
        return _ObjectStage(self, table, version)

    def commit_manifest(self, text: str) -> None:
        self.fs.pipe_file(self._path("_manifest.json"), text.encode("utf-8"))

    @contextmanager
    def locked(self, timeout: float) -> Iterator[None]:
        token = json.dumps({"host": socket.gethostname(), "pid": os.getpid(), "token": uuid.uuid4().hex,
                            "time": dt.datetime.now(dt.UTC).isoformat()})  # fmt: skip
        lock = self._path(".lock")
        deadline = time.monotonic() + timeout
        while True:
            try:
                with self.fs.open(lock, "xb") as f:  # created only if absent
                    f.write(token.encode("utf-8"))
                break
            except FileExistsError:
                self._take_over_if_dead(lock)
                if time.monotonic() > deadline:
                    raise _locked_error(self.root, timeout) from None
                time.sleep(0.2)
        try:
            yield
        finally:
            if self.read_text(".lock") == token:
                self.fs.rm_file(lock)

    def _take_over_if_dead(self, lock: str) -> None:
        held = self.read_text(".lock")
        if held is None:
            return
        try:
            owner = json.loads(held)
            age = (dt.datetime.now(dt.UTC) - dt.datetime.fromisoformat(owner["time"])).total_seconds()
        except (ValueError, KeyError, TypeError):
            owner, age = {}, LOCK_TTL_S + 1
        dead_here = owner.get("host") == socket.gethostname() and not _alive(int(owner.get("pid", 0)))
        if (dead_here or age > LOCK_TTL_S) and self.read_text(".lock") == held:
            self.fs.rm_file(lock)

    def _versions(self, table: str) -> list[tuple[int, str]]:
        return [(n, name) for name in self.names(table) if (n := _version_number(name)) is not None]

    def sweep(self, table: str, next_version: int) -> None:
        """Prefixes of versions that were never committed (a writer died before its manifest): numbered at or
        after the version about to be written."""
        for number, name in self._versions(table):
            if number >= next_version:
                self.fs.rm(self._path(f"{table}/{name}"), recursive=True)

    def prune(self, table: str, keep_from: int) -> None:
        for number, name in self._versions(table):
            if number < keep_from:
                self.fs.rm(self._path(f"{table}/{name}"), recursive=True)

    def is_lake_or_empty(self, manifest: str) -> bool:
        others = [n for n in self.names("") if n not in ("openlineage", ".lock")]
        return not others or ".lock" in self.names("")


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def store_for(root: str | os.PathLike[str]) -> LocalStore | ObjectStore:
    from pymescore.storage import is_remote

    return ObjectStore(str(root)) if is_remote(root) else LocalStore(root)
