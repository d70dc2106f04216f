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
from pymescore.service.console._cases import DECIDING
from pymescore.service.console._tables import actions, decision_slices

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


SLICED = decision_slices
#: no decision is older: the lower bound of "all time" (a bound on time lets the database read the slices' index)
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _month(dialect: str) -> sa.ColumnElement[str]:
    created = SLICED.c.created_at
    if dialect == "postgresql":
        return sa.func.to_char(sa.func.timezone("America/Lima", created), "YYYY-MM")
    return sa.func.strftime("%Y-%m", created, "-5 hours")


def _acted(tenant: str) -> sa.Subquery:
    """Per decision of the tenant with people's decisions: how many approvals and how many declines."""
    a = actions.c
    q = sa.select(
        a.decision_id, sa.func.sum(sa.case((a.action == "approve", 1), else_=0)).label("approvals"),
        sa.func.sum(sa.case((a.action == "decline", 1), else_=0)).label("declines"),
    ).where((a.tenant == tenant) & a.action.in_(DECIDING)).group_by(a.decision_id)  # fmt: skip
    return q.subquery("h")


def figures(store: AuditStore, tenant: str, since: dt.datetime | None, lang: str = "es") -> Dashboard:
    """The dashboard of ``tenant``'s decisions created from ``since`` on (all when None).

    Per dimension, one grouped query counts per group and model outcome the decisions, their scores and the
    people's approvals and declines on them (the model's decision an action departs from is its decision's,
    which every action records as ``model_decision``); one more groups scores and bands. The slices are the
    columns of migration 0007, read from its index: no JSON is parsed."""
    d = SLICED.c
    where = (d.tenant == tenant) & (d.created_at >= (since or EPOCH))
    by: dict[str, list[Group]] = {}
    with store._tx() as conn:
        h = _acted(tenant)
        keyed = {"month": _month(conn.dialect.name), "region": d.region, "sector": d.sector, "size": d.size_class}
        for dim, key in keyed.items():
            rows = conn.execute(
                sa.select(key, d.decision, sa.func.count(), sa.func.sum(d.score),
                          sa.func.coalesce(sa.func.sum(h.c.approvals), 0),
                          sa.func.coalesce(sa.func.sum(h.c.declines), 0))
                .select_from(SLICED.outerjoin(h, h.c.decision_id == d.id))
                .where(where)
                .group_by(key, d.decision)
            ).all()  # fmt: skip
            groups: dict[str, Group] = {}
            for value, outcome, n, score_sum, approvals, declines in rows:
                name = _key(dim, value)
                g = groups.setdefault(name, Group(name, _label(dim, name, lang)))
                g.counts[str(outcome)] += int(n)
                g.score_sum += float(score_sum or 0)
                g.human[("approve", str(outcome))] += int(approvals)
                g.human[("decline", str(outcome))] += int(declines)
            by[dim] = sorted(groups.values(), key=lambda g: (g.key == NONE, g.key))
        bins = (d.score // SCORE_BIN).label("bin")
        scored = conn.execute(sa.select(bins, d.band, sa.func.count()).where(where).group_by(bins, d.band)).all()
    by["month"].reverse()  # the newest month first in the table
    total = Group("total", "total")
    for g in by["month"]:  # every decision has a month: the months add up to the total
        total.counts.update(g.counts)
        total.score_sum += g.score_sum
        total.human.update(g.human)
    per_bin: Counter[int] = Counter()
    bands: Counter[str] = Counter()
    for b, band, n in scored:
        per_bin[int(b) * SCORE_BIN] += int(n)
        bands[str(band)] += int(n)
    return Dashboard(since, total, by, sorted(per_bin.items()), dict(sorted(bands.items())))


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


def latest_policy_sim(folder: Path) -> dict[str, Any] | None:
    """The comparison ``pymescore simulate-policy --out folder`` wrote (its summary's headline figures and when it
    was written); None when there is none, or when ``summary.json`` is not one (the page says so)."""
    path = Path(folder) / "summary.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        out = {
            "policies": {k: str(v) for k, v in data["policies"].items()},
            "rows": int(data["rows"]),
            "swap_in": int(data["swap_in"]["count"]),
            "swap_out": int(data["swap_out"]["count"]),
            "written_at": dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC),
            "report": (Path(folder) / "report.html").is_file(),
        }
        for which in ("current", "proposed"):
            figures = data[which]
            out[which] = {k: figures.get(k) for k in ("approval_rate", "expected_bad_rate", "expected_loss")}
        return out
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
