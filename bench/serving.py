"""Benchmark: the scoring service, in process and over HTTP on loopback, all measured side by side in one run.

For each bundle (the demo bundle and one of >= 300 trees, ``bench.big_bundle``):

a. ``Scorer.score()`` from raw 24-month histories (contracts, features, PD, exact reasons, decision and
   hints) vs the bare booster (``inplace_predict`` + TreeSHAP ``pred_contribs``) on the same preprocessed
   rows: one application per call, and a batch of 1,000 per call (per application vs per row). Medians of
   ``--repeat`` blocks. Targets: <= 3 both.
b. ``POST /v1/scores``, 1 worker, concurrency 1: (median latency - bare booster single row) / median latency
   of ``GET /healthz`` on the same server (target <= 5); on a bundle of >= 250 trees the whole median / the
   bare booster (target <= 3). The server's ``Server-Timing`` splits the POST: ``score`` (the scoring, in its
   thread, with any wait for a scoring slot), ``audit`` (the store's commit), ``app`` (the request inside the
   service). A POST costs at least a healthz round trip plus its scoring and audit commit, so the ratio cannot
   fall below (healthz + score + audit - bare booster) / healthz, the ``http_c1_floor_over_healthz`` recorded.
c. 1 worker at concurrency 16 vs in-process single-application throughput (target >= 0.7x); 2 workers vs 1
   (target >= 1.7x; the load generator shares the machine's cores, and the server's busy cores are recorded: one
   worker whose scoring threads run compiled code without the GIL uses more than one, which leaves a second less
   to add); p99/p50 with 2 workers at c64 (<= 2).

Each HTTP phase is capped by ``--requests`` and ``--seconds`` and starts a fresh server on a fresh audit
store: a SQLite file, or with ``--postgres URL`` (a PostgreSQL server's maintenance database, as production runs
the store) a database of its own created for the phase and dropped after it; the server is stopped at the end
of its phase.

    python -m bench.big_bundle
    python -m bench.serving --bundle demo/bundle --big-bundle demo/bundle-400 --out bench/results/serving.json
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xgboost as xgb

from bench._common import write_result
from bench._service import (
    add_service_arguments,
    create_key,
    healthz_latency_ms,
    request_bodies,
    run_load,
    stage_medians,
    start_server,
)
from pymescore.bundle import load_bundle
from pymescore.lake import Lake
from pymescore.service import Policy, Scored, Scorer, ScoreRequest, settle_heap
from pymescore.sources._readers import _driver_url

TARGETS = {"pipeline_overhead_max": 3.0, "http_beyond_booster_over_healthz_max": 5.0, "http_big_over_booster_max": 3.0,
           "http_vs_in_process_min": 0.7, "workers_2_vs_1_min": 1.7, "p99_over_p50_max": 2.0}  # fmt: skip
BIG_TREES = 250


def bare_booster(booster: xgb.Booster, data: np.ndarray, types: list[str]) -> None:
    """What the model itself costs, at its fastest: the prediction and its TreeSHAP contributions from an
    already preprocessed float array (categories as codes), one thread."""
    booster.inplace_predict(data)
    dm = xgb.DMatrix(data, feature_names=booster.feature_names, feature_types=types, enable_categorical=True,
                     missing=np.nan, nthread=1)  # fmt: skip
    booster.predict(dm, pred_contribs=True)


def as_array(X: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    columns, types = [], []
    for c in X.columns:
        if isinstance(X[c].dtype, pd.CategoricalDtype):
            codes = X[c].cat.codes.to_numpy()
            columns.append(np.where(codes < 0, np.nan, codes).astype(np.float64))
            types.append("c")
        else:
            columns.append(X[c].to_numpy(dtype=np.float64, na_value=np.nan))
            types.append("q")
    return np.column_stack(columns), types


def in_process(
    bundle_path: Path, lake: Path, bodies: list[dict[str, Any]], single: int, batch: int, repeat: int
) -> dict[str, Any]:
    bundle = load_bundle(bundle_path)
    scorer = Scorer(bundle, Policy(), Lake(lake).read_optional("exchange_rates"), nthread=1)
    booster = bundle.model.booster
    assert booster is not None, "the bundle has no XGBoost booster to compare against"
    booster.set_param({"nthread": 1})
    requests = [ScoreRequest.model_validate(b) for b in bodies]
    scored = scorer.score(requests)  # also warms every code path up
    settle_heap(replaced=False)  # as a server worker does once its model is loaded (``ServiceState.reload``)
    refused = [i for i, s in enumerate(scored) if not isinstance(s, Scored)]
    assert not refused, f"{len(refused)} sample applications were refused, e.g. {scored[refused[0]]}"
    names = [f.name for f in bundle.model.features]
    frame = pd.DataFrame([s.features for s in scored if isinstance(s, Scored)], columns=names)
    data, types = as_array(bundle.model.matrix(frame))
    bare_booster(booster, data[:1], types)

    # one application per call, scorer and booster alternating so that both see the same machine load;
    # ``repeat`` blocks of ``single`` calls, the median of each block, then the median of the blocks
    rows = [data[i : i + 1] for i in range(len(data))]
    s_blocks, b_blocks = [], []
    for r in range(repeat):
        scorer_1, bare_1 = [], []
        for i in range(single):
            k = (r * single + i) % len(requests)
            t0 = time.perf_counter()
            scorer.score([requests[k]])
            t1 = time.perf_counter()
            bare_booster(booster, rows[k], types)
            t2 = time.perf_counter()
            scorer_1.append(t1 - t0)
            bare_1.append(t2 - t1)
        s_blocks.append(statistics.median(scorer_1))
        b_blocks.append(statistics.median(bare_1))

    # ``batch`` applications per call
    batch_requests, batch_X = requests[:batch], data[:batch]
    scorer_b, bare_b = [], []
    for _ in range(repeat):
        t0 = time.perf_counter()
        scorer.score(batch_requests)
        t1 = time.perf_counter()
        bare_booster(booster, batch_X, types)
        t2 = time.perf_counter()
        scorer_b.append(t1 - t0)
        bare_b.append(t2 - t1)

    n = len(batch_requests)
    s1, b1 = statistics.median(s_blocks), statistics.median(b_blocks)
    sb, bb = statistics.median(scorer_b) / n, statistics.median(bare_b) / n
    return {
        "features": len(names),
        "trees": booster.num_boosted_rounds(),
        "single_calls": single,
        "batch_size": n,
        "repeats": repeat,
        "scorer_single_ms": round(1000 * s1, 3),
        "bare_booster_single_ms": round(1000 * b1, 3),
        "overhead_single": round(s1 / b1, 2),
        "overhead_single_blocks": [round(a / b, 2) for a, b in zip(s_blocks, b_blocks, strict=True)],
        "scorer_batch_ms_per_app": round(1000 * sb, 3),
        "bare_booster_batch_ms_per_app": round(1000 * bb, 4),
        "overhead_batch": round(sb / bb, 2),
        "overhead_batch_repeats": [round(a / b, 2) for a, b in zip(scorer_b, bare_b, strict=True)],
        "scorer_single_throughput_aps": round(1 / s1, 2),
    }


def http_phase(
    args: argparse.Namespace, bundle: Path, work: Path, bodies: list[dict[str, Any]], workers: int,
    concurrencies: list[int],
) -> dict[str, Any]:  # fmt: skip
    """One fresh server with ``workers`` workers; a warm-up, then one capped load per concurrency (c1 also
    times ``GET /healthz`` on the same server, sequentially, between its loads)."""
    name = f"audit_{bundle.name}_{workers}w".replace("-", "_").lower()
    url = fresh_postgres(args.postgres, name) if args.postgres else f"sqlite:///{work / (name + '.db')}"
    key = create_key(url)
    server = start_server(bundle, args.lake, url, workers, work)
    try:
        warm = run_load(server.url, key, bodies, 4 * workers, 2 * workers, args.seconds)
        out: dict[str, Any] = {"workers": workers, "warmup_statuses": warm.statuses()}
        for c in concurrencies:
            if c == 1:
                posts, health, stages = [], [], []
                for _ in range(args.repeat):
                    load = run_load(server.url, key, bodies, max(args.requests // 10, 20), 1, args.seconds)
                    posts.append(load.summary()["latency_p50_ms"])
                    stages.append(load.stages_p50_ms())
                    health.append(healthz_latency_ms(server.url, 50))
                # where a POST's time went, by the server's own Server-Timing (medians of the repeats' medians)
                out["c1"] = {"post_p50_ms_repeats": posts, "healthz_p50_ms_repeats": health,
                             "post_p50_ms": statistics.median(posts), "healthz_p50_ms": statistics.median(health),
                             "server_timing_p50_ms": stage_medians(stages)}  # fmt: skip
                continue
            cpu0 = server.cpu_seconds()
            load = run_load(server.url, key, bodies, args.requests, c, args.seconds)
            cpu = server.cpu_seconds() - cpu0
            # how many of the machine's cores the server kept busy: one worker can use more than one, since the
            # scoring threads run compiled code without the GIL, which leaves a second worker less to add
            out[f"c{c}"] = {"concurrency": c, **load.summary(), "server_cpu_s": round(cpu, 2),
                            "server_cores_busy": round(cpu / load.wall_s, 2) if load.wall_s else None}  # fmt: skip
    finally:
        server.stop()
        if args.postgres:
            drop_postgres(args.postgres, name)
    out["audit_store"] = "postgresql" if args.postgres else "sqlite"
    return out


def _admin(maintenance_url: str, statement: str) -> None:
    """One statement outside a transaction (CREATE / DROP DATABASE) on the server's maintenance database."""
    import sqlalchemy as sa

    engine = sa.create_engine(_driver_url(maintenance_url), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(sa.text(statement))
    finally:
        engine.dispose()


def fresh_postgres(maintenance_url: str, name: str) -> str:
    """An empty database ``name`` on that server (dropped first when a crashed run left it); its URL."""
    import sqlalchemy as sa

    drop_postgres(maintenance_url, name)
    _admin(maintenance_url, f'CREATE DATABASE "{name}"')
    # the service picks the driver itself (``make_engine``), as for any --database-url
    return sa.engine.make_url(maintenance_url).set(database=name).render_as_string(hide_password=False)


def drop_postgres(maintenance_url: str, name: str) -> None:
    _admin(maintenance_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def one_bundle(args: argparse.Namespace, bundle: Path, bodies: list[dict[str, Any]], work: Path) -> dict[str, Any]:
    local = in_process(bundle, args.lake, bodies, args.single, args.batch, args.repeat)
    print(f"{bundle} in process: {local}", flush=True)
    one = http_phase(args, bundle, work, bodies, 1, [1, 16])
    print(f"{bundle} 1 worker: {one}", flush=True)
    two = http_phase(args, bundle, work, bodies, 2, [16, 64])
    print(f"{bundle} 2 workers: {two}", flush=True)
    rps_1, rps_2 = one["c16"]["throughput_rps"], two["c16"]["throughput_rps"]
    p50, p99 = two["c64"]["latency_p50_ms"], two["c64"]["latency_p99_ms"]
    bare = local["bare_booster_single_ms"]
    post, health = one["c1"]["post_p50_ms"], one["c1"]["healthz_p50_ms"]
    stages = one["c1"]["server_timing_p50_ms"]
    inside = stages.get("score", np.nan) + stages.get("audit", np.nan)
    ratios = {
        "pipeline_overhead_single": local["overhead_single"],
        "pipeline_overhead_batch": local["overhead_batch"],
        "http_c1_beyond_booster_over_healthz": round((post - bare) / health, 2) if health else None,
        "http_c1_over_booster": round(post / bare, 2) if bare else None,
        # a lower bound of that ratio: a POST costs at least what a GET /healthz round trip costs (HTTP, the
        # middleware, routing, an answer) plus its scoring (in its thread) and audit commit, as the server timed
        # them; validation, authentication, idempotency and the answer's JSON counted as free
        "http_c1_floor_over_healthz": round((health + inside - bare) / health, 2)
        if health and np.isfinite(inside)
        else None,
        "http_1w_vs_in_process_single": round(rps_1 / local["scorer_single_throughput_aps"], 2),
        "workers_2_vs_1": round(rps_2 / rps_1, 2) if rps_1 else None,
        "p99_over_p50_2w_c64": round(p99 / p50, 2) if p50 else None,
        # what a second worker could add if each request cost the CPU it costs one worker: the cores this process
        # may use over those one worker keeps busy (an estimate: two workers can spend less CPU per request)
        "workers_2_vs_1_same_cpu_estimate": round(len(os.sched_getaffinity(0)) / one["c16"]["server_cores_busy"], 2)
        if one["c16"]["server_cores_busy"]
        else None,
    }
    met = {
        "pipeline_overhead_single": ratios["pipeline_overhead_single"] <= TARGETS["pipeline_overhead_max"],
        "pipeline_overhead_batch": ratios["pipeline_overhead_batch"] <= TARGETS["pipeline_overhead_max"],
        "http_beyond_booster_over_healthz": (ratios["http_c1_beyond_booster_over_healthz"] or np.inf)
        <= TARGETS["http_beyond_booster_over_healthz_max"],
        "http_vs_in_process": ratios["http_1w_vs_in_process_single"] >= TARGETS["http_vs_in_process_min"],
        "workers_2_vs_1": (ratios["workers_2_vs_1"] or 0) >= TARGETS["workers_2_vs_1_min"],
        "p99_over_p50": (ratios["p99_over_p50_2w_c64"] or np.inf) <= TARGETS["p99_over_p50_max"],
    }
    if local["trees"] >= BIG_TREES:
        big = ratios["http_c1_over_booster"] or np.inf
        met["http_big_over_booster"] = big <= TARGETS["http_big_over_booster_max"]
    return {"bundle": str(bundle), "in_process": local, "http_1_worker": one, "http_2_workers": two,
            "ratios": ratios, "met": met}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_service_arguments(parser)
    parser.add_argument("--big-bundle", type=Path, help="a second bundle, of >= 300 trees (bench.big_bundle)")
    parser.add_argument("--requests", type=int, default=400, help="cap on requests per HTTP load")
    parser.add_argument("--seconds", type=float, default=30.0, help="cap on seconds per HTTP load")
    parser.add_argument("--single", type=int, default=40, help="in-process single-application calls per block")
    parser.add_argument("--batch", type=int, default=1000, help="applications per in-process batch call")
    parser.add_argument("--repeat", type=int, default=5, help="blocks / batch calls / c1 loads to take medians of")
    parser.add_argument("--out", type=Path, default=Path("bench/results/serving.json"), help="JSON result file")
    parser.add_argument("--in-process-only", action="store_true", help="part a only (no HTTP servers)")
    parser.add_argument(
        "--postgres",
        default="",
        help="audit store on this PostgreSQL server (its maintenance "
        "database's URL, e.g. postgresql://postgres@127.0.0.1:5432/postgres; default: SQLite files)",
    )
    args = parser.parse_args()
    bundles = [args.bundle, *([args.big_bundle] if args.big_bundle else [])]
    if args.in_process_only:
        bodies = request_bodies(args.lake, max(args.batch, 200), args.as_of)
        local = [{"bundle": str(b),
                  "in_process": in_process(b, args.lake, bodies, args.single, args.batch, args.repeat)}
                 for b in bundles]  # fmt: skip
        write_result({"benchmark": "serving-in-process", "as_of": args.as_of, "bundles": local, "targets": TARGETS},
                     args.out)  # fmt: skip
        return

    bodies = request_bodies(args.lake, max(args.batch, 200), args.as_of)
    work = Path(tempfile.mkdtemp(prefix="pymescore-bench-serving-"))
    try:
        runs = [one_bundle(args, bundle, bodies, work) for bundle in bundles]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result = {
        "benchmark": "serving",
        "as_of": args.as_of,
        "history_months": 24,
        "caps": {"requests": args.requests, "seconds": args.seconds},
        "bundles": runs,
        "targets": TARGETS,
    }
    for run in runs:
        print(run["bundle"], run["in_process"]["trees"], "trees")
        for name, value in run["ratios"].items():
            print(f"  {name:38s} {value}")
        print("  targets met: " + ", ".join(f"{k}={'yes' if v else 'NO'}" for k, v in run["met"].items()))
    write_result(result, args.out)


if __name__ == "__main__":
    main()
