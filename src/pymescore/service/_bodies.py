"""JSON request bodies read strictly: UTF-8 only, and text made of Unicode scalar values only.

Python's ``json.loads`` guesses UTF-16 and UTF-32 from the first bytes and turns a lone ``\\ud800`` escape into a
string that no UTF-8 answer can carry. Every route of the service reads its body through ``StrictJsonRoute``, which
parses it once, here, and refuses both with a 400 before any validation sees the text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

from pymescore.service._problems import ProblemError, escaped, json_invalid

#: a ``\\uD800``-``\\uDFFF`` escape: the only way a surrogate gets into text that decoded as UTF-8
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
NOT_UTF8 = "expected a JSON body in UTF-8 (RFC 8259), got bytes that are not UTF-8 (UTF-16, Latin-1?)"
NOT_UNICODE = "expected text of Unicode scalar values, got a lone UTF-16 surrogate escape"


def _json_media(content_type: str | None) -> bool:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


def parse_json(body: bytes) -> Any:
    """The JSON value of ``body``; ``ProblemError`` 400 for bytes that are not UTF-8 or text with a lone
    surrogate, 422 for text that is not JSON."""
    if b"\x00" in body:  # JSON in UTF-8 never holds a NUL byte; UTF-16 and UTF-32 always do
        raise ProblemError(400, NOT_UTF8, code="BODY_NOT_UTF8", errors=[_body_error("UTF-8", "UTF-16 or UTF-32")])
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        got = f"a byte 0x{body[exc.start]:02x} at offset {exc.start} that is not UTF-8"
        raise ProblemError(400, NOT_UTF8, code="BODY_NOT_UTF8", errors=[_body_error("UTF-8", got)]) from exc
    try:
        value = json.loads(text.removeprefix("\ufeff"))
    except json.JSONDecodeError as exc:
        raise ProblemError(422, "the request does not meet the API contract (1 problem(s))", code="REQUEST_INVALID",
                           errors=[json_invalid(exc.msg, exc.pos)]) from exc  # fmt: skip
    except (ValueError, RecursionError) as exc:  # an integer of more than 4,300 digits; nesting beyond the stack
        raise ProblemError(400, "expected a JSON body with numbers of ordinary size and ordinary nesting, got "
                           "one that could not be parsed", code="BODY_UNREADABLE",
                           errors=[_body_error("UTF-8 with numbers of ordinary size", "a number too long or "
                                               "nesting too deep")]) from exc  # fmt: skip
    if _SURROGATE_ESCAPE.search(body) is not None:  # rare: only then is the parsed value walked
        path = _surrogate_at(value, "")
        if path is not None:
            raise ProblemError(400, NOT_UNICODE, code="TEXT_NOT_UNICODE", errors=[
                {"path": path[0] or "body", "expected": "text of Unicode scalar values (no lone surrogate)",
                 "got": escaped(path[1])}])  # fmt: skip
    return value


def _body_error(expected: str, got: str) -> dict[str, str]:
    return {"path": "body", "expected": f"a JSON body in {expected}", "got": got}


def _surrogate_at(value: Any, path: str) -> tuple[str, str] | None:
    """The path and text of the first string (key or value) holding a lone surrogate, else None."""
    if isinstance(value, str):
        return (path, value) if not _encodes(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if not _encodes(key):
                return (where, key)
            found = _surrogate_at(item, where)
            if found is not None:
                return found
    if isinstance(value, list):
        for i, item in enumerate(value):
            found = _surrogate_at(item, f"{path}[{i}]")
            if found is not None:
                return found
    return None


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class StrictJsonRoute(APIRoute):
    """A route whose JSON body is parsed by ``parse_json`` before FastAPI reads it."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict(request: Request) -> Response:
            if request.method in ("POST", "PUT", "PATCH") and _json_media(request.headers.get("content-type")):
                body = await request.body()
                if body:
                    value = parse_json(body)
                    request._json = value  # what Request.json() answers from now on
                    if isinstance(value, dict) and isinstance(value.get("ruc"), str):
                        request.state.ruc_sent = value["ruc"]  # hashed if an unexpected error is logged
            return await handler(request)

        return strict
