"""Training at scale on a Dask cluster: ``pymescore train --scheduler local:N --worker-memory M`` on the SBA national
table (899,164 loans, the largest public set in the shared folder), every process's peak RSS, the model card's
record of where each family was fitted, and the test AUC; ``--in-process`` adds the same command without a
scheduler as the baseline.

    python -m bench.bench_scale_train --out bench/results/scale-train-sba.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from bench._common import write_result
from bench._datasets import DEFAULT_DATASETS_DIR
from bench.bench_scale import run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--table", type=Path, default=DEFAULT_DATASETS_DIR / "sba_loans" / "SBAnational.csv.gz")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--worker-memory", default="6GiB")
    parser.add_argument("--trials", type=int, default=2)
    parser.add_argument("--in-process", action="store_true", help="also the same training without a scheduler")
    parser.add_argument("--work", type=Path, default=Path("/tmp/pymescore-bench-scale-train"))
    parser.add_argument("--out", type=Path, default=Path("bench/results/scale-train-sba.json"))
    a = parser.parse_args()
    if not a.table.is_file():
        raise SystemExit(f"{a.table}: not found (the shared datasets folder; PYMESCORE_SHARED_DIR)")
    a.work.mkdir(parents=True, exist_ok=True)
    log = a.work / "commands.log"
    # benchmarks.toml's sba_national: target MIS_Status (CHGOFF = default), identifiers and leaking columns dropped
    common = ["train", "--table", str(a.table), "--target", "MIS_Status", "--positive", "CHGOFF", "--drop",
              "LoanNr_ChkDgt,Name,ChgOffDate,ChgOffPrinGr,BalanceGross", "--trials", str(a.trials),
              "--time-budget", "3600", "--quiet"]  # fmt: skip
    result: dict[str, Any] = {"benchmark": "scale_train", "table": a.table.name, "workers": a.workers,
                              "worker_memory": a.worker_memory, "runs": {}}  # fmt: skip
    plans = [("dask", [*common, "--out", str(a.work / "bundle_dask"), "--scheduler", f"local:{a.workers}",
                       "--worker-memory", a.worker_memory])]  # fmt: skip
    if a.in_process:
        plans.append(("in_process", [*common, "--out", str(a.work / "bundle_in_process")]))
    for name, args in plans:
        print(f"{time.strftime('%H:%M:%S')} train {name}…", flush=True)
        step = run(args, log)
        bundle = a.work / f"bundle_{name}"
        metrics_file = bundle / "metrics.json"
        if metrics_file.is_file():
            metrics = json.loads(metrics_file.read_text())
            step["rows"] = metrics.get("rows")
            step["scale"] = metrics.get("scale")
            step["test_auc"] = (metrics.get("test_metrics") or {}).get("auc")
            step["timings_s"] = metrics.get("timings_s")
        result["runs"][name] = step
        write_result(dict(result), a.out)


if __name__ == "__main__":
    main()
