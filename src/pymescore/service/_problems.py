"""RFC 9457 problem details: every error the service answers, in one shape."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from pymescore.errors import PymescoreError

PROBLEM = "application/problem+json"
TYPE_BASE = "https://pymescore.dev/problems/"

TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    408: "Request timeout",
    409: "Conflict",
    413: "Request too large",
    415: "Unsupported media type",
    429: "Too many requests",
    422: "Unprocessable content",
    500: "Internal error",
    503: "Service unavailable",
}


class ProblemError(PymescoreError):
    """An answer of the service in problem+json: HTTP ``status``, ``detail`` and ``code``."""

    code = "PROBLEM"

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        code: str | None = None,
        errors: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail, code=code)
        self.status, self.detail = status, detail
        self.errors = errors or []
        self.headers = headers or {}


def escaped(text: str, limit: int = 200) -> str:
    """``text`` made always encodable and bounded: a lone surrogate (``\\ud800``), a control character or any
    other code point UTF-8 cannot carry is written as its escape, and the result is cut at ``limit`` characters."""
    if not text.isprintable() or not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            text = text.encode("utf-8", "backslashreplace").decode("utf-8")
        if not text.isprintable():
            text = "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def problem_body(
    status: int, detail: str, code: str | None = None, errors: list[dict[str, str]] | None = None, instance: str = ""
) -> dict[str, Any]:
    return {
        "type": TYPE_BASE + (code or str(status)).lower(),
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": escaped(detail, 600),
        "instance": escaped(instance, 300) or None,
        "code": code,
        # every text a client sent may come back here: each field escaped, so the answer always encodes
        "errors": [{k: escaped(str(v), 300 if k != "got" else 200) for k, v in e.items()} for e in errors or []],
    }


def problem_response(
    status: int,
    detail: str,
    code: str | None = None,
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
    instance: str = "",
) -> JSONResponse:
    return JSONResponse(
        problem_body(status, detail, code, errors, instance), status_code=status, media_type=PROBLEM, headers=headers
    )


def _got(value: Any) -> str:
    if isinstance(value, dict):  # a whole object (a missing field): its keys say which one, its values stay out
        return escaped("an object with keys " + ", ".join(map(str, list(value)[:20])))
    return escaped(value if isinstance(value, str) else repr(value))


def json_invalid(why: str, at: int | None) -> dict[str, str]:
    """The field problem of a body that is not JSON: what the parser said, and where."""
    where = f" at character {at}" if at is not None else ""
    return {"path": "body", "expected": f"valid JSON ({why.strip() or 'a syntax error'}{where})",
            "got": "a body that is not valid JSON"}  # fmt: skip


def validation_errors(exc: RequestValidationError | ValidationError) -> list[dict[str, str]]:
    out = []
    for e in exc.errors():
        if e.get("type") == "json_invalid":  # loc is (body, character offset): say so, not "[8]"
            at = next((p for p in e.get("loc", ()) if isinstance(p, int)), None)
            out.append(json_invalid(str((e.get("ctx") or {}).get("error", "")), at))
            continue
        loc = [str(p) for p in e.get("loc", ()) if p != "body"]
        path = ""
        for part in loc:
            path += f"[{part}]" if part.isdigit() else (f".{part}" if path else part)
        out.append({"path": path or "body", "expected": str(e.get("msg", "")), "got": _got(e.get("input"))})
    return out


async def on_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ProblemError)
    return problem_response(exc.status, exc.detail, exc.code, exc.errors, exc.headers, request.url.path)


def _json_media(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


async def on_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    content_type = request.headers.get("content-type", "")
    unread = any(tuple(e.get("loc", ())) == ("body",) and isinstance(e.get("input"), bytes | str) for e in exc.errors())
    if unread and not _json_media(content_type):  # the body was never read as JSON: its media type is the mistake
        return problem_response(
            415, "expected a JSON body (Content-Type: application/json)", "UNSUPPORTED_MEDIA_TYPE",
            [{"path": "headers.content-type", "expected": "application/json", "got": content_type or "none"}],
            instance=request.url.path,
        )  # fmt: skip
    errors = validation_errors(exc)
    return problem_response(
        422, f"the request does not meet the API contract ({len(errors)} problem(s))", "REQUEST_INVALID", errors,
        instance=request.url.path,
    )  # fmt: skip


async def on_http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code)
    errors = None
    if exc.status_code == 400:  # the body could not even be parsed (invalid UTF-8, a number too long, too deep)
        errors = [{"path": "body", "expected": "a JSON body in UTF-8 with numbers of ordinary size",
                   "got": "a body that could not be parsed"}]  # fmt: skip
    return problem_response(exc.status_code, str(exc.detail), code, errors, dict(exc.headers or {}), request.url.path)


_HTTP_CODES = {400: "BODY_UNREADABLE", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}
