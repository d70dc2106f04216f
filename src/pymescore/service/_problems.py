"""RFC 9457 problem details: every error the service answers, in one shape."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM = "application/problem+json"
TYPE_BASE = "https://pymescore.dev/problems/"

TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Request too large",
    415: "Unsupported media type",
    422: "Unprocessable content",
    500: "Internal error",
    503: "Service unavailable",
}


class ProblemError(Exception):
    def __init__(
        self,
        status: int,
        detail: str,
        *,
        code: str | None = None,
        errors: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status, self.detail, self.code = status, detail, code
        self.errors = errors or []
        self.headers = headers or {}


def problem_body(
    status: int, detail: str, code: str | None = None, errors: list[dict[str, str]] | None = None, instance: str = ""
) -> dict[str, Any]:
    return {
        "type": TYPE_BASE + (code or str(status)).lower(),
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "instance": instance or None,
        "code": code,
        "errors": errors or [],
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
    text = repr(value) if not isinstance(value, str) else value
    return text[:200]


def validation_errors(exc: RequestValidationError) -> list[dict[str, str]]:
    out = []
    for e in exc.errors():
        loc = [str(p) for p in e.get("loc", ()) if p != "body"]
        path = ""
        for part in loc:
            path += f"[{part}]" if part.isdigit() else (f".{part}" if path else part)
        out.append({"path": path or "body", "expected": str(e.get("msg", "")), "got": _got(e.get("input"))})
    return out


async def on_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ProblemError)
    return problem_response(exc.status, exc.detail, exc.code, exc.errors, exc.headers, request.url.path)


async def on_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = validation_errors(exc)
    return problem_response(
        422, f"the request does not meet the API contract ({len(errors)} problem(s))", "REQUEST_INVALID", errors,
        instance=request.url.path,
    )  # fmt: skip


async def on_http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    return problem_response(exc.status_code, str(exc.detail), None, None, dict(exc.headers or {}), request.url.path)


async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    import json
    import logging
    import traceback

    detail = traceback.format_exception_only(type(exc), exc)[-1].strip()[:300]
    logging.getLogger("pymescore.service").error(
        json.dumps({"event": "unexpected_error", "route": request.url.path, "error": detail})
    )
    return problem_response(500, "an unexpected error; it was logged", "INTERNAL", instance=request.url.path)
