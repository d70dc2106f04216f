"""A local open-finance API for the API source's tests: a real HTTP(S) server on a free port.

It speaks the protocol the connector expects: an OAuth2 token endpoint (client credentials, HTTP Basic or
form, scopes), and paged list resources (``accounts``, ``transactions``, ``loans``, ``statements``) with a
next link and a cursor in every page and an inclusive ``updated_since`` filter. Faults on demand:

- ``faults[n]``, the n-th resource request (1-based, retries counted) answers with a fault: ``"429"``
  (Retry-After: ``retry_after``), ``"500"``, ``"timeout"`` (answers after ``slow_s``), ``"truncate"`` (the
  body cut in half under the full Content-Length, then the connection closed), ``"expire"`` (every token
  issued so far expires: a 401 mid-sync);
- ``shuffle``: every list served in a fixed scrambled order (records out of order);
- ``duplicates``: every page repeats the previous page's last record and its own first one;
- ``kill``: ``(pid, n, delay_s)`` sends SIGKILL to ``pid`` ``delay_s`` after answering request n;
- contract-breaking records are data: :func:`dataset` adds them with ``bad=True``.

Every request is logged (``log``) with its number, path, parameters, status and the records served.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import json
import os
import random
import secrets
import signal
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.helpers import bad_ruc, make_ruc

RESOURCES = ("accounts", "transactions", "loans", "statements")
CLIENT_ID = "pymescore-test"


def _stamp(i: int) -> str:
    return (dt.datetime(2024, 1, 1, tzinfo=dt.UTC) + dt.timedelta(minutes=7 * i)).strftime("%Y-%m-%dT%H:%M:%SZ")


def dataset(
    firms: int = 3, months: int = 3, per_month: int = 4, bad: bool = False, start: int = 0
) -> dict[str, list[dict[str, Any]]]:
    """A small bank's records: an account per firm, ``per_month`` transactions per firm and month, a loan
    with monthly instalments per firm, one annual statement per firm. ``bad`` adds one record per
    resource that breaks a contract (a currency not PEN/USD, a negative instalment, an unbalanced sheet)."""
    rng = random.Random(7)
    data: dict[str, list[dict[str, Any]]] = {r: [] for r in RESOURCES}
    tick = start
    for f in range(firms):
        ruc = make_ruc(100 + f)
        tick += 1
        data["accounts"].append({"account_id": f"ACC-{f:03d}", "holder": {"tax_id": ruc, "name": f"Firma {f}"},
                                 "currency": "PEN", "updated_at": _stamp(tick)})  # fmt: skip
        instalments = []
        for m in range(months):
            for k in range(per_month):
                tick += 1
                credit = k % 3 != 2
                data["transactions"].append({
                    "transaction_id": f"TX-{f:03d}-{m:02d}-{k:02d}", "account_id": f"ACC-{f:03d}",
                    "booking_date": f"2024-{m + 1:02d}-{k + 10:02d}",
                    "amount": {"value": round(rng.uniform(100, 5000), 2), "currency": "PEN"},
                    "credit_debit_indicator": "CREDIT" if credit else "DEBIT", "updated_at": _stamp(tick),
                })  # fmt: skip
            due = f"2024-{m + 1:02d}-28"
            instalments.append({"due_date": due, "amount_due": 500.0, "amount_paid": 500.0, "paid_on": due})
        tick += 1
        data["loans"].append({"loan_id": f"LN-{f:03d}", "borrower": {"tax_id": ruc}, "currency": "PEN",
                              "disbursed_on": "2023-12-15", "instalments": instalments,
                              "updated_at": _stamp(tick)})  # fmt: skip
        tick += 1
        assets, liabilities = 90000.0 + 1000 * f, 40000.0
        data["statements"].append({
            "statement_id": f"ST-{f:03d}", "company": {"tax_id": ruc}, "period_end": "2023-12-31", "currency": "PEN",
            "balance_sheet": {"total_assets": assets, "total_liabilities": liabilities, "equity": assets - liabilities},
            "income_statement": {"revenue": 150000.0, "cost_of_sales": 90000.0, "net_income": 12000.0},
            "updated_at": _stamp(tick),
        })  # fmt: skip
    if bad:
        tick += 1
        data["transactions"].append({"transaction_id": "TX-BAD-CURRENCY", "account_id": "ACC-000",
                                     "booking_date": "2024-01-20", "amount": {"value": 10.0, "currency": "EUR"},
                                     "credit_debit_indicator": "CREDIT", "updated_at": _stamp(tick)})  # fmt: skip
        tick += 1
        data["loans"].append({"loan_id": "LN-BAD", "borrower": {"tax_id": make_ruc(100)}, "currency": "PEN",
                              "disbursed_on": "2023-12-15", "updated_at": _stamp(tick),
                              "instalments": [{"due_date": "2024-01-28", "amount_due": -5.0, "amount_paid": 0.0,
                                               "paid_on": None}]})  # fmt: skip
        tick += 1
        data["statements"].append({
            "statement_id": "ST-BAD", "company": {"tax_id": bad_ruc(101)}, "period_end": "2023-12-31",
            "currency": "PEN",
            "balance_sheet": {"total_assets": 100.0, "total_liabilities": 10.0, "equity": 90.0},
            "income_statement": {"revenue": 1.0, "cost_of_sales": 1.0, "net_income": 0.0}, "updated_at": _stamp(tick),
        })  # fmt: skip
    return data


@dataclass
class ServerState:
    data: dict[str, list[dict[str, Any]]]
    secret: str
    scopes: tuple[str, ...] = tuple(f"{r}:read" for r in RESOURCES)
    expires_in: int = 3600
    faults: dict[int, str] = field(default_factory=dict)
    retry_after: int = 1
    slow_s: float = 0.5
    shuffle: bool = False
    duplicates: bool = False
    kill: tuple[int, int, float] | None = None
    tokens: dict[str, tuple[frozenset[str], float]] = field(default_factory=dict)
    log: list[dict[str, Any]] = field(default_factory=list)
    token_log: list[dict[str, Any]] = field(default_factory=list)
    requests: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def served(self, resource: str) -> list[str]:
        """Record ids served for ``resource`` (answers that reached the client whole)."""
        return [i for e in self.log if e["resource"] == resource and e["status"] == 200 and not e["fault"]
                for i in e["ids"]]  # fmt: skip


def _record_id(resource: str, item: dict[str, Any]) -> str:
    return str(item.get({"accounts": "account_id", "transactions": "transaction_id", "loans": "loan_id",
                         "statements": "statement_id"}[resource]))  # fmt: skip


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read state.log
        pass

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None, cut: bool = False) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if cut:
            self.wfile.write(payload[: len(payload) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(payload)

    def do_POST(self) -> None:
        state = self.server.state
        length = int(self.headers.get("Content-Length", "0"))
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
        client_id, secret = form.get("client_id"), form.get("client_secret")
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            client_id, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
        with state.lock:
            state.token_log.append({"scope": form.get("scope"), "grant_type": form.get("grant_type"),
                                    "basic": auth.startswith("Basic ")})  # fmt: skip
        if urlsplit(self.path).path != "/oauth/token":
            return self._send(404, {"error": "not_found"})
        if form.get("grant_type") != "client_credentials":
            return self._send(400, {"error": "unsupported_grant_type"})
        if client_id != CLIENT_ID or secret != state.secret:
            return self._send(401, {"error": "invalid_client"}, {"WWW-Authenticate": 'Basic realm="token"'})
        asked = set((form.get("scope") or " ".join(state.scopes)).split())
        if not asked <= set(state.scopes):
            return self._send(400, {"error": "invalid_scope"})
        token = secrets.token_urlsafe(24)
        with state.lock:
            state.tokens[token] = (frozenset(asked), time.monotonic() + state.expires_in)
        self._send(200, {"access_token": token, "token_type": "Bearer", "expires_in": state.expires_in,
                         "scope": " ".join(sorted(asked))})  # fmt: skip

    def do_GET(self) -> None:
        state = self.server.state
        url = urlsplit(self.path)
        params = {k: v[0] for k, v in parse_qs(url.query).items()}
        resource = url.path.removeprefix("/v1/")
        with state.lock:
            state.requests += 1
            n = state.requests
            fault = state.faults.get(n)
            if fault == "expire":
                state.tokens = {t: (s, 0.0) for t, (s, _) in state.tokens.items()}
        entry: dict[str, Any] = {"n": n, "resource": resource, "params": params, "fault": fault, "ids": [],
                                 "status": 0, "time": time.monotonic()}  # fmt: skip
        with state.lock:
            state.log.append(entry)
        try:
            self._answer(state, entry, resource, params, fault)
        finally:
            if state.kill is not None and state.kill[1] == n:
                threading.Timer(state.kill[2], _kill, (state.kill[0],)).start()

    def _answer(self, state: ServerState, entry: dict[str, Any], resource: str, params: dict[str, str],
                fault: str | None) -> None:  # fmt: skip
        auth = self.headers.get("Authorization", "")
        granted = state.tokens.get(auth.removeprefix("Bearer ")) if auth.startswith("Bearer ") else None
        if granted is None or granted[1] <= time.monotonic():
            entry["status"] = 401
            return self._send(401, {"error": "invalid_token"}, {"WWW-Authenticate": 'Bearer error="invalid_token"'})
        if resource not in RESOURCES:
            entry["status"] = 404
            return self._send(404, {"error": "not_found"})
        if f"{resource}:read" not in granted[0]:
            entry["status"] = 403
            return self._send(403, {"error": "insufficient_scope"})
        if fault == "429":
            entry["status"] = 429
            return self._send(429, {"error": "rate_limited"}, {"Retry-After": str(state.retry_after)})
        if fault == "500":
            entry["status"] = 500
            return self._send(500, {"error": "server_error"})
        if fault == "timeout":
            time.sleep(state.slow_s)
        items = [r for r in state.data[resource] if r["updated_at"] >= params.get("updated_since", "")]
        items.sort(key=lambda r: (r["updated_at"], _record_id(resource, r)))
        if state.shuffle:
            random.Random(len(items)).shuffle(items)
        limit = int(params.get("limit", "50"))
        offset = int(base64.urlsafe_b64decode(params["cursor"]).decode()) if "cursor" in params else 0
        page = items[offset : offset + limit]
        if state.duplicates and page:
            page = ([items[offset - 1]] if offset else []) + page + [page[0]]
        nxt = offset + limit if offset + limit < len(items) else None
        cursor = None if nxt is None else base64.urlsafe_b64encode(str(nxt).encode()).decode()
        link = None
        if cursor is not None:
            link = f"/v1/{resource}?limit={limit}&cursor={cursor}"
            if "updated_since" in params:
                link += f"&updated_since={params['updated_since']}"
        entry["status"] = 200
        entry["ids"] = [_record_id(resource, r) for r in page]
        try:
            self._send(200, {"data": page, "links": {"next": link}, "meta": {"next_cursor": cursor}},
                       cut=fault == "truncate")  # fmt: skip
        except (BrokenPipeError, ConnectionResetError):  # the client gave up on a slow answer
            self.close_connection = True


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # it had finished already
        os.kill(pid, signal.SIGKILL)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: ServerState

    def handle_error(self, request: Any, client_address: Any) -> None:  # a client that hung up: not our error
        pass


class ApiServer:
    """The server in a background thread; ``url`` is its base (``…/v1``), ``token_url`` its token endpoint."""

    def __init__(self, state: ServerState, tls: ssl.SSLContext | None = None) -> None:
        self.state = state
        self.httpd = _Server(("127.0.0.1", 0), _Handler)
        self.httpd.state = state
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        scheme = "https" if tls is not None else "http"
        self.origin = f"{scheme}://127.0.0.1:{self.httpd.server_address[1]}"
        self.url = f"{self.origin}/v1"
        self.token_url = f"{self.origin}/oauth/token"
        self.config: Path | None = None
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> ApiServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def config_toml(server: ApiServer, secret_env: str, name: str = "banco", style: str = "next_link", page_size: int = 5,
                **overrides: Any) -> str:  # fmt: skip
    """The sources TOML of the test institution (tiny timeouts and backoff); ``overrides`` replace or add
    keys of the institution's table (``None`` removes one)."""
    keys: dict[str, Any] = {
        "base_url": server.url, "token_url": server.token_url, "client_id": CLIENT_ID, "client_secret_env": secret_env,
        "scopes": ["accounts:read", "transactions:read", "loans:read", "statements:read"], "timeout_s": 0.25,
        "rate_limit_per_s": 500, "max_retries": 4, "backoff_s": 0.01, "backoff_max_s": 0.05,
    }  # fmt: skip
    keys |= overrides
    head = "\n".join(f"{k} = {json.dumps(v)}" for k, v in keys.items() if v is not None)
    return f'''
[institutions.{name}]
{head}

[institutions.{name}.pagination]
style = "{style}"
page_size = {page_size}

[institutions.{name}.resources.accounts]
path = "/accounts"
table = "accounts"

[institutions.{name}.resources.accounts.fields]
account_id = "$.account_id"
ruc = "$.holder.tax_id"
currency = "$.currency"

[institutions.{name}.resources.transactions]
path = "/transactions"
table = "transactions"
watermark = "$.updated_at"
since_param = "updated_since"

[institutions.{name}.resources.transactions.fields]
id = "$.transaction_id"
account_id = "$.account_id"
date = "$.booking_date"
amount = "$.amount.value"
currency = "$.amount.currency"
direction = "$.credit_debit_indicator"

[institutions.{name}.resources.loans]
path = "/loans"
table = "payments"
explode = "$.instalments"
watermark = "$.updated_at"
since_param = "updated_since"

[institutions.{name}.resources.loans.fields]
loan_id = "^.loan_id"
ruc = "^.borrower.tax_id"
currency = "^.currency"
disbursement_date = "^.disbursed_on"
due_date = "$.due_date"
paid_date = "$.paid_on"
amount_due = "$.amount_due"
amount_paid = "$.amount_paid"

[institutions.{name}.resources.statements]
path = "/statements"
table = "financial_statements"
watermark = "$.updated_at"
since_param = "updated_since"

[institutions.{name}.resources.statements.fields]
ruc = "$.company.tax_id"
period_end = "$.period_end"
currency = "$.currency"
total_assets = "$.balance_sheet.total_assets"
total_liabilities = "$.balance_sheet.total_liabilities"
equity = "$.balance_sheet.equity"
revenue = "$.income_statement.revenue"
cost_of_sales = "$.income_statement.cost_of_sales"
net_income = "$.income_statement.net_income"
'''


def make_tls(folder: Path) -> tuple[ssl.SSLContext, dict[str, str]]:
    """A CA, a server certificate for 127.0.0.1 and a client certificate: the server's context (client
    certificates required) and the client's files (``tls_ca_bundle``, ``tls_client_cert``, ``tls_client_key``)."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.UTC)

    def issue(name: str, key: Any, issuer: Any, issuer_key: Any, ca: bool = False, ip: bool = False) -> Any:
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(issuer)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if ca:
            builder = builder.add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
            ).add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        else:
            builder = builder.add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False
            )
        if ip:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False
            )
        return builder.sign(issuer_key, hashes.SHA256())

    files: dict[str, str] = {}

    def save(label: str, cert: Any, key: Any) -> None:
        (folder / f"{label}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        (folder / f"{label}.key").write_bytes(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))  # fmt: skip
        files[label] = str(folder / f"{label}.pem")
        files[label + "_key"] = str(folder / f"{label}.key")

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pymescore test CA")])
    ca = issue("pymescore test CA", ca_key, ca_name, ca_key, ca=True)
    save("ca", ca, ca_key)
    for label, ip in (("server", True), ("client", False)):
        key = ec.generate_private_key(ec.SECP256R1())
        save(label, issue(label, key, ca_name, ca_key, ip=ip), key)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=files["ca"])
    ctx.load_cert_chain(files["server"], files["server_key"])
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx, {
        "tls_ca_bundle": files["ca"],
        "tls_client_cert": files["client"],
        "tls_client_key": files["client_key"],
    }
