"""The load benchmarks' HTTP/1.1 client against a real HTTP server (the standard library's, in a thread):
answers framed by Content-Length, chunked or by closing; keep-alive reuse; reconnection; a refused port."""

from __future__ import annotations

import asyncio
import json
import threading
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
from bench._http_client import Connection
from bench._service import Outcome, _load, healthz_latency_ms, server_timing


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen_ports: ClassVar[list[int]] = []

    def log_message(self, *args: object) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        _Handler.seen_ports.append(self.client_address[1])
        if self.path == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for part in (b"hola ", b"mundo"):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
        elif self.path == "/drop":  # an answer, then the connection closed without saying so (an idle timeout)
            self._json(200, {"status": "dropping"})
            self.close_connection = True
        elif self.path == "/tokens":  # "close" among other tokens
            data = b"bye"
            self.send_response(200)
            self.send_header("Connection", "keep-alive, close")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)  # the server keeps it open: only the client's reading of the tokens closes it
        elif self.path == "/empty":
            self.send_response(204)
            self.end_headers()
        elif self.path == "/close":  # no length: the answer ends when the connection does
            self.send_response(200)
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(b"until EOF")
            self.close_connection = True
        else:
            self._json(200, {"status": "ok"})

    def do_POST(self) -> None:
        _Handler.seen_ports.append(self.client_address[1])
        body = self.rfile.read(int(self.headers["Content-Length"]))
        sent = json.loads(body)
        if sent.get("ruc") == "bad":
            self._json(422, {"code": "REQUEST_INVALID"})
        elif sent.get("ruc") == "garbled":  # a 2xx whose body is not JSON
            self.send_response(201)
            self.send_header("Content-Length", "4")
            self.end_headers()
            self.wfile.write(b"oops")
        else:
            auth = self.headers.get("Authorization")
            # what a scoring answer says of its time: a metric without a duration, a description, spacing
            timing = 'score;dur=2.5, audit;desc="commit";dur=0.5,cache, app ; dur=4'
            self._json(201, {"score_id": f"{sent['ruc']}|{auth}"}, {"Server-Timing": timing})

    def _json(self, status: int, value: dict[str, str], headers: dict[str, str] | None = None) -> None:
        data = json.dumps(value).encode()
        self.send_response(status)
        for name, text in (headers or {}).items():
            self.send_header(name, text)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def server() -> Iterator[tuple[str, int]]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    _Handler.seen_ports.clear()
    try:
        yield "127.0.0.1", int(httpd.server_address[1])
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_answers_are_read_whatever_their_framing_and_the_connection_is_kept(server: tuple[str, int]) -> None:
    async def run() -> list[tuple[int, bytes]]:
        c = Connection(*server, headers={"Authorization": "Bearer k"})
        try:
            out = []
            for path in ("/healthz", "/chunked", "/healthz", "/close", "/healthz"):
                answer = await c.request("GET", path)
                out.append((answer.status, answer.body))
            return out
        finally:
            c.close()

    got = asyncio.run(run())
    assert got == [(200, b'{"status": "ok"}'), (200, b"hola mundo"), (200, b'{"status": "ok"}'),
                   (200, b"until EOF"), (200, b'{"status": "ok"}')]  # fmt: skip
    # one connection for the first four requests; the server closed it after /close, so a second one after
    ports = _Handler.seen_ports
    assert len(set(ports[:4])) == 1
    assert ports[4] != ports[0]


def test_a_connection_the_server_dropped_while_idle_is_reopened(server: tuple[str, int]) -> None:
    async def run() -> list[tuple[int, bytes]]:
        c = Connection(*server)
        try:
            out = []
            for path in ("/drop", "/empty", "/healthz", "/tokens", "/healthz"):
                answer = await c.request("GET", path)
                out.append((answer.status, answer.body))
                await asyncio.sleep(0.2)  # the server's close (after /drop) reaches this side
            return out
        finally:
            c.close()

    got = asyncio.run(run())
    assert got == [(200, b'{"status": "dropping"}'), (204, b""), (200, b'{"status": "ok"}'), (200, b"bye"),
                   (200, b'{"status": "ok"}')]  # fmt: skip
    ports = _Handler.seen_ports
    assert ports[1] != ports[0]  # a new connection after the dropped one
    assert ports[3] == ports[2] == ports[1]  # kept after an answer without a body
    assert ports[4] != ports[3]  # closed after "Connection: keep-alive, close"


def test_a_load_records_each_answer_and_its_problem_code(server: tuple[str, int]) -> None:
    host, port = server
    payloads = [json.dumps({"ruc": r}).encode() for r in ("20100000001", "bad", "20100000002")]
    load = asyncio.run(_load(f"http://{host}:{port}", "key", payloads, 9, 3, 60.0, None, 10.0))
    assert len(load.outcomes) == 9
    assert load.statuses() == {"201": 6, "422": 3}
    assert sorted({o.score_id for o in load.ok}) == ["20100000001|Bearer key", "20100000002|Bearer key"]
    assert {o.error for o in load.outcomes if o.status == 422} == {"422 REQUEST_INVALID"}
    # one connection per client: its warm-up and its three requests on it
    assert len(_Handler.seen_ports) == 12
    assert sorted(Counter(_Handler.seen_ports).values()) == [4, 4, 4]
    assert healthz_latency_ms(f"http://{host}:{port}", 5) > 0
    # each scored answer's Server-Timing, by stage; a refused one (422) times nothing
    assert all(o.stages_ms == {"score": 2.5, "audit": 0.5, "app": 4.0} for o in load.ok)
    assert all(o.stages_ms == {} for o in load.outcomes if o.status == 422)
    assert load.summary()["server_timing_p50_ms"] == {"score": 2.5, "audit": 0.5, "app": 4.0}


@pytest.mark.parametrize(
    ("header", "stages"),
    [(None, {}), ("", {}), ("app;dur=1.25", {"app": 1.25}), ("a;dur=1, b;dur=x, c", {"a": 1.0}),
     ('db;desc="a, b; c";dur=3', {"db": 3.0}), ("x;DUR=2;desc=y;dur=3", {"x": 2.0})],
)  # fmt: skip
def test_server_timing_is_read_by_stage(header: str | None, stages: dict[str, float]) -> None:
    """Case-insensitive ``dur``; a quoted description may hold the separators."""
    assert server_timing(header) == stages


def test_an_answer_that_is_not_json_is_a_failed_request_not_a_crashed_load(server: tuple[str, int]) -> None:
    host, port = server
    payloads = [json.dumps({"ruc": r}).encode() for r in ("20100000001", "garbled")]
    load = asyncio.run(_load(f"http://{host}:{port}", "key", payloads, 4, 1, 60.0, None, 10.0))
    assert [o.status for o in load.outcomes] == [201, 0, 201, 0]
    assert {o.error for o in load.outcomes if o.status == 0} == {"JSONDecodeError"}


def test_a_server_that_is_not_there_is_an_outcome_without_status() -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    payload = [json.dumps({"ruc": "20100000001"}).encode()]
    load = asyncio.run(_load(f"http://127.0.0.1:{port}", "key", payload, 4, 2, 60.0, None, 5.0))
    assert [o.status for o in load.outcomes] == [0, 0, 0, 0]
    assert all(o.error == "ConnectionRefusedError" and isinstance(o, Outcome) for o in load.outcomes)
