"""A local stand-in for BCRPData's statistics API: serves the answers in tests/fixtures/bcrp/ by series and
year, cut to the requested days, with faults injected on demand (5xx, 429 with Retry-After, an HTML challenge
page, a body cut short, an unknown series). Runs on 127.0.0.1 in a thread; ``python -m tests.bcrp_server PORT``
runs it in the foreground (the Airflow DAG test points PYMESCORE_BCRP_URL at it)."""

from __future__ import annotations

import datetime as dt
import json
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures" / "bcrp"
PREFIX = "/estadisticas/series/api/"
_MONTHS = dict(
    zip(["ene", "feb", "mar", "abr", "may", "jun", "jul", "ago", "set", "oct", "nov", "dic"], range(1, 13), strict=True)
)


def _day(name: str) -> dt.date:
    d, m, y = name.split(".")
    return dt.date(2000 + int(y), _MONTHS[m.lower()], int(d))


@dataclass
class BcrpServer:
    """Requests seen (paths) and faults to answer with, in order, before the real answers."""

    faults: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    url: str = ""
    fixtures: Path = FIXTURES

    def answer(self, path: str) -> tuple[int, dict[str, str], bytes]:
        self.requests.append(path)
        if self.faults:
            fault = self.faults.pop(0)
            if fault.isdigit():
                return int(fault), {}, b"<html><body>Error</body></html>"
            if fault.startswith("429:"):
                return 429, {"Retry-After": fault.split(":", 1)[1]}, b""
            if fault == "challenge":  # what a CDN's bot check sends: 200 with a page, not JSON
                return 200, {}, b'<!DOCTYPE html><html><head><script src="/_Incapsula_Resource"></script></head></html>'
            if fault == "truncated":  # the connection drops after 40 of the announced bytes
                full = self._body(path)
                return 200, {"Content-Length": str(len(full))}, full[:40]
        return 200, {}, self._body(path)

    def _body(self, path: str) -> bytes:
        series, _, start, end, *_ = path[len(PREFIX) :].split("/")
        lo, hi = dt.date.fromisoformat(start), dt.date.fromisoformat(end)
        file = self.fixtures / f"{series}-{lo.year}.json"
        known = sorted(self.fixtures.glob(f"{series}-*.json"))
        if not known:  # a code the service does not know: a series-less answer
            return json.dumps({"config": {"title": "", "series": []}, "periods": []}).encode()
        if not file.exists():  # a year the files do not cover: the series, no days
            file = known[0]
            lo = hi = dt.date(1900, 1, 1)
        payload = json.loads(file.read_text(encoding="utf-8"))
        payload["periods"] = [p for p in payload["periods"] if lo <= _day(p["name"]) <= hi]
        return json.dumps(payload, ensure_ascii=False).encode()


@contextmanager
def serve(port: int = 0) -> Iterator[BcrpServer]:
    state = BcrpServer()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if not self.path.startswith(PREFIX):
                self.send_error(404)
                return
            status, headers, body = state.answer(self.path)
            self.send_response(status)
            self.send_header("Content-Type", "text/html; charset=UTF-8")  # the BCRP labels its JSON so
            self.send_header("Content-Length", headers.pop("Content-Length", str(len(body))))
            for k, v in headers.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}{PREFIX.rstrip('/')}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


if __name__ == "__main__":
    with serve(int(sys.argv[1])) as running:
        print(running.url, flush=True)
        threading.Event().wait()
