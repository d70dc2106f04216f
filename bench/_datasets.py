"""Loaders for the public benchmark datasets described in ``shared/datasets/benchmarks.toml``.

The loaders keep the raw columns as they come (money strings such as ``'$60,000.00 '`` stay strings, coded
categories stay numbers): typing is each method's job, not the loader's. They only

* read the file in its format (ARFF, CSV/TSV with or without gzip, whitespace-separated without header);
* turn the target into ``y`` (1 = the table's ``positive`` value, compared as stripped strings so that
  ``1``, ``"1"`` and ``b"1"`` all match) and exclude rows whose target is empty (counted);
* remove the target and the ``drop`` columns (identifiers and columns that leak the outcome).

The datasets are read in place from ``shared/datasets`` next to the repository; they are never copied into it.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

#: the shared folder beside the repository (public datasets, architecture): ``PYMESCORE_SHARED_DIR`` when set
#: (a clone elsewhere), else ../shared relative to the repository root (this file is bench/_datasets.py)
SHARED_DIR = Path(os.environ.get("PYMESCORE_SHARED_DIR") or Path(__file__).resolve().parents[2] / "shared")
DEFAULT_DATASETS_DIR = SHARED_DIR / "datasets"
TOML_NAME = "benchmarks.toml"
SEED = 20261127

# Datasets whose toml notes prescribe their own train/test split instead of cross-validation:
# name -> the column holding 1 for training rows and 0 for test rows (it is also in that table's `drop`).
OWN_SPLITS: dict[str, str] = {"sba_case": "Selected"}

_FORMATS = {"arff", "csv", "csv.gz", "tsv", "tsv.gz", "whitespace"}


@dataclass(frozen=True)
class BenchmarkSpec:
    """One table of benchmarks.toml, with ``path`` made absolute."""

    name: str
    path: Path
    format: str
    target: str
    positive: str
    drop: tuple[str, ...] = ()
    notes: str = ""
    published: str = ""
    split_column: str | None = None  # train/test flag column when the dataset has its own protocol


@dataclass
class LoadedDataset:
    """A dataset ready for benchmarking."""

    spec: BenchmarkSpec
    X: pd.DataFrame
    y: np.ndarray
    excluded_empty_target: int  # rows dropped because their target was empty
    train_mask: np.ndarray | None  # own split (True = train row), None for cross-validation


def default_toml(datasets_dir: Path | None = None) -> Path:
    return (datasets_dir or DEFAULT_DATASETS_DIR) / TOML_NAME


def load_benchmarks(toml_path: Path) -> list[BenchmarkSpec]:
    """Every table of the benchmark toml, in file order."""
    toml_path = Path(toml_path)
    with toml_path.open("rb") as fh:
        doc: dict[str, Any] = tomllib.load(fh)
    specs = []
    for name, table in doc.items():
        if not isinstance(table, dict):
            continue
        fmt = str(table["format"]).lower()
        if fmt not in _FORMATS:
            raise ValueError(f"{toml_path}: [{name}] has unknown format {fmt!r} (known: {sorted(_FORMATS)})")
        drop = tuple(str(c) for c in table.get("drop", []))
        split_column = OWN_SPLITS.get(name)
        if split_column is not None and split_column not in drop:
            raise ValueError(f"[{name}]: its split column {split_column!r} should be listed in `drop`")
        specs.append(
            BenchmarkSpec(
                name=name,
                path=(toml_path.parent / str(table["path"])).resolve(),
                format=fmt,
                target=str(table["target"]),
                positive=str(table["positive"]).strip(),
                drop=drop,
                notes=str(table.get("notes", "")),
                published=str(table.get("published", "")),
                split_column=split_column,
            )
        )
    return specs


def _decode(value: object) -> object:
    return value.decode("utf-8") if isinstance(value, bytes) else value


def _read_arff(path: Path) -> pd.DataFrame:
    from scipy.io import arff

    data, _meta = arff.loadarff(str(path))
    frame = pd.DataFrame(data)
    for col in frame.columns:
        if frame[col].dtype == object:  # nominal attributes come as bytes; '?' marks a missing value
            decoded = frame[col].map(_decode)
            frame[col] = decoded.where(decoded != "?", None)
    return frame


def _read_raw(spec: BenchmarkSpec) -> pd.DataFrame:
    if spec.format == "arff":
        return _read_arff(spec.path)
    if spec.format == "whitespace":
        frame = pd.read_csv(spec.path, sep=r"\s+", header=None, low_memory=False)
        frame.columns = [f"A{i + 1}" for i in range(frame.shape[1])]
        return frame
    sep = "\t" if spec.format.startswith("tsv") else ","
    # utf-8-sig: SBAcase starts with a BOM. low_memory=False: one type per column, no DtypeWarning.
    # The target is read as text so that its comparison with `positive` does not depend on type inference.
    return pd.read_csv(spec.path, sep=sep, encoding="utf-8-sig", low_memory=False, dtype={spec.target: str})


def target_as_text(values: pd.Series) -> pd.Series:
    """The target as stripped strings: bytes decoded, integral floats written as integers, missing -> ''."""

    def one(v: object) -> str:
        v = _decode(v)
        if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA:
            return ""
        if isinstance(v, float) and v.is_integer():
            return str(int(v))
        return str(v).strip()

    return values.map(one).astype(str)


def read_dataset(spec: BenchmarkSpec) -> LoadedDataset:
    """Read ``spec``: features, 0/1 target, the count of unlabelled rows excluded and the own split if any."""
    if not spec.path.is_file():
        raise FileNotFoundError(f"[{spec.name}]: {spec.path} not found")
    raw = _read_raw(spec)
    missing = [c for c in (spec.target, *spec.drop) if c not in raw.columns]
    if missing:
        raise KeyError(f"[{spec.name}]: columns {missing} not in {spec.path.name} (has {list(raw.columns)})")
    target = target_as_text(raw[spec.target])
    labelled = (target != "").to_numpy()
    excluded = int((~labelled).sum())
    raw = raw.loc[labelled].reset_index(drop=True)
    y = (target[labelled] == spec.positive).to_numpy(dtype=np.int8)
    train_mask = None
    if spec.split_column is not None:
        flag = target_as_text(raw[spec.split_column])
        if not set(flag.unique()) <= {"0", "1"}:
            raise ValueError(f"[{spec.name}]: split column {spec.split_column!r} is not 0/1")
        train_mask = (flag == "1").to_numpy()
    features = raw.drop(columns=[spec.target, *spec.drop])
    return LoadedDataset(spec=spec, X=features, y=y, excluded_empty_target=excluded, train_mask=train_mask)


def load_dataset(spec: BenchmarkSpec) -> tuple[pd.DataFrame, np.ndarray]:
    """The feature frame (target and ``drop`` columns removed, raw types) and y (1 = positive)."""
    loaded = read_dataset(spec)
    return loaded.X, loaded.y


def stratified_sample(data: LoadedDataset, max_rows: int, seed: int = SEED) -> LoadedDataset:
    """A stratified random sample of ``max_rows`` rows (the dataset itself when it is not larger)."""
    n = len(data.y)
    if max_rows <= 0 or n <= max_rows:
        return data
    from sklearn.model_selection import train_test_split

    keep, _ = train_test_split(np.arange(n), train_size=max_rows, stratify=data.y, random_state=seed)
    keep = np.sort(keep)
    return LoadedDataset(
        spec=data.spec,
        X=data.X.iloc[keep].reset_index(drop=True),
        y=data.y[keep],
        excluded_empty_target=data.excluded_empty_target,
        train_mask=None if data.train_mask is None else data.train_mask[keep],
    )


def select(specs: Sequence[BenchmarkSpec], only: Sequence[str] | None) -> list[BenchmarkSpec]:
    """The specs named in ``only`` (all when empty), failing on unknown names."""
    if not only:
        return list(specs)
    known = {s.name for s in specs}
    unknown = [n for n in only if n not in known]
    if unknown:
        raise SystemExit(f"unknown dataset(s) {unknown}; known: {sorted(known)}")
    return [s for s in specs if s.name in set(only)]
