"""Benchmark: ingestion of a simulated population into a fresh lake.

Baseline, measured in the same process on the same files: reading each Parquet file and writing it back
(the I/O any ingestion pays). The ratio ingest / baseline shows what validation, quarantine, PEN
conversion and the atomic commit cost on top.

    python -m bench.bench_ingest --firms 100000 --months 36 --out bench/results/ingest.json
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import pandas as pd

from bench._common import write_result
from pymescore.lake import Lake
from pymescore.simulate import SimulationConfig, simulate, write_simulation
from pymescore.sources import INGEST_ORDER, ingest, read_source

ORDER = INGEST_ORDER


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--firms", type=int, default=20_000)
    parser.add_argument("--months", type=int, default=36)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("bench/results/ingest.json"))
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="pymescore-bench-"))
    try:
        sim = work / "sim"
        write_simulation(simulate(SimulationConfig(firms=args.firms, months=args.months, seed=7)), sim)
        rows = {t: len(pd.read_parquet(sim / f"{t}.parquet")) for t in ORDER}
        ingest_s: dict[str, list[float]] = {t: [] for t in ORDER}
        base_s: dict[str, list[float]] = {t: [] for t in ORDER}
        for r in range(args.repeat):
            lake = Lake(work / f"lake{r}")
            for t in ORDER:
                t0 = time.perf_counter()
                pd.read_parquet(sim / f"{t}.parquet").to_parquet(work / f"copy-{t}.parquet")
                base_s[t].append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                ingest(read_source(str(sim / f"{t}.parquet")), t, lake)
                ingest_s[t].append(time.perf_counter() - t0)
            shutil.rmtree(lake.root)
        tables = {
            t: {
                "rows": rows[t],
                "ingest_median_s": round(statistics.median(ingest_s[t]), 3),
                "baseline_io_median_s": round(statistics.median(base_s[t]), 3),
                "ratio": round(statistics.median(ingest_s[t]) / statistics.median(base_s[t]), 1),
                "rows_per_s": round(rows[t] / statistics.median(ingest_s[t])),
            }
            for t in ORDER
        }
        total = sum(statistics.median(v) for v in ingest_s.values())
        result = {
            "benchmark": "ingest",
            "firms": args.firms,
            "months": args.months,
            "repeat": args.repeat,
            "total_ingest_median_s": round(total, 2),
            "tables": tables,
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)
    write_result(result, args.out)


if __name__ == "__main__":
    main()
