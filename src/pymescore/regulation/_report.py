"""``pymescore portfolio``: the per-loan table, the summary by category, the migration matrix and the vintage
curves as Parquet and JSON, and one HTML page with their plots (Spanish, with English labels)."""

from __future__ import annotations

import functools
import html
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pymescore.evaluate._plots import MAIN_COLOR, new_figure, to_data_uri
from pymescore.files import write_atomic
from pymescore.lake import Lake
from pymescore.regulation._portfolio import (
    DPD_THRESHOLDS,
    Loans,
    as_of_day,
    loan_table,
    migration,
    migration_counts,
    migration_table,
    summary,
    vintage_counts,
    vintage_table,
    vintages,
)
from pymescore.regulation._rules import Regulation


def portfolio(lake: Path | str, as_of: object, out: Path, regulation: Regulation, guarantee: str = "none",
              months: int = 12, client: Any = None) -> dict[str, Any]:  # fmt: skip
    """Write the portfolio's files under ``out``; returns the summary as a dict (what the CLI prints). With
    ``client`` (a ``distributed.Client``) each RUC bucket of the lake is classified on its cluster and the parts'
    loan tables, migration counts and vintage counts are put together here (a debtor's loans are all in its
    bucket)."""
    at = as_of_day(as_of)
    if client is None:
        source = Lake(lake)
        loans = Loans.from_payments(source.read("payments"))
        flows = source.read_optional("monthly_cashflows")
        bureau = source.read_optional("bureau_ratings")
        table = loan_table(regulation, loans, at, flows, bureau, guarantee)
        moves = migration(regulation, loans, at, months)
        curves = vintages(loans, at)
    else:
        table, moves, curves = _distributed(Lake(lake).pinned(), at, regulation, guarantee, months, client)
    totals = summary(regulation, table)
    for name, frame in (("loans", table), ("summary", totals), ("migration", moves), ("vintages", curves)):
        write_atomic(out / f"{name}.parquet", functools.partial(_parquet, frame))
    result = {
        "as_of": str(at),
        "regulation": regulation.version,
        "guarantee": guarantee,
        "loans": len(table),
        "exposure_pen": round(float(table["exposure_pen"].sum()), 2),
        "provision_pen": round(float(table["provision_pen"].sum()), 2),
        "summary": json.loads(totals.to_json(orient="records")),
        "migration": json.loads(moves.to_json(orient="records")),
        "vintages": json.loads(curves.to_json(orient="records")),
        "sources": regulation.sources(),
    }
    text = json.dumps(result, indent=1, ensure_ascii=False)
    write_atomic(out / "portfolio.json", lambda path: path.write_text(text, encoding="utf-8"))
    page = _page(result, totals, moves, curves)
    write_atomic(out / "portfolio.html", lambda path: path.write_text(page, encoding="utf-8"))
    return result


def _part(
    part: int, root: str, manifest: dict[str, Any], parts: int, at: np.datetime64, regulation: Regulation,
    guarantee: str, months: int,
) -> tuple[pd.DataFrame, np.ndarray, pd.DataFrame]:  # fmt: skip
    """One bucket of firms: its loan table, migration counts and vintage counts."""
    lake = Lake(root, manifest=manifest)
    present = set(lake.tables())

    def read(table: str) -> pd.DataFrame | None:
        return lake.read_bucket(table, part, parts) if table in present else None

    loans = Loans.from_payments(lake.read_bucket("payments", part, parts))
    table = loan_table(regulation, loans, at, read("monthly_cashflows"), read("bureau_ratings"), guarantee)
    return table, migration_counts(regulation, loans, at, months), vintage_counts(loans, at)


def _distributed(
    lake: Lake, at: np.datetime64, regulation: Regulation, guarantee: str, months: int, client: Any
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    from pymescore.cluster import map_parts, workers_of
    from pymescore.features._partitioned import default_parts

    n = default_parts(lake, workers_of(client))
    kwargs = {"root": str(lake.root), "manifest": lake.manifest(), "parts": n, "at": at, "regulation": regulation,
              "guarantee": guarantee, "months": months}  # fmt: skip
    done = map_parts(client, _part, n, kwargs)
    table = pd.concat([d[0] for d in done], ignore_index=True)
    moves = migration_table(regulation, np.sum([d[1] for d in done], axis=0))
    curves = vintage_table(pd.concat([d[2] for d in done], ignore_index=True))
    return table, moves, curves


def _parquet(frame: pd.DataFrame, path: Path) -> None:
    frame.to_parquet(path, index=False)


def _provision_plot(totals: pd.DataFrame) -> str:
    fig, (ax,) = new_figure(6.4, 3.6)
    part = totals[totals["sbs_category"] != "Total"]
    ax.bar(part["sbs_category"], part["provision_pen"] / 1e3, color=MAIN_COLOR)
    ax.set_ylabel("Provisión / provision (miles de S/)")
    ax.set_title("Provisiones por categoría / provisions by category")
    return to_data_uri(fig)


def _migration_plot(moves: pd.DataFrame) -> str:
    fig, (ax,) = new_figure(6.4, 4.4)
    values = moves.drop(columns=["from", "loans"]).to_numpy(dtype=np.float64)
    ax.imshow(values, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(values.shape[1]), list(moves.columns[2:]), rotation=30, ha="right")
    ax.set_yticks(range(values.shape[0]), list(moves["from"]))
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            ax.text(j, i, f"{values[i, j]:.0%}", ha="center", va="center",
                    color="white" if values[i, j] > 0.5 else "black", fontsize=8)  # fmt: skip
    ax.set_xlabel("Mes siguiente / next month")
    ax.set_ylabel("Mes / month")
    ax.set_title("Migración mensual / monthly roll rates")
    return to_data_uri(fig)


def _vintage_plot(curves: pd.DataFrame, threshold: int = 30) -> str:
    fig, (ax,) = new_figure(6.4, 4.0)
    column = f"ever_{threshold}_plus"
    for cohort, part in curves.groupby("cohort"):
        ax.plot(part["months_on_book"], 100 * part[column], label=str(cohort), linewidth=1)
    ax.set_xlabel("Meses desde el desembolso / months on book")
    ax.set_ylabel(f"% con {threshold}+ días de atraso / % ever {threshold}+ DPD")
    ax.set_title(f"Cosechas: {threshold}+ días / vintages: {threshold}+ DPD")
    if curves["cohort"].nunique() <= 16:
        ax.legend(fontsize=7, ncols=2)
    return to_data_uri(fig)


def _table(frame: pd.DataFrame, money: tuple[str, ...] = (), share: tuple[str, ...] = ()) -> str:
    head = "".join(f"<th scope='col'>{html.escape(str(c))}</th>" for c in frame.columns)
    body = []
    for row in frame.itertuples(index=False):
        cells = []
        for c, v in zip(frame.columns, row, strict=True):
            text = f"{v:,.2f}" if c in money else f"{v:.1%}" if c in share else html.escape(str(v))
            cells.append(f"<td>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _source_item(s: dict[str, Any]) -> str:
    """One rule's source; an unverified one says so, and the note on its check follows when there is one."""
    flag = "" if s["verified"] else " <em>(por verificar contra el texto oficial / to be checked)</em>"
    note = f"<br><small>{html.escape(s['note'])}</small>" if s.get("note") else ""
    return f"<li>{html.escape(s['rule'])}: {html.escape(s['source'])}{flag}{note}</li>"


def _page(result: dict[str, Any], totals: pd.DataFrame, moves: pd.DataFrame, curves: pd.DataFrame) -> str:
    categories = [c for c in moves.columns if c not in ("from", "loans")]
    sources = "".join(_source_item(s) for s in result["sources"])
    plots = [_provision_plot(totals), _migration_plot(moves)]
    plots += [_vintage_plot(curves, d) for d in DPD_THRESHOLDS] if len(curves) else []
    images = "".join(f"<img src='{p}' alt='gráfico / chart'>" for p in plots)
    return f"""<!doctype html>
<html lang="es"><head><meta charset="utf-8"><title>Cartera al {result["as_of"]}</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#1d1d1d}}
table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #bbb;padding:4px 8px;text-align:right}}
img{{max-width:100%;display:block;margin:1em 0}}</style></head><body>
<h1>Cartera y provisiones al {result["as_of"]} / portfolio and provisions</h1>
<p>{result["loans"]:,} créditos vigentes; exposición S/ {result["exposure_pen"]:,.2f}; provisiones
S/ {result["provision_pen"]:,.2f}. Reglas: {html.escape(result["regulation"])};
garantía: {html.escape(result["guarantee"])}.
La categoría del deudor es la peor de sus créditos por días de atraso, alineada a la central de riesgos
(la calificación SBS reportada se toma como la de las entidades con 20% o más de la deuda: el lago no trae
las participaciones).</p>
<h2>Resumen por categoría / summary by category</h2>
{_table(totals, money=("exposure_pen", "provision_pen"), share=("provision_share",))}
<h2>Migración / roll rates</h2>
{_table(moves, share=tuple(categories))}
{images}
<h2>Fuentes / sources</h2><ul>{sources}</ul>
</body></html>
"""
