"""Benchmark ``pymescore simulate``: time to simulate and write a population as Parquet.

Usage::

    python -m bench.bench_simulate --firms 100000 --months 36 --repeat 1 --out bench/results/simulate.json

Reports the median over ``--repeat`` runs of the simulation, the Parquet writing and both together,
with rows per table, rows per second and the machine it ran on.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from pymescore.simulate import SimulationConfig, simulate, write_simulation


def _machine() -> dict[str, object]:
    memory = None
    try:
        with open("/proc/meminfo", encoding="utf-8") as f:
            memory = round(int(f.readline().split()[1]) / 2**20, 1)
    except OSError:
        pass
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "memory_gib": memory,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "pyarrow": pa.__version__,
    }


def run(firms: int, months: int, repeat: int, seed: int) -> dict[str, object]:
    """Time simulate + write ``repeat`` times; return the medians and the sizes."""
    config = SimulationConfig(firms=firms, months=months, seed=seed)
    sim_s: list[float] = []
    write_s: list[float] = []
    summary: dict[str, object] = {}
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            data = simulate(config)
            mid = time.perf_counter()
            summary = write_simulation(data, Path(tmp) / "sim")
            end = time.perf_counter()
        sim_s.append(mid - start)
        write_s.append(end - mid)
        del data
    total = [a + b for a, b in zip(sim_s, write_s, strict=True)]
    rows = summary["rows"]
    assert isinstance(rows, dict)
    n_rows = sum(v for k, v in rows.items() if k != "oracle")
    seconds = statistics.median(total)
    return {
        "benchmark": "simulate",
        "firms": firms,
        "months": months,
        "seed": seed,
        "repeat": repeat,
        "seconds": round(seconds, 3),
        "simulate_seconds": round(statistics.median(sim_s), 3),
        "write_seconds": round(statistics.median(write_s), 3),
        "all_seconds": [round(s, 3) for s in total],
        "rows": rows,
        "raw_rows": n_rows,
        "rows_per_second": round(n_rows / seconds),
        "default_rate": summary["default_rate"],
        "oracle_auc": summary["oracle_auc"],
        "machine": _machine(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--firms", type=int, default=100_000)
    parser.add_argument("--months", type=int, default=36)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=Path("bench/results/simulate.json"))
    args = parser.parse_args()
    result = run(args.firms, args.months, args.repeat, args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
