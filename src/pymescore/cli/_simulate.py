"""``pymescore simulate``: write a synthetic Peru SME population with its ground truth."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from pymescore.cli._output import console, emit_json

if TYPE_CHECKING:
    from pymescore.simulate import SimulationConfig


def simulate_command(
    firms: Annotated[int, typer.Option(help="Number of firms.")],
    months: Annotated[int, typer.Option(help="Number of simulated months (at least 20).")],
    seed: Annotated[int, typer.Option(help="Random seed: the same options give the same files.")],
    out: Annotated[Path, typer.Option(help="Output folder (replaced if it holds an earlier simulation).")],
    end: Annotated[str, typer.Option(help="Last simulated month, YYYY-MM.")] = "2025-12",
    default_rate: Annotated[
        float, typer.Option(help="Target share of oracle (ruc, as_of) pairs that default within 12 months.")
    ] = 0.06,
    error_rate: Annotated[
        float, typer.Option(help="Share of rows of each table (not exchange_rates) that break the contract.")
    ] = 0.01,
    outlier_rate: Annotated[float, typer.Option(help="Share of rows given a valid but extreme value.")] = 0.005,
    usd_share: Annotated[float, typer.Option(help="Share of firms with part of their flows or loans in USD.")] = 0.06,
    shock: Annotated[
        bool, typer.Option("--shock/--no-shock", help="El Niño-like shock on the northern coast mid-window.")
    ] = True,
    policy_history: Annotated[
        bool,
        typer.Option(
            "--policy-history",
            help="Replay an earlier lending policy: each firm applies once, an old points scorecard rejects "
            "--rejection-rate of the applications, and rejected firms' records after their decision are hidden "
            "(writes applications.parquet; the oracle marks the rejected).",
        ),
    ] = False,
    rejection_rate: Annotated[
        float, typer.Option(help="With --policy-history: share of applications the old policy rejects.")
    ] = 0.35,
    chunk_firms: Annotated[
        int | None,
        typer.Option(
            help="Simulate the firms in chunks of this many (each with its own seed derived from --seed, the RUCs "
            "disjoint, exchange rates and macro stress shared) and write each table as a folder of parts "
            "<table>/part-00000.parquet …: memory is bounded by one chunk. Default: one population, one file per "
            "table.",
            min=1,
        ),
    ] = None,
) -> None:
    """Simulate Peruvian SMEs with a known 12-month PD and write the raw tables as Parquet.

    Writes **firms, monthly_cashflows, financial_statements, payments, bureau_ratings, exchange_rates**
    (the raw-table contracts), plus **oracle** (ruc, as_of, true_pd, defaulted at each quarter-end with 12
    months of performance), **injected_errors** (table, row, kind, contract_violation) and
    **simulation.json**. With --chunk-firms, each table but exchange_rates is a folder of Parquet parts, one
    per chunk (`pymescore ingest-folder` ingests them part by part), and simulation.json sums the chunks.
    A firm defaults in the first month its SBS rating is 2 (Deficiente) or worse.
    With --policy-history, also **applications** (ruc, application_date, decision, policy_score): the lake
    then holds what a lender that rejected some firms would hold, and `pymescore features` builds one row per
    application (docs/reject-inference.md).
    The folder is written atomically. The JSON summary (rows per table, simulated default rate, oracle
    AUC, seed, files) is the last line of stdout; progress goes to stderr.

    Example:

        pymescore simulate --firms 2000 --months 36 --seed 7 --out sim/

        pymescore simulate --firms 100000 --months 36 --seed 7 --out sim/ --end 2024-12 --no-shock --error-rate 0

        pymescore simulate --firms 5000 --months 36 --seed 7 --out sim/ --policy-history --rejection-rate 0.35

        pymescore simulate --firms 1000000 --months 36 --seed 7 --out sim/ --chunk-firms 100000
    """
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from pymescore.simulate import STEPS, SimulationConfig, check_output_dir, simulate, write_simulation

    # an invalid value raises ConfigError: the CLI prints it (expected vs got) and exits with code 2
    config = SimulationConfig(
        firms=firms, months=months, seed=seed, end=end, default_rate=default_rate, error_rate=error_rate,
        outlier_rate=outlier_rate, usd_share=usd_share, shock=shock, policy_history=policy_history,
        rejection_rate=rejection_rate,
    )  # fmt: skip
    check_output_dir(out)
    if chunk_firms is not None:
        return _chunked(config, chunk_firms, out)
    columns = (TextColumn("{task.description:<12}"), BarColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("simulating", total=len(STEPS) + 1)

        def step(name: str) -> None:
            progress.update(task, description=name, completed=STEPS.index(name))

        data = simulate(config, progress=step)
        progress.update(task, description="writing", completed=len(STEPS))
        summary = write_simulation(data, out)
        progress.update(task, completed=len(STEPS) + 1)
    rows = data.summary()["rows"]
    rate, auc = summary["default_rate"], summary["oracle_auc"]
    console.print(
        f"[bold]simulated[/] {config.firms:,} firms x {config.months} months -> {out}: "
        + ", ".join(f"{k} {v:,}" for k, v in dict(rows).items())  # type: ignore[call-overload]
    )
    console.print(
        f"default rate {rate:.2%}" if isinstance(rate, float) else "default rate: no oracle pairs",
        f"oracle AUC {auc:.3f}" if isinstance(auc, float) else "oracle AUC: undefined (one class only)",
        sep=", ",
    )
    policy = summary.get("policy")
    if isinstance(policy, dict):
        console.print(f"old policy: {policy['rejected']:,} of {policy['applications']:,} applications rejected "
                      f"({policy['realised_rejection_rate']:.1%}); their outcomes hidden from the tables")  # fmt: skip
    emit_json(summary)


def _chunked(config: SimulationConfig, chunk_firms: int, out: Path) -> None:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from pymescore.simulate import simulate_chunked

    columns = (TextColumn("simulating chunks"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("chunks", total=-(-config.firms // chunk_firms))
        summary = simulate_chunked(config, chunk_firms, out, lambda i, n: progress.update(task, completed=i))
    rows: dict[str, int] = summary["rows"]  # type: ignore[assignment]
    console.print(
        f"[bold]simulated[/] {config.firms:,} firms x {config.months} months in {summary['chunks']} chunks -> "
        f"{out}: " + ", ".join(f"{k} {v:,}" for k, v in rows.items())
    )
    emit_json(summary)


def register(app: typer.Typer) -> None:
    """Add the ``simulate`` command to ``app``."""
    app.command("simulate")(simulate_command)
