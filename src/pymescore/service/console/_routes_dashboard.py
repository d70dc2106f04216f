"""The risk dashboard (``/app/panel``) for reviewers and admins: the tenant's volume, approval / review / decline
rates, score distribution, the people's override rates and agreement with the model, by month, region, sector
and size class; and the latest monitoring run (PSI), read from ``PYMESCORE_MONITOR_DIR`` where ``pymescore
monitor --out`` writes it; the latest policy simulation (``PYMESCORE_POLICY_SIM_DIR``, ``pymescore simulate-policy
--out``) with its report at ``/app/panel/simulacion``. Officers and approvers get 403."""

from __future__ import annotations

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

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
    latest_policy_sim,
    since_of,
)
from pymescore.service.console._web import ENV, ConsoleError, current_user, lang_of, needs_role, render

DEFAULT_MONTHS = 12
#: the policy-simulation report is a self-contained page written by pymescore: its inline style and plots only
REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'; base-uri 'none'"
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
        sim_dir = state.settings.policy_sim_dir
        policy_sim = await anyio.to_thread.run_sync(lambda: latest_policy_sim(sim_dir))
        return render(request, "dashboard.html", d=data, months=months, periods=PERIODS, dimensions=DIMENSIONS,
                      outcomes=OUTCOMES, charts=charts, monitoring=monitoring, unreadable=unreadable,
                      monitor_dir=str(folder), policy_sim=policy_sim, policy_sim_dir=str(sim_dir))  # fmt: skip

    @router.get("/app/panel/simulacion")
    async def policy_simulation(request: Request) -> Response:
        """The latest ``pymescore simulate-policy`` report, for reviewers and admins."""
        user = await current_user(state, accounts, request)
        needs_role(user, "reviewer", "admin")
        path = state.settings.policy_sim_dir / "report.html"
        try:
            page = await anyio.to_thread.run_sync(lambda: path.read_text(encoding="utf-8"))
        except (FileNotFoundError, NotADirectoryError):
            raise ConsoleError(404, "dash_sim_none") from None
        return HTMLResponse(page, headers={"Content-Security-Policy": REPORT_CSP, "Cache-Control": "no-store"})

    return router
