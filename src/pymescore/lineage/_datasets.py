"""OpenLineage datasets of what pymescore reads and writes: files, folders (bundles), lake tables, databases, URLs.

Naming follows OpenLineage's conventions: a local file is namespace ``file``, name its absolute path; a lake
table is the folder ``<lake>/<table>`` with the lake's version of it as ``datasetVersion``; a database is
``postgres://host:port`` (never its user or password) with ``database.schema.table``; an HTTP API is
``https://host`` with the path. Facets: ``schema`` (columns and types), ``version``, statistics (rows, bytes,
files) and the custom ``pymescore_sha256`` (the content hash that the lake and the bundle manifests record).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pymescore.lineage._facets import facet

_PARQUET = (".parquet", ".pq")


@dataclass(frozen=True)
class Dataset:
    """One dataset of a run: its identity, its dataset facets and its statistics (rows, bytes, files)."""

    namespace: str
    name: str
    facets: dict[str, dict[str, Any]] = field(default_factory=dict)
    stats: dict[str, int] = field(default_factory=dict)

    def as_input(self) -> dict[str, Any]:
        out: dict[str, Any] = {"namespace": self.namespace, "name": self.name, "facets": self.facets}
        if self.stats:
            out["inputFacets"] = {"inputStatistics": facet("inputStatistics", **self.stats)}
        return out

    def as_output(self) -> dict[str, Any]:
        out: dict[str, Any] = {"namespace": self.namespace, "name": self.name, "facets": self.facets}
        if self.stats:
            out["outputFacets"] = {"outputStatistics": facet("outputStatistics", **self.stats)}
        return out


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _schema(path: Path) -> tuple[list[dict[str, str]], int | None]:
    """(columns with their types, rows) of a Parquet or CSV file; ([], None) for another kind."""
    name = path.name.lower()
    if name.endswith(_PARQUET):
        import pyarrow.parquet as pq

        meta = pq.ParquetFile(path)
        fields = [{"name": f.name, "type": str(f.type)} for f in meta.schema_arrow]
        return fields, int(meta.metadata.num_rows)
    if name.endswith((".csv", ".tsv")):
        with open(path, encoding="utf-8", errors="replace", newline="") as f:
            header = f.readline().rstrip("\r\n")
            rows = sum(1 for line in f if line.strip())
        sep = "\t" if name.endswith(".tsv") else ","
        return [{"name": c.strip().strip('"'), "type": "string"} for c in header.split(sep) if c.strip()], rows
    return [], None


def file_dataset(path: Path, *, version: str | None = None) -> Dataset:
    """A file: schema and rows for Parquet/CSV, bytes, SHA-256 (also its version when none is given)."""
    path = Path(path).resolve()
    if not path.is_file():
        return Dataset("file", str(path))
    fields, rows = _schema(path)
    sha = sha256_file(path)
    facets = {"version": facet("version", datasetVersion=version or sha)}
    facets["pymescore_sha256"] = facet("pymescore_sha256", sha256=sha, of="file")
    if fields:
        facets["schema"] = facet("schema", fields=fields)
    stats = {"size": path.stat().st_size, "fileCount": 1}
    if rows is not None:
        stats["rowCount"] = rows
    return Dataset("file", str(path), facets, stats)


def folder_dataset(path: Path) -> Dataset:
    """A folder of outputs; a model bundle is versioned by its manifest (version, SHA-256 of manifest.json)."""
    path = Path(path).resolve()
    if not path.is_dir():
        return Dataset("file", str(path))
    files = [p for p in path.rglob("*") if p.is_file()]
    facets: dict[str, dict[str, Any]] = {}
    manifest = path / "manifest.json"
    if manifest.is_file():
        try:
            version = str(json.loads(manifest.read_text(encoding="utf-8")).get("version", ""))
        except (OSError, ValueError):
            version = ""
        sha = sha256_file(manifest)
        facets["version"] = facet("version", datasetVersion=version or sha)
        facets["pymescore_sha256"] = facet("pymescore_sha256", sha256=sha, of="manifest.json")
    return Dataset("file", str(path), facets, {"size": sum(p.stat().st_size for p in files), "fileCount": len(files)})


def lake_dataset(root: Path | str, table: str) -> Dataset:
    """The current version of a lake table: its columns, rows, and the SHA-256 of its data file (of its bucket
    files' SHA-256 sums, in order, in a bucketed lake). On object storage: namespace ``s3://bucket``, no hash."""
    from pymescore.lake import Lake
    from pymescore.storage import is_remote

    if is_remote(root):
        return _remote_lake_dataset(str(root), table)
    lake = Lake(root)
    name = f"{Path(root).resolve()}/{table}"
    try:
        current = lake.current(table)
    except Exception:  # not a lake (yet): the dataset without facets
        current = None
    if current is None or not Path(current.data_path).exists():
        return Dataset("file", name)
    files = [Path(lake.root) / rel for rel in lake.data_files(table)]
    fields, _ = _schema(files[0])
    rows = sum(int(_schema(f)[1] or 0) for f in files)
    quarantined = _schema(Path(current.quarantine_path))[1] if Path(current.quarantine_path).exists() else 0
    if len(files) == 1:
        sha, of = sha256_file(files[0]), "data.parquet"
    else:
        sha, of = hashlib.sha256("".join(sha256_file(f) for f in files).encode()).hexdigest(), "data/*.parquet"
    facets = {
        "version": facet("version", datasetVersion=str(current.version)),
        "schema": facet("schema", fields=fields),
        "pymescore_sha256": facet("pymescore_sha256", sha256=sha, of=of),
        "pymescore_quarantine": facet("pymescore_quarantine", rows=int(quarantined or 0)),
    }
    return Dataset("file", name, facets, {"rowCount": rows, "size": sum(f.stat().st_size for f in files)})


def _remote_lake_dataset(root: str, table: str) -> Dataset:
    from pymescore.lake import Lake

    scheme, _, rest = root.partition("://")
    bucket, _, key = rest.partition("/")
    name = f"{key.strip('/')}/{table}".lstrip("/")
    try:
        lake = Lake(root)
        current = lake.current(table)
        if current is None:
            return Dataset(f"{scheme}://{bucket}", name)
        fields = [{"name": f.name, "type": str(f.type)} for f in lake.schema(table)]
    except Exception:  # not a lake (yet), or unreachable: the dataset without facets
        return Dataset(f"{scheme}://{bucket}", name)
    facets = {
        "version": facet("version", datasetVersion=str(current.version)),
        "schema": facet("schema", fields=fields),
    }
    return Dataset(f"{scheme}://{bucket}", name, facets)


def object_dataset(url: str) -> Dataset:
    """A file or folder on object storage: namespace ``s3://bucket``, name its key (no facets read)."""
    scheme, _, rest = url.partition("://")
    bucket, _, key = rest.partition("/")
    return Dataset(f"{scheme}://{bucket}", key.strip("/") or "/")


def lake_datasets(root: Path | str, tables: list[str] | None = None) -> list[Dataset]:
    """Every table of a lake (or ``tables``) at its current version."""
    from pymescore.lake import Lake

    try:
        names = tables if tables is not None else Lake(root).tables()
    except Exception:
        names = tables or []
    return [lake_dataset(root, t) for t in names]


def sql_dataset(url: str, table: str | None, query: str | None) -> Dataset:
    """A database table or query, named without the URL's user or password."""
    parts = urlsplit(url)
    scheme = parts.scheme.split("+", 1)[0].replace("postgresql", "postgres")
    if scheme == "sqlite":  # a file: sqlite:///relative/path.db or sqlite:////absolute/path.db
        return Dataset("sqlite", f"{Path(url.split(':///', 1)[-1]).resolve()}/{table or 'query'}")
    host = parts.hostname or ""
    namespace = f"{scheme}://{host}{f':{parts.port}' if parts.port else ''}"
    database = parts.path.lstrip("/")
    if table:
        return Dataset(namespace, f"{database}.{table}" if database else table)
    digest = hashlib.sha256((query or "").encode()).hexdigest()[:16]
    return Dataset(namespace, f"{database}.query-{digest}")


def url_dataset(url: str) -> Dataset:
    """An HTTP resource: namespace scheme://host[:port], name its path (no query string: it may hold a key)."""
    parts = urlsplit(url)
    return Dataset(f"{parts.scheme}://{parts.hostname}{f':{parts.port}' if parts.port else ''}", parts.path or "/")
