"""Every known bad input to the scoring service, built around one valid application: the attack run's reproductions
(lone surrogates in each text field, UTF-16 bodies, booleans and strings for amounts) and the older ones (broken
JSON, a wrong check digit, huge numbers, deep nesting, a long Idempotency-Key)."""

from __future__ import annotations

import copy
import json
from typing import Any

#: (label, method, path, body bytes or None, extra headers)
BadRequest = tuple[str, str, str, bytes | None, dict[str, str]]
JSON = {"Content-Type": "application/json"}
MARK = "__bad_text__"
SURROGATES = ("\\ud800", "\\udfff", "ab\\udbffcd", "\\ud800\\ud800")


def text_fields(body: dict[str, Any]) -> list[tuple[str, ...]]:
    """Paths (as keys and indexes) of the application's text fields, and of a new key: 8 and more."""
    out: list[tuple[Any, ...]] = [("ruc",), ("currency",), ("as_of",)]
    out += [("firm", f) for f in ("name", "ciiu", "ubigeo", "taxpayer_state", "domicile_condition")]
    for table, field in (
        ("monthly_cashflows", "month"),
        ("monthly_cashflows", "currency"),
        ("payments", "loan_id"),
        ("payments", "due_date"),
        ("bureau_ratings", "month"),
        ("financial_statements", "currency"),
    ):
        if body.get(table):
            out.append((table, 0, field))
    return out


def _with(body: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    out = copy.deepcopy(body)
    node: Any = out
    for part in path[:-1]:
        if isinstance(part, str) and node.get(part) is None:
            node[part] = {}
        node = node[part]
    node[path[-1]] = value
    return out


def surrogate_bodies(body: dict[str, Any]) -> list[tuple[str, dict[str, Any], str]]:
    """(label, application, surrogate escape): each text field and an extra key's name holds a lone surrogate."""
    out = []
    for path in text_fields(body):
        for escape in SURROGATES[:2]:
            out.append((".".join(map(str, path)), _with(body, path, MARK), escape))
    out.append(("extra key", {**body, MARK: 1}, SURROGATES[2]))
    out.append(("features key", {"ruc": body["ruc"], "requested_amount": 1000, "term_months": 12,
                                 "features": {MARK: 1.0}}, SURROGATES[3]))  # fmt: skip
    return out


def _raw(value: Any, escape: str = "") -> bytes:
    return json.dumps(value).replace(MARK, escape).encode()


def bad_requests(body: dict[str, Any]) -> list[BadRequest]:
    """Every bad request, for ``POST /v1/scores``, ``/v1/scores:batch``, predict and the reads."""
    out: list[BadRequest] = []
    for label, bad, escape in surrogate_bodies(body):
        out.append((f"surrogate in {label}", "POST", "/v1/scores", _raw(bad, escape), JSON))
        out.append((f"surrogate in batch {label}", "POST", "/v1/scores:batch",
                    _raw({"applications": [body, bad]}, escape), JSON))  # fmt: skip
    out.append(("surrogate in predict", "POST", "/v1/models/pymescore:predict",
                _raw({"instances": [{MARK: 1.0}]}, "\\udc00"), JSON))  # fmt: skip
    text = json.dumps(body)
    for encoding in ("utf-16", "utf-16-le", "utf-16-be", "utf-32"):
        out.append((f"{encoding} body", "POST", "/v1/scores", text.encode(encoding), JSON))
    latin = json.dumps({**body, "firm": {"name": "Ñandú"}}, ensure_ascii=False).encode("latin-1")
    out.append(("latin-1 body", "POST", "/v1/scores", latin, JSON))
    for field, value in (("requested_amount", True), ("requested_amount", "50000"), ("term_months", "24"),
                         ("term_months", True), ("requested_amount", 1e300), ("term_months", 24.5)):  # fmt: skip
        out.append((f"{field}={value!r}", "POST", "/v1/scores", json.dumps({**body, field: value}).encode(), JSON))
    if body.get("monthly_cashflows"):
        for value in (True, "42000", None):
            out.append((f"income={value!r}", "POST", "/v1/scores",
                        json.dumps(_with(body, ("monthly_cashflows", 0, "income"), value)).encode(), JSON))  # fmt: skip
    out += [
        ("NaN amount", "POST", "/v1/scores", text.replace('"requested_amount": ', '"requested_amount": NaN, "x": ')
         .encode(), JSON),
        ("long number", "POST", "/v1/scores", text.replace('"term_months": ', '"term_months": 1' + "0" * 5000 + ", "
         '"y": ').encode(), JSON),
        ("truncated JSON", "POST", "/v1/scores", text[: len(text) // 2].encode(), JSON),
        ("deep nesting", "POST", "/v1/scores", b'{"ruc": ' + b"[" * 5000 + b"]" * 5000 + b"}", JSON),
        ("wrong check digit", "POST", "/v1/scores",
         json.dumps({**body, "ruc": body["ruc"][:10] + str((int(body["ruc"][10]) + 1) % 10)}).encode(), JSON),
        ("features and histories", "POST", "/v1/scores", json.dumps({**body, "features": {"x": 1}}).encode(), JSON),
        ("missing fields", "POST", "/v1/scores", json.dumps({"ruc": body["ruc"]}).encode(), JSON),
        ("text/plain", "POST", "/v1/scores", text.encode(), {"Content-Type": "text/plain"}),
        ("long Idempotency-Key", "POST", "/v1/scores", text.encode(), {**JSON, "Idempotency-Key": "k" * 300}),
        ("empty batch", "POST", "/v1/scores:batch", json.dumps({"applications": []}).encode(), JSON),
        ("batch of junk", "POST", "/v1/scores:batch", json.dumps({"applications": [body, 7, "x", None]}).encode(),
         JSON),
        ("ruc with a letter", "GET", f"/v1/scores?ruc={body['ruc'][:10]}x", None, {}),
        ("ruc check digit in query", "GET", f"/v1/scores?ruc={body['ruc'][:10]}"
         f"{(int(body['ruc'][10]) + 1) % 10}", None, {}),
        ("predict with histories", "POST", "/v1/models/pymescore:predict",
         json.dumps({"instances": [body]}).encode(), JSON),
    ]  # fmt: skip
    return out
