"""Load test: the audit trail under load and across a crash of the server (loopback, bounded).

Run 1: ``--requests`` POST /v1/scores at ``--concurrency`` against one server (``--workers``). Invariants:
no 5xx, no request left without an answer, every 2xx ``score_id`` has exactly one row in ``decisions``, and
no row exists that the client was not answered 2xx for.

Run 2, on a fresh audit store: the server (its whole process group) is SIGKILLed once half the requests
have finished; it is restarted on the same database and the rest of the requests are sent. Invariants: no
5xx, no unanswered request after the restart, and every ``score_id`` any client received is stored.

Exit code 1 when an invariant fails.

    python -m bench.load_test --requests 5000 --concurrency 64 --workers 2 --out bench/results/load_test.json
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench._common import write_result
from bench._service import Load, Server, add_service_arguments, create_key, request_bodies, run_load, start_server


def audit_check(database_url: str, loads: list[Load]) -> dict[str, Any]:
    """Compare the ``score_id`` the clients received with the rows of ``decisions``."""
    answered = [o.score_id for load in loads for o in load.ok]
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as conn:
            stored = Counter(row[0] for row in conn.execute(sa.text("SELECT id FROM decisions")))
    finally:
        engine.dispose()
    missing = [i for i in answered if not stored[i]]
    duplicated = [i for i in answered if stored[i] > 1]
    return {
        "answered_2xx": len(answered),
        "distinct_score_ids": len(set(answered)),
        "rows_in_decisions": sum(stored.values()),
        "missing_rows": len(missing),
        "duplicated_rows": len(duplicated),
        "rows_never_answered": len(set(stored) - set(answered)),
        "missing_examples": missing[:5],
    }


def count(loads: list[Load], low: int, high: int) -> int:
    return sum(low <= o.status <= high for load in loads for o in load.outcomes)


def clean_run(args: argparse.Namespace, work: Path, bodies: list[dict[str, Any]]) -> tuple[dict[str, Any], bool]:
    url = f"sqlite:///{work / 'audit-clean.db'}"
    key = create_key(url)
    server = start_server(args.bundle, args.lake, url, args.workers, work)
    try:
        load = run_load(server.url, key, bodies, args.requests, args.concurrency, args.seconds)
    finally:
        server.stop()
    audit = audit_check(url, [load])
    invariants = {
        "no_5xx": count([load], 500, 599) == 0,
        "no_unanswered_requests": count([load], 0, 0) == 0,
        "every_2xx_stored_once": audit["missing_rows"] == 0 and audit["duplicated_rows"] == 0,
        "no_row_without_a_2xx": audit["rows_never_answered"] == 0,  # a 503 says nothing was stored
        "distinct_score_ids": audit["distinct_score_ids"] == audit["answered_2xx"],
    }
    result = {"load": load.summary(), "capped": len(load.outcomes) < args.requests, "audit": audit,
              "invariants": invariants}  # fmt: skip
    return result, all(invariants.values())


def kill_run(args: argparse.Namespace, work: Path, bodies: list[dict[str, Any]]) -> tuple[dict[str, Any], bool]:
    url = f"sqlite:///{work / 'audit-kill.db'}"
    key = create_key(url)
    server = start_server(args.bundle, args.lake, url, args.workers, work)
    half_time = time.perf_counter() + args.seconds / 2
    killed_after: list[int] = []

    def kill_halfway(finished: int) -> bool:
        if finished >= args.requests // 2 or time.perf_counter() >= half_time:
            if not killed_after:
                server.kill()
                killed_after.append(finished)
            return True
        return False

    try:
        before = run_load(server.url, key, bodies, args.requests, args.concurrency, args.seconds, kill_halfway)
    finally:
        server.kill()
    restarted: Server = start_server(args.bundle, args.lake, url, args.workers, work)
    try:
        rest = args.requests - len(before.outcomes)
        after = run_load(restarted.url, key, bodies, rest, args.concurrency, args.seconds)
    finally:
        restarted.stop()
    audit = audit_check(url, [before, after])
    invariants = {
        "killed": bool(killed_after),
        "no_5xx": count([before, after], 500, 599) == 0,
        "no_unanswered_after_restart": count([after], 0, 0) == 0,
        "every_2xx_stored_once": audit["missing_rows"] == 0 and audit["duplicated_rows"] == 0,
        "distinct_score_ids": audit["distinct_score_ids"] == audit["answered_2xx"],
    }
    result = {
        "killed_after_finished": killed_after[0] if killed_after else None,
        "before_kill": before.summary(),
        "lost_in_flight": count([before], 0, 0),
        "after_restart": after.summary(),
        "audit": audit,
        "invariants": invariants,
    }
    return result, all(invariants.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_service_arguments(parser)
    parser.add_argument("--requests", type=int, default=5000, help="requests per run")
    parser.add_argument("--concurrency", type=int, default=64, help="concurrent clients")
    parser.add_argument("--workers", type=int, choices=(1, 2), default=1, help="server worker processes")
    parser.add_argument("--seconds", type=float, default=600.0, help="cap on the seconds of each load")
    parser.add_argument("--out", type=Path, default=Path("bench/results/load_test.json"), help="JSON result file")
    args = parser.parse_args()

    bodies = request_bodies(args.lake, 300, args.as_of)
    work = Path(tempfile.mkdtemp(prefix="pymescore-bench-load-"))
    try:
        clean, clean_ok = clean_run(args, work, bodies)
        print(f"clean run: {clean}", flush=True)
        crash, crash_ok = kill_run(args, work, bodies)
        print(f"kill run: {crash}", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result = {
        "benchmark": "load_test",
        "bundle": str(args.bundle),
        "requests": args.requests,
        "concurrency": args.concurrency,
        "workers": args.workers,
        "seconds_cap": args.seconds,
        "clean_run": clean,
        "kill_run": crash,
        "passed": clean_ok and crash_ok,
    }
    print("invariants: " + ("all hold" if result["passed"] else "FAILED"))
    write_result(result, args.out)
    sys.exit(0 if result["passed"] else 1)


if __name__ == "__main__":
    main()
