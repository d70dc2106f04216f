"""One worker's state, shared by every router: settings, audit store, model source, the served model, metrics,
and the two queues that bound scoring and audit-store calls."""

import asyncio
import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import anyio

from pymescore.config import Settings
from pymescore.errors import PymescoreError
from pymescore.service._deadline import GRACE, WriteGate, request_budget
from pymescore.service._heap import settle_heap
from pymescore.service._limits import Limits
from pymescore.service._metrics import Metrics
from pymescore.service._problems import ProblemError
from pymescore.service._scorer import Scorer
from pymescore.service._shadow import Shadow, ShadowJob
from pymescore.service._source import ModelSource
from pymescore.service._store import AuditStore, StoreUnavailableError

log = logging.getLogger("pymescore.service")
T = TypeVar("T")
UNAVAILABLE = "the audit store is not reachable; nothing was decided, retry later"


@dataclass
class ServiceState:
    settings: Settings
    store: AuditStore
    source: ModelSource
    load: Callable[[], Scorer]
    #: what identifies the lake's exchange rates now (a new version is loaded with the model); "" without a lake
    rates_probe: Callable[[], str] = lambda: ""
    scorer: Scorer | None = None
    loaded_probe: str = ""
    metrics: Metrics = field(default_factory=Metrics)
    #: the challenger scored in the shadow of every decision (``_shadow.py``); None without one
    shadow: Shadow | None = None
    reload_lock: threading.Lock = field(default_factory=threading.Lock)
    # CPU-bound scoring and the audit store's short calls wait in separate queues: a store call's time limit
    # then measures the database, not a queue of scorings (scoring threads beyond the cores only add GIL
    # contention)
    score_slots: anyio.CapacityLimiter = field(init=False, repr=False)
    store_slots: anyio.CapacityLimiter = field(init=False, repr=False)
    limits: Limits = field(init=False, repr=False)
    _background: set[asyncio.Task[None]] = field(default_factory=set, repr=False)

    def __post_init__(self) -> None:
        self.score_slots = anyio.CapacityLimiter(self.settings.score_concurrency)
        self.store_slots = anyio.CapacityLimiter(32)
        s = self.settings
        self.limits = Limits.per_minute(s.auth_failures_per_min, s.requests_per_min_client, s.requests_per_min_key)

    def reload(self, force: bool = False) -> dict[str, Any]:
        """Load the source's current model if it changed; a model that fails verification is not served."""
        with self.reload_lock:
            if self.shadow is not None:  # never raises: a refused challenger leaves the champion alone
                self.shadow.reload(force)
            try:
                probe = f"{self.source.probe()}|{self.rates_probe()}"
                if not force and probe == self.loaded_probe and self.scorer is not None:
                    return {"reloaded": False, "model_version": self.scorer.version}
                scorer = self.load()
                scorer.warm_up()  # the first real request does not pay for first-use setup
            except Exception as exc:  # a broken bundle or an unreachable registry: keep serving the old one
                self.metrics.reloads.labels("refused").inc()
                message = exc.message if isinstance(exc, PymescoreError) else f"{type(exc).__name__}: {exc}"
                log.warning(json.dumps({"event": "reload_refused", "reason": message[:300]}))
                raise ProblemError(409, f"model reload refused, still serving the previous model: {message}",
                                   code="RELOAD_REFUSED") from exc  # fmt: skip
            replaced = self.scorer is not None
            self.scorer, self.loaded_probe = scorer, probe
            settle_heap(replaced)  # the model just loaded is not walked again by every full garbage collection
            self.metrics.reloads.labels("loaded").inc()
            self.metrics.set_model(scorer.version, scorer.source, scorer.policy.version)
            log.info(json.dumps({"event": "model_loaded", "model_version": scorer.version}))
            return {"reloaded": True, "model_version": scorer.version}

    @contextlib.contextmanager
    def champion_busy(self) -> Iterator[None]:
        """Around a champion request's scoring and write: the shadow challenger waits meanwhile."""
        if self.shadow is None:
            yield
            return
        with self.shadow.busy():
            yield

    def to_shadow(self, requests: Sequence[Any], decision_ids: Sequence[str], tenant: str, lang: str) -> None:
        """Hand committed decisions' applications to the shadow challenger (nothing without one)."""
        if self.shadow is not None:
            self.shadow.submit(ShadowJob(requests, decision_ids, tenant, lang))

    def served(self) -> Scorer:
        """The model being served; 503 while none is loaded."""
        if self.scorer is None:
            raise ProblemError(503, "no model is loaded", code="MODEL_NOT_LOADED", headers={"Retry-After": "5"})
        return self.scorer

    async def store_call(self, fn: Callable[[], T]) -> T:
        """A read or a claim, within what is left of the request's store budget (``store_timeout_s``): past it the
        answer is 503 at once, and the thread, which a frozen database may hold for long, is left behind."""
        budget = request_budget(self.settings.store_timeout_s)
        start = time.monotonic()
        try:
            return await asyncio.wait_for(
                anyio.to_thread.run_sync(fn, limiter=self.store_slots, abandon_on_cancel=True), budget.remaining()
            )
        except (TimeoutError, StoreUnavailableError) as exc:
            raise _unavailable() from exc
        finally:
            budget.spent += time.monotonic() - start

    async def store_write(self, fn: Callable[[WriteGate], None]) -> None:
        """A decision write with a deadline (what is left of the request's store budget): the database rolls it
        back if it is late, and it never commits once the service stopped waiting for it (``_deadline.py``). A
        503 then means that nothing was stored — except when a commit's acknowledgement itself is lost, which
        no client of a database can tell apart: retry with the same Idempotency-Key to get the stored answer."""
        budget = request_budget(self.settings.store_timeout_s)
        gate = WriteGate(time.time() + budget.remaining())
        start = time.monotonic()
        try:
            await asyncio.wait_for(
                anyio.to_thread.run_sync(fn, gate, limiter=self.store_slots, abandon_on_cancel=True),
                budget.remaining() + GRACE,
            )
        except TimeoutError as exc:
            if not gate.abandon():  # COMMIT was sent before the deadline and its answer is late: in doubt
                log.warning(json.dumps({"event": "audit_write_in_doubt"}))
            raise _unavailable() from exc
        except StoreUnavailableError as exc:
            raise _unavailable() from exc
        finally:
            budget.spent += time.monotonic() - start

    async def store_settle(self, fn: Callable[[], object]) -> None:
        """A clean-up call (releasing an Idempotency-Key): waited for within what is left of the request's store
        budget, then left to finish after the answer (bounded by ``store_timeout_s``) rather than delay it."""

        async def run() -> None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(
                    anyio.to_thread.run_sync(fn, limiter=self.store_slots, abandon_on_cancel=True),
                    self.settings.store_timeout_s,
                )

        task = asyncio.get_running_loop().create_task(run())
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        await asyncio.wait({task}, timeout=request_budget(self.settings.store_timeout_s).remaining())


def _unavailable() -> ProblemError:
    return ProblemError(503, UNAVAILABLE, code="AUDIT_UNAVAILABLE", headers={"Retry-After": "2"})
