"""The lending workbench under ``/app/``: server-rendered pages (Jinja2, vendored htmx) for loan officers, the
credit committee and risk reviewers, on the same application, scorer and audit store as the API.

``mount_console(app, state)`` adds its routes, its static files and its HTML error pages to an app.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from pymescore.service._state import ServiceState
from pymescore.service.console._accounts import ROLES, Accounts, User, UserError
from pymescore.service.console._web import HERE, ConsoleError, LoginRequired, on_console_error

__all__ = ["ROLES", "Accounts", "User", "UserError", "mount_console"]


def mount_console(app: FastAPI, state: ServiceState) -> None:
    from pymescore.service.console._routes_auth import auth_router
    from pymescore.service.console._routes_cases import cases_router
    from pymescore.service.console._routes_dashboard import dashboard_router
    from pymescore.service.console._routes_firms import firms_router
    from pymescore.service.console._routes_new import new_router
    from pymescore.service.console._routes_owner import owner_router
    from pymescore.service.console._routes_queue import queue_router

    accounts = Accounts(state.store)
    app.add_exception_handler(ConsoleError, on_console_error)
    app.add_exception_handler(LoginRequired, on_console_error)
    for make in (
        auth_router,
        new_router,
        cases_router,
        queue_router,
        firms_router,
        owner_router,
        dashboard_router,
    ):  # /nueva before /{decision_id}
        router = make(state, accounts)
        app.include_router(router)
    app.mount("/app/static", StaticFiles(directory=HERE / "static"), name="console-static")
