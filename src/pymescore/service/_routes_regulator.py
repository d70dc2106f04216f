"""``GET /v1/regulator/aggregates``: the supervisor's view across institutions, aggregates only."""

import datetime as dt
from pathlib import Path
from typing import Annotated, Any

import anyio
import numpy as np
import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse

from pymescore.service import _applicant_requests as book
from pymescore.service._auth import needs
from pymescore.service._http import AUTH_RESPONSES
from pymescore.service._regulator import aggregates, overrides
from pymescore.service._state import ServiceState
from pymescore.service._store import Principal
from pymescore.service.console._tables import actions


def _human_actions(state: ServiceState) -> list[tuple[str, str, str]]:
    """The workbench's approve / decline actions across institutions: (tenant, action, the model's decision)."""
    q = sa.select(actions.c.tenant, actions.c.action, actions.c.model_decision).where(
        actions.c.action.in_(("approve", "decline"))
    )
    with state.store._tx() as conn:
        return [(str(t), str(a), str(m)) for t, a, m in conn.execute(q)]


def _outcomes(state: ServiceState, rows: list[dict[str, Any]]) -> dict[str, float] | None:
    """Decision id -> its 12-month outcome where the service's lake already shows it; None without a lake."""
    from pymescore.features import known_outcomes
    from pymescore.features._snapshot import read_lake_tables
    from pymescore.lake import Lake

    root = Path(state.settings.lake)
    if not (root / "_manifest.json").exists():
        return None
    if not rows:
        return {}
    tables = read_lake_tables(Lake(root))
    as_ofs = np.array([(r.get("response") or {}).get("as_of") for r in rows], dtype=object)
    y = known_outcomes(tables, np.array([r["ruc"] for r in rows], dtype=object), as_ofs)
    return {str(r["id"]): float(v) for r, v in zip(rows, y, strict=True) if not np.isnan(v)}


def regulator_router(state: ServiceState) -> APIRouter:
    router = APIRouter()

    @router.get("/v1/regulator/aggregates", tags=["regulator"], responses=AUTH_RESPONSES)
    async def regulator_aggregates(
        principal: Annotated[Principal, Depends(needs(state, "regulator"))],
        since: Annotated[dt.date | None, Query(description="Decisions from this day on (default: all).")] = None,
    ) -> JSONResponse:
        """Across institutions: decisions and approval / review / decline rates by institution, region, sector
        and size class (groups of fewer than 10 decisions suppressed); bad rates where the service's lake shows the
        whole 12-month outcome (of all decisions and of the approved ones; hidden under 10 known outcomes);
        overdue denial-reason requests; the people's override rates (high-side, low-side, agreement with the
        model) by institution. Never an individual decision: a regulator key reading one by id gets 404."""
        start = None if since is None else dt.datetime.combine(since, dt.time(), tzinfo=dt.UTC)
        rows = await state.store_call(lambda: state.store.recent(start))
        outcomes = await anyio.to_thread.run_sync(lambda: _outcomes(state, rows))
        out: dict[str, Any] = aggregates(rows, start, outcomes)
        from pymescore.service._scorer import today_lima

        out["overdue_reason_requests"] = await state.store_call(
            lambda: book.overdue_by_tenant(state.store, today_lima())
        )
        out["overrides"] = overrides(await state.store_call(lambda: _human_actions(state)))
        return JSONResponse(out, headers={"Cache-Control": "no-store"})

    return router
