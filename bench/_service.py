"""Shared by the serving benchmarks: request bodies from a lake, a ``pymescore serve`` subprocess on loopback,
an API key, and an async HTTP load generator (``bench._http_client``) that records status, latency and
``score_id``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench._http_client import Connection, HttpClientError
from pymescore.lake import Lake
from pymescore.service import AuditStore, application_bodies, wait_until_ready

TABLES = ("firms", "monthly_cashflows", "financial_statements", "payments", "bureau_ratings")


def add_service_arguments(parser: argparse.ArgumentParser) -> None:
    """The options every service benchmark shares: what it serves and which applications it sends."""
    parser.add_argument("--bundle", type=Path, default=Path("demo/bundle"), help="model bundle to serve")
    parser.add_argument("--lake", type=Path, default=Path("demo/lake"), help="lake of the sample firms and rates")
    parser.add_argument("--as-of", default="2026-01-01", help="as_of of the sample applications")


def request_bodies(lake: Path, n: int, as_of: str, seed: int = 0, months: int = 24) -> list[dict[str, Any]]:
    """``n`` POST /v1/scores bodies (distinct firms, ``months`` of raw history before ``as_of``)."""
    source = Lake(lake)
    tables = {name: source.read(name) for name in TABLES}
    firms = tables["firms"]
    firms = firms[pd.to_datetime(firms["start_date"]) < pd.Timestamp(as_of)]
    rucs = np.random.default_rng(seed).choice(firms["ruc"].astype(str).to_numpy(), min(n, len(firms)), replace=False)
    return application_bodies(tables, [str(r) for r in rucs], as_of, months=months)


def create_key(database_url: str) -> str:
    """Migrate the audit store and create a key with the scopes score and read."""
    store = AuditStore(database_url)
    try:
        store.migrate()
        key, _ = store.create_key("bench", ["score", "read"])
    finally:
        store.dispose()
    return str(key)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    """``pymescore serve`` in its own process group (so that one signal reaches the workers too)."""

    proc: subprocess.Popen[bytes]
    url: str
    log: Path

    def kill(self) -> None:
        """SIGKILL the whole group (the parent and its workers): no graceful shutdown."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)

    def cpu_seconds(self) -> float:
        """CPU seconds (user + system) used so far by the server's processes, the parent and its workers (read
        from Linux's /proc: the processes whose group is the server's)."""
        ticks = 0
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:  # after the command's ")": state, ppid, pgrp, ... utime (14th field), stime (15th)
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:  # a process that ended meanwhile
                continue
            if int(fields[2]) == self.proc.pid:
                ticks += int(fields[11]) + int(fields[12])
        return ticks / os.sysconf("SC_CLK_TCK")

    def stop(self, grace_s: float = 20.0) -> None:
        """SIGTERM the group, then SIGKILL whatever is left after ``grace_s``."""
        with contextlib.suppress(ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=grace_s)
        self.kill()


def start_server(
    bundle: Path, lake: Path, database_url: str, workers: int, work: Path, timeout_s: float = 180.0
) -> Server:
    """Start the server on a free loopback port and wait until GET /readyz answers 200."""
    port = free_port()
    metrics_dir = work / f"metrics-{port}"
    metrics_dir.mkdir(parents=True)
    log = work / f"server-{port}.log"
    exe = Path(sys.executable).with_name("pymescore")
    cmd = [str(exe), "serve", "--bundle", str(bundle), "--lake", str(lake), "--host", "127.0.0.1",
           "--port", str(port), "--workers", str(workers), "--database-url", database_url]  # fmt: skip
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    server = Server(proc, f"http://127.0.0.1:{port}", log)
    if wait_until_ready(server.url, proc, timeout_s):
        return server
    server.kill()
    tail = log.read_text(errors="replace")[-2000:]
    raise RuntimeError(f"server on port {port} not ready after {timeout_s:.0f} s (exit {proc.poll()}):\n{tail}")


#: the parts of a header between separators that are not inside a quoted string
_OUTSIDE_QUOTES = {sep: re.compile(rf'(?:[^{sep}"]|"(?:\\.|[^"\\])*")+') for sep in ",;"}


@dataclass
class Outcome:
    status: int  # 0: no HTTP answer (connection refused or reset, timeout)
    seconds: float
    score_id: str | None = None
    error: str | None = None
    stages_ms: dict[str, float] = field(default_factory=dict)  # the answer's Server-Timing, by stage


def server_timing(value: str | None) -> dict[str, float]:
    """A ``Server-Timing`` header (``name;dur=ms;desc="…", …``) as ms by name; a metric without a duration is
    left out. Commas and semicolons inside a quoted description do not split."""
    out: dict[str, float] = {}
    for metric in _OUTSIDE_QUOTES[","].findall(value or ""):
        name, *params = (p.strip() for p in _OUTSIDE_QUOTES[";"].findall(metric))
        for param in params:
            key, _, number = param.partition("=")
            if name and key.strip().lower() == "dur":  # the first duration of a metric counts (W3C)
                with contextlib.suppress(ValueError):
                    out[name] = float(number.strip().strip('"'))
                break
    return out


@dataclass
class Load:
    outcomes: list[Outcome] = field(default_factory=list)
    wall_s: float = 0.0
    client_cpu_s: float = 0.0

    @property
    def ok(self) -> list[Outcome]:
        return [o for o in self.outcomes if 200 <= o.status < 300]

    def statuses(self) -> dict[str, int]:
        return dict(sorted(Counter(str(o.status) for o in self.outcomes).items()))

    def summary(self) -> dict[str, Any]:
        """Counts, 2xx throughput and latency percentiles (2xx only), in ms."""
        ms = np.array([1000 * o.seconds for o in self.ok]) if self.ok else np.array([np.nan])
        return {
            "requests": len(self.outcomes),
            "statuses": self.statuses(),
            "wall_s": round(self.wall_s, 2),
            "throughput_rps": round(len(self.ok) / self.wall_s, 2) if self.wall_s else 0.0,
            "latency_p50_ms": round(float(np.percentile(ms, 50)), 1),
            "latency_p99_ms": round(float(np.percentile(ms, 99)), 1),
            "latency_mean_ms": round(float(statistics.fmean(ms)), 1),
            "client_cpu_s": round(self.client_cpu_s, 2),
            "errors": dict(Counter(o.error for o in self.outcomes if o.error).most_common(5)),
            "server_timing_p50_ms": self.stages_p50_ms(),
        }

    def stages_p50_ms(self) -> dict[str, float]:
        """The median of each stage the 2xx answers' Server-Timing named, in ms."""
        return stage_medians([o.stages_ms for o in self.ok])


def stage_medians(timings: list[dict[str, float]]) -> dict[str, float]:
    """The median of each stage over the timings that name it (ms by stage), in the order first named."""
    names = dict.fromkeys(name for t in timings for name in t)
    return {n: round(statistics.median(t[n] for t in timings if n in t), 3) for n in names}


def run_load(
    url: str,
    key: str,
    bodies: list[dict[str, Any]],
    requests: int,
    concurrency: int,
    seconds: float,
    on_result: Callable[[int], bool] | None = None,
    timeout_s: float = 120.0,
) -> Load:
    """POST /v1/scores ``requests`` times (cycling through ``bodies``) from ``concurrency`` clients, each on
    its own keep-alive connection, opened and warmed with a ``GET /healthz`` before the clock starts.

    Stops issuing new requests after ``seconds`` or when ``on_result(finished_count)`` returns True;
    requests already sent are awaited.
    """
    payloads = [json.dumps(b).encode() for b in bodies]
    return asyncio.run(_load(url, key, payloads, requests, concurrency, seconds, on_result, timeout_s))


async def _load(
    url: str,
    key: str,
    payloads: list[bytes],
    requests: int,
    concurrency: int,
    seconds: float,
    on_result: Callable[[int], bool] | None,
    timeout_s: float,
) -> Load:
    load = Load()
    connections = [Connection.to(url, {"Authorization": f"Bearer {key}"}) for _ in range(concurrency)]
    # a server that is down already shows in the outcomes below, not here
    await asyncio.gather(*(c.request("GET", "/healthz") for c in connections), return_exceptions=True)
    sent = 0
    stop = False
    cpu0, t0 = time.process_time(), time.perf_counter()
    deadline = t0 + seconds

    async def client(connection: Connection) -> None:
        nonlocal sent, stop
        while not stop and sent < requests and time.perf_counter() < deadline:
            payload = payloads[sent % len(payloads)]
            sent += 1
            start = time.perf_counter()
            try:
                answer = await connection.request("POST", "/v1/scores", payload, timeout_s)
                elapsed = time.perf_counter() - start
                if 200 <= answer.status < 300:
                    outcome = Outcome(answer.status, elapsed, json.loads(answer.body).get("score_id"),
                                      stages_ms=server_timing(answer.headers.get("server-timing")))  # fmt: skip
                else:  # the problem+json code, e.g. AUDIT_UNAVAILABLE
                    outcome = Outcome(answer.status, elapsed, error=f"{answer.status} {_problem_code(answer.body)}")
            except (OSError, TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, HttpClientError,
                    ValueError) as exc:  # an answer that is not HTTP or not JSON is a failed request too  # fmt: skip
                outcome = Outcome(0, time.perf_counter() - start, error=type(exc).__name__)
            load.outcomes.append(outcome)
            if on_result is not None and on_result(len(load.outcomes)):
                stop = True

    try:
        await asyncio.gather(*(client(c) for c in connections))
    finally:
        for c in connections:
            c.close()
    load.wall_s = time.perf_counter() - t0
    load.client_cpu_s = time.process_time() - cpu0
    return load


def healthz_latency_ms(url: str, n: int) -> float:
    """Median latency of ``n`` sequential ``GET /healthz`` on one keep-alive connection, with the client the
    loads use (the floor of what any request costs on this server: HTTP, the middleware, the event loop)."""

    async def timed() -> list[float]:
        connection = Connection.to(url)
        try:
            await connection.request("GET", "/healthz")  # the connection opened and warm
            times = []
            for _ in range(n):
                t0 = time.perf_counter()
                answer = await connection.request("GET", "/healthz")
                times.append(time.perf_counter() - t0)
                if answer.status != 200:
                    raise RuntimeError(f"GET /healthz answered {answer.status}: {answer.body[:200]!r}")
            return times
        finally:
            connection.close()

    return round(1000 * statistics.median(asyncio.run(timed())), 3)


def _problem_code(body: bytes) -> str:
    try:
        return str(json.loads(body).get("code"))
    except (ValueError, AttributeError):
        return body[:80].decode("utf-8", "replace")
