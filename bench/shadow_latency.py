"""Benchmark: the champion's latency with and without a shadow challenger, in one process and one run.

Two apps on the same champion bundle and lake, in process (ASGI through ``TestClient``, each with its own SQLite
audit store): one alone, one with ``--challenger`` scored in its shadow (by default a copy of the champion: a
challenger exactly as costly). ``POST /v1/scores`` one application at a time, in interleaved rounds (A B, B A, …)
so that the load of the machine falls on both alike; a pause of ``--gap-ms`` between requests stands for the time
between a client's applications (0: back to back, the worst case for the shadow, which then runs in the gaps it
finds). The rounds are repeated ``--repeats`` times; each repeat reports p50 / p99 of each arm over its rounds and
their ratios, and the figures are the medians of those ratios over the repeats (target: shadow / alone <= 1.10
both), with how many shadow decisions were stored, dropped or failed.

    python -m bench.shadow_latency --bundle demo/bundle --lake demo/lake --out bench/results/shadow-latency.json
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from fastapi.testclient import TestClient

from bench._common import write_result
from bench._service import add_service_arguments, request_bodies
from pymescore.config import Settings
from pymescore.service import build_state, create_app, shadow_pairs

TARGET = 1.10


def _app(bundle: Path, lake: Path, db: Path, challenger: Path | None, queue: int) -> tuple[TestClient, Any, str]:
    settings = Settings(serve_bundle=bundle, serve_shadow_bundle=challenger, database_url=f"sqlite:///{db}",
                        lake=lake, reload_interval_s=0, shadow_queue=queue, auth_failures_per_min=0)  # fmt: skip
    state = build_state(settings)
    state.store.migrate()
    key, _ = state.store.create_key("bench", ["score"])
    return TestClient(create_app(state)), state, key


def _round(client: TestClient, key: str, bodies: list[dict[str, Any]], gap_s: float) -> list[float]:
    out = []
    for body in bodies:
        start = time.perf_counter()
        r = client.post("/v1/scores", json=body, headers={"Authorization": f"Bearer {key}"})
        out.append(time.perf_counter() - start)
        if r.status_code != 201:
            raise RuntimeError(f"expected 201, got {r.status_code}: {r.text[:300]}")
        if gap_s:
            time.sleep(gap_s)
    return out


def _pcts(seconds: list[float]) -> dict[str, float]:
    ms = 1000 * np.array(seconds)
    return {"p50_ms": round(float(np.percentile(ms, 50)), 2), "p99_ms": round(float(np.percentile(ms, 99)), 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_service_arguments(parser)
    parser.add_argument("--challenger", type=Path, default=None, help="challenger bundle (default: a copy)")
    parser.add_argument("--rounds", type=int, default=24, help="interleaved rounds per repeat")
    parser.add_argument("--repeats", type=int, default=5, help="repeats; the figures are their medians")
    parser.add_argument("--per-round", type=int, default=40, help="requests per arm per round")
    parser.add_argument("--gap-ms", type=float, default=5.0, help="pause between a client's requests")
    parser.add_argument("--queue", type=int, default=256, help="shadow queue size (PYMESCORE_SHADOW_QUEUE)")
    parser.add_argument("--out", type=Path, default=Path("bench/results/shadow-latency.json"))
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="pymescore-shadow-bench-"))
    try:
        champion = work / "champion"
        shutil.copytree(args.bundle, champion)
        challenger = args.challenger or champion
        bodies = request_bodies(args.lake, args.per_round * 4, args.as_of)
        alone, _, key_a = _app(champion, args.lake, work / "alone.db", None, args.queue)
        shadowed, state, key_s = _app(champion, args.lake, work / "shadow.db", challenger, args.queue)
        repeats: list[dict[str, Any]] = []
        gap = args.gap_ms / 1000
        with alone, shadowed:
            arms = {"alone": (alone, key_a), "shadow": (shadowed, key_s)}
            for client, key in arms.values():  # warm-up, not measured
                _round(client, key, bodies[: args.per_round // 2], gap)
            for _ in range(args.repeats):
                times: dict[str, list[float]] = {"alone": [], "shadow": []}
                ratios = []
                for r in range(args.rounds):
                    sample = bodies[(r % 4) * args.per_round : (r % 4 + 1) * args.per_round]
                    order = ["alone", "shadow"] if r % 2 == 0 else ["shadow", "alone"]
                    got = {name: _round(*arms[name], sample, gap) for name in order}
                    for name, seconds in got.items():
                        times[name] += seconds
                    ratios.append(statistics.median(got["shadow"]) / statistics.median(got["alone"]))
                a, s = _pcts(times["alone"]), _pcts(times["shadow"])
                repeats.append({"alone": a, "shadow": s, "p50_ratio": round(s["p50_ms"] / a["p50_ms"], 3),
                                "p99_ratio": round(s["p99_ms"] / a["p99_ms"], 3),
                                "median_round_p50_ratio": round(statistics.median(ratios), 3)})  # fmt: skip
            assert state.shadow is not None
            drained = state.shadow.drain(120)
            stored = len(shadow_pairs(state.store) or [])
            decided = state.store.count()
            dropped = state.metrics.shadow_dropped._value.get()
            failures = _failures(state)
        result = {
            "benchmark": "shadow_latency",
            "bundle": str(args.bundle),
            "challenger": str(args.challenger or "a copy of the champion"),
            "rounds": args.rounds,
            "requests_per_arm_per_repeat": args.rounds * args.per_round,
            "gap_ms": args.gap_ms,
            "repeats": repeats,
            # the figures: medians over the repeats of each repeat's ratio (shadow / alone, same process, interleaved)
            "p50_ratio": round(statistics.median(r["p50_ratio"] for r in repeats), 3),
            "p99_ratio": round(statistics.median(r["p99_ratio"] for r in repeats), 3),
            "shadow_decisions": {
                "decided": decided,
                "stored": stored,
                "dropped": dropped,
                "failed": failures,
                "drained": drained,
            },
            "target": {"ratio_max": TARGET},
        }
        result["pass"] = result["p50_ratio"] <= TARGET and result["p99_ratio"] <= TARGET
        write_result(result, args.out)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _failures(state: Any) -> float:
    return float(sum(s.value for m in state.metrics.shadow_failures.collect() for s in m.samples
                     if s.name.endswith("_total")))  # fmt: skip


if __name__ == "__main__":
    main()
