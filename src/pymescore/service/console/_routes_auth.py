"""Log in, log out, switch language."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from pymescore.service._state import ServiceState
from pymescore.service.console._accounts import SESSION_FOR, Accounts
from pymescore.service.console._i18n import LANGS
from pymescore.service.console._web import (
    LANG_COOKIE,
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    check_csrf,
    current_user,
    redirect,
    render,
    safe_next,
    set_cookie,
)


def auth_router(state: ServiceState, accounts: Accounts) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/app")
    @router.get("/app/")
    async def home(request: Request) -> Response:
        token = request.cookies.get(SESSION_COOKIE, "")
        user = await state.store_call(lambda: accounts.session(token)) if token else None
        return redirect("/app/solicitudes" if user else "/app/login")

    @router.get("/app/login")
    async def login_form(request: Request, next: str = "", failed: int = 0, bye: int = 0) -> Response:
        csrf = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(24)
        response = render(request, "login.html", csrf=csrf, next=safe_next(next), failed=bool(failed), bye=bool(bye))
        set_cookie(response, request, LOGIN_CSRF_COOKIE, csrf, max_age=3600)
        return response

    @router.post("/app/login")
    async def login(
        request: Request,
        username: Annotated[str, Form(max_length=200)] = "",
        password: Annotated[str, Form(max_length=1024)] = "",
        csrf_token: Annotated[str, Form(max_length=200)] = "",
        next: Annotated[str, Form(max_length=500)] = "",
    ) -> Response:
        check_csrf(request.cookies.get(LOGIN_CSRF_COOKIE, ""), csrf_token)
        client = request.client.host if request.client else ""
        done = await state.store_call(lambda: accounts.login(username, password, client))
        if done is None:
            return redirect(f"/app/login?failed=1&next={safe_next(next)}")
        token, _user = done
        response = redirect(safe_next(next))
        set_cookie(response, request, SESSION_COOKIE, token, max_age=int(SESSION_FOR.total_seconds()))
        response.delete_cookie(LOGIN_CSRF_COOKIE, path="/app")
        return response

    @router.post("/app/logout")
    async def logout(request: Request, csrf_token: Annotated[str, Form(max_length=200)] = "") -> Response:
        user = await current_user(state, accounts, request)
        check_csrf(user.csrf, csrf_token)
        token = request.cookies.get(SESSION_COOKIE, "")
        await state.store_call(lambda: accounts.logout(token, user))
        response = redirect("/app/login?bye=1")
        response.delete_cookie(SESSION_COOKIE, path="/app")
        return response

    @router.get("/app/idioma/{lang}")
    async def switch_language(request: Request, lang: str, next: str = "") -> Response:
        response = redirect(safe_next(next))
        set_cookie(response, request, LANG_COOKIE, lang if lang in LANGS else "es", max_age=365 * 86400)
        return response

    return router
