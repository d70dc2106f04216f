"""Deadlines on the audit store: one time budget per request, and a write that can never commit after its 503.

A request spends at most ``store_timeout_s`` waiting on the store, whatever the number of calls (auth, claim,
write): :class:`StoreBudget`, carried by a context variable through the request's task.

A decision write gets a :class:`WriteGate` with an absolute deadline (wall clock, so that the database can
compare it with its own clock). Three guards, so that a write that misses its deadline is rolled back and a
decision is never committed after its client was answered 503:

- the service waits for the write until the deadline plus :data:`GRACE`, then answers 503 without waiting for
  the thread (a frozen database holds it for as long as it is frozen);
- the thread commits only if the gate is still open: :meth:`WriteGate.begin_commit` and
  :meth:`WriteGate.abandon` are one compare-and-set, so either the commit began before the 503 was decided,
  or it never will (the transaction is rolled back);
- PostgreSQL checks the same deadline at COMMIT (a deferred constraint trigger, migration 0003) with its own
  clock: a COMMIT sent before a freeze and read after it fails, and its transaction rolls back.

What is left is the one case no database client can tell apart: the server committed before the deadline and
its answer was lost. A retry with the same Idempotency-Key gets the stored answer.
"""

from __future__ import annotations

import contextvars
import threading
import time
from dataclasses import dataclass, field

#: how much longer than its deadline the service waits for a write: the database's clock may run behind the
#: service's by up to this much (NTP keeps hosts within milliseconds) and the commit still counts
GRACE = 0.25


@dataclass
class StoreBudget:
    """The store time one request has left (seconds)."""

    total: float
    spent: float = 0.0

    def remaining(self) -> float:
        return max(0.0, self.total - self.spent)


_BUDGET: contextvars.ContextVar[StoreBudget | None] = contextvars.ContextVar("pymescore_store_budget", default=None)


def request_budget(total: float) -> StoreBudget:
    """The budget of the request running in this task (created at its first store call)."""
    budget = _BUDGET.get()
    if budget is None:
        budget = StoreBudget(total)
        _BUDGET.set(budget)
    return budget


@dataclass
class WriteGate:
    """A write's deadline (``time.time()`` seconds) and the commit-or-abandon decision, taken once."""

    deadline: float
    _state: str = "open"  # open | committing | abandoned
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def remaining(self) -> float:
        return self.deadline - time.time()

    def begin_commit(self) -> bool:
        """Called by the writing thread right before COMMIT: False when the write was abandoned or is late."""
        with self._lock:
            if self._state == "open" and self.remaining() > 0:
                self._state = "committing"
            elif self._state == "open":
                self._state = "abandoned"
            return self._state == "committing"

    def abandon(self) -> bool:
        """Called by the service when it stops waiting: True when the commit had not begun (it never will)."""
        with self._lock:
            if self._state == "open":
                self._state = "abandoned"
            return self._state == "abandoned"
