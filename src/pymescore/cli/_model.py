"""``pymescore evaluate | report | promote``, and the option types the model commands share (``_train`` and
``_score`` import them)."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from pymescore.cli._output import console, emit_json
from pymescore.cli._policy import PolicyOpt, read_policy


class Lang(StrEnum):
    es = "es"
    en = "en"


TableOpt = Annotated[
    str, typer.Option("--table", help="CSV (.csv, .csv.gz, .tsv) or Parquet table, a snapshot folder, or s3://….")
]
BundleOpt = Annotated[
    str, typer.Option("--bundle", help="Model bundle folder (written by pymescore train), or s3://….")
]
TargetOpt = Annotated[
    str,
    typer.Option(
        "--target",
        help="Target column: 1/0, true/false or yes/no (1, true, yes, si, default, bad = default) unless "
        "--positive names the value that means default.",
    ),
]
PositiveOpt = Annotated[str | None, typer.Option("--positive", help="The target value that means default.")]


class RowsChoice(StrEnum):
    test = "test"
    all = "all"


RowsOpt = Annotated[
    RowsChoice,
    typer.Option(
        "--rows",
        help="test: the rows the bundle was tested on when trained (its out-of-time test, or its random holdout "
        "found again in the same table), so the figures match metrics.json; all: every labelled row given, "
        "named as in-sample (they may include training rows).",
    ),
]


def evaluate_command(
    bundle: BundleOpt, table: TableOpt, target: TargetOpt, positive: PositiveOpt = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Also write the metrics to this file.")] = None,
    rows: RowsOpt = RowsChoice.test,
) -> None:  # fmt: skip
    """Metrics of a bundle on a labelled table: auc, gini, ks, brier, logloss, ece, n, positive_rate.

    By default on the rows the bundle was tested on (`sample`: out_of_time, holdout or grouped_holdout): the
    training table itself gives the holdout's figures, equal to metrics.json. `--rows all`: every row, in-sample.

    Examples:

        pymescore evaluate --bundle bundle/ --table snapshot.parquet --target default_12m --json metrics.json

        pymescore evaluate --bundle german_bundle/ --table german.csv --target creditability --positive bad
    """
    from pymescore.bundle import load_bundle
    from pymescore.files import write_atomic
    from pymescore.runs import evaluate
    from pymescore.storage import readable
    from pymescore.tables import read_table

    with readable(bundle) as bundle_path, readable(table) as table_path:
        metrics = evaluate(load_bundle(bundle_path), read_table(table_path), target, positive, rows.value)
    if metrics.get("excluded_rows"):
        console.print(f"[yellow]{metrics['excluded_rows']} row(s) with an empty target left out of the metrics[/]")

    def auc(m: dict[str, object]) -> str:
        return f"{m['auc']:.4f}" if isinstance(m.get("auc"), float) else "—"

    console.print(f"AUC {auc(metrics)} on {metrics['n']:,} rows: {metrics['sample_label']}", markup=False)
    if metrics.get("test"):
        test = metrics["test"]
        console.print(f"[yellow]in-sample figures (every row given); the test rows alone ({test['n']:,}): AUC "
                      f"{auc(test)}, the figure to trust (JSON: test)[/]")  # fmt: skip
    if json_out:
        write_atomic(json_out, lambda tmp: tmp.write_text(json.dumps(metrics, indent=1)))
    emit_json(metrics)


def report_command(
    bundle: BundleOpt, table: TableOpt, target: TargetOpt,
    out: Annotated[str, typer.Option("--out", help="HTML file to write, or s3://….")], positive: PositiveOpt = None,
    policy: PolicyOpt = None, rows: RowsOpt = RowsChoice.test,
    slices: Annotated[
        str | None, typer.Option(help="Fairness slices: COL,COL of the table (default: an SME bundle's regions "
                                 "and sectors; none on another table).")
    ] = None,
) -> None:  # fmt: skip
    """A self-contained HTML validation report: ROC, KS, calibration, score distribution, bands,
    SHAP importance, fairness slices, the training-time test and the scorecard baseline.

    The headline is the test the bundle recorded (out-of-time, or the random holdout found again in the
    training table), named for what it is and equal to metrics.json; `--rows all` computes on every row,
    named as in-sample.

    An SME bundle's cut-offs (approve ≥, review ≥) and approval rates, by group too, are the decision policy's:
    --policy, else PYMESCORE_POLICY_FILE, else the built-in. A generic bundle (any other table) shows no
    approval rates unless --policy is given. A policy other than the one the bundle was validated with is said
    in the report's notes and on stderr.

    Examples:

        pymescore report --bundle bundle/ --table snapshot.parquet --target default_12m --out report.html

        pymescore report --bundle german_bundle/ --table german.csv --target creditability --positive bad \
            --slices purpose,foreign_worker --out german.html

        pymescore report --bundle bundle/ --table oot.parquet --target default_12m --policy policy.toml --out r.html
    """
    from pymescore.bundle import load_bundle
    from pymescore.decision import policy_notice
    from pymescore.reporting import write_report
    from pymescore.storage import readable, writable
    from pymescore.tables import read_table

    with readable(bundle) as bundle_path:
        loaded = load_bundle(bundle_path)
    snapshot = bool(loaded.model.metadata.get("snapshot"))
    decision_policy = read_policy(policy) if policy is not None or snapshot else None
    with readable(table) as table_path:
        frame = read_table(table_path)
    frame.attrs["source"] = table
    names = [c.strip() for c in slices.split(",") if c.strip()] if slices else None
    with console.status("Writing the report…"), writable(out) as out_path:
        write_report(loaded, frame, target, positive, out_path, decision_policy, rows.value, names)
    path = out
    notice = None
    if decision_policy is not None:
        notice = policy_notice(loaded.metrics.get("policy"), decision_policy, f"bundle {loaded.version}")
    if notice:
        console.print(notice, style="yellow", markup=False)
    version = None if decision_policy is None else decision_policy.version
    emit_json({"report": str(path), "rows": rows.value, "policy": version, "policy_notice": notice})


def promote_command(
    version: Annotated[int, typer.Option(help="Registered model version to promote.")],
    alias: Annotated[str, typer.Option(help="Alias to point at it.")] = "champion",
) -> None:
    """Point the `champion` alias (or another) of the MLflow registry at a model version.

    The registry is PYMESCORE_MLFLOW_URI (an MLflow server, or sqlite:///path/mlflow.db); without it, the local
    SQLite registry the trainer registers into by default.

    Example:

        pymescore promote --version 3
    """
    from pymescore.model_card import recalibration_warning
    from pymescore.registry import promote

    result = promote(version, alias)
    result["recalibration_warning"] = recalibration_warning(result.get("test_metrics"), alias)
    if result["recalibration_warning"]:
        console.print(result["recalibration_warning"], style="yellow", markup=False)
    emit_json(result)


def register(app: typer.Typer) -> None:
    app.command("evaluate")(evaluate_command)
    app.command("report")(report_command)
    app.command("promote")(promote_command)
