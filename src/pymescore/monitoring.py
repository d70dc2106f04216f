"""Monitoring: how the decisions in the audit store compare with the model's training population.

PSI of the score and CSI of every feature against the bundle's training reference (``reference.json``),
approval / review / decline rates, and — for decisions whose 12-month outcome is now known in the lake — a
backtest (AUC, KS, observed vs predicted default rate per band). Thresholds follow industry practice
(PSI < 0.1 stable, 0.1-0.25 watch, > 0.25 act) and are configurable; the verdict is
``pymescore.evaluate.psi_verdict``'s, which fails closed: a PSI that cannot be computed (no score reference, a
feature missing from the decisions) is ``"unknown"``, and one on fewer decisions than ``Thresholds.min_n``
(200 by default; none at all included) is ``"insufficient"`` — sampling noise, not drift. Both are alerts like
``"act"``, never ``"stable"``. Per monthly cohort, the AUC, bad rate per band and default count are estimated
from the PDs before the outcomes arrive and set beside the realised figures once they do (``pymescore.cbpe``).
With a shadow challenger's decisions (``shadow_pairs``), the two models are compared on the same traffic
(``pymescore.evaluate.shadow_comparison``: agreement, swap-in / swap-out, score shift by segment). Results go to
JSON, HTML and a Prometheus textfile.

Nothing here reads the audit store or imports the service: the caller hands the decisions over
(``pymescore.pipelines.monitor_store`` reads them for the CLI and the scheduled job).
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
import json
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pymescore.bundle import Bundle
from pymescore.cbpe import CbpeConfig, cbpe_html, estimate_cohorts
from pymescore.errors import ConfigError
from pymescore.evaluate import (
    Verdict,
    assign_bands,
    binary_metrics,
    psi_against_reference,
    psi_verdict,
    shadow_comparison,
    worst_verdict,
)
from pymescore.evaluate._stability import ALERTS, MIN_PSI_SAMPLE, SEVERITY


@dataclass(frozen=True)
class Thresholds:
    watch: float = 0.1
    act: float = 0.25
    #: fewest decisions on which a PSI/CSI is read as drift; below it the verdict is "insufficient"
    min_n: int = MIN_PSI_SAMPLE

    def __post_init__(self) -> None:
        if not 0 < self.watch < self.act:
            raise ConfigError(f"thresholds: expected 0 < watch < act, got watch={self.watch}, act={self.act}")
        if self.min_n < 1:
            raise ConfigError(f"thresholds: expected a minimum sample size >= 1, got {self.min_n}")

    def verdict(self, value: float | None, n: int) -> Verdict:
        """``psi_verdict`` with these thresholds: ``"unknown"`` (an alert) for a missing or non-finite PSI,
        ``"insufficient"`` (an alert) for one computed on fewer than ``min_n`` decisions."""
        return psi_verdict(value, self.watch, self.act, n=n, min_n=self.min_n)


def _too_few(n: int, th: Thresholds) -> str:
    return (
        f"{n} decisiones, menos de las {th.min_n} que pide un PSI: sin veredicto de deriva / {n} decisions, fewer "
        f"than the {th.min_n} a PSI needs: no drift verdict (sampling noise alone moves a PSI past {th.act})"
    )


def _decision_frame(decisions: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    rows = []
    for d in decisions:
        response = d.get("response") or {}
        rows.append({
            "id": d["id"], "ruc": d["ruc"], "created_at": d["created_at"], "model_version": d["model_version"],
            "pd": float(d["pd"]), "score": float(d["score"]), "band": d["band"], "decision": d["decision"],
            "as_of": response.get("as_of"),
        })  # fmt: skip
    return pd.DataFrame(rows)


def _outcomes(
    frame: pd.DataFrame,
    tables: Mapping[str, pd.DataFrame] | None,
    outcomes_of: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
) -> np.ndarray | None:
    """The known 12-month outcome of each decision (1.0, 0.0, NaN); ``None`` without a lake or any ``as_of``.
    ``outcomes_of(rucs, as_ofs)`` instead of the lake's tables: the outcomes computed elsewhere (a Dask cluster,
    ``pymescore.features._partitioned.known_outcomes_distributed``)."""
    from pymescore.features import known_outcomes

    if (tables is None and outcomes_of is None) or frame["as_of"].notna().sum() == 0:
        return None
    rucs, as_ofs = frame["ruc"].to_numpy(dtype=object), frame["as_of"].to_numpy(dtype=object)
    y: np.ndarray = outcomes_of(rucs, as_ofs) if outcomes_of is not None else known_outcomes(tables, rucs, as_ofs)  # type: ignore[arg-type]
    return y


def _backtest(frame: pd.DataFrame, y: np.ndarray | None) -> dict[str, Any] | None:
    """Decisions whose 12-month window is observed in the lake, with their outcome."""
    if y is None:
        return None
    done = frame.assign(y=y).dropna(subset=["y"])
    done["y"] = done["y"].astype(int)
    if len(done) < 30 or done["y"].nunique() < 2:
        return {"n": len(done), "note": "fewer than 30 decisions with a known outcome, or only one outcome"}
    metrics = binary_metrics(done["y"].to_numpy(), done["pd"].to_numpy())
    bands = (
        done.groupby("band")
        .agg(n=("y", "size"), observed_default_rate=("y", "mean"), predicted_default_rate=("pd", "mean"))
        .reset_index()
    )
    return {"n": len(done), "metrics": metrics, "bands": bands.to_dict(orient="records")}


def monitor(
    bundle: Bundle,
    decisions: Sequence[Mapping[str, Any]],
    *,
    lake_tables: Mapping[str, pd.DataFrame] | None = None,
    thresholds: Thresholds | None = None,
    since: dt.datetime | None = None,
    cbpe: CbpeConfig | None = None,
    shadow_pairs: Sequence[Mapping[str, Any]] | None = None,
    outcomes_of: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
) -> dict[str, Any]:
    """The monitoring figures of ``decisions`` (rows of the audit store's ``decisions`` table), with the
    performance of each monthly cohort estimated from its PDs (``pymescore.cbpe``) beside the realised one; with
    ``shadow_pairs`` (``pymescore.service.shadow_pairs``), the champion-challenger comparison under ``"shadow"``."""
    th = thresholds or Thresholds()
    shadow = None if shadow_pairs is None else shadow_comparison(shadow_pairs)
    if not decisions:  # nothing to compare: insufficient data, an alert, never a quiet "stable"
        return {"n": 0, "status": "insufficient", "alert": True, "since": None if since is None else since.isoformat(),
                "min_n": th.min_n, "note": _too_few(0, th), "shadow": shadow}  # fmt: skip
    frame = _decision_frame(decisions)
    n = len(frame)
    reference = bundle.reference
    score_psi = psi_against_reference(reference["score"], frame["score"].to_numpy()) if "score" in reference else None
    csi: dict[str, dict[str, Any]] = {}
    features = pd.DataFrame([d.get("features") or {} for d in decisions])
    for name, ref in sorted(reference.get("features", {}).items()):
        if name not in features.columns:  # the decisions do not hold it: its CSI is unknown, not stable
            csi[name] = {"value": None, "verdict": th.verdict(None, n)}
            continue
        values = features[name]
        data = values.astype(object).to_numpy() if ref.get("kind") == "categorical" else pd.to_numeric(
            values, errors="coerce").to_numpy(dtype=np.float64)  # fmt: skip
        value = psi_against_reference(ref, data)
        csi[name] = {"value": round(float(value), 4), "verdict": th.verdict(value, n)}
    # the worst first: unknown, then by CSI
    csi = dict(sorted(csi.items(), key=lambda kv: -math.inf if kv[1]["value"] is None else -kv[1]["value"]))
    outcomes = _outcomes(frame, lake_tables, outcomes_of)
    counts = frame["decision"].value_counts()
    rates = {k: round(float(counts.get(k, 0) / len(frame)), 4) for k in ("approve", "review", "decline")}
    verdicts = [th.verdict(score_psi, n)] + [c["verdict"] for c in csi.values()]
    status = worst_verdict(verdicts)
    flagged = [name for name, c in csi.items() if c["verdict"] == "act"]
    watched = [name for name, c in csi.items() if c["verdict"] == "watch"]
    unknown = [name for name, c in csi.items() if c["verdict"] == "unknown"]
    out: dict[str, Any] = {
        "n": len(frame),
        "since": None if since is None else since.isoformat(),
        "period": [str(frame["created_at"].min()), str(frame["created_at"].max())],
        "model_version": bundle.version,
        "decisions_by_model": {str(k): int(v) for k, v in frame["model_version"].value_counts().items()},
        "rates": rates,
        "psi_score": {
            "value": None if score_psi is None else round(float(score_psi), 4),
            "verdict": th.verdict(score_psi, n),
        },
        "csi": csi,
        "flagged_features": flagged,
        "watched_features": watched,
        "unknown_features": unknown,
        "thresholds": asdict(th),
        "status": status,
        "alert": status in ALERTS,
        "min_n": th.min_n,
        "backtest": _backtest(frame, outcomes),
        "cbpe": estimate_cohorts(frame, features, reference, th, outcomes, cbpe, anchor=_anchor(bundle)),
        "score_mean": round(float(frame["score"].mean()), 2),
        "bands": {str(k): int(v) for k, v in pd.Series(assign_bands(frame["score"].to_numpy())).value_counts().items()},
        "shadow": shadow,
    }
    if n < th.min_n:
        out["note"] = _too_few(n, th)
    return out


def _anchor(bundle: Bundle) -> float | None:
    """The out-of-time test's realised AUC minus the AUC its PDs alone promise: how the PDs' shape misleads CBPE
    (calibrated on average, compressed at the top), measured where the outcomes are known; None for a bundle
    trained before it was recorded."""
    metrics = getattr(bundle, "metrics", None) or {}  # (a test stands a bare object in)
    realised = (metrics.get("test_metrics") or {}).get("auc")
    promised = metrics.get("test_expected_auc")
    return None if realised is None or promised is None else float(realised) - float(promised)


def write_outputs(result: Mapping[str, Any], out: Path) -> dict[str, Path]:
    """``monitor.json``, ``monitor.html`` (with a plot) and ``monitor.prom`` (Prometheus textfile format)."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "monitor.json", "html": out / "monitor.html", "prom": out / "monitor.prom"}
    _atomic(paths["json"], json.dumps(result, indent=1, ensure_ascii=False, default=str))
    _atomic(paths["html"], _html(result))
    _write_prom(result, paths["prom"])
    return paths


def _atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


#: a gauge's samples: (labels, value)
_Samples = list[tuple[dict[str, str], float]]


def _gauge(name: str, help_text: str, samples: _Samples) -> str:
    """One gauge in the Prometheus text exposition format (what node-exporter's textfile collector reads);
    ``help_text`` is one of this module's constant lines, label values are escaped."""

    def label(v: str) -> str:
        return v.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')

    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"]
    for labels, v in samples:
        where = ",".join(f'{k}="{label(x)}"' for k, x in labels.items())
        lines.append(f"{name}{{{where}}} {float(v)!r}" if where else f"{name} {float(v)!r}")  # repr: NaN as nan
    return "\n".join(lines) + "\n"


def _write_prom(result: Mapping[str, Any], path: Path) -> None:
    """``monitor.prom``: written whole to a temporary file, then moved over the old one (the collector never
    reads half a file). The status is written even without decisions: an unknown PSI is an alert."""
    status: _Samples = [({}, SEVERITY[result["status"]])]
    text = _gauge("pymescore_monitor_decisions", "Decisions in the monitored period", [({}, result["n"])])
    text += _gauge("pymescore_monitor_status", "Worst verdict: 0 stable, 1 watch, 2 act, 3 unknown (no PSI), "
                   "4 insufficient (too few decisions)", status)  # fmt: skip
    if result["status"] != "insufficient":  # a PSI on too few decisions is noise: no gauge a drift alert reads
        score = result["psi_score"]["value"]
        if score is not None:
            text += _gauge("pymescore_monitor_psi_score", "PSI of the score vs training", [({}, float(score))])
        csi = [({"feature": name}, c["value"]) for name, c in result["csi"].items() if c["value"] is not None]
        text += _gauge("pymescore_monitor_csi", "CSI of a feature vs training", csi)
        rates = [({"decision": k}, v) for k, v in result["rates"].items()]
        text += _gauge("pymescore_monitor_decision_rate", "Share of decisions by outcome", rates)
        bt = result.get("backtest") or {}
        if bt.get("metrics"):
            auc: _Samples = [({}, bt["metrics"]["auc"] or 0.0)]
            text += _gauge("pymescore_monitor_backtest_auc", "AUC on decisions with a known outcome", auc)
    text += _cbpe_gauges(result.get("cbpe"))
    sh = result.get("shadow") or {}
    if sh.get("n"):
        who = [({"challenger": str(sh["challenger_version"])}, sh["agreement"])]
        text += _gauge("pymescore_monitor_shadow_agreement", "Share of decisions the shadow challenger agrees on", who)
        who = [({"challenger": str(sh["challenger_version"])}, sh["swap_share"])]
        text += _gauge("pymescore_monitor_shadow_swap_share", "Share of decisions swapped in or out by the challenger",
                       who)  # fmt: skip
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def _cbpe_gauges(cbpe: Mapping[str, Any] | None) -> str:
    """Per cohort (the latest ``max_cohorts`` months: a bounded label): the estimated AUC, default rate and
    default count, whether the estimate is trusted, and the realised AUC where the outcomes are known."""
    if not cbpe or not cbpe["cohorts"]:
        return ""
    cohorts = cbpe["cohorts"]

    def per(key: str) -> _Samples:
        return [({"cohort": c["cohort"]}, c["estimated"][key]) for c in cohorts if c["estimated"][key] is not None]

    realised: _Samples = [({"cohort": c["cohort"]}, c["realised"]["auc"]) for c in cohorts
                          if c["realised"] and c["realised"]["auc"] is not None]  # fmt: skip
    trusted: _Samples = [({"cohort": c["cohort"]}, float(c["trustworthy"])) for c in cohorts]
    text = _gauge("pymescore_monitor_estimated_auc", "AUC of a cohort estimated from its PDs (CBPE)", per("auc"))
    text += _gauge("pymescore_monitor_estimated_default_rate", "Default rate of a cohort estimated from its PDs",
                   per("default_rate"))  # fmt: skip
    text += _gauge("pymescore_monitor_expected_defaults", "Expected defaults of a cohort (sum of PDs)",
                   per("expected_defaults"))  # fmt: skip
    text += _gauge("pymescore_monitor_estimate_trusted", "1 when a cohort's estimate is trusted, 0 when drift or "
                   "calibration makes it untrustworthy", trusted)  # fmt: skip
    text += _gauge("pymescore_monitor_realised_auc", "AUC of a cohort on its known 12-month outcomes", realised)
    return text


def _plot(result: Mapping[str, Any]) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    top = [(n, c) for n, c in result["csi"].items() if c["value"] is not None][:15]  # unknowns: in the table
    fig, ax = plt.subplots(figsize=(7, 0.32 * max(len(top), 3) + 1))
    score = result["psi_score"]["value"]
    names = ["score" if score is not None else "score (unknown)", *[n for n, _ in top]]
    values = [score or 0.0, *[c["value"] for _, c in top]]
    colours = ["#c0392b" if v >= result["thresholds"]["act"] else "#e67e22" if v >= result["thresholds"]["watch"]
               else "#27ae60" for v in values]  # fmt: skip
    ax.barh(names[::-1], values[::-1], color=colours[::-1])
    for x in (result["thresholds"]["watch"], result["thresholds"]["act"]):
        ax.axvline(x, color="grey", linestyle="--", linewidth=0.8)
    ax.set_xlabel("PSI / CSI vs training")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def _html(result: Mapping[str, Any]) -> str:
    e = html.escape
    if not result["n"]:
        return (
            "<!doctype html><meta charset='utf-8'><title>pymescore monitor</title><p>Datos insuficientes (alerta) / "
            f"insufficient data (an alert): {e(result['note'])}.</p>"
        )
    rows = "".join(
        f"<tr><td>{e(n)}</td><td>{'—' if c['value'] is None else format(c['value'], '.4f')}</td>"
        f"<td class='{e(c['verdict'])}'>{e(c['verdict'])}</td></tr>"
        for n, c in result["csi"].items()
    )
    bt = result.get("backtest") or {}
    backtest = "<p>No decision has a known 12-month outcome yet.</p>"
    if bt.get("metrics"):
        m = bt["metrics"]
        bands = "".join(
            f"<tr><td>{e(str(b['band']))}</td><td>{b['n']}</td><td>{b['observed_default_rate']:.2%}</td>"
            f"<td>{b['predicted_default_rate']:.2%}</td></tr>"
            for b in bt["bands"]
        )
        head = "<table><tr><th>band</th><th>n</th><th>observed</th><th>predicted</th></tr>"
        backtest = f"<p>{bt['n']} decisions with a known outcome: AUC {m['auc']:.3f}, KS {m['ks']:.3f}.</p>"
        backtest += head + bands + "</table>"
    r = result["rates"]
    return f"""<!doctype html><html lang="es"><meta charset="utf-8"><title>pymescore — monitoreo / monitoring</title>
<style>body{{font-family:sans-serif;max-width:60rem;margin:2rem auto}}td,th{{padding:.2rem .6rem;text-align:left}}
.act,.unknown,.insufficient{{color:#c0392b}}.watch{{color:#e67e22}}.stable{{color:#27ae60}}</style>
<h1>Monitoreo del modelo / Model monitoring</h1>
<p>Modelo / model {e(str(result["model_version"]))}; {result["n"]} decisiones / decisions,
{e(" – ".join(result["period"]))}.</p>
<p>Estado / status: <b class="{e(result["status"])}">{e(result["status"])}</b>. PSI del puntaje / score PSI:
{result["psi_score"]["value"]} ({e(result["psi_score"]["verdict"])}). Aprobación / approval {r["approve"]:.1%},
revisión / review {r["review"]:.1%}, rechazo / decline {r["decline"]:.1%}.</p>
{f"<p class='insufficient'><b>{e(result['note'])}</b></p>" if result.get("note") else ""}
<p>Variables con cambio fuerte / shifted features: {e(", ".join(result["flagged_features"]) or "—")}</p>
<p>Variables sin CSI (desconocido, alerta) / features without a CSI (unknown, an alert):
{e(", ".join(result["unknown_features"]) or "—")}</p>
<img alt="PSI / CSI" src="data:image/png;base64,{_plot(result)}">
<h2>CSI por variable / per feature</h2><table><tr><th>feature</th><th>CSI</th><th>verdict</th></tr>{rows}</table>
<h2>Backtest</h2>{backtest}
{cbpe_html(result.get("cbpe"))}
{_shadow_html(result.get("shadow"))}
</html>"""


def _shadow_html(sh: Mapping[str, Any] | None) -> str:
    """The champion-challenger section: agreement, swaps, score shift overall and by segment."""
    e = html.escape
    if sh is None:
        return ""
    if not sh.get("n"):
        return "<h2>Retador en sombra / Shadow challenger</h2><p>Sin decisiones en sombra / no shadow decisions.</p>"
    s, a = sh["score_shift"], sh["approval_rate"]
    rows = "".join(
        f"<tr><td>{e(seg)}</td><td>{e(r['value'])}</td><td>{r['n']}</td><td>{r['agreement']:.1%}</td>"
        f"<td>{r['swap_in']}</td><td>{r['swap_out']}</td><td>{r['mean']:+.1f}</td><td>{r['p10']:+.0f}</td>"
        f"<td>{r['p50']:+.0f}</td><td>{r['p90']:+.0f}</td></tr>"
        for seg, segment_rows in sh["by_segment"].items()
        for r in segment_rows
    )
    head = ("<tr><th>segment</th><th>value</th><th>n</th><th>agreement</th><th>swap-in</th><th>swap-out</th>"
            "<th>mean Δ</th><th>p10 Δ</th><th>p50 Δ</th><th>p90 Δ</th></tr>")  # fmt: skip
    return f"""<h2>Retador en sombra / Shadow challenger {e(str(sh["challenger_version"]))}</h2>
<p>{sh["n"]} decisiones con ambos modelos / decisions scored by both. Acuerdo / agreement {sh["agreement"]:.1%};
aprobación / approval: campeón / champion {a["champion"]:.1%}, retador / challenger {a["challenger"]:.1%}.
Swap-in (solo el retador aprueba / approved by the challenger only) {sh["swap_in"]["n"]}; swap-out (solo el
campeón / by the champion only) {sh["swap_out"]["n"]}. Cambio de puntaje / score shift (challenger − champion):
media / mean {s["mean"]:+.1f}, p10 {s["p10"]:+.0f}, p50 {s["p50"]:+.0f}, p90 {s["p90"]:+.0f}.</p>
<table>{head}{rows}</table>"""
