"""The catalog as a Markdown document for reviewers."""

from __future__ import annotations

from pymescore.features._catalog import FEATURES
from pymescore.features._registry import GROUP_TITLES, registry_hash


def _range(lo: float | None, hi: float | None) -> str:
    return f"[{'-∞' if lo is None else f'{lo:g}'}, {'∞' if hi is None else f'{hi:g}'}]"


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
