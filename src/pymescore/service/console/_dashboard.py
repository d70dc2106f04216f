"""The risk dashboard's figures for one tenant, aggregated in SQL: decisions and approval / review / decline
rates, mean score, and the people's override rates by month, region, sector and size class; the score
distribution; and the latest monitoring run (``monitor.json`` of ``pymescore monitor``), when there is one.

The audit store answers three grouped queries (decisions, human actions joined to their decisions, scores in
bins); each reads the decision's features once, in a subquery, so the page's cost grows with the number of
groups, not with the number of decisions handed to Python. Override rates use the regulator view's definition
(:func:`pymescore.service._regulator.override_rates`): every approve / decline action a person took.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from pymescore.contracts._reference import ciiu_section_label, ubigeo_districts
from pymescore.errors import PymescoreError
from pymescore.service._regulator import SIZE_NAMES, override_rates
from pymescore.service._store import AuditStore
from pymescore.service._tables import decisions
from pymescore.service.console._cases import DECIDING
from pymescore.service.console._tables import actions

#: the periods a reviewer may pick, in months back from the current one (0: every decision)
PERIODS = (3, 6, 12, 24, 0)
DIMENSIONS = ("month", "region", "sector", "size")
OUTCOMES = ("approve", "review", "decline")
SCORE_BIN = 20
NONE = "—"
#: Peru keeps UTC-5 all year (no daylight saving since 1994): months are Lima's
LIMA_OFFSET = dt.timedelta(hours=-5)


@dataclass
class Group:
    """One row of a dashboard table: a month, a region, a sector or a size class."""

    key: str
    label: str
    counts: Counter[str] = field(default_factory=Counter)
    score_sum: float = 0.0
    human: Counter[tuple[str, str]] = field(default_factory=Counter)

    @property
    def decisions(self) -> int:
        return sum(self.counts.values())

    def rate(self, outcome: str) -> float | None:
        return self.counts[outcome] / self.decisions if self.decisions else None

    @property
    def mean_score(self) -> float | None:
        return self.score_sum / self.decisions if self.decisions else None

    @property
    def overrides(self) -> dict[str, Any]:
        return override_rates(self.human)


@dataclass
class Dashboard:
    since: dt.datetime | None
    total: Group
    by: dict[str, list[Group]]
    scores: list[tuple[int, int]]  # (bin's lower bound, decisions)
    bands: dict[str, int]


def since_of(months: int, now: dt.datetime | None = None) -> dt.datetime | None:
    """The first instant (UTC) of the month ``months - 1`` before the current one in Lima; None for 0 (all)."""
    if months <= 0:
        return None
    local = (now or dt.datetime.now(dt.UTC)) + LIMA_OFFSET
    index = local.year * 12 + local.month - 1 - (months - 1)
    start = dt.datetime(index // 12, index % 12 + 1, 1, tzinfo=dt.UTC)
    return start - LIMA_OFFSET


def _month(dialect: str) -> sa.ColumnElement[str]:
    created = decisions.c.created_at
    if dialect == "postgresql":
        return sa.func.to_char(sa.func.timezone("America/Lima", created), "YYYY-MM")
    return sa.func.strftime("%Y-%m", created, "-5 hours")


def _keys(dialect: str, since: dt.datetime | None, tenant: str) -> sa.Subquery:
    """Each decision of the tenant with its month, region, sector and size class read from its features."""
    f = decisions.c.features
    q = sa.select(
        decisions.c.id, decisions.c.decision, decisions.c.score, _month(dialect).label("month"),
        f["department"].as_string().label("region"), f["ciiu_section"].as_string().label("sector"),
        f["size_class"].as_float().label("size"),
    ).where(decisions.c.tenant == tenant)  # fmt: skip
    if since is not None:
        q = q.where(decisions.c.created_at >= since)
    return q.subquery("k")


def figures(store: AuditStore, tenant: str, since: dt.datetime | None, lang: str = "es") -> Dashboard:
    """The dashboard of ``tenant``'s decisions created from ``since`` on (all when None)."""
    with store._tx() as conn:
        k = _keys(conn.dialect.name, since, tenant)
        dims = (k.c.month, k.c.region, k.c.sector, k.c.size)
        made = conn.execute(
            sa.select(*dims, k.c.decision, sa.func.count(), sa.func.sum(k.c.score)).group_by(*dims, k.c.decision)
        ).all()
        a = actions.c
        acted = conn.execute(
            sa.select(*dims, a.action, a.model_decision, sa.func.count())
            .select_from(k.join(actions, (a.decision_id == k.c.id) & (a.tenant == tenant)))
            .where(a.action.in_(DECIDING))
            .group_by(*dims, a.action, a.model_decision)
        ).all()
        bins = k.c.score // SCORE_BIN
        scored = conn.execute(sa.select(bins, sa.func.count()).group_by(bins).order_by(bins)).all()
        bands = _band_counts(conn, tenant, since)
    total = Group("total", "total")
    by: dict[str, dict[str, Group]] = {d: {} for d in DIMENSIONS}

    def groups(keys: tuple[Any, ...]) -> list[Group]:
        out = [total]
        for dim, value in zip(DIMENSIONS, keys, strict=True):
            key = _key(dim, value)
            if key not in by[dim]:
                by[dim][key] = Group(key, _label(dim, key, lang))
            out.append(by[dim][key])
        return out

    for *keys, outcome, n, score_sum in made:
        for g in groups(tuple(keys)):
            g.counts[str(outcome)] += int(n)
            g.score_sum += float(score_sum or 0)
    for *keys, action, model, n in acted:
        for g in groups(tuple(keys)):
            g.human[(str(action), str(model))] += int(n)
    ordered = {d: sorted(by[d].values(), key=lambda g: (g.key == NONE, g.key)) for d in DIMENSIONS}
    ordered["month"].reverse()  # the newest month first in the table
    return Dashboard(since, total, ordered, [(int(b) * SCORE_BIN, int(n)) for b, n in scored], bands)


def _band_counts(conn: sa.Connection, tenant: str, since: dt.datetime | None) -> dict[str, int]:
    q = sa.select(decisions.c.band, sa.func.count()).where(decisions.c.tenant == tenant).group_by(decisions.c.band)
    if since is not None:
        q = q.where(decisions.c.created_at >= since)
    return {str(b): int(n) for b, n in sorted(conn.execute(q).all())}


def _key(dim: str, value: Any) -> str:
    if value is None or value == "":
        return NONE
    if dim == "size":
        return SIZE_NAMES.get(float(value), str(value))
    return str(value)


@cache
def _departments() -> dict[str, str]:
    d = ubigeo_districts()
    return {str(code)[:2]: str(name) for code, name in zip(d["inei"], d["departamento"], strict=True)}


def _label(dim: str, key: str, lang: str) -> str:
    if dim == "sector" and key != NONE:
        return ciiu_section_label(key, lang, width=48)
    if dim == "region" and key != NONE:
        name = _departments().get(key.zfill(2)[:2])
        return f"{key} — {name.title()}" if name else key
    return key


# -- monitoring ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Monitoring:
    """What the dashboard shows of the latest monitoring run: model-wide figures, no other tenant's counts."""

    status: str  # stable | watch | act | unknown | insufficient
    psi: float | None
    psi_verdict: str
    period: tuple[str, str] | None
    model_version: str
    flagged: tuple[str, ...]
    watched: tuple[str, ...]
    written_at: dt.datetime


class MonitoringFileError(PymescoreError):
    code = "MONITORING_FILE_INVALID"


def latest_monitoring(folder: Path) -> Monitoring | None:
    """The run written by ``pymescore monitor --out folder``; None when there is none yet. A file that is not
    a monitoring result raises :class:`MonitoringFileError` naming the file and what was missing."""
    path = Path(folder) / "monitor.json"
    try:
        text, stat = path.read_text(encoding="utf-8"), path.stat()
    except (FileNotFoundError, NotADirectoryError):
        return None
    try:
        data = json.loads(text)
        status = str(data["status"])
        psi = (data.get("psi_score") or {}).get("value")
        period = data.get("period")
        return Monitoring(
            status, None if psi is None else float(psi), str((data.get("psi_score") or {}).get("verdict", status)),
            None if not period else (str(period[0])[:10], str(period[1])[:10]), str(data.get("model_version", "")),
            tuple(map(str, data.get("flagged_features", []))), tuple(map(str, data.get("watched_features", []))),
            dt.datetime.fromtimestamp(stat.st_mtime, dt.UTC),
        )  # fmt: skip
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise MonitoringFileError(f"{path}: expected the JSON that `pymescore monitor` writes (with a 'status'), "
                                  f"got {type(exc).__name__}") from exc  # fmt: skip
