"""The model card of a bundle: intended use, data, model, validation, decision policy, fairness and limitations,
with a summary in Spanish."""

from __future__ import annotations

from typing import Any

from pymescore.decision import Policy, cutoff_line
from pymescore.evaluate._fairness import MIN_GROUP_N
from pymescore.model import TrainResult
from pymescore.model._blend import FAMILIES

#: the model card's threshold: calibration in the large off by more than this (relative) calls for recalibration
RECALIBRATION_TOLERANCE = 0.10
#: a group's mean PD this far from its observed rate (relative) is named in the model card
_GROUP_CALIBRATION_TOLERANCE = 0.25


def blend_why(blend: dict[str, Any]) -> str:
    """Why the training chose its blend (the training report's ``blend``), in one paragraph (model card, report)."""
    single = ", ".join(f"{n} {a:.4f}" for n, a in blend["oof_auc_single"].items() if a is not None)
    without = ", ".join(f"without {n} {a:.4f}" for n, a in blend["oof_auc_best_without"].items() if a is not None)
    return (
        f"{blend['selected']} has the best out-of-fold AUC ({blend['oof_auc']:.4f}) of {blend['grid_size']} "
        f"weightings on a 0.1 grid, on the development rows only (single families: {single}"
        + (f"; best blends {without}" if without else "")
        + f"); ties go to the families in the order {', '.join(FAMILIES)}. Families: "
        f"{', '.join(blend['families'])} ({blend['families_why']}). Every family explains itself by contributions "
        "that add up to the score: TreeSHAP for the trees, exact terms for the scorecard and the logistic regression, "
        "Integrated Gradients for the TensorFlow network."
    )


#: each reject inference method in one line (the model card's)
_METHODS = {
    "none": "approved loans only (the rejected applications left out)",
    "augmentation": "augmentation: each approved loan weighted by 1 / its probability of approval (accept/reject "
    "model), the weights adding up to the applications",
    "fuzzy": "fuzzy augmentation: each reject twice, bad with weight p and good with weight 1 - p (p: the "
    "approved-only model's PD)",
    "parcelling": "parcelling: rejects labelled bad at their score band's approved bad rate times a factor",
    "hardcutoff": "hard cut-off: the rejects with the highest approved-only PD labelled bad (factor × their expected "
    "bad count), the others good",
}


def reject_lines(r: dict[str, Any]) -> list[str]:
    """The model card's section on rejected applications (the training report's ``reject_inference``); none when
    the table had no rejected rows and none was asked for."""
    ri = r.get("reject_inference") or {}
    if not ri or (not ri.get("rejects_in_table") and ri.get("asked", "none") == "none"):
        return []
    left = ", ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in (ri.get("rejects_left_out") or {}).items() if v)
    out = [
        "",
        "## Reject inference",
        f"- Method: {_METHODS.get(ri['method'], ri['method'])}"
        + (f" (asked: {ri['asked']}; {ri['why']})" if ri["asked"] != ri["method"] else ""),
        f"- Rejected applications in the table: {ri['rejects_in_table']:,}; for development "
        f"{ri['rejects_for_development']:,}"
        + (f" (left out: {left})" if left else "")
        + f"; used {ri['rejects_used']:,}",
    ]
    weights = ri.get("reject_weights") or ri.get("approved_weights")
    if weights and weights.get("n"):
        whose = "rows added for the rejects" if "reject_weights" in ri else "approved loans"
        out.append(
            f"- Weights of the {whose}: {weights['n']:,} rows, sum {weights['sum']:,.1f}, mean {weights['mean']:.3f}, "
            f"min {weights['min']:.3f}, max {weights['max']:.3f} (effective size {weights['effective_n']:,.0f})"
        )
    if ri.get("inferred_bad_rate") is not None:
        out.append(f"- Bad rate inferred for the rejects: {ri['inferred_bad_rate']:.2%}"
                   + (f" (factor {ri['factor']:g})" if ri.get("factor") is not None else ""))  # fmt: skip
    only = ri.get("approved_only") or {}
    if only.get("test_auc") is not None:
        out.append(f"- The approved-only model it started from: CV AUC {only['cv_auc']:.4f}, test AUC "
                   f"{only['test_auc']:.4f}")  # fmt: skip
    if ri["method"] != "none":
        out.append("- Validation and test figures are on known outcomes only: an inferred label is never evaluated.")
    return out


def _blend_lines(r: dict[str, Any], m: Any) -> list[str]:
    """The families, the blend chosen and why (the training report's ``blend``)."""
    weights = ", ".join(f"{name} {w:.1f}" for name, w in m.weights.items() if w > 0)
    blend = r.get("blend") or {}
    out = [
        f"- Families fitted: {', '.join(blend.get('families') or [c['name'] for c in r['candidates']])}; weights in "
        f"the log-odds blend: {weights}; calibration {m.calibrator.method}"
    ]
    if blend:
        out.append(f"- Why this blend: {blend_why(blend)}")
    ig = r.get("explanations")
    if ig:
        error = ig["completeness_points"]
        out.append(
            f"- Reasons of the networks ({ig['family']}): {ig['method']}, up to {ig['ig_steps']} points; completeness "
            f"error (the score of bias + Σ attributions against the score) on {ig['rows']} development rows: max "
            f"{error['max']:.4f}, p99 {error['p99']:.4f}, mean {error['mean']:.4f} points (limit "
            f"{ig['limit_points']} per application: {'met' if ig['within'] else 'NOT met'}); the reasons' points are "
            "scaled to add up to the score exactly"
        )
    return out


def model_card(
    result: TrainResult, dataset: str, test_metrics: dict[str, Any] | None, metrics: dict[str, Any], policy: Policy
) -> str:
    """The card as Markdown; its approval rates and cut-offs are ``policy``'s (the policy the bundle records)."""
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
        *reject_lines(r),
        "",
        "## Model",
        *_blend_lines(r, m),
        f"- Score: {m.scale.base_score:g} points at odds {m.scale.base_odds:g}:1, {m.scale.pdo:g} points to double "
        f"the odds, clipped to [{m.scale.low:g}, {m.scale.high:g}]",
        f"- Monotone features: {sum(1 for f in m.features if f.monotone != 0)} of {len(m.features)}",
    ]
    if m.lightgbm is not None:
        lines.append(f"- LightGBM: {m.lightgbm.num_trees()} trees, its default parameters (not tuned), stored in its "
                     "text model format; reasons by TreeSHAP (pred_contrib)")  # fmt: skip
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
        if tuning.get("ended_by_budget"):
            budget = (r.get("time_budget") or {}).get("seconds")
            lines.append(
                f"- **Tuning ended by the time budget** ({tuning['trials']} of {tuning.get('trials_asked')} trials"
                + (f" in {budget:g} s" if budget else "")
                + "): the same command on a faster or slower machine may tune to other parameters and train another "
                "model. For a model every machine reproduces, give a --time-budget that lets every trial run."
            )
    scale = r.get("scale") or {}
    if scale.get("scheduler"):
        sampled = scale.get("sampled_families") or []
        lines.append(
            f"- Fitted on a Dask cluster ({scale.get('workers')} workers): "
            + (f"{scale['xgboost']}; " if scale.get("xgboost") else "")
            + (
                f"{', '.join(sampled)} on a stratified sample of {scale['sample_rows']:,} of the "
                f"{scale['development_rows']:,} development rows (each fold's training rows sampled alike)"
                if sampled
                else "every family on every development row"
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
                f"rate of {test_metrics['positive_rate']:.2%} ({ratio - 1:+.0%}); a gap beyond "
                f"±{RECALIBRATION_TOLERANCE:.0%} calls for recalibration on recent outcomes before use"
            )
    lines += [
        "",
        "## Decision policy",
        f"- Validated with policy `{policy.name}`, version `{policy.version}`: {cutoff_line(policy)}; decline "
        "below. The service also applies the policy's knock-outs and capacity rule; the approval rates here use "
        "the score cut-off alone.",
        "- A different policy in force (`PYMESCORE_POLICY_FILE`) is named by the report and the gate.",
        "",
        "## Fairness",
    ]
    gaps = metrics.get("fairness_gaps") or {}
    if gaps:
        floor = int(metrics.get("fairness_min_group_n", MIN_GROUP_N))
        lines.append(
            f"On the test rows (groups of at least {floor}; smaller ones are listed in `metrics.json` but not "
            f"counted; approval = score ≥ {policy.approve_min_score:g}). Largest differences between groups:"
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
    return "\n".join([*lines, "", *_card_summary_es(result, test_metrics, metrics, policy)]) + "\n"


def _calibration_ratio(test_metrics: dict[str, Any] | None) -> float | None:
    """Mean PD over the observed rate on the test (1 = calibrated in the large); None without both."""
    if not test_metrics or not test_metrics.get("positive_rate") or test_metrics.get("mean_pd") is None:
        return None
    return float(test_metrics["mean_pd"]) / float(test_metrics["positive_rate"])


#: the kinds of test, as the Spanish summary names them
_TEST_KINDS_ES = {
    "out_of_time": "prueba fuera de tiempo",
    "holdout": "prueba aleatoria reservada",
    "grouped_holdout": "prueba aleatoria agrupada reservada",
}


def _definition_es(given: object) -> str:
    """The default definition in Spanish: a known one translated, another referred to (it is free text)."""
    from pymescore.features._config import DEFINITIONS, DEFINITIONS_ES
    from pymescore.simulate._config import DEFAULT_DEFINITION, DEFAULT_DEFINITION_ES

    if not given:
        return "la columna objetivo tal como viene."
    known = {DEFAULT_DEFINITION: DEFAULT_DEFINITION_ES, **{DEFINITIONS[k]: DEFINITIONS_ES[k] for k in DEFINITIONS}}
    text = str(given).strip()
    if text in known:
        return known[text]
    return "la que declara la tabla de entrenamiento, citada en su idioma original en la sección de datos."


def recalibration_warning(test_metrics: dict[str, Any] | None, alias: str | None = None) -> str | None:
    """The warning to print when the card says recalibration is needed (the test's calibration in the large off
    by more than ``RECALIBRATION_TOLERANCE``), naming the figure; None when within it or not measured. With
    ``alias="champion"`` it says the model is being promoted anyway."""
    ratio = _calibration_ratio(test_metrics)
    if ratio is None or not abs(ratio - 1) > RECALIBRATION_TOLERANCE or test_metrics is None:
        return None
    promoted = "the champion just promoted" if alias == "champion" else "this model"
    return (
        f"{promoted}: its model card says recalibration is needed: calibration in the large on the test is "
        f"{ratio - 1:+.0%} (mean PD {test_metrics['mean_pd']:.2%} against an observed rate of "
        f"{test_metrics['positive_rate']:.2%}; the card's limit is ±{RECALIBRATION_TOLERANCE:.0%}); recalibrate on "
        "recent outcomes before it decides on applications"
    )


def _card_summary_es(
    result: TrainResult, test_metrics: dict[str, Any] | None, metrics: dict[str, Any], policy: Policy
) -> list[str]:
    """The card's key facts in Spanish, for the reviewer and the supervisor who read it in Spanish."""
    r = result.report
    dates = metrics.get("observation_dates") or {}
    out = [
        "## Resumen en español",
        "- Uso previsto: probabilidad de default (PD) a 12 meses y puntaje (300-850) para decisiones de crédito, "
        "con las razones de cada decisión; apoya la decisión de un analista, no la reemplaza.",
        f"- Objetivo `{r['target']}`; definición de default: {_definition_es(metrics.get('default_definition'))}",
        f"- Filas: desarrollo {r['rows']['development']:,}, prueba {r['rows']['test']:,} "
        f"({_TEST_KINDS_ES.get(r['test_kind'] or '', r['test_kind'] or 'sin prueba')})"
        + (
            f"; fechas de observación: desarrollo {', '.join(dates.get('development', [])) or '—'}, "
            f"prueba {', '.join(dates.get('test', [])) or '—'}"
            if dates
            else ""
        )
        + ".",
        f"- Validación cruzada agrupada y estratificada: AUC medio de los pliegues {r['cv']['mean_auc']:.4f}.",
    ]
    ri = r.get("reject_inference") or {}
    if ri.get("rejects_in_table"):
        out.append(
            f"- Solicitudes rechazadas en la tabla: {ri['rejects_in_table']:,}; inferencia de rechazados "
            f"`{ri['method']}`, {ri['rejects_used']:,} usadas (la validación y la prueba, solo con resultados "
            "conocidos)."
        )
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
    out.append(
        f"- Política de decisión `{policy.version}`: aprobar si score ≥ {policy.approve_min_score:g}, revisión si "
        f"≥ {policy.review_min_score:g}, rechazo por debajo (más las reglas de exclusión y de capacidad del servicio)."
    )
    if metrics.get("fairness_gaps"):
        out.append(
            f"- Equidad: AUC, tasa de aprobación (score ≥ {policy.approve_min_score:g}) y tasa de malos por grupo "
            "(Lima/Callao frente al resto, macrorregión, sección CIIU, tamaño) en `metrics.json` y en el informe de "
            "validación; las brechas y los grupos mal calibrados se listan más arriba, en la sección de equidad."
        )
    out.append(
        "- Limitaciones: vigilar la estabilidad (PSI/CSI contra `reference.json`) y reentrenar ante cambios de "
        "población; los historiales cortos dan puntajes menos seguros; créditos reprogramados o con garantía "
        "estatal pueden ocultar deterioro."
    )
    return out
