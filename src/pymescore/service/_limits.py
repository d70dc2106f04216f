"""Abuse limits: token buckets per client address and per API key, for failed authentication and for requests.

A bucket holds ``per_min`` tokens and refills at ``per_min`` a minute; an empty one answers 429 with
``Retry-After`` (the seconds until a token is back). Buckets live in the worker's memory: with several workers
each counts its own connections (the kernel spreads clients over them), so a limit holds per worker. The number
of buckets is bounded: past ``MAX_BUCKETS`` the full ones (idle clients) are forgotten.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

MAX_BUCKETS = 100_000


@dataclass
class Buckets:
    """Token buckets by key; ``per_min`` 0 means no limit."""

    per_min: int
    clock: Callable[[], float] = time.monotonic
    _state: dict[str, tuple[float, float]] = field(default_factory=dict, repr=False)  # key -> (tokens, at)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def _tokens(self, key: str, now: float) -> float:
        tokens, at = self._state.get(key, (float(self.per_min), now))
        return min(float(self.per_min), tokens + (now - at) * self.per_min / 60.0)

    def wait(self, key: str) -> float:
        """Seconds until ``key`` has a token (0 when it has one now); takes nothing."""
        if self.per_min <= 0:
            return 0.0
        with self._lock:
            tokens = self._tokens(key, self._now())
        return 0.0 if tokens >= 1.0 else (1.0 - tokens) * 60.0 / self.per_min

    def take(self, key: str) -> float:
        """Take a token: 0 when taken, else the seconds until one is back (nothing taken)."""
        if self.per_min <= 0:
            return 0.0
        with self._lock:
            now = self._now()
            tokens = self._tokens(key, now)
            if tokens < 1.0:
                self._state[key] = (tokens, now)
                return (1.0 - tokens) * 60.0 / self.per_min
            self._state[key] = (tokens - 1.0, now)
            if len(self._state) > MAX_BUCKETS:
                self._forget(now)
        return 0.0

    def _forget(self, now: float) -> None:
        full = [k for k in self._state if self._tokens(k, now) >= self.per_min]
        for k in full:
            del self._state[k]
        if len(self._state) > MAX_BUCKETS:  # a flood of distinct keys, none idle: keep the newest half
            for k in list(self._state)[: len(self._state) // 2]:
                del self._state[k]

    def _now(self) -> float:
        return self.clock()


@dataclass
class Limits:
    """The four limits of one worker (numbers from the settings)."""

    auth_failures_client: Buckets
    auth_failures_key: Buckets
    requests_client: Buckets
    requests_key: Buckets

    @classmethod
    def per_minute(cls, auth_failures: int, requests_client: int, requests_key: int) -> Limits:
        return cls(Buckets(auth_failures), Buckets(auth_failures), Buckets(requests_client), Buckets(requests_key))


def retry_after(seconds: float) -> str:
    """The ``Retry-After`` value: whole seconds, at least 1."""
    return str(max(1, math.ceil(seconds)))
