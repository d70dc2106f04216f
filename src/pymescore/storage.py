"""Where files live: a local path, or an object-storage URL (``s3://bucket/key``, any fsspec protocol).

Object storage goes through fsspec (``pip install 'pymescore[s3]'`` for S3). Credentials come from the standard
AWS variables (``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``, ``AWS_PROFILE``,
``AWS_DEFAULT_REGION``), read by botocore itself; a non-AWS endpoint (MinIO, Ceph, a local test server) from
``PYMESCORE_S3_ENDPOINT``, else ``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL``.

Object storage has no rename: a single object is written whole by one PUT (readers see the old object or the new
one, never a part), so a commit point is always one object written last (see ``pymescore.lake``). Folders (a
bundle, a partitioned snapshot) are uploaded file by file with their manifest last.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pymescore.errors import ConfigError

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

_URL = re.compile(r"^([a-z][a-z0-9+.-]*)://", re.IGNORECASE)
#: protocols whose extra is named in the install hint
_EXTRAS = {"s3": "s3", "s3a": "s3"}


def protocol(location: str | os.PathLike[str]) -> str | None:
    """The URL's protocol (``s3``), or None for a local path (``file://`` URLs count as local)."""
    match = _URL.match(str(location))
    if match is None or match.group(1).lower() == "file":
        return None
    return match.group(1).lower()


def is_remote(location: str | os.PathLike[str]) -> bool:
    return protocol(location) is not None


def local_path(location: str | os.PathLike[str]) -> Path:
    """A local location as a Path (``file://`` stripped)."""
    text = str(location)
    return Path(text[len("file://") :] if text.lower().startswith("file://") else text)


def storage_options(proto: str) -> dict[str, Any]:
    """fsspec options for ``proto`` from the environment: the endpoint of an S3-compatible store; listings
    are never cached (a lake reads what was just committed, by this process or another one)."""
    if proto not in ("s3", "s3a"):
        return {}
    options: dict[str, Any] = {"use_listings_cache": False}
    names = ("PYMESCORE_S3_ENDPOINT", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")
    endpoint = next((os.environ[k] for k in names if os.environ.get(k)), None)
    if endpoint:
        options["endpoint_url"] = endpoint
    return options


def filesystem(location: str) -> tuple[AbstractFileSystem, str]:
    """The fsspec filesystem of a URL and the path inside it (``bucket/key``, no protocol)."""
    proto = protocol(location)
    if proto is None:
        raise ConfigError(f"expected an object-storage URL such as s3://bucket/key, got {location!r}")
    try:
        import fsspec
    except ImportError as exc:  # pragma: no cover - the extra is installed in development and CI
        raise ConfigError(
            f"{location}: expected fsspec for object storage, got it not installed; "
            f"pip install 'pymescore[{_EXTRAS.get(proto, 's3')}]'"
        ) from exc
    try:
        fs, path = fsspec.core.url_to_fs(location, **storage_options(proto))
    except ImportError as exc:
        raise ConfigError(
            f"{location}: expected the {proto}:// driver, got it not installed ({exc}); "
            f"pip install 'pymescore[{_EXTRAS.get(proto, proto)}]'"
        ) from exc
    return fs, str(path).rstrip("/")


def join(location: str | os.PathLike[str], *parts: str) -> str:
    """``location/part/...`` for a URL or a local path."""
    if is_remote(location):
        return "/".join([str(location).rstrip("/"), *(p.strip("/") for p in parts)])
    return str(local_path(location).joinpath(*parts))


def exists(location: str | os.PathLike[str]) -> bool:
    if not is_remote(location):
        return local_path(location).exists()
    fs, path = filesystem(str(location))
    return bool(fs.exists(path))


def put_file(local: Path, location: str) -> None:
    """Upload one local file to ``location`` (one PUT: readers see it whole or not at all)."""
    fs, path = filesystem(location)
    fs.put_file(str(local), path)


def upload_tree(local: Path, location: str, last: Sequence[str] = ()) -> None:
    """Upload a local folder file by file, the names in ``last`` (its manifest) after every other file."""
    fs, root = filesystem(location)
    files = sorted(p for p in local.rglob("*") if p.is_file())
    rel = [p.relative_to(local).as_posix() for p in files]
    order = sorted(range(len(files)), key=lambda i: (rel[i] in last, rel[i]))
    for i in order:
        fs.put_file(str(files[i]), f"{root}/{rel[i]}")


def download(location: str, local: Path) -> Path:
    """Copy a remote file, or every object under a remote folder, to ``local``; returns the local copy."""
    fs, path = filesystem(location)
    if fs.isdir(path):
        local.mkdir(parents=True, exist_ok=True)
        for name in fs.find(path):
            target = local / str(name)[len(path) :].lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            fs.get_file(name, str(target))
        return local
    if not fs.exists(path):
        raise ConfigError(f"{location}: expected an object or a folder of objects, got nothing there")
    local.parent.mkdir(parents=True, exist_ok=True)
    fs.get_file(path, str(local))
    return local


@contextmanager
def readable(location: str | os.PathLike[str]) -> Iterator[Path]:
    """A local path to read ``location`` from: the path itself, or a temporary copy of a remote file or folder
    (removed afterwards)."""
    if not is_remote(location):
        yield local_path(location)
        return
    tmp = Path(tempfile.mkdtemp(prefix="pymescore-"))
    try:
        name = str(location).rstrip("/").rsplit("/", 1)[-1] or "object"
        yield download(str(location), tmp / name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@contextmanager
def writable(location: str | os.PathLike[str], last: Sequence[str] = ()) -> Iterator[Path]:
    """A local path to write ``location`` at: the path itself, or a temporary one uploaded to the URL when the
    block ends without an error (a folder's ``last`` names after the rest). Nothing is uploaded on an error."""
    if not is_remote(location):
        yield local_path(location)
        return
    tmp = Path(tempfile.mkdtemp(prefix="pymescore-"))
    try:
        name = str(location).rstrip("/").rsplit("/", 1)[-1] or "object"
        target = tmp / name
        yield target
        if target.is_dir():
            upload_tree(target, str(location), last)
        elif target.exists():
            put_file(target, str(location))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


#: the commit marker (and lineage record) of a partitioned output: a folder of ``part-NNNNN.parquet`` files
MARKER = "_lineage.json"


def staged_folder(out: str, marker: str = MARKER) -> tuple[str, Callable[[str], None], Callable[[], None]]:
    """A folder of parts written by many processes, committed at once: where the parts go, the commit (given the
    marker's text) and the discard (on an error).

    Local: the parts go to a folder beside ``out``, which the commit renames into place (a previous ``out`` is
    moved aside first, then removed). Object storage: a previous ``out`` is removed first (so that parts of two
    outputs never mix under one marker), the parts go straight under it, and the marker object, written last,
    commits it; readers refuse the folder without it."""
    if is_remote(out):
        fs, path = filesystem(out)
        if fs.exists(path):
            fs.rm(path, recursive=True)

        def commit_remote(text: str) -> None:
            fs.pipe_file(f"{path}/{marker}", text.encode("utf-8"))

        return out.rstrip("/"), commit_remote, lambda: None
    final = local_path(out)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".{final.name}.{uuid.uuid4().hex}")
    tmp.mkdir()

    def commit_local(text: str) -> None:
        (tmp / marker).write_text(text, encoding="utf-8")
        old = None
        if final.exists() or final.is_symlink():
            old = final.with_name(f".{final.name}.old-{uuid.uuid4().hex}")
            os.replace(final, old)
        os.replace(tmp, final)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True) if old.is_dir() else old.unlink()

    return str(tmp), commit_local, lambda: shutil.rmtree(tmp, ignore_errors=True)
