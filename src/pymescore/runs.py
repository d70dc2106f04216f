"""What the CLI commands do, as functions: train a bundle, evaluate it, score a table, write a report."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pymescore.bundle import Bundle, save_bundle
from pymescore.errors import ConfigError, MissingColumnError, SourceUnreadableError
from pymescore.evaluate import (
    assign_bands,
    band_table,
    bands_monotone,
    binary_metrics,
    fairness_gaps,
    fairness_table,
    reference_bins,
    sme_slices,
)
from pymescore.evaluate._fairness import MIN_GROUP_N
from pymescore.features._adapter import snapshot_domain
from pymescore.model import TrainConfig, TrainResult, score_from_pd, train
from pymescore.model._data import _times, parse_target, row_number
from pymescore.model._typing import unreadable

POLICY_CUTOFF = 570


def read_table(path: Path) -> pd.DataFrame:
    """A CSV or Parquet table (CSV: ``.gz`` allowed; TSV by extension)."""
    path = Path(path)
    if not path.is_file():
        raise SourceUnreadableError(f"{path}: expected a CSV or Parquet file, got no such file")
    name = path.name.lower()
    try:
        if name.endswith((".parquet", ".pq")):
            frame = pd.read_parquet(path)
        elif name.endswith((".csv", ".csv.gz", ".tsv", ".tsv.gz", ".txt")):
            sep = "\t" if ".tsv" in name else ","
            frame = pd.read_csv(path, sep=sep, low_memory=False)
        else:
            frame = None
    except Exception as exc:  # the parsers' own errors
        first = (str(exc).splitlines() or [type(exc).__name__])[0]
        hint = ""
        if "tokenizing" in first or "No columns" in first:
            hint = (
                "; a CSV needs a header row and commas between fields (a ';'-separated export: save it as "
                "CSV UTF-8 with commas, or as Parquet)"
            )
        raise SourceUnreadableError(f"{path}: expected a readable table, got an error ({first}){hint}") from exc
    if frame is not None:
        if frame.shape[1] == 1 and ";" in str(frame.columns[0]):
            raise SourceUnreadableError(
                f"{path}: expected fields separated by commas, got one column named {str(frame.columns[0])[:60]!r} "
                "(a ';'-separated export); save it as CSV UTF-8 with commas, or as Parquet"
            )
        frame.attrs["source"] = str(path)
        lineage = _lineage(path, len(frame))
        if lineage is not None:
            frame.attrs["lineage"] = lineage
        return frame
    raise SourceUnreadableError(f"{path}: expected a .csv(.gz), .tsv(.gz) or .parquet file, got '{path.suffix}'")


def _lineage(path: Path, rows: int) -> dict[str, Any] | None:
    """A snapshot's lineage record beside it (its default definition, dates), when it describes this file: a
    record that does not parse, or counts other rows (a stale one beside a replaced file), is not used —
    it only informs the model card, so it never stops a command."""
    sidecar = path.with_name(path.name + ".lineage.json")
    if not sidecar.is_file():
        return None
    try:
        record = json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("rows") not in (None, rows):
        return None
    return record


def _context_from_snapshot(frame: pd.DataFrame) -> dict[str, Any] | None:
    """The regional/sector context of the latest observation date, as the snapshot's rows carry it."""
    if "as_of" not in frame.columns or "department" not in frame.columns:
        return None
    latest = frame[frame["as_of"] == frame["as_of"].max()]

    def table(key: str, cols: dict[str, str]) -> dict[str, dict[str, float]]:
        rows = latest.dropna(subset=[key]).groupby(key, observed=True)[list(cols)].first()
        return {str(k): {cols[c]: float(v) for c, v in r.items() if pd.notna(v)} for k, r in rows.iterrows()}

    return {
        "as_of": str(pd.Timestamp(latest["as_of"].iloc[0]).date()),
        "by_department": table("department", {"region_income_growth_12m": "income_growth_12m",
                                              "region_delinquency_rate_12m": "delinquency_rate_12m"}),
        "by_section": table("ciiu_section", {"sector_income_growth_12m": "income_growth_12m",
                                             "sector_delinquency_rate_12m": "delinquency_rate_12m"}),
    }  # fmt: skip


#: a group's mean PD this far from its observed rate (relative) is named in the model card
_GROUP_CALIBRATION_TOLERANCE = 0.25


def _model_card(result: TrainResult, dataset: str, test_metrics: dict[str, Any] | None, metrics: dict[str, Any]) -> str:
    r = result.report
    m = result.model
    use = (
        "Probability of default (PD) over 12 months and a score (300-850) for credit decisions on Peruvian SMEs"
        if r["snapshot"]
        else f"Probability of `{r['target']}` and a score (300-850) on the population this table describes"
    )
    dates = metrics.get("observation_dates") or {}
    lines = [
        "# Model card — pymescore",
        "",
        "## Intended use",
        f"{use}, with reasons for every decision.",
        "It supports a human credit decision; it is not meant to be the only basis of a refusal.",
        "",
        "## Data",
        f"- Training table: {dataset}; target `{r['target']}`"
        + (f" (default = {r['positive']!r})" if r["positive"] else " (1 = default)"),
        f"- Default definition: {metrics.get('default_definition') or 'the target column as given'}",
    ]
    if dates:
        lines.append(
            f"- Observation dates: development {', '.join(dates.get('development', [])) or 'none'}; "
            f"test {', '.join(dates.get('test', [])) or 'none'}"
        )
    lines += [
        f"- Rows used: {r['rows']['used']:,} (excluded without target: {r['rows']['excluded_no_target']:,}); "
        f"development {r['rows']['development']:,}, test {r['rows']['test']:,} ({r['test_kind'] or 'none'}"
        + (f": {', '.join(r['test_dates'])}" if r["test_dates"] else "")
        + ")"
        + (
            f"; embargo: {r['rows']['embargoed']:,} earlier rows left out of development, their 12-month outcome "
            "window ending after the first test date"
            if r.get("embargo")
            else ""
        ),
        f"- Group column: {r['group_col'] or 'none'}; time column: {r['time_col'] or 'none'}"
        + (
            f"; {r['rows']['test_groups_in_development']:,} of the {r['rows']['test_groups']:,} test groups also "
            "have development rows (the test is across time, not across entities)"
            if r["rows"].get("test_groups")
            else ""
        ),
        "- Cells the typing could not read (trained on as missing; scoring refuses them): "
        + (", ".join(f"{c} {n:,}" for c, n in (r.get("unreadable_cells") or {}).items()) or "none"),
        "",
        "## Model",
        f"- Families: {', '.join(c['name'] for c in r['candidates'])}; weights in the log-odds blend: XGBoost "
        f"{m.weight:.1f}, scorecard {1 - m.weight - m.linear_weight:.1f}, logistic {m.linear_weight:.1f}; "
        f"calibration {m.calibrator.method}",
        f"- Score: {m.scale.base_score:g} points at odds {m.scale.base_odds:g}:1, {m.scale.pdo:g} points to double "
        f"the odds, clipped to [{m.scale.low:g}, {m.scale.high:g}]",
        f"- Monotone features: {sum(1 for f in m.features if f.monotone != 0)} of {len(m.features)}",
    ]
    tuning = r.get("tuning") or {}
    if m.booster is not None and tuning:
        lines.append(
            f"- XGBoost: {m.booster.num_boosted_rounds()} trees; {tuning['trials']} tuning trials (Optuna TPE); "
            + (
                "rounds where the best trial's mean validation AUC over the tuning folds peaked"
                if tuning.get("rounds")
                else "rounds by early stopping on 10% of the development rows held out (whole firms when grouped)"
            )
        )
    lines += [
        "",
        "## Validation",
        f"- Cross-validation (grouped, stratified, {len(r['cv']['folds'])} folds): mean of the fold AUCs "
        f"{r['cv']['mean_auc']:.4f} ± {r['cv']['std_auc']:.4f}",
    ]
    if test_metrics:
        lines.append(
            f"- Test ({r['test_kind']}): AUC {test_metrics['auc']:.4f}, KS {test_metrics['ks']:.4f}, "
            f"Brier {test_metrics['brier']:.4f}, ECE {test_metrics['ece']:.4f}, n {test_metrics['n']:,}"
        )
        ratio = _calibration_ratio(test_metrics)
        if ratio is not None:
            lines.append(
                f"- Calibration in the large on the test: mean PD {test_metrics['mean_pd']:.2%} against an observed "
                f"rate of {test_metrics['positive_rate']:.2%} ({ratio - 1:+.0%}); a gap beyond ±10% calls for "
                "recalibration on recent outcomes before use"
            )
    lines += ["", "## Fairness"]
    gaps = metrics.get("fairness_gaps") or {}
    if gaps:
        floor = int(metrics.get("fairness_min_group_n", MIN_GROUP_N))
        lines.append(
            f"On the test rows (groups of at least {floor}; smaller ones are listed in `metrics.json` but not "
            "counted). Largest differences between groups:"
        )
        for name, gap in gaps.items():
            parts = [f"{k.replace('_', ' ')} {v:.3f}" for k, v in gap.items() if isinstance(v, float)]
            lines.append(f"- {name}: {'; '.join(parts) or 'fewer than two groups large enough'}")
        # a group is compared with the test's own ratio: a model off everywhere is one finding
        overall = _calibration_ratio(test_metrics) or 1.0
        off = [
            g for g in metrics.get("fairness") or []
            if g.get("n", 0) >= floor and g.get("observed_bad_rate") and g.get("mean_pd") is not None
            and abs(g["mean_pd"] / g["observed_bad_rate"] / overall - 1) > _GROUP_CALIBRATION_TOLERANCE
        ]  # fmt: skip
        if off:
            lines.append(
                f"Groups whose mean PD is more than {_GROUP_CALIBRATION_TOLERANCE:.0%} further off their observed "
                "rate than the whole test's (the model over- or under-states their risk; review before promotion):"
            )
            lines += [
                f"- {g['slice']} = {g['group']}: mean PD {g['mean_pd']:.2%}, observed {g['observed_bad_rate']:.2%} "
                f"(n {g['n']:,}, approval {g['approval_rate']:.1%})"
                for g in off
            ]
        lines.append("Sector and region enter the model as features; review these gaps before promotion.")
    else:
        lines.append("No fairness slices (not an SME snapshot, or no test rows).")
    lines += [
        "",
        "## Limitations",
        "- Trained on the population and period in the data; a shift (a regional shock, a new product) needs "
        "monitoring (PSI/CSI against `reference.json`: on a snapshot, the latest observation date's rows and "
        "the final model's scores on them; otherwise every training row) and retraining.",
        "- Firms with short histories get missing features, flagged by `has_*` columns; the model was not "
        "built to punish thin files, but their scores are less certain.",
        "- Government-guaranteed or reprogrammed loans can hide distress (zero days past due).",
    ]
    return "\n".join([*lines, "", *_card_summary_es(result, test_metrics, metrics)]) + "\n"


def _calibration_ratio(test_metrics: dict[str, Any] | None) -> float | None:
    """Mean PD over the observed rate on the test (1 = calibrated in the large); None without both."""
    if not test_metrics or not test_metrics.get("positive_rate") or test_metrics.get("mean_pd") is None:
        return None
    return float(test_metrics["mean_pd"]) / float(test_metrics["positive_rate"])


def _card_summary_es(result: TrainResult, test_metrics: dict[str, Any] | None, metrics: dict[str, Any]) -> list[str]:
    """The card's key facts in Spanish, for the reviewer and the supervisor who read it in Spanish."""
    r = result.report
    dates = metrics.get("observation_dates") or {}
    out = [
        "## Resumen en español",
        "- Uso previsto: probabilidad de default (PD) a 12 meses y puntaje (300-850) para decisiones de crédito, "
        "con las razones de cada decisión; apoya la decisión de un analista, no la reemplaza.",
        f"- Objetivo `{r['target']}`; definición de default: "
        f"{metrics.get('default_definition') or 'la columna objetivo tal como viene'}.",
        f"- Filas: desarrollo {r['rows']['development']:,}, prueba {r['rows']['test']:,} "
        f"({r['test_kind'] or 'sin prueba'})"
        + (
            f"; fechas de observación: desarrollo {', '.join(dates.get('development', [])) or '—'}, "
            f"prueba {', '.join(dates.get('test', [])) or '—'}"
            if dates
            else ""
        )
        + ".",
        f"- Validación cruzada agrupada y estratificada: AUC medio de los pliegues {r['cv']['mean_auc']:.4f}.",
    ]
    if test_metrics:
        out.append(
            f"- Prueba: AUC {test_metrics['auc']:.4f}, KS {test_metrics['ks']:.4f}, ECE {test_metrics['ece']:.4f}"
            + (
                f"; PD media {test_metrics['mean_pd']:.2%} frente a una tasa observada de "
                f"{test_metrics['positive_rate']:.2%}"
                if _calibration_ratio(test_metrics) is not None
                else ""
            )
            + "."
        )
    if metrics.get("fairness_gaps"):
        out.append(
            "- Equidad: AUC, tasa de aprobación y tasa de malos por grupo (Lima/Callao frente al resto, "
            "macrorregión, sección CIIU, tamaño) en `metrics.json` y en el informe de validación; las brechas "
            "y los grupos mal calibrados se listan arriba (sección Fairness)."
        )
    out.append(
        "- Limitaciones: vigilar la estabilidad (PSI/CSI contra `reference.json`) y reentrenar ante cambios de "
        "población; los historiales cortos dan puntajes menos seguros; créditos reprogramados o con garantía "
        "estatal pueden ocultar deterioro."
    )
    return out


def run_training(
    frame: pd.DataFrame,
    config: TrainConfig,
    out: Path,
    dataset: str = "",
    progress: Callable[[str], None] | None = None,
) -> tuple[Bundle, dict[str, Any]]:
    """Train, evaluate the test rows, write the bundle; returns it and the validation metrics."""
    result = train(frame, config, progress, domain=snapshot_domain(frame))  # SME snapshots: the registry's domain
    metrics: dict[str, Any] = dict(result.report)
    test_metrics = None
    if result.test is not None and len(result.test):
        t = result.test
        test_metrics = binary_metrics(t["y"].to_numpy(), t["pd"].to_numpy())
        bands = band_table(t["y"].to_numpy(), t["score"].to_numpy())
        metrics["test_metrics"] = test_metrics
        metrics["bands"] = bands.to_dict(orient="records")
        metrics["bands_monotone"] = bands_monotone(bands)
        slices = sme_slices(t) if result.report["snapshot"] else {}
        if slices:
            fair = fairness_table(
                t, t["y"].to_numpy(), t["pd"].to_numpy(), t["score"].to_numpy(), POLICY_CUTOFF, slices
            )
            metrics["fairness"] = fair.to_dict(orient="records")
            metrics["fairness_gaps"] = fairness_gaps(fair)
    metrics["policy_cutoff"] = POLICY_CUTOFF
    metrics["fairness_min_group_n"] = MIN_GROUP_N  # groups smaller than this are shown, not counted in the gaps
    lineage = frame.attrs.get("lineage") or {}
    if lineage.get("default_definition"):
        metrics["default_definition"] = str(lineage["default_definition"])
    time_col = result.report.get("time_col")
    if time_col and time_col in frame.columns:
        # read as the trainer read them (mixed formats, offsets to UTC), so that they match its test dates
        parsed = pd.Series(_times(frame[time_col], time_col)).dropna()
        dates = sorted({str(pd.Timestamp(t).date()) for t in parsed.unique()})
        tested = set(result.report.get("test_dates") or [])
        metrics["observation_dates"] = {"development": [d for d in dates if d not in tested],
                                        "test": [d for d in dates if d in tested]}  # fmt: skip
    # the reference population: the latest observation date of a snapshot (the population nearest to the one
    # scored next, and the date of the regional/sector context stored for online scoring), else every row.
    # The score reference is the final model's scores on it, the distribution the service will produce on
    # such a population (out-of-fold scores come from weaker fold models and differ in spread)
    latest = frame[frame["as_of"] == frame["as_of"].max()] if result.report["snapshot"] and "as_of" in frame else frame
    sample = latest.sample(min(len(latest), 50_000), random_state=0)
    reference: dict[str, Any] = {
        "score": reference_bins(score_from_pd(result.model.predict_pd(sample), result.model.scale))
    }
    features_ref = {}
    for ct in result.model.preprocessor.types:
        if ct.column in sample.columns:
            values = sample[ct.column]
            categorical = ct.kind in ("category", "target_encoded")
            data = (
                values.astype(object).to_numpy() if categorical else pd.to_numeric(values, errors="coerce").to_numpy()
            )
            features_ref[ct.column] = reference_bins(data)
    reference["features"] = features_ref
    bundle = Bundle(
        model=result.model,
        metrics=_jsonable(metrics),
        reference=_jsonable(reference),
        context=_context_from_snapshot(frame) if result.report["snapshot"] else None,
        card=_model_card(result, dataset, test_metrics, metrics),
        version=dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ"),
    )
    save_bundle(bundle, out)
    bundle.path = out
    return bundle, metrics


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.floating, float)):
        return None if not np.isfinite(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, (np.bool_,)):
        return bool(value)
    if isinstance(value, (pd.Timestamp, dt.date)):
        return str(value)
    return value


def check_table(bundle: Bundle, frame: pd.DataFrame) -> None:
    """A table the bundle can score as it is: rows, every column the model reads, and no cell the model would
    have to read as missing although it holds something (text in a number column, an unreadable date, an
    infinite number). Empty cells are fine: they are missing values, which the model scores as it learnt."""
    source = frame.attrs.get("source") or "the table"
    if len(frame) == 0:
        raise ConfigError(f"{source}: expected at least one row to score, got none (a header only?)")
    needed = [ct.column for ct in bundle.model.preprocessor.types]
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise MissingColumnError(
            f"{source}: expected the {len(needed)} column(s) the model reads, got a table without "
            f"{len(missing)} of them ({', '.join(missing[:8])}{' …' if len(missing) > 8 else ''}); score a table "
            "with the columns the bundle was trained on (for an SME bundle, `pymescore features` output)"
        )
    problems = []
    for ct in bundle.model.preprocessor.types:
        bad = unreadable(frame[ct.column], ct)
        if bad.any():
            rows = np.flatnonzero(bad)
            examples = ", ".join(f"data row {row_number(frame.index[int(r)])}: {frame[ct.column].iloc[int(r)]!r}"
                                 for r in rows[:3])  # fmt: skip
            what = "a date" if ct.kind in ("date", "date_text") else "a finite number"
            problems.append(f"{ct.column} ({len(rows)} cell(s) not {what}; {examples})")
    if problems:
        raise ConfigError(
            f"{source}: expected values the model can read, got {'; '.join(problems[:5])}"
            f"{' …' if len(problems) > 5 else ''}; correct those cells, or empty them to score them as missing"
        )


def labelled(bundle: Bundle, frame: pd.DataFrame, target: str, positive: str | None) -> tuple[pd.DataFrame, np.ndarray]:
    if target not in frame.columns:
        raise ConfigError(
            f"--target: expected the column {target!r} in the table, got {', '.join(map(str, frame.columns[:12]))}"
        )
    check_table(bundle, frame)
    y, present = parse_target(frame[target], positive if positive is not None else bundle.model.positive, target)
    rows = frame[present].reset_index(drop=True)
    rows.attrs["excluded_rows"] = int((~present).sum())
    return rows, y[present]


def evaluation_rows(bundle: Bundle, frame: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """The rows the report's figures are computed on, and how to name them.

    When the bundle was tested out of time and the table has its time column, the report keeps the rows of
    the test dates (or later): the model never trained on them, so the figures are the ones a reviewer can
    trust, and they agree with ``metrics.json``. Otherwise every row given, said to possibly include rows
    the model was trained on.
    """
    m = bundle.metrics
    time_col = bundle.model.metadata.get("time_col")
    dates = m.get("test_dates") or []
    if m.get("test_kind") == "out_of_time" and time_col and time_col in frame.columns and dates:
        first = pd.Timestamp(min(dates))
        times = pd.Series(_times(frame[time_col], time_col))  # as the trainer read them: naive UTC
        inside = (times >= first).to_numpy()
        keep = frame[inside]
        if len(keep):
            keep.attrs.update(frame.attrs)
            seen = ", ".join(sorted({str(pd.Timestamp(t).date()) for t in times[inside].unique()}))
            return keep, (
                f"prueba fuera de tiempo / out-of-time test: {time_col} {seen} (el modelo no se entrenó con "
                "ellas / the model was not trained on them)"
            )
    return frame, (
        "todas las filas de la tabla / every row of the table (pueden incluir filas de entrenamiento / they may "
        "include rows the model was trained on)"
    )


def evaluate(bundle: Bundle, frame: pd.DataFrame, target: str, positive: str | None = None) -> dict[str, Any]:
    """Metrics on every labelled row given; when some of them are the bundle's out-of-time test dates (the
    training snapshot itself, say), also on those alone (``out_of_time``): the others may be rows the model
    was trained on, and their figures flatter it."""
    rows, y = labelled(bundle, frame, target, positive)
    p = bundle.model.predict_pd(rows)
    out: dict[str, Any] = binary_metrics(y, p)
    out["excluded_rows"] = rows.attrs["excluded_rows"]  # an empty target: not counted, but said
    chosen, label = evaluation_rows(bundle, rows)  # among the labelled rows already scored: no second pass
    if 0 < len(chosen) < len(rows):
        inside = rows.index.isin(chosen.index)
        out["out_of_time"] = {**binary_metrics(y[inside], p[inside]), "rows": label}
    out["model_version"] = bundle.version
    return out


def score(bundle: Bundle, frame: pd.DataFrame, top: int = 4, lang: str = "es") -> pd.DataFrame:
    """``pd``, ``score``, ``band`` and ``reason_1..top`` per row (reason texts in ``lang``)."""
    check_table(bundle, frame)
    summary, points = bundle.model.explain(frame)
    given = {name: frame[name].to_numpy() for name in points.columns.tolist() if name in frame.columns}
    reasons = bundle.model.reasons(points, top, values=given)
    out = pd.DataFrame({"pd": summary["pd"].to_numpy(), "score": summary["score"].to_numpy()})
    out["band"] = assign_bands(out["score"].to_numpy())
    key = "text_es" if lang == "es" else "text_en"
    for i in range(top):
        out[f"reason_{i + 1}"] = [r[i][key] if len(r) > i else None for r in reasons]
    for keep in ("ruc", "as_of"):
        if keep in frame.columns:
            out.insert(0, keep, frame[keep].to_numpy())
    return out
