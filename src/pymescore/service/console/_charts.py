"""Charts drawn on the server as inline SVG (no script): the last 24 months of income and expenses, and the
payment history as a timeline. Each chart has a title and a text summary for screen readers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

from markupsafe import Markup

W, H, LEFT, BOTTOM, TOP = 760, 240, 64, 36, 12


@dataclass(frozen=True)
class Chart:
    svg: Markup
    summary: str
    rows: Sequence[tuple[str, ...]]  # the data as a table (accessible alternative)


def _month(value: Any) -> str:
    return str(value)[:7]


def _short(value: float) -> str:
    if abs(value) >= 1e6:
        return f"{value / 1e6:.1f} M"
    if abs(value) >= 1e3:
        return f"{value / 1e3:.0f} k"
    return f"{value:.0f}"


def cashflow_chart(records: list[dict[str, Any]], as_of: str, lang: str) -> Chart | None:
    """Grouped bars of income and expenses per month, the 24 months before ``as_of`` (amounts as reported)."""
    cutoff = _month(as_of)
    by_month: dict[str, tuple[float, float]] = {}
    for r in records:
        month = _month(r.get("month"))
        if month < cutoff or (month == cutoff and as_of[8:10] not in ("", "01")):
            inc, exp = by_month.get(month, (0.0, 0.0))
            by_month[month] = (inc + float(r.get("income") or 0), exp + float(r.get("expenses") or 0))
    months = sorted(by_month)[-24:]
    if not months:
        return None
    top = max(max(by_month[m]) for m in months) or 1.0
    plot_w, plot_h = W - LEFT - 8, H - BOTTOM - TOP
    step = plot_w / len(months)
    bar = max(step * 0.38, 1.0)
    title = "Ingresos y gastos mensuales" if lang == "es" else "Monthly income and expenses"
    parts = [f'<svg viewBox="0 0 {W} {H}" width="100%" role="img" aria-labelledby="cf-title" '
             f'data-testid="result-cashflow-chart"><title id="cf-title">{escape(title)}</title>']  # fmt: skip
    for k in range(5):
        y = TOP + plot_h * k / 4
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{W - 8}" y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{_short(top * (4 - k) / 4)}</text>')
    for i, m in enumerate(months):
        inc, exp = by_month[m]
        x = LEFT + i * step + step * 0.1
        for j, (value, cls) in enumerate(((inc, "income"), (exp, "expenses"))):
            h = max(plot_h * max(value, 0) / top, 0)
            parts.append(f'<rect class="{cls}" x="{x + j * bar:.1f}" y="{TOP + plot_h - h:.1f}" width="{bar:.1f}" '
                         f'height="{h:.1f}"><title>{m}: {cls} {value:,.0f}</title></rect>')  # fmt: skip
        if i % 3 == 0 or len(months) <= 12:
            parts.append(f'<text x="{x + bar:.1f}" y="{H - BOTTOM + 16}" text-anchor="middle">{m}</text>')
    parts.append(f'<line class="axis" x1="{LEFT}" x2="{W - 8}" y1="{TOP + plot_h}" y2="{TOP + plot_h}"/></svg>')
    total_in = sum(by_month[m][0] for m in months)
    total_out = sum(by_month[m][1] for m in months)
    summary = (f"{len(months)} meses ({months[0]} a {months[-1]}): ingresos {total_in:,.0f}, gastos {total_out:,.0f}."
               if lang == "es" else
               f"{len(months)} months ({months[0]} to {months[-1]}): income {total_in:,.0f}, expenses "
               f"{total_out:,.0f}.")  # fmt: skip
    rows = [(m, f"{by_month[m][0]:,.0f}", f"{by_month[m][1]:,.0f}") for m in months]
    return Chart(Markup("".join(parts)), summary, rows)


def payment_timeline(records: list[dict[str, Any]], as_of: str, lang: str) -> Chart | None:
    """One mark per instalment due in the 24 months before ``as_of``: paid on time, late, or unpaid."""
    end = dt.date.fromisoformat(as_of[:10])
    start = dt.date(end.year - 2, end.month, 1)
    marks = []
    for r in records:
        due = dt.date.fromisoformat(str(r.get("due_date"))[:10])
        if not start <= due < end:
            continue
        paid = r.get("paid_date")
        paid_day = dt.date.fromisoformat(str(paid)[:10]) if paid else None
        if paid_day is None or paid_day >= end:
            kind, late = "unpaid", (end - due).days
        else:
            late = max((paid_day - due).days, 0)
            kind = "paid" if late == 0 else "late"
        marks.append((due, kind, late, str(r.get("loan_id", ""))))
    if not marks:
        return None
    span = (end - start).days or 1
    left = LEFT + 40  # room for a lane name of 10 characters
    lanes = sorted({m[3] for m in marks})[:8]
    lane_h = 22
    height = TOP + lane_h * len(lanes) + BOTTOM
    names = {"paid": ("a tiempo", "on time"), "late": ("con atraso", "late"), "unpaid": ("impaga", "unpaid")}
    title = "Historial de pagos" if lang == "es" else "Payment history"
    parts = [f'<svg viewBox="0 0 {W} {height}" width="100%" role="img" aria-labelledby="pt-title" '
             f'data-testid="result-payment-timeline"><title id="pt-title">{escape(title)}</title>']  # fmt: skip
    for k, lane in enumerate(lanes):
        y = TOP + lane_h * k + lane_h / 2
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{escape(_lane_name(lane))}</text>')
        parts.append(f'<line class="grid" x1="{left}" x2="{W - 8}" y1="{y:.1f}" y2="{y:.1f}"/>')
    for due, kind, late, lane in marks:
        if lane not in lanes:
            continue
        x = left + (W - left - 16) * (due - start).days / span
        y = TOP + lane_h * lanes.index(lane) + lane_h / 2
        label = names[kind][1 if lang == "en" else 0]
        parts.append(f'<circle class="{kind}" cx="{x:.1f}" cy="{y:.1f}" r="6"><title>{due}: {label}'
                     f"{f' ({late} d)' if late else ''}</title></circle>")  # fmt: skip
    ticks = ((start, "start"), (dt.date(start.year + 1, start.month, 1), "middle"), (end, "end"))  # none cut off
    for year_month, anchor in ticks:
        x = left + (W - left - 16) * (year_month - start).days / span
        parts.append(f'<text x="{x:.1f}" y="{height - 12}" text-anchor="{anchor}">{year_month.isoformat()[:7]}</text>')
    parts.append("</svg>")
    count = {k: sum(1 for m in marks if m[1] == k) for k in names}
    paid, late_n, unpaid = count["paid"], count["late"], count["unpaid"]
    summary = (f"{len(marks)} cuotas: {paid} a tiempo, {late_n} con atraso, {unpaid} impagas." if lang == "es" else
               f"{len(marks)} instalments: {paid} on time, {late_n} late, {unpaid} unpaid.")  # fmt: skip
    rows = [(str(d), lane, names[k][1 if lang == "en" else 0], str(late)) for d, k, late, lane in sorted(marks)]
    return Chart(Markup("".join(parts)), summary, rows)


def _lane_name(loan_id: str) -> str:
    """A loan's lane label of at most 10 characters that keeps both ends: loans of one lender share a prefix.

    >>> _lane_name("FIN-COMPARTAMOS-000123"), _lane_name("BANCO-04")
    ('FIN-…00123', 'BANCO-04')
    """
    return loan_id if len(loan_id) <= 10 else f"{loan_id[:4]}…{loan_id[-5:]}"
