"""The shadow challenger: the registry's ``challenger`` scores every application the champion decided, after the
champion's decision is committed and its answer is on its way, and its PD, score, band, decision and reason codes
go to ``shadow_decisions`` — never to the client.

It cannot slow the champion beyond a bounded share: requests wait for it in a bounded queue (full: the request is
dropped and counted, ``pymescore_shadow_dropped_total``); its one worker thread takes the jobs queued within
``LINGER_S`` together (one vectorised call costs a fraction of one call per application) and scores and writes
only while no champion request is being scored or stored (:meth:`Shadow.busy`). A challenger that fails — to
load, to score, to be stored — is logged and counted (``pymescore_shadow_failures_total``) and changes no answer.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from pymescore.errors import PymescoreError
from pymescore.service._tables import decisions, shadow_decisions

if TYPE_CHECKING:
    from pymescore.service._metrics import Metrics
    from pymescore.service._schemas import ScoreRequest
    from pymescore.service._scorer import Scorer
    from pymescore.service._source import ModelSource
    from pymescore.service._store import AuditStore

log = logging.getLogger("pymescore.service")
#: the most applications scored in one call of the challenger (the queued jobs taken together)
MAX_BATCH = 256
#: applications per call of the challenger, each call begun while the champion is idle
CHUNK = 64
#: how long the first queued job waits for others to be scored with it
LINGER_S = 0.25


@dataclass(frozen=True)
class ShadowJob:
    """One champion request's scored applications: their requests, the champion's decision ids, the tenant."""

    requests: Sequence[ScoreRequest]
    decision_ids: Sequence[str]
    tenant: str
    lang: str


class Shadow:
    """The challenger beside the champion: loaded and reloaded like it, fed by :meth:`submit`."""

    def __init__(
        self, source: ModelSource, load: Callable[[], Scorer], store: AuditStore, metrics: Metrics, size: int
    ) -> None:
        self.source, self._load, self.store, self.metrics = source, load, store, metrics
        self.scorer: Scorer | None = None
        self.loaded_probe = ""
        self._jobs: queue.Queue[ShadowJob | None] = queue.Queue(maxsize=size)
        self._busy = 0
        self._idle = threading.Condition()
        self._thread: threading.Thread | None = None

    # -- loading ---------------------------------------------------------------------------------
    def reload(self, force: bool = False) -> None:
        """Load the challenger if its source changed; one that fails verification is not used (the previous one
        stays), and the champion is never affected."""
        try:
            probe = self.source.probe()
            if not force and probe == self.loaded_probe and self.scorer is not None:
                return
            scorer = self._load()
            scorer.warm_up()
        except Exception as exc:  # a refused or unreachable challenger: logged, counted, the champion serves on
            self.metrics.shadow_failures.labels("load").inc()
            log.warning(json.dumps({"event": "shadow_load_refused", "reason": _reason(exc)}))
            return
        self.scorer, self.loaded_probe = scorer, probe
        self.metrics.shadow_info(scorer.version)
        log.info(json.dumps({"event": "shadow_loaded", "model_version": scorer.version}))

    # -- the champion's side ---------------------------------------------------------------------
    @contextmanager
    def busy(self) -> Iterator[None]:
        """Around a champion request's scoring and store write: the shadow worker waits meanwhile."""
        with self._idle:
            self._busy += 1
        try:
            yield
        finally:
            with self._idle:
                self._busy -= 1
                if not self._busy:
                    self._idle.notify_all()

    def submit(self, job: ShadowJob) -> None:
        """Queue a committed request's applications for the challenger; a full queue drops it (counted)."""
        if self.scorer is None or not job.requests:
            return
        self.start()
        try:
            self._jobs.put_nowait(job)
        except queue.Full:
            self.metrics.shadow_dropped.inc(len(job.requests))

    # -- the worker ------------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="pymescore-shadow", daemon=True)
            self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """End the worker after the jobs already queued (what is left past ``timeout_s`` is not scored)."""
        if self._thread is not None and self._thread.is_alive():
            with suppress(queue.Full):
                self._jobs.put(None, timeout=timeout_s)
            self._thread.join(timeout_s)

    def drain(self, timeout_s: float = 30.0) -> bool:
        """Wait until every queued job is done (tests, shutdown); False when ``timeout_s`` passed first."""
        deadline = time.monotonic() + timeout_s
        while self._jobs.unfinished_tasks:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    def _wait_idle(self) -> None:
        with self._idle:  # woken when the last champion request in flight is done, not by polling
            self._idle.wait_for(lambda: not self._busy)

    def _run(self) -> None:
        while True:
            jobs = [self._jobs.get()]
            try:
                # what queues within LINGER_S is scored together: one vectorised call costs far less than one per job
                until = time.monotonic() + LINGER_S
                while jobs[-1] is not None and sum(len(j.requests) for j in jobs if j is not None) < MAX_BATCH:
                    try:
                        jobs.append(self._jobs.get(timeout=max(until - time.monotonic(), 0)))
                    except queue.Empty:
                        break
                self._shadow([j for j in jobs if j is not None])
            finally:
                for _ in jobs:
                    self._jobs.task_done()
            if None in jobs:
                return

    def _shadow(self, jobs: list[ShadowJob]) -> None:
        """Score ``jobs`` with the challenger and store what it decided; a failure of either is logged and counted
        (``stage``: score, refused, store), never raised."""
        scorer = self.scorer
        requests = [r for job in jobs for r in job.requests]
        if scorer is None or not requests:
            return
        try:
            start = time.perf_counter()
            results: list[Any] = []
            # in chunks, each begun while no champion request is in flight: one waits at most one chunk's time;
            # one language for all: what is stored of the reasons is their codes, the same in every language
            for at in range(0, len(requests), CHUNK):
                self._wait_idle()
                results += scorer.score(requests[at : at + CHUNK], "es")
            ms = (time.perf_counter() - start) * 1000 / len(requests)
        except Exception as exc:  # a failing challenger never reaches a client
            self._failed("score", exc, len(requests))
            return
        rows, refused = [], 0
        now = dt.datetime.now(dt.UTC)
        owners = [(decision_id, job.tenant) for job in jobs for decision_id in job.decision_ids]
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
            self.metrics.shadow_failures.labels("refused").inc(refused)
        self._wait_idle()
        try:
            record_shadow(self.store, rows)
        except Exception as exc:  # the shadow table is unreachable: the champion's trail is already committed
            self._failed("store", exc, len(rows))
            return
        self.metrics.shadow_decisions.inc(len(rows))

    def _failed(self, stage: str, exc: BaseException, n: int) -> None:
        self.metrics.shadow_failures.labels(stage).inc(n)
        log.warning(json.dumps({"event": "shadow_failed", "stage": stage, "reason": _reason(exc)}))


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


def _reason(exc: BaseException) -> str:
    message = exc.message if isinstance(exc, PymescoreError) else f"{type(exc).__name__}: {exc}"
    return message[:300]
