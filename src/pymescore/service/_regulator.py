"""The regulator's view: across tenants, aggregates only — never an individual decision.

A regulator key (scope ``regulator``) belongs to a tenant named ``regulator:<who>``, under which no decision
is ever stored (it cannot score), so every read of a decision by id answers 404. Its one route gives rates by
institution, region, sector and size class; a cell of fewer than ``MIN_CELL`` decisions is suppressed, so no
figure describes an identifiable firm. Bad rates come from the decisions whose 12-month outcome the service's
lake already shows (the join monitoring's backtest makes); a cell with fewer than ``MIN_CELL`` known outcomes
shows none.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pymescore.errors import PymescoreError
from pymescore.evaluate._fairness import SIZE_LABELS

PREFIX = "regulator:"
MIN_CELL = 10
DIMENSIONS = {"institution": None, "region": "department", "sector": "ciiu_section", "size_class": "size_class"}
#: the Ley 30056 classes by name, as the fairness slices call them, keyed as the features hold them (floats)
SIZE_NAMES = {float(k): v for k, v in SIZE_LABELS.items()}


def check_key(tenant: str, scopes: Sequence[str]) -> None:
    """A regulator key reads aggregates only: its tenant is ``regulator:<who>`` and it has no other scope; no
    institution's tenant may look like one."""
    if "regulator" in scopes and (not tenant.startswith(PREFIX) or len(set(scopes)) > 1):
        got = f"{tenant!r} with {','.join(scopes)}"
        raise PymescoreError(f"--tenant/--scopes: expected a regulator key as --tenant {PREFIX}<who> --scopes "
                             f"regulator (alone), got {got}", code="APIKEY_INVALID")  # fmt: skip
    if "regulator" not in scopes and tenant.startswith(PREFIX):
        raise PymescoreError(f"--tenant: {PREFIX}... is kept for regulator keys, got {tenant!r}", code="APIKEY_INVALID")


def aggregates(
    rows: Iterable[dict[str, Any]], since: dt.datetime | None = None, outcomes: Mapping[str, float] | None = None
) -> dict[str, Any]:
    """Decision counts and approval / review / decline rates by each dimension (cells under ``MIN_CELL``
    suppressed), from rows with ``id``, ``tenant``, ``decision`` and ``features``; with ``outcomes`` (decision id
    -> 1.0 default / 0.0 good, the ones known), the bad rate of all decisions and of the approved ones."""
    cells: dict[str, dict[str, Counter[str]]] = {d: defaultdict(Counter) for d in DIMENSIONS}
    total: Counter[str] = Counter()
    for row in rows:
        features = row.get("features") or {}
        counts = _counts(row, outcomes)
        total.update(counts)
        for dim, feature in DIMENSIONS.items():
            key = row["tenant"] if feature is None else features.get(feature)
            if dim == "size_class" and key is not None:
                key = SIZE_NAMES.get(float(key), str(key))
            cells[dim]["(sin dato)" if key is None else str(key)].update(counts)
    out: dict[str, Any] = {"since": None if since is None else since.isoformat(), "min_cell": MIN_CELL,
                           "outcomes": _outcomes_note(outcomes), "total": _rates(total)}  # fmt: skip
    for dim, groups in cells.items():
        shown = {k: _rates(c) for k, c in sorted(groups.items()) if c["decisions"] >= MIN_CELL}
        out[dim] = {"groups": shown, "suppressed_groups": len(groups) - len(shown)}
    return out


def _counts(row: dict[str, Any], outcomes: Mapping[str, float] | None) -> Counter[str]:
    counts = Counter({"decisions": 1, row["decision"]: 1})
    y = None if outcomes is None else outcomes.get(str(row["id"]))
    if y is not None:
        counts.update(known=1, bad=int(y == 1.0))
        if row["decision"] == "approve":
            counts.update(approved_known=1, approved_bad=int(y == 1.0))
    return counts


def _outcomes_note(outcomes: Mapping[str, float] | None) -> dict[str, Any]:
    if outcomes is None:
        return {"known": None, "note": "sin lago configurado: las tasas de malos necesitan los resultados a 12 meses "
                "/ no lake configured: bad rates need the 12-month outcomes (serve with --lake)"}  # fmt: skip
    return {"known": len(outcomes), "note": "decisiones cuyo resultado a 12 meses ya se observa en el lago / decisions "
            "whose 12-month outcome the lake already shows; bad rates hidden under 10 known outcomes"}  # fmt: skip


def _rates(c: Counter[str]) -> dict[str, Any]:
    n = c["decisions"]
    out: dict[str, Any] = {"decisions": n}
    out.update({f"{d}_rate": (c[d] / n if n else None) for d in ("approve", "review", "decline")})
    out["outcomes_known"] = c["known"]
    out["bad_rate"] = c["bad"] / c["known"] if c["known"] >= MIN_CELL else None
    out["approved_bad_rate"] = c["approved_bad"] / c["approved_known"] if c["approved_known"] >= MIN_CELL else None
    return out


def override_rates(counts: Mapping[tuple[str, str], int]) -> dict[str, Any]:
    """From counts of people's approve / decline actions by (action, the model's decision): how many, the high-side
    override rate (a person approves what the model declined), the low-side one (a person declines what the model
    approved) and the agreement with the model (None without any action). One definition for the regulator's view
    and the workbench's risk dashboard."""
    n = sum(counts.values())
    high = counts.get(("approve", "decline"), 0)
    low = counts.get(("decline", "approve"), 0)
    agree = sum(c for (action, model), c in counts.items() if action == model)
    return {"human_decisions": n, "high_side_override_rate": high / n if n else None,
            "low_side_override_rate": low / n if n else None, "agreement_rate": agree / n if n else None}  # fmt: skip


def overrides(actions: Iterable[tuple[str, str, str]], min_cell: int = MIN_CELL) -> dict[str, dict[str, Any]]:
    """Per institution, from its people's approve / decline actions (tenant, action, the model's decision): the
    :func:`override_rates`; institutions under ``min_cell`` actions hidden."""
    counts: dict[str, Counter[tuple[str, str]]] = defaultdict(Counter)
    for tenant, action, model in actions:
        counts[tenant][(action, model)] += 1
    return {t: override_rates(c) for t, c in sorted(counts.items()) if sum(c.values()) >= min_cell}
