"""A population simulated chunk by chunk, each table written as a folder of Parquet parts.

``simulate --chunk-firms K`` splits the firms into chunks of K: chunk ``i`` is an ordinary simulation of its
firms under a seed derived from the population's seed and ``i`` (:func:`chunk_seed`), sharing what one economy
shares (:class:`~pymescore.simulate._engine.Shared`): the exchange rates, the macro stress path, and the RUCs,
drawn for the whole population up front (distinct numbers) and sliced per chunk, so that no two chunks hold the
same firm. Each chunk's tables are written as ``<table>/part-<i>.parquet`` and dropped before the next chunk is
drawn: memory is bounded by one chunk (plus the oracle's true PDs and outcomes, 9 bytes a row, kept for the
population's AUC). ``exchange_rates`` is global and written once as ``exchange_rates.parquet``.
``injected_errors.row`` is the 1-based row of the part with the same number. ``simulation.json`` summarises the
whole population.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import zlib
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from pymescore.simulate._config import Calendar, SimulationConfig
from pymescore.simulate._credit import auc, macro_stress
from pymescore.simulate._engine import Shared, simulate
from pymescore.simulate._fx import simulate_rates
from pymescore.simulate._population import ruc_numbers
from pymescore.simulate._random import stream
from pymescore.simulate._write import MANIFEST, _frames, _replace, _write_parquet, check_output_dir

#: the file name of chunk ``i`` in a table's folder
PART = "part-{:05d}.parquet"
#: tables written once for the whole population, as ``<table>.parquet``
GLOBAL_TABLES = ("exchange_rates",)


def chunk_seed(seed: int, index: int) -> int:
    """The seed of chunk ``index`` of a population simulated with ``seed`` (stable, in [0, 2**63))."""
    sequence = np.random.SeedSequence(entropy=seed, spawn_key=(zlib.crc32(b"chunk"), index))
    return int(sequence.generate_state(1, np.uint64)[0]) >> 1


def chunk_sizes(firms: int, chunk_firms: int) -> list[int]:
    """The firms of each chunk: ``chunk_firms`` each, the last one the remainder."""
    full, rest = divmod(firms, chunk_firms)
    return [chunk_firms] * full + ([rest] if rest else [])


def simulate_chunked(
    config: SimulationConfig,
    chunk_firms: int,
    out_dir: str | os.PathLike[str],
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, object]:
    """Simulate ``config.firms`` firms in chunks of ``chunk_firms`` into ``out_dir`` (atomically, as
    ``write_simulation``); ``progress(i, n)`` is called as chunk ``i`` of ``n`` starts. Returns the summary."""
    out = Path(out_dir)
    check_output_dir(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    sizes = chunk_sizes(config.firms, chunk_firms)
    calendar = Calendar.from_config(config)
    companies, persons = ruc_numbers(stream(config.seed, "ruc"), config.firms)
    fx, stress = simulate_rates(config.seed, calendar), macro_stress(config.seed, calendar)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    totals: dict[str, Any] = {"rows": {}, "firms_defaulted": 0, "injected_errors": 0, "injected_outliers": 0}
    true_pd: list[np.ndarray] = []
    defaulted: list[np.ndarray] = []
    chunks: list[dict[str, object]] = []
    columns: dict[str, list[str]] = {}
    policy: dict[str, Any] | None = None
    try:
        tmp.chmod(0o755)
        start = 0
        for i, n in enumerate(sizes):
            if progress:
                progress(i, len(sizes))
            pool = (companies[start : start + n], persons[start : start + n])
            part = replace(config, firms=n, seed=chunk_seed(config.seed, i))
            data = simulate(part, shared=Shared(fx=fx, stress=stress, ruc_pool=pool))
            start += n
            for name, frame in _frames(data).items():
                columns.setdefault(name, list(frame.columns))
                if name in GLOBAL_TABLES:
                    if i == 0:
                        _write_parquet(frame, tmp / f"{name}.parquet")
                        totals["rows"][name] = len(frame)
                    continue
                (tmp / name).mkdir(exist_ok=True)
                _write_parquet(frame, tmp / name / PART.format(i))
                if name != "injected_errors":
                    totals["rows"][name] = totals["rows"].get(name, 0) + len(frame)
            summary = data.summary()
            for key in ("firms_defaulted", "injected_errors", "injected_outliers"):
                totals[key] += int(summary[key])  # type: ignore[call-overload]
            true_pd.append(data.oracle["true_pd"].to_numpy(dtype=np.float64))
            defaulted.append(data.oracle["defaulted"].to_numpy(dtype=bool))
            if "policy" in data.info:
                got: dict[str, Any] = data.info["policy"]  # type: ignore[assignment]
                policy = dict(got) if policy is None else policy
                if i:
                    policy["applications"] += got["applications"]
                    policy["rejected"] += got["rejected"]
            chunks.append({"chunk": i, "firms": n, "seed": part.seed, "file": PART.format(i),
                           "hazard_intercept": data.info["hazard_intercept"],
                           "oracle_auc": data.info["oracle_auc"]})  # fmt: skip
            info = data.info
            del data  # the next chunk is drawn without this one in memory
        pd_all, y_all = np.concatenate(true_pd), np.concatenate(defaulted)
        if policy is not None:
            policy["realised_rejection_rate"] = policy["rejected"] / policy["applications"] if policy[
                "applications"] else None  # fmt: skip
            policy.pop("cutoff", None)  # each chunk's own: in details.chunks
        files = [f"{name}.parquet" if name in GLOBAL_TABLES else f"{name}/" for name in columns] + [MANIFEST]
        summary_all: dict[str, object] = {
            "seed": int(config.seed),
            "firms": int(config.firms),
            "months": int(config.months),
            "first_month": str(info["first_month"]),
            "last_month": str(info["last_month"]),
            "rows": totals["rows"],
            "default_rate": float(y_all.mean()) if y_all.size else None,
            "target_default_rate": float(config.default_rate),
            "oracle_auc": auc(pd_all, y_all),
            "oracle_as_of": info["as_of"],
            "firms_defaulted": totals["firms_defaulted"],
            "injected_errors": totals["injected_errors"],
            "injected_outliers": totals["injected_outliers"],
            "shock_months": info["shock_months"],
            "default_definition": summary["default_definition"],
            **({"policy": policy} if policy is not None else {}),
            "chunk_firms": int(chunk_firms),
            "chunks": len(sizes),
            "out": str(out),
            "files": files,
        }
        manifest = {
            "config": {**config.to_dict(), "chunk_firms": int(chunk_firms)},
            "summary": summary_all,
            "details": {
                "shock_months": info["shock_months"],
                "shock_departments": info["shock_departments"],
                "as_of": info["as_of"],
                "chunks": chunks,
            },
            "columns": columns,
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False), encoding="utf-8")
        _replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return summary_all
