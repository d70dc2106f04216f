"""The risk dashboard's charts, drawn on the server as inline SVG like the result page's (:mod:`._charts`):
decisions per month by outcome, the score distribution, and the people's override rates per month. Each has a
title and a text summary; the page's tables hold the same figures (the accessible alternative)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

from markupsafe import Markup

from pymescore.service.console._charts import BOTTOM, LEFT, TOP, Chart, W, _short
from pymescore.service.console._dashboard import OUTCOMES, SCORE_BIN, Group

H = 220
NAMES = {"approve": ("aprobadas", "approved"), "review": ("en revisión", "in review"),
         "decline": ("rechazadas", "declined"), "high": ("alza (aprobó lo rechazado)", "high-side"),
         "low": ("baja (rechazó lo aprobado)", "low-side")}  # fmt: skip


def axis(value: float) -> tuple[float, float]:
    """The axis' top and grid step: the step a round 1, 2 or 5 x 10^k, at most five steps up to the top, the
    top the first multiple of the step that holds ``value``."""
    step, k = 1.0, 0
    while math.ceil(value / step) > 5:
        step, k = step * (2.5 if k % 3 == 1 else 2.0), k + 1  # 1 -> 2 -> 5 -> 10 -> 20 -> 50 ...
    return max(math.ceil(value / step), 1) * step, step


def _name(key: str, lang: str) -> str:
    return NAMES[key][1 if lang == "en" else 0]


def _frame(testid: str, title: str, value: float, as_pct: bool = False) -> tuple[list[str], float]:
    """The SVG's opening, its grid and tick labels up to a round top that holds ``value``; returns the top."""
    plot_h = H - BOTTOM - TOP
    top, step = axis(100 * value if as_pct else value)
    parts = [f'<svg viewBox="0 0 {W} {H}" width="100%" role="img" aria-labelledby="{testid}-title" '
             f'data-testid="{testid}"><title id="{testid}-title">{escape(title)}</title>']  # fmt: skip
    for k in range(round(top / step) + 1):
        y = TOP + plot_h * (1 - k * step / top)
        tick = f"{k * step:g} %" if as_pct else _short(k * step)
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{W - 8}" y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{tick}</text>')
    return parts, top / 100 if as_pct else top


def _close(parts: list[str]) -> Markup:
    y = H - BOTTOM
    parts.append(f'<line class="axis" x1="{LEFT}" x2="{W - 8}" y1="{y}" y2="{y}"/></svg>')
    return Markup("".join(parts))


def months_chart(months: Sequence[Group], lang: str) -> Chart | None:
    """Stacked bars: each month's decisions by the model's outcome (oldest month on the left)."""
    shown = sorted((g for g in months if g.decisions), key=lambda g: g.key)[-24:]
    if not shown:
        return None
    plot_w, plot_h = W - LEFT - 8, H - BOTTOM - TOP
    step = plot_w / len(shown)
    title = "Decisiones por mes y resultado del modelo" if lang == "es" else "Decisions per month by model outcome"
    parts, top = _frame("dash-months-chart", title, max(g.decisions for g in shown))
    for i, g in enumerate(shown):
        x, base = LEFT + i * step + step * 0.15, float(TOP + plot_h)
        for outcome in OUTCOMES:
            h = plot_h * g.counts[outcome] / top
            base -= h
            parts.append(
                f'<rect class="{outcome}" x="{x:.1f}" y="{base:.1f}" width="{step * 0.7:.1f}" '
                f'height="{h:.1f}"><title>{g.key}: {g.counts[outcome]} {_name(outcome, lang)}</title></rect>'
            )
        if i % 3 == 0 or len(shown) <= 12:
            parts.append(f'<text x="{x + step * 0.35:.1f}" y="{H - BOTTOM + 16}" text-anchor="middle">{g.key}</text>')
    total = sum(g.decisions for g in shown)
    summary = (f"{total:,} decisiones en {len(shown)} meses ({shown[0].key} a {shown[-1].key})." if lang == "es"
               else f"{total:,} decisions in {len(shown)} months ({shown[0].key} to {shown[-1].key}).")  # fmt: skip
    rows = [(g.key, *(str(g.counts[o]) for o in OUTCOMES)) for g in shown]
    return Chart(_close(parts), summary, rows)


def score_chart(bins: Sequence[tuple[int, int]], lang: str) -> Chart | None:
    """Bars of decisions per score bin of :data:`SCORE_BIN` points."""
    if not bins:
        return None
    first, last = bins[0][0], bins[-1][0]
    counts = dict(bins)
    edges = list(range(first, last + SCORE_BIN, SCORE_BIN))
    plot_w, plot_h = W - LEFT - 8, H - BOTTOM - TOP
    step = plot_w / len(edges)
    title = "Distribución del puntaje" if lang == "es" else "Score distribution"
    parts, top = _frame("dash-score-chart", title, max(counts.values()))
    for i, edge in enumerate(edges):
        n = counts.get(edge, 0)
        h = plot_h * n / top
        x = LEFT + i * step + step * 0.08
        parts.append(f'<rect class="score" x="{x:.1f}" y="{TOP + plot_h - h:.1f}" width="{step * 0.84:.1f}" '
                     f'height="{h:.1f}"><title>{edge}-{edge + SCORE_BIN - 1}: {n}</title></rect>')  # fmt: skip
        if i % max(len(edges) // 10, 1) == 0:
            parts.append(f'<text x="{x:.1f}" y="{H - BOTTOM + 16}" text-anchor="start">{edge}</text>')
    total = sum(counts.values())
    summary = (f"{total:,} puntajes entre {first} y {last + SCORE_BIN - 1}, en tramos de {SCORE_BIN} puntos."
               if lang == "es" else
               f"{total:,} scores from {first} to {last + SCORE_BIN - 1}, in bins of {SCORE_BIN} points.")  # fmt: skip
    rows = [(f"{e}-{e + SCORE_BIN - 1}", str(counts.get(e, 0))) for e in edges]
    return Chart(_close(parts), summary, rows)


def overrides_chart(months: Sequence[Group], lang: str) -> Chart | None:
    """Grouped bars per month with people's decisions: the high-side and the low-side override rates."""
    shown = sorted((g for g in months if g.overrides["human_decisions"]), key=lambda g: g.key)[-24:]
    if not shown:
        return None
    rates = [(g, g.overrides["high_side_override_rate"], g.overrides["low_side_override_rate"]) for g in shown]
    plot_w, plot_h = W - LEFT - 8, H - BOTTOM - TOP
    step = plot_w / len(shown)
    bar = step * 0.36
    title = "Tasas de excepción por mes" if lang == "es" else "Override rates per month"
    parts, top = _frame("dash-overrides-chart", title, max(0.05, *(max(h, lo) for _, h, lo in rates)), as_pct=True)
    for i, (g, high, low) in enumerate(rates):
        x = LEFT + i * step + step * 0.14
        for j, (value, cls) in enumerate(((high, "high"), (low, "low"))):
            h = plot_h * value / top
            parts.append(
                f'<rect class="{cls}" x="{x + j * bar:.1f}" y="{TOP + plot_h - h:.1f}" width="{bar:.1f}" '
                f'height="{h:.1f}"><title>{g.key}: {_name(cls, lang)} {100 * value:.1f} %</title></rect>'
            )
        if i % 3 == 0 or len(shown) <= 12:
            parts.append(f'<text x="{x + bar:.1f}" y="{H - BOTTOM + 16}" text-anchor="middle">{g.key}</text>')
    n = sum(g.overrides["human_decisions"] for g in shown)
    summary = (f"{n:,} decisiones de personas en {len(shown)} meses." if lang == "es" else
               f"{n:,} people's decisions in {len(shown)} months.")  # fmt: skip
    rows = [(g.key, f"{100 * h:.1f} %", f"{100 * lo:.1f} %") for g, h, lo in rates]
    return Chart(_close(parts), summary, rows)
