"""The catalog as a Markdown document and as a self-contained HTML page for reviewers."""

from __future__ import annotations

from html import escape

from pymescore.features._catalog import FEATURES
from pymescore.features._registry import GROUP_TITLES, registry_hash


def range_text(lo: float | None, hi: float | None) -> str:
    """A valid range as a reader says it, an open side as «sin límite» / «open» (never «[-∞, ∞]»).

    >>> range_text(0, 1), range_text(0, None), range_text(None, 5), range_text(None, None)
    ('[0, 1]', '≥ 0 (sin límite superior / open above)', '≤ 5 (sin límite inferior / open below)', 'sin límite / open')
    """
    if lo is not None and hi is not None:
        return f"[{lo:g}, {hi:g}]"
    if lo is not None:
        return f"≥ {lo:g} (sin límite superior / open above)"
    if hi is not None:
        return f"≤ {hi:g} (sin límite inferior / open below)"
    return "sin límite / open"


_range = range_text


def catalog_markdown() -> str:
    lines = [
        "# pymescore feature catalog",
        "",
        f"{len(FEATURES)} features; registry hash `{registry_hash(FEATURES)[:16]}`.",
        "Monotone: +1 = risk (PD) can only rise with the feature, -1 = can only fall, 0 = free.",
        "",
    ]
    for group, (es, en) in GROUP_TITLES.items():
        members = [f for f in FEATURES if f.group == group]
        if not members:
            continue
        lines += [f"## {en} / {es}", "", "| feature | description (en / es) | unit | range | monotone | reason when it lowers the score (es / en) | sources |", "|---|---|---|---|---|---|---|"]  # fmt: skip
        for f in members:
            mono = {1: "+1", -1: "-1", 0: "0"}[f.monotone]
            reason = f"{f.reason_es} / {f.reason_en}" if f.reason_en else "—"
            lines.append(
                f"| `{f.name}` | {f.description_en} / {f.description_es} | {f.unit} | {_range(*f.valid_range)} | "
                f"{mono}: {f.rationale} | {reason} | {', '.join(f.sources)} |"
            )
        lines.append("")
    return "\n".join(lines)


_STYLE = (
    "body{font-family:'DejaVu Sans',Helvetica,Arial,sans-serif;color:#1d2a30;margin:0 auto;max-width:1200px;"
    "padding:1.5rem 2rem;font-size:14px}table{border-collapse:collapse;margin:.6rem 0;font-size:13px}"
    "th,td{border:1px solid #d0d7da;padding:.25rem .5rem;text-align:left;vertical-align:top}th{background:#eef3f4}"
    "code{font-size:12px}"
)
_COLUMNS = ("Variable / feature", "Descripción / description", "Unidad / unit", "Rango válido / valid range",
            "Monótona / monotone", "Razón cuando baja el score / reason when it lowers the score",
            "Fuentes / sources")  # fmt: skip


def catalog_html() -> str:
    """The catalog as one self-contained HTML page (inline CSS, no scripts): a table per feature group."""
    head = "".join(f"<th>{escape(c)}</th>" for c in _COLUMNS)
    parts = [
        '<!DOCTYPE html>\n<html lang="es">\n<head><meta charset="utf-8">',
        f"<title>Catálogo de variables / feature catalog</title><style>{_STYLE}</style></head>\n<body>",
        "<h1>Catálogo de variables de pymescore / pymescore feature catalog</h1>",
        f"<p>{len(FEATURES)} variables / features; hash del registro / registry hash "
        f"<code>{escape(registry_hash(FEATURES)[:16])}</code>. Monótona / monotone: +1 = el riesgo (PD) solo puede "
        "subir con la variable / risk can only rise with the feature, -1 = solo puede bajar / can only fall, "
        "0 = libre / free.</p>",
    ]
    for group, (es, en) in GROUP_TITLES.items():
        members = [f for f in FEATURES if f.group == group]
        if not members:
            continue
        parts += [f"<h2>{escape(es)} / {escape(en)}</h2>", f"<table><thead><tr>{head}</tr></thead><tbody>"]
        for f in members:
            reason = f"{f.reason_es} / {f.reason_en}" if f.reason_en else "—"
            cells = (f"<code>{escape(f.name)}</code>", escape(f"{f.description_es} / {f.description_en}"),
                     escape(f.unit), escape(range_text(*f.valid_range)),
                     escape(f"{f.monotone:+d}: {f.rationale}" if f.monotone else f"0: {f.rationale}"),
                     escape(reason), escape(", ".join(f.sources)))  # fmt: skip
            parts.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
        parts.append("</tbody></table>")
    parts.append("</body>\n</html>\n")
    return "\n".join(parts)
