"""What every page of the workbench shares: the Jinja2 environment, the language, the session, CSRF checks and
the HTML error pages (a missing or foreign case is a 404, as in the API)."""

from __future__ import annotations

import datetime as dt
import hmac
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from pymescore.errors import PymescoreError
from pymescore.service._state import ServiceState
from pymescore.service.console import _i18n
from pymescore.service.console._accounts import Accounts, User

HERE = Path(__file__).parent
SESSION_COOKIE = "pms_session"
LOGIN_CSRF_COOKIE = "pms_login_csrf"
LANG_COOKIE = "pms_lang"
ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True, undefined=jinja2.StrictUndefined
)


class ConsoleError(PymescoreError):
    """A page of the workbench that cannot be shown: ``status`` (403, 404) and a message key."""

    code = "CONSOLE_ERROR"

    def __init__(self, status: int, key: str) -> None:
        super().__init__(f"console: {key}", code=f"CONSOLE_{status}")
        self.status, self.key = status, key


class LoginRequired(PymescoreError):  # noqa: N818 - a redirect, not a failure
    code = "CONSOLE_LOGIN"

    def __init__(self, next_path: str) -> None:
        super().__init__("console: log in first")
        self.next_path = next_path


def lang_of(request: Request) -> str:
    lang = request.cookies.get(LANG_COOKIE, "es")
    return lang if lang in _i18n.LANGS else "es"


def money(value: float | None, currency: str = "PEN") -> str:
    if value is None:
        return "—"
    symbol = "S/" if currency == "PEN" else "US$"
    return f"{symbol} {value:,.0f}"


ENV.filters["money"] = money
ENV.filters["pct"] = lambda v: f"{100 * float(v):.1f} %"
ENV.filters["day"] = lambda v: str(v)[:10]
ENV.filters["minute"] = lambda v: str(v)[:16].replace("T", " ")


def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    lang = lang_of(request)
    user: User | None = getattr(request.state, "console_user", None)

    def t(key: str) -> str:
        return _i18n.text(key, lang)

    html = ENV.get_template(template).render(
        t=t, lang=lang, user=user, path=request.url.path, query=request.url.query, quote=quote,
        reason_text=lambda code: _i18n.reason_text(code, lang), **context,
    )  # fmt: skip
    headers = {"Cache-Control": "no-store", "Content-Language": lang}
    return HTMLResponse(html, status_code=status, headers=headers)


def secure(request: Request) -> bool:
    """Cookies are Secure behind TLS (directly, or through a proxy that says so)."""
    return request.url.scheme == "https" or request.headers.get("x-forwarded-proto", "").lower() == "https"


def set_cookie(response: Response, request: Request, name: str, value: str, max_age: int | None = None) -> None:
    response.set_cookie(name, value, max_age=max_age, path="/app", httponly=True, samesite="lax",
                        secure=secure(request))  # fmt: skip


def redirect(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


def safe_next(path: str | None) -> str:
    """Only a path of the console itself (no open redirect)."""
    if path and path.startswith("/app/") and not path.startswith("//") and "\\" not in path:
        return path
    return "/app/solicitudes"


async def current_user(state: ServiceState, accounts: Accounts, request: Request) -> User:
    token = request.cookies.get(SESSION_COOKIE, "")
    user = await state.store_call(lambda: accounts.session(token)) if token else None
    if user is None:
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(path)
    request.state.console_user = user
    request.state.tenant = user.tenant
    return user


def check_csrf(expected: str, got: object) -> None:
    """A form without its CSRF token (or with another session's) is refused with 403."""
    if not expected or not isinstance(got, str) or not hmac.compare_digest(expected.encode(), got.encode()):
        raise ConsoleError(403, "err_csrf")


def needs_role(user: User, *roles: str) -> None:
    if user.role not in roles:
        raise ConsoleError(403, "err_role")


#: Peru's national holidays with a fixed date (Ley 31788 and earlier laws); Holy Thursday and Good Friday move
_HOLIDAYS = frozenset({(1, 1), (5, 1), (6, 7), (6, 29), (7, 23), (7, 28), (7, 29), (8, 6), (8, 30), (10, 8), (11, 1),
                       (12, 8), (12, 9), (12, 25)})  # fmt: skip


def _easter(year: int) -> dt.date:
    """Easter Sunday (anonymous Gregorian algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    m = (32 + 2 * e + 2 * i - h - k) % 7
    n = (a + 11 * h + 19 * m) // 433
    month = (h + m - 7 * n + 90) // 25
    return dt.date(year, month, (h + m - 7 * n + 33 * month + 19) % 32)


def is_working_day(day: dt.date) -> bool:
    if day.weekday() >= 5 or (day.month, day.day) in _HOLIDAYS:
        return False
    easter = _easter(day.year)
    return day not in (easter - dt.timedelta(days=3), easter - dt.timedelta(days=2))


@cache
def _weekday_holidays(year: int) -> tuple[dt.date, ...]:
    """The year's national holidays that fall from Monday to Friday."""
    easter = _easter(year)
    days = {dt.date(year, m, d) for m, d in _HOLIDAYS} | {easter - dt.timedelta(days=3), easter - dt.timedelta(days=2)}
    return tuple(sorted(d for d in days if d.weekday() < 5))


def working_days(start: dt.date, end: dt.date) -> int:
    """Working days in Peru after ``start`` up to ``end`` (weekends and national holidays excluded); negative
    when ``end`` is before ``start``. Whole weeks are counted at once (a queue of thousands of cases asks
    for it on every row): the same answer as counting :func:`is_working_day` day by day."""
    if end < start:
        return -working_days(end, start)
    weeks, rest = divmod((end - start).days, 7)
    count = 5 * weeks + sum((start + dt.timedelta(days=k)).weekday() < 5 for k in range(1, rest + 1))
    for year in range(start.year, end.year + 1):
        count -= sum(start < d <= end for d in _weekday_holidays(year))
    return count


def add_working_days(start: dt.date, n: int) -> dt.date:
    day = start
    while n > 0:
        day += dt.timedelta(days=1)
        n -= is_working_day(day)
    return day


async def on_console_error(request: Request, exc: Exception) -> Response:
    if isinstance(exc, LoginRequired):
        return redirect(f"/app/login?next={quote(safe_next(exc.next_path), safe='/')}")
    assert isinstance(exc, ConsoleError)
    title = f"err_{exc.status}"
    detail = "err_404_text" if exc.status == 404 else exc.key
    return render(request, "error.html", status=exc.status, title_key=title, detail_key=detail)
