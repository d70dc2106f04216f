"""Plots of the validation report, each returned as an inline ``data:image/png;base64,...`` URI.

matplotlib is an optional extra (``report``): it is imported inside ``new_figure`` only, and figures are
drawn on their own Agg canvas (no pyplot, no global state), so rendering is safe in threads and servers.
"""

from __future__ import annotations

import base64
import io
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_curve

from pymescore.errors import PymescoreError
from pymescore.evaluate._metrics import F64, calibration_table

if TYPE_CHECKING:
    from matplotlib.figure import Figure

INSTALL_HINT = "pip install pymescore[report]"
GOOD_COLOR = "#2a9d8f"
BAD_COLOR = "#e76f51"
MAIN_COLOR = "#264653"
_MAX_POINTS = 2000
_DPI = 100


def require(module: str) -> Any:
    """Import an optional dependency of the report, or raise ``PymescoreError`` with the install hint."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise PymescoreError(
            f"The validation report needs the optional package '{module}'. Got it missing instead; "
            f"install it with: {INSTALL_HINT}",
            code="EXTRA_MISSING",
            extra="report",
            package=module,
        ) from None


def new_figure(width: float = 6.4, height: float = 4.0, ncols: int = 1) -> tuple[Figure, list[Any]]:
    """A figure on an Agg canvas with ``ncols`` axes side by side."""
    require("matplotlib")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=_DPI, layout="constrained")
    FigureCanvasAgg(fig)
    axes = [fig.add_subplot(1, ncols, i + 1) for i in range(ncols)]
    for ax in axes:
        ax.grid(True, alpha=0.3)
    return fig, axes


def to_data_uri(fig: Figure) -> str:
    """The figure as an inline PNG data URI (no metadata, so no link to matplotlib's site)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=_DPI, metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _both_classes(y: F64) -> bool:
    return bool(0.0 < y.mean() < 1.0)


def _no_data(ax: Any, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="gray")


def roc_plot(y: F64, p: F64, auc: float | None) -> str:
    """ROC curve with the diagonal of a random model."""
    fig, (ax,) = new_figure(5.2, 4.6)
    ax.plot([0, 1], [0, 1], ls="--", color="gray", lw=1, label="Aleatorio / random")
    if _both_classes(y) and auc is not None:
        fpr, tpr, _ = roc_curve(y, p)
        ax.plot(fpr, tpr, color=MAIN_COLOR, lw=2, label=f"Modelo / model (AUC = {auc:.3f})")
    else:
        _no_data(ax, "Una sola clase: AUC no definido / one class: AUC undefined")
    ax.set(xlim=(0, 1), ylim=(0, 1.01), xlabel="Tasa de falsos positivos / FPR", ylabel="Tasa de verdaderos / TPR")
    ax.set_title("Curva ROC / ROC curve")
    ax.legend(loc="lower right", fontsize=8)
    return to_data_uri(fig)


def _ecdf(values: F64, grid: F64) -> F64:
    if len(values) == 0:
        return np.zeros_like(grid)
    return np.searchsorted(np.sort(values), grid, side="right") / len(values)


def ks_plot(y: F64, score: F64) -> str:
    """Cumulative score distributions of goods and bads with the KS point (largest vertical gap) marked."""
    fig, (ax,) = new_figure()
    grid = np.unique(score)
    bads, goods = score[y == 1], score[y == 0]
    f_bad, f_good = _ecdf(bads, grid), _ecdf(goods, grid)
    gap = f_bad - f_good
    at = int(np.argmax(gap))
    step = max(1, len(grid) // _MAX_POINTS)
    keep = np.union1d(np.arange(0, len(grid), step), [at, len(grid) - 1])
    ax.step(grid[keep], f_bad[keep], where="post", color=BAD_COLOR, lw=2, label="Malos / bads (y = 1)")
    ax.step(grid[keep], f_good[keep], where="post", color=GOOD_COLOR, lw=2, label="Buenos / goods (y = 0)")
    if len(bads) and len(goods):
        x = grid[at]
        ax.vlines(x, f_good[at], f_bad[at], color="black", lw=1.5, ls="--")
        ax.annotate(
            f"KS = {gap[at]:.3f}\nscore = {x:.0f}",
            xy=(x, (f_good[at] + f_bad[at]) / 2),
            xytext=(10, 0),
            textcoords="offset points",
            fontsize=9,
        )
    ax.set(xlabel="Score", ylabel="Proporción acumulada / cumulative share", ylim=(0, 1.02))
    ax.set_title("Estadístico KS / KS plot")
    ax.legend(loc="lower right", fontsize=8)
    return to_data_uri(fig)


def calibration_plot(y: F64, p: F64, ece: float, bins: int = 10) -> str:
    """Reliability diagram: observed default rate against mean PD per equal-frequency bin."""
    table = calibration_table(y, p, bins=bins)
    fig, (ax,) = new_figure(5.2, 4.6)
    top = float(max(table["mean_pd"].max(), table["observed_rate"].max(), 0.01)) * 1.1
    ax.plot([0, top], [0, top], ls="--", color="gray", lw=1, label="Calibración perfecta / perfect")
    ax.plot(table["mean_pd"], table["observed_rate"], marker="o", color=MAIN_COLOR, lw=2, label="Modelo / model")
    ax.set(xlim=(0, top), ylim=(0, top), xlabel="PD media / mean PD", ylabel="Tasa observada / observed rate")
    ax.set_title(f"Curva de calibración / reliability (ECE = {ece:.4f})")
    ax.legend(loc="upper left", fontsize=8)
    return to_data_uri(fig)


def score_distribution_plot(
    y: F64, score: F64, approve: float | None, review: float | None, bounds: list[float]
) -> str:
    """Overlaid score histograms (densities) of goods and bads, with the policy's approve and review cut-offs
    (none without a policy) and the band bounds."""
    fig, (ax,) = new_figure(7.5, 4.0)
    lo, hi = float(np.min(score)), float(np.max(score))
    edges = np.linspace(lo, hi if hi > lo else lo + 1.0, 41)
    for label, mask, color in (("Buenos / goods", y == 0, GOOD_COLOR), ("Malos / bads", y == 1, BAD_COLOR)):
        if mask.any():
            ax.hist(score[mask], bins=edges, density=True, alpha=0.5, color=color, label=f"{label} (n = {mask.sum()})")
    for b in bounds:
        if lo <= b <= hi:
            ax.axvline(b, color="gray", lw=0.8, ls=":")
    if approve is not None and review is not None:
        ax.axvline(approve, color="black", lw=1.5, ls="--", label=f"Aprobar / approve ≥ {approve:g}")
        ax.axvline(review, color="dimgray", lw=1.5, ls="-.", label=f"Revisión / review ≥ {review:g}")
    ax.set(xlabel="Score", ylabel="Densidad / density")
    ax.set_title("Distribución del score por resultado / score distribution by outcome")
    ax.legend(fontsize=8)
    return to_data_uri(fig)


def band_plot(table: pd.DataFrame) -> str:
    """Population share (bars) and bad rate (line) per band, best band first."""
    fig, (ax,) = new_figure(6.4, 3.8)
    x = np.arange(len(table))
    ax.bar(x, table["share"], color="#8ab17d", label="Participación / share")
    ax.set(xticks=x, xticklabels=list(table["band"]), xlabel="Banda / band", ylabel="Participación / share")
    twin = ax.twinx()
    twin.plot(x, table["bad_rate"], marker="o", color=BAD_COLOR, lw=2, label="Tasa de malos / bad rate")
    twin.set_ylabel("Tasa de malos / bad rate")
    twin.set_ylim(bottom=0)
    handles = ax.get_legend_handles_labels()[0] + twin.get_legend_handles_labels()[0]
    fig.legend(handles=handles, loc="outside lower center", ncols=2, fontsize=8)
    ax.set_title("Bandas de score / score bands")
    return to_data_uri(fig)


#: characters of a feature's label in the importance chart
_LABEL_WIDTH = 60


def importance_labels(data: pd.DataFrame) -> list[str]:
    """The chart's label of each row: its ``label`` (a feature's description) when given, else the feature's name;
    a long one cut with «…»."""
    column = "label" if "label" in data.columns else "feature"
    texts = [str(v) if isinstance(v, str) and v else str(f) for v, f in zip(data[column], data["feature"], strict=True)]
    return [t if len(t) <= _LABEL_WIDTH else t[: _LABEL_WIDTH - 1].rstrip() + "…" for t in texts]


def importance_plot(importance: pd.DataFrame, top: int = 20) -> str:
    """Horizontal bars of mean |SHAP| for the ``top`` features, coloured by feature group when given."""
    data = importance.sort_values("mean_abs_shap", ascending=False).head(top).iloc[::-1]
    fig, (ax,) = new_figure(7.5, max(3.0, 0.3 * len(data) + 1.2))
    y_pos = np.arange(len(data))
    if "group" in data.columns:
        groups = [str(g) for g in data["group"]]
        palette = _palette(sorted(set(groups)))
        colors = [palette[g] for g in groups]
        from matplotlib.patches import Patch

        ax.legend(handles=[Patch(color=c, label=g) for g, c in palette.items()], fontsize=7, loc="lower right")
    else:
        colors = [MAIN_COLOR] * len(data)
    ax.barh(y_pos, data["mean_abs_shap"].to_numpy(dtype=np.float64), color=colors)
    ax.set(yticks=y_pos, yticklabels=importance_labels(data),
           xlabel="Impacto medio |SHAP| en puntos / mean |SHAP| impact in points")  # fmt: skip
    ax.set_ylim(-0.6, len(data) - 0.4)
    ax.tick_params(axis="y", labelsize=8)
    ax.set_title(f"Importancia global (top {len(data)}) / global importance")
    return to_data_uri(fig)


def _palette(names: list[str]) -> dict[str, Any]:
    require("matplotlib")
    from matplotlib import colormaps

    cmap = colormaps["tab10"]
    return {name: cmap(i % 10) for i, name in enumerate(names)}


def fairness_plot(part: pd.DataFrame, slice_name: str) -> str:
    """Approval rate (AUC without a policy's rates) and observed bad rate / mean PD per group of one slice, side
    by side."""
    fig, (left, right) = new_figure(8.0, max(2.6, 0.32 * len(part) + 1.4), ncols=2)
    y_pos = np.arange(len(part))[::-1]
    labels = [f"{g} (n={n})" for g, n in zip(part["group"], part["n"], strict=True)]
    if "approval_rate" in part.columns:
        left.barh(y_pos, part["approval_rate"].to_numpy(dtype=np.float64), color=GOOD_COLOR)
        left.set(yticks=y_pos, yticklabels=labels, xlim=(0, 1), xlabel="Tasa de aprobación / approval rate")
    else:
        aucs = pd.to_numeric(part["auc"], errors="coerce").to_numpy(dtype=np.float64)
        left.barh(y_pos, np.nan_to_num(aucs, nan=0.0), color=MAIN_COLOR)
        left.set(yticks=y_pos, yticklabels=labels, xlim=(0, 1), xlabel="AUC por grupo / AUC per group")
    h = 0.4
    observed = part["observed_bad_rate"].to_numpy(dtype=np.float64)
    right.barh(y_pos + h / 2, observed, h, color=BAD_COLOR, label="observada / observed")
    right.barh(
        y_pos - h / 2, part["mean_pd"].to_numpy(dtype=np.float64), h, color="#f4a261", label="PD media / mean PD"
    )
    right.set(yticks=y_pos, yticklabels=[], xlabel="Tasa de malos / bad rate")
    fig.legend(handles=right.get_legend_handles_labels()[0], loc="outside lower right", ncols=2, fontsize=7)
    for ax in (left, right):
        ax.tick_params(axis="y", labelsize=8)
    fig.suptitle(f"Equidad / fairness: {slice_name}", fontsize=11)
    return to_data_uri(fig)


def cv_plot(folds: list[float], mean_auc: float | None) -> str:
    """AUC per cross-validation fold with the mean."""
    fig, (ax,) = new_figure(6.0, 3.2)
    x = np.arange(1, len(folds) + 1)
    ax.bar(x, folds, color=MAIN_COLOR)
    if mean_auc is not None:
        ax.axhline(mean_auc, color=BAD_COLOR, ls="--", lw=1.5, label=f"media / mean = {mean_auc:.3f}")
        ax.legend(fontsize=8, loc="lower right")
    low, high = (min(folds), max(folds)) if folds else (0.5, 1.0)
    ax.set(xticks=x, xlabel="Pliegue / fold", ylabel="AUC", ylim=(max(0.0, low - 0.1), min(1.0, high + 0.05)))
    ax.set_title("AUC por pliegue / AUC per fold")
    return to_data_uri(fig)
