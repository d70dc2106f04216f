"""``pymescore train``: a calibrated model trained on a table, written as a bundle (signed, registered)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pymescore.cli._model import PositiveOpt, TableOpt, TargetOpt
from pymescore.cli._output import console, emit_json
from pymescore.cli._policy import PolicyOpt, read_policy
from pymescore.cli._progress import StageProgress
from pymescore.cli._scale import SchedulerOpt, WorkerMemoryOpt, quiet_dask


def _monotone(text: str | None) -> dict[str, int] | None:
    if not text:
        return None
    out: dict[str, int] = {}
    for part in text.split(","):
        col, _, sign = part.partition("=")
        if sign.strip() not in ("+1", "1", "-1", "0"):
            raise typer.BadParameter(f"expected COL=+1, COL=-1 or COL=0, got {part!r}", param_hint="--monotone")
        out[col.strip()] = int(sign)
    return out


def train_command(
    table: TableOpt,
    target: TargetOpt,
    out: Annotated[str, typer.Option("--out", help="Bundle folder to write, or s3://… (uploaded, manifest last).")],
    positive: PositiveOpt = None,
    group_col: Annotated[
        str | None, typer.Option(help="Column grouping rows of one entity (no entity in two folds).")
    ] = None,
    time_col: Annotated[
        str | None, typer.Option(help="Observation date: the latest dates become the out-of-time test.")
    ] = None,
    monotone: Annotated[
        str | None,
        typer.Option(
            help="Monotone directions: COL=+1,COL=-1,COL=0 (+1: risk rises with COL; 0: free). On an SME "
            "snapshot they replace the registry's direction of those columns only."
        ),
    ] = None,
    drop: Annotated[str | None, typer.Option(help="Columns to leave out: COL,COL.")] = None,
    trials: Annotated[int, typer.Option(help="Optuna trials at most.")] = 20,
    time_budget: Annotated[
        float,
        typer.Option(
            help="Seconds the whole training run may take: XGBoost tuning stops in time for the fits after it. "
            "The untuned defaults always run, so a budget below one untuned training is overrun (said on stderr)."
        ),
    ] = 120.0,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    holdout: Annotated[float, typer.Option(help="Test share when there is no --time-col.")] = 0.2,
    device: Annotated[str, typer.Option(help="cpu or cuda (XGBoost on a GPU).")] = "cpu",
    imbalance: Annotated[
        str,
        typer.Option(help="scale_pos_weight, smote (inside training folds; compared with scale_pos_weight), none."),
    ] = "scale_pos_weight",
    embargo: Annotated[
        bool,
        typer.Option(
            help="On an SME snapshot, leave out of development the rows whose outcome window ends after the "
            "first test date (their outcomes were not known then); --no-embargo keeps them (optimistic test)."
        ),
    ] = True,
    families: Annotated[
        str | None,
        typer.Option(
            help="Model families to fit and blend: FAMILY,FAMILY of xgboost, lightgbm, scorecard, logistic, tf_mlp, "
            "tf_sequence (its table needs the histories: pymescore features --sequences). Default: every tree and "
            "additive family whose library is installed (lightgbm needs pip install 'pymescore[lightgbm]'; the tf_* "
            "families 'pymescore[tf]' and are fitted only when named); the model card says which and why."
        ),
    ] = None,
    reject_inference: Annotated[
        str,
        typer.Option(
            help="Rejected applications (rows without a target whose `rejected` column is 1, e.g. `features` on a "
            "lake with applications): none (left out, counted), augmentation, fuzzy, parcelling, hardcutoff "
            "(docs/reject-inference.md). Evaluation stays on known outcomes."
        ),
    ] = "none",
    reject_factor: Annotated[
        float,
        typer.Option(
            help="parcelling / hardcutoff: a reject's bad rate over an approved loan's at the same score (1: the "
            "same; above 1: the old policy saw risk the features do not)."
        ),
    ] = 1.0,
    register: Annotated[bool, typer.Option(help="Register the bundle in MLflow (PYMESCORE_MLFLOW_URI).")] = False,
    alias: Annotated[str, typer.Option(help="Registry alias of the new version: challenger, champion.")] = "challenger",
    policy: PolicyOpt = None,
    signing_key: Annotated[
        str | None, typer.Option(help="Sign the bundle with this private key (default PYMESCORE_SIGNING_KEY).")
    ] = None,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No live progress bar; one plain line per stage still.")
    ] = False,
    scheduler: SchedulerOpt = None,
    worker_memory: WorkerMemoryOpt = None,
    sample_rows: Annotated[
        int,
        typer.Option(
            help="With --scheduler: the families that do not run on Dask (scorecard, logistic, LightGBM) "
            "fit on a stratified sample of at most this many development rows (in the model card)."
        ),
    ] = 200_000,
) -> None:
    """Train a calibrated model (tuned XGBoost, LightGBM, a binned logistic scorecard, a logistic regression and,
    when named, a TensorFlow MLP and a sequence model, selected or blended by out-of-fold AUC; --families picks
    them) and write a bundle. Prints the validation metrics as JSON on the last line.

    On an SME snapshot (`pymescore features` output) the group is `ruc`, the time is `as_of` and the
    monotone directions come from the feature registry; the latest as_of is the out-of-time test and the
    development rows are the earlier dates whose 12-month outcome window has closed by then (take
    observation dates a year or more before the test date).

    Examples:

        pymescore features --lake lake/ --as-of 2023-06-30,2023-09-30,2023-12-31,2024-12-31 --out snapshot.parquet
        pymescore train --table snapshot.parquet --target default_12m --out bundle/

        pymescore train --table german.csv --target creditability --positive bad --out german_bundle/

        pymescore train --table german.csv --target creditability --positive bad --families scorecard --out sc/

        pymescore train --table applications.parquet --target default_12m --reject-inference fuzzy --out ri/

        pymescore features --lake lake/ --as-of 2023-06-30,2023-12-31,2024-12-31 --sequences --out seq.parquet
        pymescore train --table seq.parquet --target default_12m --families scorecard,tf_mlp,tf_sequence --out tf/

        pymescore train --table snapshot/ --target default_12m --scheduler local:2 --out s3://risk/bundle

    With --scheduler (or PYMESCORE_DASK_SCHEDULER) the XGBoost out-of-fold and final boosters are fitted by
    xgboost.dask on every development row, tuning stays on its sample here, and the other families fit on a
    stratified sample (--sample-rows); folds, embargo and calibration are the same.

    The test's approval rates and the model card use the decision policy's cut-offs (--policy, else
    PYMESCORE_POLICY_FILE, else the built-in); the bundle records that policy's version.
    """
    import contextlib
    from dataclasses import replace

    from pymescore.bundle import check_destination
    from pymescore.cluster import dask_client, parse_scheduler
    from pymescore.model import TrainConfig
    from pymescore.model._families import resolve as resolve_families
    from pymescore.runs import run_training
    from pymescore.storage import readable, writable
    from pymescore.tables import read_table

    config = TrainConfig(
        target=target, positive=positive, group_col=group_col, time_col=time_col, monotone=_monotone(monotone),
        drop=tuple(c.strip() for c in drop.split(",")) if drop else (), trials=trials, time_budget=time_budget,
        seed=seed, holdout=holdout, device=device, imbalance=imbalance, embargo=embargo,  # type: ignore[arg-type]
        families=tuple(f.strip() for f in families.split(",") if f.strip()) if families is not None else None,
        reject_inference=reject_inference, reject_factor=reject_factor,  # type: ignore[arg-type]
    )  # fmt: skip
    resolve_families(config.families)  # a family not available stops the command before reading the table
    decision_policy = read_policy(policy)  # a bad policy file stops the command before training, not after
    key = _signing_key(signing_key)  # so does a bad signing key
    cluster = parse_scheduler(scheduler, worker_memory)
    quiet_dask()
    with contextlib.ExitStack() as stack:
        out_path = stack.enter_context(writable(out, last=("signature.json", "manifest.json")))
        check_destination(out_path)  # before minutes of training, not after
        frame = read_table(stack.enter_context(readable(table)))
        frame.attrs["source"] = table
        client = None if cluster is None else stack.enter_context(dask_client(cluster))
        with StageProgress("train", quiet=quiet) as progress:
            bundle, metrics = run_training(frame, replace(config, sample_rows=sample_rows), out_path, dataset=table,
                                           progress=progress, policy=decision_policy, client=client)  # fmt: skip
            progress.done(f"bundle written to {out}")
        signer = _sign(out_path, key)
        registry = None
        if register:
            from pymescore.registry import register as do_register

            params = {"table": table, "target": target, "trials": trials, "time_budget": time_budget, "seed": seed,
                      "policy_version": decision_policy.version}  # fmt: skip
            registry = do_register(out_path, metrics, params, alias=alias)
    if not metrics["time_budget"]["within"]:
        console.print(f"[yellow]the training took {metrics['timings_s']['total']:.0f} s against --time-budget "
                      f"{time_budget:g}: the untuned models alone need more; raise the budget[/]")  # fmt: skip
    tuning = metrics.get("tuning") or {}
    if tuning.get("ended_by_budget"):
        console.print(f"[yellow]tuning ended by --time-budget {time_budget:g} s after {tuning['trials']} of "
                      f"{trials} trials: another machine may tune to another model; raise the budget for a model "
                      "that every machine reproduces[/]")  # fmt: skip
    summary = {
        "bundle": str(out),
        "version": bundle.version,
        "signer": signer,
        "cv_auc": metrics["cv"]["mean_auc"],
        "test_kind": metrics["test_kind"],
        "test": metrics.get("test_metrics"),
        "bands_monotone": metrics.get("bands_monotone"),
        "blend_weight_xgboost": metrics["blend_weight_xgboost"],
        "blend_weights": metrics["blend_weights"],
        "blend": metrics["blend"]["selected"],
        "calibration": metrics["calibration"]["method"],
        "seconds": metrics["timings_s"]["total"],
        "policy": metrics["policy"],
        "scheduler": None if cluster is None else cluster.label,
        "tuning_trials": {
            "done": tuning.get("trials"),
            "asked": tuning.get("trials_asked"),
            "ended_by_budget": tuning.get("ended_by_budget"),
        },
    }
    if register:
        summary["registry"] = registry
    excluded = int((metrics.get("rows") or {}).get("excluded_no_target", 0))
    if excluded:
        console.print(f"[yellow]{excluded} row(s) with an empty target left out of training[/]")
    summary["excluded_rows"] = excluded
    ri = metrics.get("reject_inference") or {}
    if ri.get("rejects_in_table"):
        console.print(
            f"reject inference {ri['method']}: {ri['rejects_used']:,} of the {ri['rejects_in_table']:,} rejected "
            "applications used" + (" (--reject-inference to use them)" if ri["method"] == "none" else "")
        )
    summary["reject_inference"] = {k: ri.get(k) for k in ("method", "rejects_in_table", "rejects_used")}
    unread = metrics.get("unreadable_cells") or {}
    if unread:
        cells = ", ".join(f"{c} {n}" for c, n in unread.items())
        console.print(f"[yellow]cells the typing could not read, trained on as missing: {cells}; scoring refuses such "
                      "cells (fix or empty them)[/]")  # fmt: skip
    summary["unreadable_cells"] = unread
    test = metrics.get("test_metrics") or {}
    from pymescore.model_card import recalibration_warning

    recalibrate = recalibration_warning(test, alias if register else None)
    if recalibrate:
        console.print(recalibrate, style="yellow", markup=False)
    summary["recalibration_warning"] = recalibrate
    console.print(f"CV AUC {metrics['cv']['mean_auc']:.4f}; test AUC {test.get('auc', float('nan')):.4f}; bundle {out}")
    emit_json(summary)


def _signing_key(given: str | None) -> str | None:
    from pymescore.cli._sign import signing_key
    from pymescore.config import Settings

    return signing_key(given) if given or Settings().signing_key else None


def _sign(out: Path, key: str | None) -> str | None:
    """Sign the new bundle (the signer's fingerprint), or say that it is unsigned."""
    if key is None:
        console.print("[yellow]bundle not signed (no PYMESCORE_SIGNING_KEY): a service in production mode refuses it; "
                      "sign it with `pymescore sign`[/]")  # fmt: skip
        return None
    from pymescore.bundle import sign_bundle

    return str(sign_bundle(out, key)["fingerprint"])


def register(app: typer.Typer) -> None:
    app.command("train")(train_command)
