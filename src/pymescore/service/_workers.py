"""Several worker processes on one port, each with its own ``SO_REUSEPORT`` socket.

uvicorn's own ``--workers`` share one listening socket: whichever worker's event loop is free accepts, and
as scoring runs in threads every loop is free, so one worker can take most of a client's keep-alive
connections at once and keep them. With one socket per worker the kernel spreads new connections over
the workers by a hash of the connection (Linux); a worker that dies is restarted.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import socket
import time
from multiprocessing.process import BaseProcess
from types import FrameType

from pymescore.errors import PymescoreError

APP = "pymescore.service._app:app_from_env"
log = logging.getLogger("pymescore.service")


def listening_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def _worker(host: str, port: int) -> None:
    import uvicorn

    sock = listening_socket(host, port)
    sock.listen(2048)
    config = uvicorn.Config(APP, factory=True, loop="uvloop", http="httptools", log_level="warning",
                            timeout_graceful_shutdown=15)  # fmt: skip
    uvicorn.Server(config).run(sockets=[sock])


def run_workers(host: str, port: int, workers: int) -> None:
    """Start ``workers`` processes and keep them running until SIGINT or SIGTERM."""
    from prometheus_client import multiprocess

    try:
        reserved = listening_socket(host, port)  # fails here, clearly, when the port is taken
    except OSError as exc:
        from pymescore.errors import ConfigError

        raise ConfigError(f"--host/--port: expected a free address, got {host}:{port} ({exc.strerror})") from exc
    ctx = multiprocessing.get_context("spawn")
    stopping = False

    def stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    previous = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}

    def start() -> BaseProcess:
        process = ctx.Process(target=_worker, args=(host, port), daemon=False)
        process.start()
        return process

    procs = [start() for _ in range(workers)]
    restarts: list[float] = []
    try:
        while not stopping:
            time.sleep(0.5)
            for i, p in enumerate(procs):
                if p.is_alive() or stopping:
                    continue
                multiprocess.mark_process_dead(p.pid)  # type: ignore[no-untyped-call]
                restarts = [t for t in restarts if t > time.monotonic() - 60] + [time.monotonic()]
                if len(restarts) > 3 * workers:
                    raise PymescoreError(
                        "workers keep dying (more than 3 restarts per worker in a minute); see the log",
                        code="SERVICE_WORKERS_DYING",
                    )
                log.warning('{"event": "worker_restarted", "exitcode": %s}', p.exitcode)
                procs[i] = start()
    finally:
        for p in procs:
            if p.is_alive():
                p.terminate()  # SIGTERM: uvicorn finishes the requests in flight
        for p in procs:
            p.join(timeout=20)
            if p.is_alive():
                p.kill()
        reserved.close()
        for s, handler in previous.items():
            signal.signal(s, handler)
