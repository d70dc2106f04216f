"""Writing a simulation: Parquet files plus simulation.json, all or nothing (temp folder, then rename)."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from pymescore.errors import ConfigError
from pymescore.simulate._engine import SimulatedData

#: the metadata file that marks a folder as a simulation's output
MANIFEST = "simulation.json"


def _frames(data: SimulatedData) -> dict[str, pd.DataFrame]:
    return {**data.tables, "oracle": data.oracle, "injected_errors": data.injected_errors}


def _write_parquet(frame: pd.DataFrame, path: Path) -> None:
    table = pa.Table.from_pandas(frame, preserve_index=False)
    pq.write_table(table, path, compression="snappy")


def check_output_dir(out_dir: str | os.PathLike[str]) -> None:
    """Raise ConfigError unless ``out_dir`` is missing, empty, or an earlier simulation's folder."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(f"--out must be a folder; got the file {out_dir}.", parameter="out")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not (out_dir / MANIFEST).exists():
        raise ConfigError(
            f"--out must be a missing or empty folder, or an earlier simulation's folder (with {MANIFEST}) "
            f"to replace; got {out_dir}, which holds other files.",
            parameter="out",
        )


def write_simulation(data: SimulatedData, out_dir: str | os.PathLike[str]) -> dict[str, object]:
    """Write every table as ``<name>.parquet`` and ``simulation.json`` into ``out_dir``, atomically.

    The files are written into a temporary folder next to ``out_dir`` which then replaces it, so a
    reader never sees a half-written simulation. An existing ``out_dir`` is replaced only if it is
    empty or holds an earlier simulation. Returns the summary (also stored in simulation.json).
    """
    out = Path(out_dir)
    check_output_dir(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    frames = _frames(data)
    files = [f"{name}.parquet" for name in frames] + [MANIFEST]
    summary = {**data.summary(), "out": str(out), "files": files}
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        tmp.chmod(0o755)  # mkdtemp makes it private; the output is an ordinary folder
        with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
            jobs = [pool.submit(_write_parquet, frame, tmp / f"{name}.parquet") for name, frame in frames.items()]
            for job in jobs:
                job.result()
        manifest = {
            "config": data.config.to_dict(),
            "summary": summary,
            "details": data.info,
            "columns": {name: list(frame.columns) for name, frame in frames.items()},
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False), encoding="utf-8")
        _replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return summary


def _replace(new: Path, out: Path) -> None:
    """Move ``new`` to ``out``; an existing ``out`` is moved aside first and removed after."""
    old = None
    if out.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
        os.replace(out, old / out.name)
    os.replace(new, out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
