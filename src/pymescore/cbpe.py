"""Performance estimated before the outcomes arrive (CBPE), per monthly cohort of decisions.

Defaults mature 12 months after the decision, so a backtest is a year late. With calibrated PDs the AUC, the
default rate per band and the default count of a cohort can be estimated from its PDs alone
(``pymescore.evaluate._cbpe``). The estimate is only as good as the calibration, so each cohort is marked
untrustworthy when

* its score PSI, or the CSI of a feature, against the training reference says ``act`` (the population moved),
* its own outcomes, once known, show calibration-in-the-large off by more than ``calibration_tolerance``
  (observed / expected defaults outside 1 ± tolerance, beyond two standard deviations of sampling noise), or
* for a cohort still waiting for its outcomes: one of the most recent realised cohorts (``recent_realised``),
  or all of them pooled, show that calibration drift.

When a cohort's outcomes arrive (``pymescore.features.known_outcomes``: whole 12-month windows only), the
realised AUC, default rate and bands stand beside the estimate. A cohort is the month of the decision's
``as_of`` (the observation date its outcome window starts from), else of the decision's ``created_at``.
Computation only; ``pymescore.monitoring`` writes the figures out (``cbpe_html`` renders its section).
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd

from pymescore.errors import ConfigError
from pymescore.evaluate import Verdict, binary_metrics, psi_against_reference
from pymescore.evaluate._cbpe import calibration_in_the_large, estimate_performance


class Thresholds(Protocol):
    """What the cohorts need of ``pymescore.monitoring.Thresholds``: the ``act`` level and its verdict."""

    @property
    def act(self) -> float: ...

    def verdict(self, value: float | None, n: int) -> Verdict: ...


#: fewest decisions with a known outcome for a cohort to count as realised
MIN_REALISED = 30
#: the gap between estimated and realised AUC the acceptance reads as agreement
AUC_AGREEMENT = 0.03


@dataclass(frozen=True)
class CbpeConfig:
    """``calibration_tolerance``: the relative gap of observed to expected defaults read as calibration drift;
    ``recent_realised``: how many of the latest realised cohorts judge the calibration of the pending ones;
    ``draws`` / ``level``: the Monte Carlo interval; ``max_cohorts``: the latest cohorts reported."""

    calibration_tolerance: float = 0.25
    recent_realised: int = 3
    draws: int = 200
    level: float = 0.9
    max_cohorts: int = 24

    def __post_init__(self) -> None:
        if not 0 < self.calibration_tolerance < 10:
            raise ConfigError(f"cbpe: expected a calibration tolerance in (0, 10), got {self.calibration_tolerance}")
        for name in ("recent_realised", "draws", "max_cohorts"):
            if getattr(self, name) < 1:
                raise ConfigError(f"cbpe: expected {name} >= 1, got {getattr(self, name)}")
        if not 0 < self.level < 1:
            raise ConfigError(f"cbpe: expected a level in (0, 1), got {self.level}")


def cohorts_of(frame: pd.DataFrame) -> pd.Series:
    """The cohort (``YYYY-MM``) of each decision: the month of its ``as_of``, else of its ``created_at``."""
    when = pd.to_datetime(frame["as_of"], errors="coerce", utc=True) if "as_of" in frame else None
    created = pd.to_datetime(frame["created_at"], errors="coerce", utc=True)
    moment = created if when is None else when.fillna(created)
    return moment.dt.strftime("%Y-%m").fillna("unknown")


def _bands(part: pd.DataFrame) -> list[dict[str, Any]]:
    rows = []
    for band, g in part.groupby("band", sort=True):
        known = g["y"].dropna()
        rows.append({
            "band": str(band), "n": len(g), "estimated_bad_rate": round(float(g["pd"].mean()), 5),
            "expected_defaults": round(float(g["pd"].sum()), 2), "n_realised": len(known),
            "realised_bad_rate": round(float(known.mean()), 5) if len(known) else None,
        })  # fmt: skip
    return rows


def _drift(part: pd.DataFrame, features: pd.DataFrame, reference: Mapping[str, Any], th: Thresholds) -> list[str]:
    """Why the cohort's population has moved: the score PSI and the CSIs that say ``act``."""
    n = len(part)
    reasons = []
    if "score" in reference:
        value = psi_against_reference(reference["score"], part["score"].to_numpy(dtype=np.float64))
        if th.verdict(value, n) == "act":
            reasons.append(f"PSI del puntaje / score PSI {value:.3f} >= {th.act}")
    moved = []
    for name, ref in reference.get("features", {}).items():
        if name not in features.columns:
            continue
        values = features.loc[part.index, name]
        data = values.astype(object).to_numpy() if ref.get("kind") == "categorical" else pd.to_numeric(
            values, errors="coerce").to_numpy(dtype=np.float64)  # fmt: skip
        if th.verdict(psi_against_reference(ref, data), n) == "act":
            moved.append(str(name))
    if moved:
        reasons.append(f"CSI >= {th.act}: {', '.join(sorted(moved))}")
    return reasons


def _calibration_reason(cal: Mapping[str, Any], whose: str) -> str:
    return (f"calibración desviada / calibration off ({whose}): observados / esperados = observed / expected "
            f"defaults {cal['observed']:.0f} / {cal['expected']:.0f} = {cal['ratio']}")  # fmt: skip


def estimate_cohorts(
    frame: pd.DataFrame,
    features: pd.DataFrame,
    reference: Mapping[str, Any],
    thresholds: Thresholds,
    outcomes: np.ndarray | None,
    config: CbpeConfig | None = None,
    anchor: float | None = None,
) -> dict[str, Any]:
    """Per monthly cohort: the estimate from the PDs, the realised figures where ``outcomes`` (aligned to
    ``frame``: 1.0, 0.0 or NaN) are known, and whether the estimate can be trusted, with the reasons."""
    cfg = config or CbpeConfig()
    data = frame.assign(cohort=cohorts_of(frame).to_numpy(),
                        y=np.full(len(frame), np.nan) if outcomes is None else outcomes)  # fmt: skip
    names = sorted(data["cohort"].unique())[-cfg.max_cohorts :]
    cohorts: list[dict[str, Any]] = []
    for name in names:
        part = data[data["cohort"] == name]
        est = estimate_performance(part["pd"].to_numpy(dtype=np.float64), draws=cfg.draws, level=cfg.level)
        if anchor is not None and est["auc"] is not None:  # the shape of the PDs' miscalibration, as on the test
            est["auc_from_pds"] = est["auc"]
            for key in ("auc", "auc_low", "auc_high"):
                if est.get(key) is not None:
                    est[key] = round(float(min(max(est[key] + anchor, 0.0), 1.0)), 4)
        entry: dict[str, Any] = {"cohort": name, "n": len(part), "estimated": est, "bands": _bands(part),
                                 "realised": None, "drift": _drift(part, features, reference, thresholds)}  # fmt: skip
        done = part.dropna(subset=["y"])
        if len(done) >= MIN_REALISED and done["y"].nunique() == 2:
            m = binary_metrics(done["y"].to_numpy(), done["pd"].to_numpy())
            cal = calibration_in_the_large(done["y"].to_numpy(), done["pd"].to_numpy(), cfg.calibration_tolerance)
            entry["realised"] = {"n": len(done), "auc": None if m["auc"] is None else round(float(m["auc"]), 4),
                                 "default_rate": round(float(done["y"].mean()), 5), "defaults": int(done["y"].sum()),
                                 "calibration": cal}  # fmt: skip
            entry["auc_gap"] = None if m["auc"] is None or est["auc"] is None else round(m["auc"] - est["auc"], 4)
        cohorts.append(entry)
    realised = [c for c in cohorts if c["realised"] is not None]
    recent = None
    if realised:
        pool = data[data["cohort"].isin([c["cohort"] for c in realised[-cfg.recent_realised :]])].dropna(subset=["y"])
        recent = calibration_in_the_large(pool["y"].to_numpy(), pool["pd"].to_numpy(), cfg.calibration_tolerance)
        recent["cohorts"] = [c["cohort"] for c in realised[-cfg.recent_realised :]]
        recent["off_cohorts"] = [
            c["cohort"] for c in realised[-cfg.recent_realised :] if c["realised"]["calibration"]["off"]
        ]
    for c in cohorts:
        reasons = list(c["drift"])
        if c["realised"] is not None and c["realised"]["calibration"]["off"]:
            reasons.append(_calibration_reason(c["realised"]["calibration"], "esta cohorte / this cohort"))
        elif c["realised"] is None and recent is not None and (recent["off"] or recent["off_cohorts"]):
            reasons.append(_calibration_reason(recent, "cohortes realizadas recientes / recent realised cohorts")
                           + f"; off: {', '.join(recent['off_cohorts']) or 'pooled'}")  # fmt: skip
        c["trustworthy"] = not reasons
        c["untrustworthy_reasons"] = reasons
    gaps = [abs(c["auc_gap"]) for c in realised if c.get("auc_gap") is not None]
    return {
        "config": asdict(cfg),
        "cohorts": cohorts,
        "recent_calibration": recent,
        "pending": [c["cohort"] for c in cohorts if c["realised"] is None],
        "untrustworthy": [c["cohort"] for c in cohorts if not c["trustworthy"]],
        "agreement": {
            "tolerance": AUC_AGREEMENT,
            "realised_cohorts": len(gaps),
            "within": sum(g <= AUC_AGREEMENT for g in gaps),
        },
    }


def _plot(cohorts: list[dict[str, Any]]) -> str:
    from pymescore.evaluate._plots import new_figure, to_data_uri

    x = np.arange(len(cohorts))
    est = [c["estimated"]["auc"] if c["estimated"]["auc"] is not None else np.nan for c in cohorts]
    low = [c["estimated"]["auc_low"] if c["estimated"]["auc_low"] is not None else np.nan for c in cohorts]
    high = [c["estimated"]["auc_high"] if c["estimated"]["auc_high"] is not None else np.nan for c in cohorts]
    real = [c["realised"]["auc"] if c["realised"] and c["realised"]["auc"] is not None else np.nan for c in cohorts]
    fig, (ax,) = new_figure(8, 3.6)
    ax.fill_between(x, low, high, color="#aed6f1", alpha=0.6, label="estimated (interval)")
    ax.plot(x, est, "o-", color="#2471a3", label="estimated AUC (CBPE)")
    ax.plot(x, real, "s", color="#1e8449", label="realised AUC")
    bad = [i for i, c in enumerate(cohorts) if not c["trustworthy"]]
    if bad:
        ax.plot(bad, [est[i] for i in bad], "x", color="#c0392b", markersize=11, mew=2, label="untrustworthy")
    ax.set_xticks(x, [c["cohort"] for c in cohorts], rotation=60, fontsize=7)
    ax.set_ylabel("AUC")
    ax.legend(fontsize=7, loc="lower left")
    return to_data_uri(fig)


def _pct(v: float | None) -> str:
    return "—" if v is None else f"{v:.2%}"


def _num(v: float | None) -> str:
    return "—" if v is None else f"{v:.3f}"


def cbpe_html(result: Mapping[str, Any] | None) -> str:
    """The monitor report's section: the plot (estimated vs realised AUC by cohort) and the tables."""
    e = html.escape
    if not result or not result["cohorts"]:
        return ""
    cohorts = result["cohorts"]
    rows = ""
    for c in cohorts:
        est, real = c["estimated"], c["realised"] or {}
        trust = "sí / yes" if c["trustworthy"] else "no: " + "; ".join(c["untrustworthy_reasons"])
        rows += (
            f"<tr><td>{e(c['cohort'])}</td><td>{c['n']}</td><td>{_num(est['auc'])} [{_num(est['auc_low'])}–"
            f"{_num(est['auc_high'])}]</td><td>{_num(real.get('auc'))}</td><td>{_pct(est['default_rate'])}</td>"
            f"<td>{_pct(real.get('default_rate'))}</td><td>{est['expected_defaults']:.0f} [{est['defaults_low']:.0f}–"
            f"{est['defaults_high']:.0f}]</td><td>{real.get('defaults', '—')}</td>"
            f"<td class='{'stable' if c['trustworthy'] else 'act'}'>{e(trust)}</td></tr>"
        )
    bands = sorted({b["band"] for c in cohorts for b in c["bands"]})
    band_rows = ""
    for c in cohorts:
        by_band = {b["band"]: b for b in c["bands"]}
        cells = "".join(
            f"<td>{_pct(by_band[b]['estimated_bad_rate'])} ({_pct(by_band[b]['realised_bad_rate'])})</td>"
            if b in by_band
            else "<td>—</td>"
            for b in bands
        )
        band_rows += f"<tr><td>{e(c['cohort'])}</td>{cells}</tr>"
    a = result["agreement"]
    return f"""<h2>Desempeño estimado antes de los resultados / Performance estimated before outcomes (CBPE)</h2>
<p>AUC, tasa de default y defaults esperados por cohorte mensual, estimados con las PD calibradas; al llegar los
resultados a 12 meses, la cifra realizada al lado. / Per monthly cohort, estimated from the calibrated PDs; the
realised figure beside it once the 12-month outcomes are known. Realised cohorts with |realised − estimated AUC|
≤ {a["tolerance"]}: {a["within"]} of {a["realised_cohorts"]}.</p>
<img alt="estimated vs realised AUC by cohort" src="{_plot(cohorts)}">
<table><tr><th>cohort</th><th>n</th><th>estimated AUC [interval]</th><th>realised AUC</th><th>estimated bad rate</th>
<th>realised bad rate</th><th>expected defaults [interval]</th><th>observed defaults</th><th>trustworthy</th></tr>
{rows}</table>
<h3>Tasa de default por banda: estimada (realizada) / Bad rate per band: estimated (realised)</h3>
<table><tr><th>cohort</th>{"".join(f"<th>{e(b)}</th>" for b in bands)}</tr>{band_rows}</table>"""
