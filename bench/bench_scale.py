"""Scale-out benchmark: simulate → ingest → features → score, in one process and on a Dask LocalCluster.

Each step runs as its own ``pymescore`` command (a fresh process, as in production); a sampler walks the
command's process tree four times a second and keeps every process's peak RSS (the command itself, each Dask
worker, their helpers), and the command's own peak comes exact from ``wait4``. For each size: the in-process
path (``--baseline-max`` firms and below) and ``--scheduler local:N --worker-memory M``; the ratios
time(largest)/time(smallest) of features and scoring on the cluster are the scaling figures (linear: the ratio
of the firm counts). Worker trouble (a worker killed, memory pauses, spilling) is counted from the commands'
stderr. The JSON is rewritten after every step, so a run cut short keeps what it measured.

    python -m bench.bench_scale --firms 10000,100000 --out bench/results/scale.json
    python -m bench.bench_scale --firms 100000,1000000 --baseline-max 100000 --worker-memory 6GiB \\
        --chunk 100000 --out bench/results/scale-1m.json

With ``--chunk``, a population larger than the chunk is simulated with ``pymescore simulate --chunk-firms`` (one
chunk in memory at a time, each table a folder of parts) and ingested by ``pymescore ingest-folder`` part by part
and bucket by bucket: simulate and ingest are single-process commands whose memory would otherwise grow with the
population (measured: 1.7 and 2.7 GiB at 100k firms × 36 months in one piece).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import psutil

from bench._common import write_result

AS_OF = "2024-06-30,2024-12-31"
#: stderr lines that say a worker ran short of memory or died
TROUBLE = re.compile(r"KilledWorker|Worker exceeded|Restarting worker|Memory use is high|Unmanaged memory use is high"
                     r"|spill", re.IGNORECASE)  # fmt: skip


def _role(proc: psutil.Process, root: int) -> str:
    if proc.pid == root:
        return "command"
    try:
        cmd = " ".join(proc.cmdline())
    except psutil.Error:
        return "gone"
    if "resource_tracker" in cmd:
        return "resource_tracker"
    if "spawn_main" in cmd or "forkserver" in cmd:
        return "dask_worker"
    return "other"


def run(args: list[str], log: Path) -> dict[str, Any]:
    """Run ``pymescore ARGS``; seconds, exit code, the command's exact peak RSS, every process's sampled peak."""
    peaks: dict[int, dict[str, Any]] = {}
    start = time.perf_counter()
    with open(log, "a", encoding="utf-8") as err:
        err.write(f"\n$ pymescore {' '.join(args)}\n")
        err.flush()
        proc = subprocess.Popen([sys.executable, "-m", "pymescore", *args], stdout=subprocess.PIPE, stderr=err,
                                text=True)  # fmt: skip
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                try:
                    tree = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
                except psutil.Error:
                    tree = []
                for p in tree:
                    try:
                        rss = p.memory_info().rss
                    except psutil.Error:
                        continue
                    entry = peaks.setdefault(p.pid, {"pid": p.pid, "role": _role(p, proc.pid), "peak_rss_mib": 0.0})
                    entry["peak_rss_mib"] = max(entry["peak_rss_mib"], round(rss / 2**20, 1))
                done.wait(0.25)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        chunks: list[str] = []
        reader = threading.Thread(target=lambda: chunks.append(proc.stdout.read() if proc.stdout else ""))
        reader.start()
        _, status, usage = os.wait4(proc.pid, 0)  # the exact peak RSS of the command (ru_maxrss, KiB)
        proc.returncode = os.waitstatus_to_exitcode(status)
        reader.join()
        if proc.stdout:
            proc.stdout.close()
        done.set()
        sampler.join()
        out = "".join(chunks)
    seconds = time.perf_counter() - start
    text = log.read_text(encoding="utf-8").split(f"$ pymescore {' '.join(args)}")[-1]
    last = out.strip().splitlines()[-1] if out.strip() else ""
    try:
        summary = json.loads(last)
    except ValueError:
        summary = None
    exact = round(usage.ru_maxrss / 1024, 1)
    processes = sorted(peaks.values(), key=lambda e: (e["role"], e["pid"]))
    return {"command": "pymescore " + " ".join(args), "seconds": round(seconds, 2), "exit_code": proc.returncode,
            "command_peak_rss_mib": exact, "processes": [p for p in processes if p["role"] != "gone"],
            "worker_trouble_lines": len(TROUBLE.findall(text)), "summary": summary}  # fmt: skip


def size_run(
    firms: int,
    months: int,
    work: Path,
    bundle: Path | None,
    *,
    workers: int,
    memory: str,
    baseline: bool,
    log: Path,
    result: dict[str, Any],
    out: Path,
    chunk: int | None = None,
) -> dict[str, Any]:
    """The steps for one population size; ``result`` rewritten to ``out`` after each."""
    folder = work / f"f{firms}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    buckets = max(4, firms // 12_500)
    steps: dict[str, Any] = {}
    result["sizes"][str(firms)] = {"firms": firms, "months": months, "buckets": buckets, "steps": steps}
    scheduler = ["--scheduler", f"local:{workers}", "--worker-memory", memory]
    plan: list[tuple[str, list[str]]] = [
        ("simulate", ["simulate", "--firms", str(firms), "--months", str(months), "--seed", "7", "--out",
                      str(folder / "sim")]),
        ("ingest", ["ingest-folder", str(folder / "sim"), "--lake", str(folder / "lake"), "--buckets", str(buckets)]),
    ]  # fmt: skip
    if chunk is not None and firms > chunk:  # the product's bounded-memory path: chunks and parts
        plan[0][1].extend(["--chunk-firms", str(chunk)])
    if baseline:
        plan.append(("features_in_process", ["features", "--lake", str(folder / "lake"), "--as-of", AS_OF, "--out",
                                             str(folder / "snapshot.parquet")]))  # fmt: skip
    plan.append(("features_dask", ["features", "--lake", str(folder / "lake"), "--as-of", AS_OF, "--out",
                                   str(folder / "parts.parquet"), *scheduler]))  # fmt: skip
    for name, args in plan:
        print(f"{time.strftime('%H:%M:%S')} {firms:,} firms: {name}…", flush=True)
        steps[name] = run(args, log)
        write_result(dict(result), out)
        if steps[name]["exit_code"] != 0:
            return steps
    if bundle is None:  # the first size trains the bundle every size is scored with (two dates, two years apart
        # at most: no embargo, the test figures do not matter here)
        bundle = work / "bundle"
        train = ["train", "--table", str(folder / ("snapshot.parquet" if baseline else "parts.parquet")), "--target",
                 "default_12m", "--trials", "2", "--time-budget", "120", "--families", "xgboost,logistic",
                 "--no-embargo",
                 "--out", str(bundle), "--quiet"]  # fmt: skip
        print(f"{time.strftime('%H:%M:%S')} {firms:,} firms: train (the bundle scored at every size)…", flush=True)
        result["train"] = run(train, log)
        write_result(dict(result), out)
    scoring: list[tuple[str, list[str]]] = []
    if baseline:
        snapshot, scores = str(folder / "snapshot.parquet"), str(folder / "scores.parquet")
        scoring.append(("score_in_process", ["score", "--bundle", str(bundle), "--table", snapshot, "--out", scores]))
    scoring.append(("score_dask", ["score", "--bundle", str(bundle), "--table", str(folder / "parts.parquet"),
                                   "--out", str(folder / "scores_parts.parquet"), *scheduler]))  # fmt: skip
    for name, args in scoring:
        print(f"{time.strftime('%H:%M:%S')} {firms:,} firms: {name}…", flush=True)
        steps[name] = run(args, log)
        write_result(dict(result), out)
    if baseline:
        result["sizes"][str(firms)]["same_results"] = same_results(folder)
        write_result(dict(result), out)
    shutil.rmtree(folder / "sim", ignore_errors=True)  # the raw files: the lake holds them now
    return steps


def same_results(folder: Path) -> dict[str, Any]:
    """The in-process and the cluster outputs of one size compared: the snapshots feature by feature (equal, NaN
    where NaN) and the scores (PD to 1e-9, score, band, decision, reasons and rules equal), row by row on
    (ruc, as_of)."""
    import numpy as np
    import pandas as pd

    keys = ["ruc", "as_of"]
    out: dict[str, Any] = {}
    for name, here, there in (("snapshot", "snapshot.parquet", "parts.parquet"),
                              ("scores", "scores.parquet", "scores_parts.parquet")):  # fmt: skip
        a = pd.read_parquet(folder / here).sort_values(keys).reset_index(drop=True)
        b = pd.read_parquet(folder / there).sort_values(keys).reset_index(drop=True)
        b = b[a.columns] if set(a.columns) == set(b.columns) else b
        differing = []
        same_rows = len(a) == len(b) and list(a.columns) == list(b.columns) and a[keys].equals(b[keys])
        if same_rows:
            for column in a.columns:
                x, y = a[column], b[column]
                if pd.api.types.is_float_dtype(x) and pd.api.types.is_float_dtype(y):
                    tol = 1e-9 if column == "pd" else 0.0
                    xv, yv = x.to_numpy(dtype=float), y.to_numpy(dtype=float)
                    ok = np.array_equal(np.isnan(xv), np.isnan(yv)) and bool(
                        np.all(np.abs(np.nan_to_num(xv) - np.nan_to_num(yv)) <= tol)
                    )
                else:
                    ok = x.astype("string").fillna("<NA>").equals(y.astype("string").fillna("<NA>"))
                if not ok:
                    differing.append(column)
        out[name] = {"rows": len(a), "rows_there": len(b), "columns": len(a.columns), "same_rows": same_rows,
                     "differing_columns": differing, "equal": same_rows and not differing}  # fmt: skip
    return out


def ratios(result: dict[str, Any]) -> dict[str, Any]:
    sizes = sorted(int(k) for k in result["sizes"])
    if len(sizes) < 2:
        return {}
    small, large = (result["sizes"][str(s)]["steps"] for s in (sizes[0], sizes[-1]))
    out: dict[str, Any] = {"firms": f"{sizes[-1]} / {sizes[0]}", "linear": sizes[-1] / sizes[0]}
    for step in ("features_dask", "score_dask", "ingest", "simulate"):
        if step in small and step in large and large[step]["exit_code"] == 0:
            out[step] = round(large[step]["seconds"] / small[step]["seconds"], 2)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--firms", default="10000,100000")
    parser.add_argument("--months", type=int, default=36)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--worker-memory", default="6GiB")
    parser.add_argument("--baseline-max", type=int, default=100_000, help="in-process runs up to this many firms")
    parser.add_argument("--chunk", type=int, default=None,
                        help="larger populations simulated in chunks of this many firms (simulate --chunk-firms) "
                        "and ingested part by part (ingest-folder)")  # fmt: skip
    parser.add_argument("--work", type=Path, default=Path("/tmp/pymescore-bench-scale"))
    parser.add_argument("--out", type=Path, default=Path("bench/results/scale.json"))
    a = parser.parse_args()
    a.work.mkdir(parents=True, exist_ok=True)
    log = a.work / "commands.log"
    result: dict[str, Any] = {"benchmark": "scale", "as_of": AS_OF, "workers": a.workers,
                              "worker_memory": a.worker_memory, "cpus": os.cpu_count(),
                              "memory_gib": round(psutil.virtual_memory().total / 2**30, 1), "sizes": {}}  # fmt: skip
    bundle = None
    for firms in (int(f) for f in a.firms.split(",")):
        size_run(firms, a.months, a.work, bundle, workers=a.workers, memory=a.worker_memory,
                 baseline=firms <= a.baseline_max, log=log, result=result, out=a.out, chunk=a.chunk)  # fmt: skip
        bundle = a.work / "bundle"
        result["ratios"] = ratios(result)
        write_result(dict(result), a.out)


if __name__ == "__main__":
    main()
