"""A lean HTTP/1.1 client for the load benchmarks: one keep-alive connection per simulated client, opened and
warmed before the clock starts, requests written and answers read with asyncio streams.

Why not httpx: at 64 clients sharing one ``httpx.AsyncClient`` the client's own pool and event loop held
requests for up to 2 s before they reached the server (the server's log showed the app starting 1.6-2.4 s after
the client sent, with the app itself done in 15-30 ms), and a fresh ``AsyncClient`` per client spent ~20 ms of
CPU each building an SSL context, which delayed every other client's first request by a second. A benchmark of
the server should not measure its load generator: this one costs a few tens of microseconds a request.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from urllib.parse import urlsplit


class HttpClientError(Exception):
    """An answer this client cannot read (not HTTP/1.x, a bad length): a benchmark defect, not a server's."""


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


class Connection:
    """One keep-alive HTTP/1.1 connection to ``host:port``; reopened on the next request after it closed."""

    def __init__(self, host: str, port: int, headers: dict[str, str] | None = None) -> None:
        self.host, self.port = host, port
        fixed = {"Host": f"{host}:{port}", **(headers or {})}
        self._fixed = "".join(f"{k}: {v}\r\n" for k, v in fixed.items()).encode("latin-1")
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    @classmethod
    def to(cls, url: str, headers: dict[str, str] | None = None) -> Connection:
        """A connection to the host and port of ``url`` (``http://host:port``; port 80 when it names none)."""
        where = urlsplit(url)
        return cls(str(where.hostname), int(where.port or 80), headers)

    async def open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """The connection, reopened when it was closed, or when the server closed it while it was idle (uvicorn
        does after its keep-alive timeout, without a ``Connection: close``)."""
        if self._reader is not None and self._reader.at_eof():
            self.close()
        if self._reader is None or self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        return self._reader, self._writer

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None

    async def request(self, method: str, path: str, body: bytes | None = None, timeout_s: float = 120.0) -> Answer:
        """Send one request and read its whole answer; on any failure the connection is closed (and the
        exception raised), so that the next request starts on a new one."""
        try:
            return await asyncio.wait_for(self._exchange(method, path, body), timeout_s)
        except BaseException:
            self.close()
            raise

    async def _exchange(self, method: str, path: str, body: bytes | None) -> Answer:
        reader, writer = await self.open()
        head = f"{method} {path} HTTP/1.1\r\n".encode("latin-1") + self._fixed
        if body is not None:
            head += b"Content-Type: application/json\r\nContent-Length: %d\r\n" % len(body)
        writer.write(head + b"\r\n" + (body or b""))
        raw = await reader.readuntil(b"\r\n\r\n")
        status_line, *lines = raw[:-4].decode("latin-1").split("\r\n")
        version, _, rest = status_line.partition(" ")
        if not version.startswith("HTTP/1."):
            raise HttpClientError(f"expected an HTTP/1.x status line, got {status_line[:80]!r}")
        headers = {}
        for line in lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        status = int(rest[:3])
        if status in (204, 304) or method == "HEAD":
            content = b""  # no body, whatever the headers say (RFC 9112 §6.3)
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            content = await _chunked(reader)
        elif "content-length" in headers:
            content = await reader.readexactly(int(headers["content-length"]))
        else:  # the answer ends when the server closes the connection
            content = await reader.read()
            self.close()
        if "close" in (token.strip() for token in headers.get("connection", "").lower().split(",")):
            self.close()
        return Answer(status, headers, content)


async def _chunked(reader: asyncio.StreamReader) -> bytes:
    parts = []
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";", 1)[0], 16)
        if size == 0:
            await reader.readuntil(b"\r\n")  # no trailers are sent by the service
            return b"".join(parts)
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)
