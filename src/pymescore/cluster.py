"""The scheduler setting of the heavy commands (``--scheduler``, ``PYMESCORE_DASK_SCHEDULER``): where their work runs.

- unset (or empty): in this process, as always — the embedded default;
- ``local`` / ``local:N``: a Dask ``LocalCluster`` of N worker processes (default 2), one thread each, each with
  a memory limit (``--worker-memory`` / ``PYMESCORE_DASK_WORKER_MEMORY``, e.g. ``6GiB``; default: 80% of this
  machine's memory shared between the workers, leaving the rest to this process);
- ``tcp://host:port``: an existing Dask cluster (its workers need pymescore installed and must reach the lake:
  object storage, or a folder mounted at the same path).

Dask comes with ``pip install 'pymescore[dask]'``; it is imported only when a scheduler is set.
"""

from __future__ import annotations

import importlib
import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from pymescore.errors import ConfigError

ENV = "PYMESCORE_DASK_SCHEDULER"
MEMORY_ENV = "PYMESCORE_DASK_WORKER_MEMORY"
DEFAULT_WORKERS = 2
_LOCAL = re.compile(r"^local(?::(\d+))?$")


@dataclass(frozen=True)
class Scheduler:
    """A parsed scheduler setting: ``kind`` is ``local`` (with ``workers``) or ``address``."""

    kind: str
    workers: int = DEFAULT_WORKERS
    address: str = ""
    memory_limit: str | None = None

    @property
    def label(self) -> str:
        return f"local:{self.workers}" if self.kind == "local" else self.address


def parse_scheduler(value: str | None, memory_limit: str | None = None) -> Scheduler | None:
    """``value`` (else ``PYMESCORE_DASK_SCHEDULER``) as a :class:`Scheduler`; None means in-process."""
    text = (value if value is not None else os.environ.get(ENV, "")).strip()
    memory = memory_limit or os.environ.get(MEMORY_ENV) or None
    if not text or text in ("none", "in-process"):
        return None
    match = _LOCAL.match(text)
    if match:
        workers = int(match.group(1) or DEFAULT_WORKERS)
        if not 1 <= workers <= 256:
            raise ConfigError(f"--scheduler: expected local:N with N from 1 to 256 workers, got {text!r}")
        return Scheduler("local", workers=workers, memory_limit=memory)
    if re.match(r"^(tcp|tls|inproc|ucx)://[^\s/]+$", text):
        return Scheduler("address", address=text, memory_limit=memory)
    raise ConfigError(
        f"--scheduler / {ENV}: expected local, local:N or tcp://host:port, got {text!r}; leave it unset to run in "
        "this process"
    )


def default_memory_limit(workers: int) -> int:
    """Bytes per local worker: 80% of this machine's memory shared between them (the rest: the driver)."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not a POSIX system
        total = 8 << 30
    return int(total * 0.8 / max(workers, 1))


@contextmanager
def dask_client(scheduler: Scheduler) -> Iterator[Any]:
    """A ``distributed.Client`` on ``scheduler``: a new LocalCluster (closed afterwards) or an existing cluster."""
    try:
        distributed: Any = importlib.import_module("distributed")  # untyped: Any keeps strict mypy quiet
    except ImportError as exc:
        raise ConfigError(
            f"--scheduler {scheduler.label}: expected Dask installed, got no 'distributed' module; "
            "pip install 'pymescore[dask]' (or leave --scheduler unset to run in this process)"
        ) from exc
    if scheduler.kind == "address":
        try:
            client = distributed.Client(scheduler.address, timeout="30s")
        except (OSError, TimeoutError) as exc:
            raise ConfigError(
                f"--scheduler {scheduler.address}: expected a Dask scheduler listening there, got none ({exc}); "
                "start one (dask scheduler) or use local:N"
            ) from exc
        try:
            yield client
        finally:
            client.close()
        return
    memory = scheduler.memory_limit or default_memory_limit(scheduler.workers)
    cluster = distributed.LocalCluster(
        n_workers=scheduler.workers,
        threads_per_worker=1,
        processes=True,
        memory_limit=memory,
        dashboard_address=":0",  # a free port: several clusters on one machine never collide
        silence_logs=40,  # logging.ERROR: the command's own output stays readable
    )
    client = distributed.Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


def map_parts(
    client: Any, task: Callable[..., Any], n: int, kwargs: dict[str, Any], say: Callable[[str], None] | None = None,
    what: str = "parts",
) -> list[Any]:  # fmt: skip
    """``task(part, **kwargs)`` for parts 0..n-1 on the cluster of ``client``; the results in part order.
    ``say`` hears "``what``: done/n parts" as they finish."""
    distributed: Any = importlib.import_module("distributed")
    futures = client.map(task, range(n), pure=False, **kwargs)
    for done, _ in enumerate(distributed.as_completed(futures), start=1):
        if say is not None:
            say(f"{what}: {done}/{n} parts")
    return list(client.gather(futures))


def workers_of(client: Any) -> int:
    """The workers the cluster of ``client`` has now (at least 1)."""
    return max(1, len(client.scheduler_info().get("workers", {})))
