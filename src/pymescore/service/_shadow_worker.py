"""The shadow challenger's own process: it loads the challenger as the champion is loaded (same source rules,
policy and exchange rates, rebuilt from the service's settings), takes the queued jobs, scores them together and
writes what the challenger decided to ``shadow_decisions``. It runs at a lower CPU priority and holds its own
interpreter lock, so the champion's requests never wait on its Python code; it still begins each chunk only while
no champion request is being scored or stored (the ``idle`` event), which keeps it out of the way on one core.

What crosses the process boundary is plain JSON, never a model object:

- the service writes length-prefixed JSON messages on a socket: ``{"kind": "job", "requests": [...], "ids":
  [...], "tenant": ...}``, ``{"kind": "load"}``, ``{"kind": "stop"}``; a reader thread here moves them to an
  in-process queue at once, so the service's write never waits on the scoring (and needs no thread of its own);
- two shared counters say how many jobs this process has taken and finished: the service's bound on waiting jobs
  and its ``drain``;
- ``events`` (a queue, a few per batch, read by one thread of the service): ``("loaded", version)``,
  ``("load_failed", reason)``, ``("stored", n)``, ``("failed", stage, n, reason)``, ``("stopped",)``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import queue
import socket
import threading
import time
from collections import deque
from contextlib import suppress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pymescore.errors import ConfigError, PymescoreError

if TYPE_CHECKING:
    from multiprocessing.queues import Queue
    from multiprocessing.sharedctypes import Synchronized
    from multiprocessing.synchronize import Event

    from pymescore.config import Settings
    from pymescore.service._scorer import Scorer
    from pymescore.service._store import AuditStore

#: the most applications scored in one call of the challenger (the queued jobs taken together)
MAX_BATCH = 256
#: applications per call of the challenger, each call begun while the champion is idle
CHUNK = 64
#: how long the first queued job waits for others to be scored with it
LINGER_S = 0.25
#: the process's niceness: under CPU contention the champion's process is scheduled first
NICE = 10
#: the length prefix of a message on the socket
HEADER = 4


@dataclass(frozen=True)
class WorkerSpec:
    """What the process needs to rebuild the challenger and the audit store: the service's settings and store."""

    settings: Settings
    database_url: str
    schema: str | None
    timeout_s: float


@dataclass(frozen=True)
class Counters:
    """Jobs taken from the queue and jobs finished (scored and stored, or failed): written here, read there."""

    taken: Synchronized[int]
    done: Synchronized[int]


def frame(message: bytes) -> bytes:
    """``message`` with its length prefix, as written on the socket."""
    return len(message).to_bytes(HEADER, "big") + message


def run(spec: WorkerSpec, channel: socket.socket, events: Queue[Any], idle: Event, counters: Counters) -> None:
    """The process's loop: a load or stop when asked, else the jobs queued within ``LINGER_S`` scored together."""
    with suppress(OSError):
        os.nice(NICE)
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)  # one core: BLAS and OpenMP pools never spin on the champion's
    inbox: queue.Queue[dict[str, Any] | None] = queue.Queue()
    threading.Thread(target=_read, args=(channel, inbox), name="pymescore-shadow-reader", daemon=True).start()
    worker = _Worker(spec, events, idle)
    ahead: deque[dict[str, Any] | None] = deque()  # a message read while gathering jobs, handled next
    while True:
        message = ahead.popleft() if ahead else inbox.get()
        if message is None or message["kind"] == "stop":  # the jobs already queued are scored, then it ends
            rest = []
            while True:
                try:
                    job = inbox.get_nowait()
                except queue.Empty:
                    break
                if job is not None and job["kind"] == "job":
                    rest.append(job)
            if rest:
                _score(worker, rest, counters)
            events.put(("stopped",))
            return
        if message["kind"] == "load":
            worker.load()
            continue
        batch = [message]
        until = time.monotonic() + LINGER_S
        while sum(len(job["requests"]) for job in batch) < MAX_BATCH:
            try:
                nxt = inbox.get(timeout=max(until - time.monotonic(), 0))
            except queue.Empty:
                break
            if nxt is None or nxt["kind"] != "job":
                ahead.append(nxt)
                break
            batch.append(nxt)
        _score(worker, batch, counters)


def _score(worker: _Worker, batch: list[dict[str, Any]], counters: Counters) -> None:
    counters.taken.value += len(batch)
    try:
        worker.shadow(batch)
    finally:
        counters.done.value += len(batch)


def _read(channel: socket.socket, inbox: queue.Queue[dict[str, Any] | None]) -> None:
    """Move each message of the socket to ``inbox`` as it comes; None when the service closed its end."""
    stream = channel.makefile("rb")
    while True:
        head = stream.read(HEADER)
        body = stream.read(int.from_bytes(head, "big")) if len(head) == HEADER else b""
        if not body:
            inbox.put(None)
            return
        inbox.put(json.loads(body))


class _Worker:
    def __init__(self, spec: WorkerSpec, events: Queue[Any], idle: Event) -> None:
        from pymescore.service._store import AuditStore

        self.spec, self.events, self.idle = spec, events, idle
        self.scorer: Scorer | None = None
        self.store: AuditStore = AuditStore(spec.database_url, schema=spec.schema, timeout_s=spec.timeout_s)

    def load(self) -> None:
        from pymescore.service._source import exchange_rates, policy_from, shadow_source_from

        settings = self.spec.settings
        try:
            source = shadow_source_from(settings)
            if source is None:
                raise ConfigError("no challenger is configured (PYMESCORE_SERVE_SHADOW_BUNDLE or _URI)")
            scorer = source.load(policy_from(settings), exchange_rates(settings), settings.xgb_threads)
            scorer.warm_up()
        except Exception as exc:  # a refused or unreachable challenger: reported, the previous one stays
            self.events.put(("load_failed", reason(exc)))
            return
        self.scorer = scorer
        self.events.put(("loaded", scorer.version))

    def shadow(self, jobs: list[Any]) -> None:
        """Score ``jobs`` with the challenger and store what it decided; a failure of either is reported
        (``stage``: score, refused, store), never raised."""
        from pymescore.service._schemas import ScoreRequest
        from pymescore.service._shadow import record_shadow

        scorer = self.scorer
        if scorer is None:
            return
        try:
            requests = [ScoreRequest.model_validate(r) for job in jobs for r in job["requests"]]
            start = time.perf_counter()
            results: list[Any] = []
            # in chunks, each begun while no champion request is in flight; one language for all: what is stored
            # of the reasons is their codes, the same in every language
            for at in range(0, len(requests), CHUNK):
                self.idle.wait()
                results += scorer.score(requests[at : at + CHUNK], "es")
            ms = (time.perf_counter() - start) * 1000 / max(len(requests), 1)
        except Exception as exc:  # a failing challenger never reaches a client
            self.events.put(("failed", "score", sum(len(job["requests"]) for job in jobs), reason(exc)))
            return
        rows, refused = [], 0
        now = dt.datetime.now(dt.UTC)
        owners = [(decision_id, job["tenant"]) for job in jobs for decision_id in job["ids"]]
        for (decision_id, tenant), result in zip(owners, results, strict=True):
            response = getattr(result, "response", None)
            if response is None:  # the challenger refused an application the champion scored
                refused += 1
                continue
            rows.append({
                "decision_id": decision_id, "model_version": response["model_version"], "tenant": tenant,
                "created_at": now, "policy_version": response["policy_version"], "pd": response["pd"],
                "score": response["score"], "band": response["band"], "decision": response["decision"],
                "reasons": [r["code"] for r in response["reasons"]], "suggested_amount": response["suggested_amount"],
                "latency_ms": ms,
            })  # fmt: skip
        if refused:
            self.events.put(("failed", "refused", refused, "the challenger refused applications the champion scored"))
        self.idle.wait()
        try:
            record_shadow(self.store, rows)
        except Exception as exc:  # the shadow table is unreachable: the champion's trail is already committed
            self.events.put(("failed", "store", len(rows), reason(exc)))
            return
        self.events.put(("stored", len(rows)))


def reason(exc: BaseException) -> str:
    message = exc.message if isinstance(exc, PymescoreError) else f"{type(exc).__name__}: {exc}"
    return message[:300]
