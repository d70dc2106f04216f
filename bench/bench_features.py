"""Benchmark: features for a whole simulated population at one as_of, and for one firm alone.

Targets (issue 3): 100k firms × 36 months in ≤ 30 s; one firm in ≤ 5 ms median. Baseline, in the same
process: reading the builders' input columns from the lake (the I/O every build pays), so the ratio shows
what the computation adds.

    python -m bench.bench_features --firms 100000 --months 36 --out bench/results/features.json
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from bench._common import simulated_lake, write_result
from pymescore.features import build_features, feature_context
from pymescore.features._snapshot import read_lake_tables

AS_OF = "2025-06-30"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--firms", type=int, default=100_000)
    parser.add_argument("--months", type=int, default=36)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--single", type=int, default=300, help="single-firm builds to time")
    parser.add_argument("--out", type=Path, default=Path("bench/results/features.json"))
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="pymescore-bench-"))
    try:
        lake = simulated_lake(work, args.firms, args.months)
        read_s, batch_s = [], []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            tables = read_lake_tables(lake)
            read_s.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            batch = build_features(tables, AS_OF)
            batch_s.append(time.perf_counter() - t0)
        context = feature_context(tables, AS_OF)
        rng = np.random.default_rng(0)
        rucs = rng.choice(batch["ruc"].to_numpy(), size=min(args.single, len(batch)), replace=False)
        by_firm = {name: t.groupby("ruc", sort=False) for name, t in tables.items()}
        single_s = []
        for ruc in rucs:
            alone = {n: g.get_group(ruc) if ruc in g.groups else tables[n].iloc[:0] for n, g in by_firm.items()}
            t0 = time.perf_counter()
            build_features(alone, AS_OF, context=context)
            single_s.append(time.perf_counter() - t0)
        result = {
            "benchmark": "features",
            "firms": args.firms,
            "months": args.months,
            "as_of": AS_OF,
            "rows_out": len(batch),
            "n_features": batch.shape[1] - 1,
            "batch_median_s": round(statistics.median(batch_s), 3),
            "baseline_read_inputs_median_s": round(statistics.median(read_s), 3),
            "batch_over_read_ratio": round(statistics.median(batch_s) / statistics.median(read_s), 2),
            "single_firm_median_ms": round(1000 * statistics.median(single_s), 3),
            "single_firm_p95_ms": round(1000 * float(np.percentile(single_s, 95)), 3),
            "targets": {"batch_s": 30, "single_firm_median_ms": 5},
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)
    write_result(result, args.out)


if __name__ == "__main__":
    main()
