"""Shared by the benchmarks: a simulated lake to measure on, and the JSON result file."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Any

from pymescore.lake import Lake
from pymescore.simulate import SimulationConfig, simulate, write_simulation
from pymescore.sources import ingest_folder


def simulated_lake(work: Path, firms: int, months: int, seed: int = 7) -> Lake:
    write_simulation(simulate(SimulationConfig(firms=firms, months=months, seed=seed)), work / "sim")
    lake = Lake(work / "lake")
    ingest_folder(work / "sim", lake)
    return lake


def write_result(result: dict[str, Any], out: Path) -> None:
    """Add the machine, write ``out`` as JSON and print it on one line."""
    result["machine"] = {"python": platform.python_version(), "cpu": platform.processor() or platform.machine(),
                         "cores": len(os.sched_getaffinity(0))}  # the cores this process may use  # fmt: skip
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    print(json.dumps(result))
