"""``pymescore simulate-policy``: the policy in force and a proposed one, on the same applications.

Both policies decide the same rows with the same model (one scoring pass: the model's PD and score do not depend
on the policy; only the cut-offs, knock-outs and capacity rule do). For each: approval / review / decline rates,
the expected bad rate of what it approves (mean PD), the observed one where the table has the outcome, and the
expected loss of the approved loans (PD × LGD × exposure, the exposure being the amount the policy grants). The
swap set names what changes hands: approved only under the proposal (swap-in) or only under the current policy
(swap-out). Effects by region, sector and size class, and a page with plots.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pymescore.bundle import Bundle
from pymescore.decision import Policy
from pymescore.errors import ConfigError
from pymescore.evaluate._fairness import SIZE_LABELS
from pymescore.evaluate._plots import BAD_COLOR, MAIN_COLOR, new_figure, to_data_uri
from pymescore.files import write_atomic
from pymescore.scoring import AMOUNT_COLUMNS, score

#: the segments the effects are shown by: feature -> title
SEGMENTS = {"department": "Región / region", "ciiu_section": "Sector", "size_class": "Tamaño / size class"}
#: a segment smaller than this is pooled into "otros" (no figure rests on a handful of firms)
MIN_SEGMENT = 30
#: the Ley 30056 classes by name, as the fairness slices call them, keyed as the features hold them (floats)
SIZE_NAMES = {float(k): v for k, v in SIZE_LABELS.items()}


def simulate_policy(
    bundle: Bundle,
    table: pd.DataFrame,
    current: Policy,
    proposed: Policy,
    *,
    target: str | None = None,
    amount: float = 50_000.0,
    term: int = 24,
) -> dict[str, Any]:
    """The comparison as a JSON-ready dict: ``current`` and ``proposed`` (rates, expected and observed bad rate,
    expected loss), ``swap_in`` / ``swap_out`` counts and bad rates, and ``segments``; rows without
    ``requested_amount`` / ``term_months`` are taken as asking ``amount`` (PEN) over ``term`` months."""
    frame = table.copy()
    if not all(c in frame.columns for c in AMOUNT_COLUMNS):
        frame["requested_amount"], frame["term_months"] = float(amount), int(term)
    if target is not None and target not in frame.columns:
        raise ConfigError(f"--target: expected a column of the table, got {target!r} (columns: "
                          f"{', '.join(map(str, frame.columns[:12]))}…)")  # fmt: skip
    a = score(bundle, frame, top=0, policy=current)
    b = score(bundle, frame, top=0, policy=proposed)
    y = None if target is None else pd.to_numeric(frame[target], errors="coerce").to_numpy(dtype=np.float64)
    approved_a, approved_b = a["decision"].to_numpy() == "approve", b["decision"].to_numpy() == "approve"
    pd_ = a["pd"].to_numpy(dtype=np.float64)
    out: dict[str, Any] = {
        "rows": len(frame),
        "policies": {"current": current.version, "proposed": proposed.version},
        "amounts": "table" if all(c in table.columns for c in AMOUNT_COLUMNS) else {"amount": amount, "term": term},
        "target": target,
        "current": _figures(a, y),
        "proposed": _figures(b, y),
    }
    for name, mask in (("swap_in", approved_b & ~approved_a), ("swap_out", approved_a & ~approved_b)):
        out[name] = {"count": int(mask.sum()), **_bad_rates(pd_[mask], None if y is None else y[mask])}
    out["segments"] = {
        feature: _segment(frame[feature], approved_a, approved_b, pd_)
        for feature in SEGMENTS
        if feature in frame.columns
    }
    return out


def _bad_rates(pd_: np.ndarray, y: np.ndarray | None) -> dict[str, Any]:
    known = None if y is None else y[~np.isnan(y)]
    return {
        "expected_bad_rate": float(pd_.mean()) if len(pd_) else None,
        "observed_bad_rate": float(known.mean()) if known is not None and len(known) else None,
        "outcomes_known": None if known is None else len(known),
    }


def _figures(scored: pd.DataFrame, y: np.ndarray | None) -> dict[str, Any]:
    decision = scored["decision"].to_numpy()
    approved = decision == "approve"
    n = len(decision)
    pd_ = scored["pd"].to_numpy(dtype=np.float64)
    return {
        "approved": int(approved.sum()),
        "approval_rate": float(approved.mean()) if n else None,
        **{f"{d}_rate": float((decision == d).mean()) if n else None for d in ("review", "decline")},
        **_bad_rates(pd_[approved], None if y is None else y[approved]),
        "expected_loss": float(scored["expected_loss"].to_numpy(dtype=np.float64)[approved].sum()),
        "granted_amount": float(scored["suggested_amount"].to_numpy(dtype=np.float64)[approved].sum()),
    }


def _segment(
    values: pd.Series, approved_a: np.ndarray, approved_b: np.ndarray, pd_: np.ndarray
) -> list[dict[str, Any]]:
    keys = values.map(lambda v: SIZE_NAMES.get(v, v) if isinstance(v, float) else v).astype(object)
    keys = keys.where(values.notna(), "(sin dato)").astype(str)
    counts = keys.value_counts()
    keys = keys.where(keys.map(counts) >= MIN_SEGMENT, "otros")
    rows = []
    for key, idx in keys.groupby(keys).groups.items():
        at = keys.index.get_indexer(idx)
        a, b = approved_a[at], approved_b[at]
        rows.append({
            "group": str(key), "n": len(at), "approve_rate_current": float(a.mean()),
            "approve_rate_proposed": float(b.mean()), "swap_in": int((b & ~a).sum()), "swap_out": int((a & ~b).sum()),
            "expected_bad_rate_proposed": float(pd_[at][b].mean()) if b.any() else None,
        })  # fmt: skip
    return sorted(rows, key=lambda r: -r["n"])


def write_outputs(result: dict[str, Any], out: Path) -> dict[str, Path]:
    """``summary.json`` and ``report.html`` (plots) under ``out``, each written whole or not at all."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "summary.json", "html": out / "report.html"}
    text = json.dumps(result, indent=1, ensure_ascii=False)
    write_atomic(paths["json"], lambda tmp: tmp.write_text(text, encoding="utf-8"))
    page = _page(result)
    write_atomic(paths["html"], lambda tmp: tmp.write_text(page, encoding="utf-8"))
    return paths


def _rates_plot(result: dict[str, Any]) -> str:
    fig, (ax,) = new_figure(6.4, 3.4)
    x = np.arange(3)
    for k, (which, color) in enumerate((("current", MAIN_COLOR), ("proposed", BAD_COLOR))):
        rates = [result[which]["approval_rate"], result[which]["review_rate"], result[which]["decline_rate"]]
        ax.bar(x + (k - 0.5) * 0.38, [100 * r for r in rates], 0.38, color=color,
               label="actual / current" if which == "current" else "propuesta / proposed")  # fmt: skip
    ax.set_xticks(x, ["aprobar / approve", "revisar / review", "rechazar / decline"])
    ax.set_ylabel("% de solicitudes / of applications")
    ax.set_title("Decisiones por política / decisions by policy")
    ax.legend()
    return to_data_uri(fig)


def _segment_plot(rows: list[dict[str, Any]], title: str) -> str:
    fig, (ax,) = new_figure(6.4, 0.5 + 0.28 * max(len(rows), 3))
    y = np.arange(len(rows))
    ax.barh(y - 0.2, [100 * r["approve_rate_current"] for r in rows], 0.4, color=MAIN_COLOR, label="actual / current")
    ax.barh(y + 0.2, [100 * r["approve_rate_proposed"] for r in rows], 0.4, color=BAD_COLOR,
            label="propuesta / proposed")  # fmt: skip
    ax.set_yticks(y, [r["group"] for r in rows])
    ax.invert_yaxis()
    ax.set_xlabel("% aprobado / approved")
    ax.set_title(f"Aprobación por {title}")
    ax.legend(fontsize=7)
    return to_data_uri(fig)


#: the summary's rows on the page: key -> label (rates as percentages, the rest as whole numbers)
LABELS = {
    "approval_rate": "Aprobación / approval rate", "review_rate": "A revisión / review rate",
    "decline_rate": "Rechazo / decline rate", "approved": "Aprobadas / approved",
    "expected_bad_rate": "Malos esperados / expected bad rate", "observed_bad_rate": "Malos observados / observed",
    "expected_loss": "Pérdida esperada (S/) / expected loss", "granted_amount": "Monto otorgado (S/) / granted",
}  # fmt: skip


def _cell(v: Any, key: str) -> str:
    if v is None:
        return "—"
    return f"{v:.1%}" if key.endswith("_rate") else f"{v:,.0f}"


def _page(result: dict[str, Any]) -> str:
    head = (
        "<tr><th scope='col'></th><th scope='col'>actual / current</th><th scope='col'>propuesta / proposed</th></tr>"
    )
    body = "".join(
        f"<tr><th scope='row'>{label}</th><td>{_cell(result['current'][k], k)}</td>"
        f"<td>{_cell(result['proposed'][k], k)}</td></tr>"
        for k, label in LABELS.items()
    )
    swaps = "".join(
        f"<tr><th scope='row'>{name}</th><td>{result[name]['count']:,}</td>"
        f"<td>{_cell(result[name]['expected_bad_rate'], '_rate')}</td>"
        f"<td>{_cell(result[name]['observed_bad_rate'], '_rate')}</td></tr>"
        for name in ("swap_in", "swap_out")
    )
    plots = [_rates_plot(result)]
    plots += [_segment_plot(rows, SEGMENTS[f]) for f, rows in result["segments"].items() if rows]
    images = "".join(f"<img src='{p}' alt='gráfico / chart'>" for p in plots)
    policies = result["policies"]
    return f"""<!doctype html>
<html lang="es"><head><meta charset="utf-8"><title>Simulación de política / policy simulation</title>
<style>body{{font-family:sans-serif;max-width:1000px;margin:2em auto;color:#1d1d1d}}
table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #bbb;padding:4px 8px;text-align:right}}
img{{max-width:100%;display:block;margin:1em 0}}</style></head><body>
<h1>Simulación de política / policy simulation</h1>
<p>{result["rows"]:,} solicitudes, el mismo modelo; política actual <code>{html.escape(policies["current"])}</code>,
propuesta <code>{html.escape(policies["proposed"])}</code>. Tasa de malos esperada: PD media de lo aprobado;
observada: donde la tabla trae el resultado ({html.escape(str(result["target"]))}). Pérdida esperada: PD × LGD × monto
otorgado de lo aprobado.</p>
<table><thead>{head}</thead><tbody>{body}</tbody></table>
<h2>Cambios / swap set</h2>
<table><thead><tr><th scope='col'></th><th scope='col'>n</th><th scope='col'>malos esperados / expected bad</th>
<th scope='col'>malos observados / observed bad</th></tr></thead><tbody>{swaps}</tbody></table>
{images}
</body></html>
"""
