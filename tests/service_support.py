"""Helpers of the service tests: an app on a bundle, a live uvicorn server, a TCP proxy to cut the database."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI

from pymescore.config import Settings
from pymescore.service import ServiceState, build_state, create_app


def make_app(bundle: Path, database_url: str, lake: Path | None = None, schema: str | None = None,
             **settings: Any) -> tuple[FastAPI, ServiceState]:  # fmt: skip
    settings.setdefault("auth_failures_per_min", 0)  # tests send wrong keys on purpose; the limit has its own tests
    s = Settings(serve_bundle=bundle, database_url=database_url, lake=lake or Path("/nonexistent"),
                 reload_interval_s=0, **settings)  # fmt: skip
    state = build_state(s, schema=schema)
    state.store.migrate()
    return create_app(state), state


def keys(state: ServiceState, tenant: str = "bank-a") -> dict[str, str]:
    """Bearer headers: all scopes, score only, read only, admin only, and a revoked key."""
    out = {}
    for name, scopes in (("all", ["score", "read", "admin"]), ("score", ["score"]), ("read", ["read"]),
                         ("admin", ["admin"]), ("revoked", ["score", "read", "admin"])):  # fmt: skip
        key, row = state.store.create_key(tenant, scopes)
        if name == "revoked":
            state.store.revoke_key(row["id"])
        out[name] = f"Bearer {key}"
    return out


@contextmanager
def live_server(app: FastAPI) -> Iterator[str]:
    """The app under a real uvicorn server on a free loopback port; yields its base URL."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", loop="asyncio", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


class TcpProxy:
    """A loopback TCP forwarder to a database: ``cut()`` drops every connection and refuses new ones."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self._listener: socket.socket | None = None
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        if self._listener is not None:
            with suppress(OSError):  # wakes the thread blocked in accept(); close() alone would not
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
            self._listener = None
        with self._lock:
            for c in self._conns:
                with suppress(OSError):
                    c.shutdown(socket.SHUT_RDWR)
                c.close()
            self._conns.clear()
