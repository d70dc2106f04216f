"""The shadow challenger: the registry's ``challenger`` scores every application the champion decided, after the
champion's decision is committed and its answer is on its way, and its PD, score, band, decision and reason codes
go to ``shadow_decisions`` — never to the client.

It runs in its own process (``_shadow_worker``), at a lower CPU priority: its Python code never holds the
champion's interpreter lock, so a request that arrives while the challenger scores runs beside it, not after it.
What it cannot slow is bounded: requests wait for it in a bounded queue (full: the request is dropped and counted,
``pymescore_shadow_dropped_total``); it takes the jobs queued within ``LINGER_S`` together (one vectorised call
costs a fraction of one call per application) and begins each chunk only while no champion request is being
scored or stored (:meth:`Shadow.busy`). A challenger that fails — to load, to score, to be stored — is logged and
counted (``pymescore_shadow_failures_total``) and changes no answer.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import multiprocessing
import queue
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from pymescore.service._shadow_worker import LINGER_S, Counters, WorkerSpec, frame, reason, run
from pymescore.service._tables import decisions, shadow_decisions

if TYPE_CHECKING:
    from multiprocessing.process import BaseProcess

    from pymescore.service._metrics import Metrics
    from pymescore.service._schemas import ScoreRequest
    from pymescore.service._source import ModelSource
    from pymescore.service._store import AuditStore

__all__ = ["LINGER_S", "Shadow", "ShadowJob", "record_shadow", "shadow_pairs"]
log = logging.getLogger("pymescore.service")
#: how long a (re)load may take in the challenger's process before the champion stops waiting for it
LOAD_TIMEOUT_S = 300.0
#: how long writing one message to the challenger's process may take (its reader moves each one on at once)
SEND_TIMEOUT_S = 0.5


@dataclass(frozen=True)
class ShadowJob:
    """One champion request's scored applications: their requests, the champion's decision ids, the tenant."""

    requests: Sequence[ScoreRequest]
    decision_ids: Sequence[str]
    tenant: str
    lang: str


class Shadow:
    """The challenger beside the champion, in its own process: loaded and reloaded like the champion (the source
    is probed here, loaded there), fed by :meth:`submit`."""

    def __init__(self, source: ModelSource, spec: WorkerSpec, metrics: Metrics, size: int) -> None:
        self.source, self.spec, self.metrics, self.size = source, spec, metrics, size
        #: the loaded challenger's version; None until one loaded
        self.version: str | None = None
        self.loaded_probe = ""
        self._ctx = multiprocessing.get_context("spawn")  # no fork of a threaded server
        self._process: BaseProcess | None = None
        self._channel: socket.socket | None = None
        self._send_lock = threading.Lock()
        self._busy = 0
        self._busy_lock = threading.Lock()
        self._idle = self._ctx.Event()
        self._idle.set()
        self._loaded = threading.Event()
        self._load_ok = False
        self._sent = 0
        self._counters = Counters(self._ctx.Value("q", 0, lock=False), self._ctx.Value("q", 0, lock=False))

    # -- the process -----------------------------------------------------------------------------
    def _alive(self) -> bool:
        return self._process is not None and self._process.is_alive() and self._channel is not None

    def _ensure_process(self) -> None:
        if self._alive():
            return
        self._close()
        ours, theirs = socket.socketpair()
        ours.settimeout(SEND_TIMEOUT_S)
        events: Any = self._ctx.Queue()
        self._sent = 0
        self._counters = Counters(self._ctx.Value("q", 0, lock=False), self._ctx.Value("q", 0, lock=False))
        self.version = None
        process = self._ctx.Process(target=run, args=(self.spec, theirs, events, self._idle, self._counters),
                                    name="pymescore-shadow", daemon=True)  # fmt: skip
        process.start()
        theirs.close()
        self._process, self._channel = process, ours
        threading.Thread(target=self._listen, args=(events, process), name="pymescore-shadow-events",
                         daemon=True).start()  # fmt: skip

    def _send(self, message: bytes, job: bool = False) -> bool:
        """Write one message; a process that does not read it within ``SEND_TIMEOUT_S`` (or is gone) is ended,
        counted, and started again at the next reload."""
        with self._send_lock:
            channel = self._channel
            if channel is None:
                return False
            try:
                channel.sendall(frame(message))
            except OSError as exc:  # timed out (a half-written message) or the process is gone
                self.metrics.shadow_failures.labels("score").inc()
                log.warning(json.dumps({"event": "shadow_failed", "stage": "queue", "reason": reason(exc)}))
                self._close()
                return False
            if job:
                self._sent += 1
            return True

    def _close(self) -> None:
        """Close the socket and end the process (the jobs not yet scored are lost)."""
        channel, process = self._channel, self._process
        self._channel, self._process, self.version = None, None, None
        if channel is not None:
            with suppress(OSError):
                channel.close()
        if process is not None and process.is_alive():
            process.kill()  # SIGKILL: ends a stopped or hung process too

    def _listen(self, events: Any, process: BaseProcess) -> None:
        """What the process reports: loads, stored decisions, failures."""
        while True:
            try:
                event = events.get(timeout=1.0)
            except queue.Empty:
                if not process.is_alive():
                    # a reload waiting on this process, now dead, stops waiting; a process already replaced (a
                    # stuck one ended) must not wake the reload of the next one, whose load is still on its way
                    if process is self._process:
                        self._loaded.set()
                    return
                continue
            except (EOFError, OSError):
                return
            kind = event[0]
            if kind == "loaded":
                self.version, self._load_ok = event[1], True
                self.metrics.shadow_info(event[1])
                log.info(json.dumps({"event": "shadow_loaded", "model_version": event[1]}))
                self._loaded.set()
            elif kind == "load_failed":
                self._load_ok = False
                self.metrics.shadow_failures.labels("load").inc()
                log.warning(json.dumps({"event": "shadow_load_refused", "reason": event[1]}))
                self._loaded.set()
            elif kind == "stored":
                self.metrics.shadow_decisions.inc(event[1])
            elif kind == "failed":
                self.metrics.shadow_failures.labels(event[1]).inc(event[2])
                log.warning(json.dumps({"event": "shadow_failed", "stage": event[1], "reason": event[3]}))
            elif kind == "stopped":
                return

    # -- loading ---------------------------------------------------------------------------------
    def reload(self, force: bool = False) -> None:
        """Load the challenger if its source changed; one that fails verification is not used (the previous one
        stays), and the champion is never affected."""
        try:
            probe = self.source.probe()
        except Exception as exc:  # an unreachable registry: logged, counted, the champion serves on
            self.metrics.shadow_failures.labels("load").inc()
            log.warning(json.dumps({"event": "shadow_load_refused", "reason": reason(exc)}))
            return
        if not force and self._alive() and probe == self.loaded_probe and self.version is not None:
            return
        self._ensure_process()
        self._loaded.clear()
        self._load_ok = False
        if not self._send(b'{"kind":"load"}') or not self._loaded.wait(LOAD_TIMEOUT_S):
            self.metrics.shadow_failures.labels("load").inc()
            log.warning(json.dumps({"event": "shadow_load_refused", "reason": "the challenger's process did not "
                                    f"answer within {LOAD_TIMEOUT_S:.0f} s"}))  # fmt: skip
            return
        if self._load_ok:
            self.loaded_probe = probe

    # -- the champion's side ---------------------------------------------------------------------
    @contextmanager
    def busy(self) -> Iterator[None]:
        """Around a champion request's scoring and store write: the challenger's process waits meanwhile before
        it begins a chunk."""
        with self._busy_lock:
            self._busy += 1
            if self._busy == 1:
                self._idle.clear()
        try:
            yield
        finally:
            with self._busy_lock:
                self._busy -= 1
                if not self._busy:
                    self._idle.set()

    def submit(self, job: ShadowJob) -> None:
        """Queue a committed request's applications for the challenger; beyond ``size`` jobs waiting (not yet
        taken by the process) the request is dropped and counted. Costs the champion one JSON encoding and one
        socket write, on no thread of its own."""
        if self.version is None or not job.requests or self._channel is None:
            return
        if self._sent - self._counters.taken.value >= self.size:
            self.metrics.shadow_dropped.inc(len(job.requests))
            return
        requests = ",".join(r.model_dump_json(exclude_unset=True) for r in job.requests)
        head = json.dumps({"kind": "job", "tenant": job.tenant, "ids": list(job.decision_ids)}, separators=(",", ":"))
        self._send(f'{head[:-1]},"requests":[{requests}]}}'.encode(), job=True)

    def stop(self, timeout_s: float = 5.0) -> None:
        """End the process after the jobs already queued (what is left past ``timeout_s`` is not scored)."""
        process = self._process
        if process is None:
            return
        if process.is_alive() and self._send(b'{"kind":"stop"}'):
            process.join(timeout_s)
        self._close()

    def drain(self, timeout_s: float = 30.0) -> bool:
        """Wait until every queued job is done (tests, shutdown); False when ``timeout_s`` passed first."""
        deadline = time.monotonic() + timeout_s
        while self._counters.done.value < self._sent:
            if time.monotonic() > deadline or not self._alive():
                return False
            time.sleep(0.01)
        return True


def record_shadow(store: AuditStore, rows: Sequence[dict[str, Any]]) -> None:
    """Insert the challenger's decisions (one transaction)."""
    if rows:
        with store._tx() as conn:
            conn.execute(shadow_decisions.insert(), list(rows))


def shadow_pairs(store: AuditStore, since: dt.datetime | None = None) -> list[dict[str, Any]] | None:
    """Each champion decision since ``since`` beside the challenger's on the same application (all tenants): the
    champion's outcome and slices (region, sector, size class) and the challenger's; None when the store has no
    ``shadow_decisions`` table (a store not migrated to 0008)."""
    d, s = decisions.c, shadow_decisions.c
    with store._tx() as conn:
        if not sa.inspect(conn).has_table(shadow_decisions.name):
            return None
        columns = [d.id, d.created_at, d.features, d.model_version, d.pd, d.score, d.band, d.decision,
                   *(getattr(s, c).label(f"shadow_{c}") for c in ("model_version", "pd", "score", "band", "decision",
                                                                  "reasons", "created_at"))]  # fmt: skip
        q = sa.select(*columns).join(shadow_decisions, s.decision_id == d.id).order_by(d.created_at)
        if since is not None:
            q = q.where(d.created_at >= since)
        out = []
        for row in conn.execute(q).mappings():
            pair = dict(row)
            features = pair.pop("features") or {}
            pair.update(region=features.get("department"), sector=features.get("ciiu_section"),
                        size_class=features.get("size_class"))  # fmt: skip
            out.append(pair)
        return out
