"""The risk dashboard (``/app/panel``) for reviewers and admins: the tenant's volume, approval / review / decline
rates, score distribution, the people's override rates and agreement with the model, by month, region, sector
and size class; and the latest monitoring run (PSI), read from ``PYMESCORE_MONITOR_DIR`` where ``pymescore
monitor --out`` writes it. Officers and approvers get 403."""

from __future__ import annotations

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import Response

from pymescore.service._state import ServiceState
from pymescore.service.console._accounts import Accounts
from pymescore.service.console._charts_dashboard import months_chart, overrides_chart, score_chart
from pymescore.service.console._dashboard import (
    DIMENSIONS,
    OUTCOMES,
    PERIODS,
    MonitoringFileError,
    figures,
    latest_monitoring,
    since_of,
)
from pymescore.service.console._web import ENV, current_user, lang_of, needs_role, render

DEFAULT_MONTHS = 12
ENV.filters["rate"] = lambda v: "—" if v is None else f"{100 * float(v):.1f} %"


def dashboard_router(state: ServiceState, accounts: Accounts) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/app/panel")
    async def dashboard(request: Request, meses: str = "") -> Response:
        user = await current_user(state, accounts, request)
        needs_role(user, "reviewer", "admin")
        months = int(meses) if meses.isdigit() and int(meses) in PERIODS else DEFAULT_MONTHS
        lang = lang_of(request)
        since = since_of(months)
        data = await state.store_call(lambda: figures(state.store, user.tenant, since, lang))
        folder = state.settings.monitor_dir
        try:
            monitoring, unreadable = await anyio.to_thread.run_sync(lambda: latest_monitoring(folder)), False
        except MonitoringFileError:
            monitoring, unreadable = None, True
        charts = {"months": months_chart(data.by["month"], lang), "scores": score_chart(data.scores, lang),
                  "overrides": overrides_chart(data.by["month"], lang)}  # fmt: skip
        return render(request, "dashboard.html", d=data, months=months, periods=PERIODS, dimensions=DIMENSIONS,
                      outcomes=OUTCOMES, charts=charts, monitoring=monitoring, unreadable=unreadable,
                      monitor_dir=str(folder))  # fmt: skip

    return router
