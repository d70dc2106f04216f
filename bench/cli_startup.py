"""Benchmark: how long ``pymescore --help`` takes to answer (the command line imports heavy libraries lazily).

Usage::

    python -m bench.cli_startup --repeat 7 --out bench/results/cli_startup.json

Runs ``pymescore --help`` (the installed script beside this Python) ``--repeat`` times in fresh processes and
reports the median wall time, the spread, and which heavy libraries ``import pymescore.cli`` loads (none is the
goal). The target is under 1 s.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench._common import write_result

#: libraries a command imports when it runs, never to print its help
HEAVY = ("xgboost", "sklearn", "pandas", "numpy", "scipy", "pyarrow", "matplotlib", "fastapi", "mlflow",
         "sqlalchemy", "optuna", "pandera", "pydantic", "jinja2", "uvicorn")  # fmt: skip
TARGET_S = 1.0


def loaded_heavy_modules() -> list[str]:
    """The heavy libraries that ``import pymescore.cli`` and registering every command load, in a fresh process."""
    code = (
        "import json, sys; import pymescore.cli as c; c._register(); "
        f"print(json.dumps([m for m in {list(HEAVY)!r} if m in sys.modules]))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return loaded


def help_seconds(repeat: int) -> list[float]:
    script = Path(sys.executable).with_name("pymescore")
    command = [str(script)] if script.is_file() else [sys.executable, "-m", "pymescore"]
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        subprocess.run([*command, "--help"], capture_output=True, check=True)
        times.append(time.perf_counter() - t)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=7, help="runs of `pymescore --help` (median of them; >= 5)")
    parser.add_argument("--out", type=Path, default=Path("bench/results/cli_startup.json"))
    args = parser.parse_args()
    times = help_seconds(max(5, args.repeat))
    median = statistics.median(times)
    write_result(
        {
            "benchmark": "cli_startup",
            "command": "pymescore --help",
            "repeat": len(times),
            "median_s": round(median, 3),
            "min_s": round(min(times), 3),
            "max_s": round(max(times), 3),
            "target_s": TARGET_S,
            "under_target": median < TARGET_S,
            "heavy_modules_imported": loaded_heavy_modules(),
        },
        args.out,
    )


if __name__ == "__main__":
    main()
