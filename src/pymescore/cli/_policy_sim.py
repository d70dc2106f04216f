"""``pymescore simulate-policy``: the policy in force and a proposed one on the same applications."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pymescore.cli._output import console, emit_json
from pymescore.cli._policy import read_policy


def simulate_policy_command(
    bundle: Annotated[Path, typer.Option("--bundle", help="The model bundle (folder) that scores the applications.")],
    table: Annotated[Path, typer.Option("--table", help="Applications: a snapshot (Parquet or CSV) of the features.")],
    policy: Annotated[Path, typer.Option("--policy", help="The proposed policy (TOML, as PYMESCORE_POLICY_FILE).")],
    current: Annotated[
        Path | None,
        typer.Option("--current", help="The policy to compare with (default: PYMESCORE_POLICY_FILE, else built-in)."),
    ] = None,
    target: Annotated[
        str | None, typer.Option("--target", help="Outcome column (1 = default), for observed bad rates.")
    ] = None,
    amount: Annotated[
        float, typer.Option(min=1, help="Amount asked (PEN) where the table has no requested_amount column.")
    ] = 50_000.0,
    term: Annotated[int, typer.Option(min=1, max=600, help="Term in months where the table has no term_months.")] = 24,
    out: Annotated[Path | None, typer.Option("--out", help="Folder for summary.json and report.html.")] = None,
) -> None:
    """Compare the policy in force with a proposed one on the same applications and the same model: approval,
    review and decline rates; the expected bad rate (mean PD) and, with --target, the observed bad rate of what
    each approves; the expected loss (PD × LGD × amount granted); the swap set (approved only under the proposal,
    or only under the current policy); approval by region, sector and size class.

    Prints the summary as JSON (the last line); with --out also writes summary.json and report.html (plots).

    Example: pymescore simulate-policy --bundle demo/bundle --table demo/snapshot.parquet --policy stricter.toml
    --target default_12m --out demo/policy-sim
    """
    from pymescore.bundle import load_bundle
    from pymescore.policy_sim import simulate_policy, write_outputs
    from pymescore.tables import read_table

    proposed = read_policy(policy)
    in_force = read_policy(current)
    with console.status("Simulando las dos políticas / simulating both policies…"):
        result = simulate_policy(load_bundle(bundle), read_table(table), in_force, proposed, target=target,
                                 amount=amount, term=term)  # fmt: skip
    a, b = result["current"], result["proposed"]
    console.print(f"approve {a['approval_rate']:.1%} → {b['approval_rate']:.1%}; "
                  f"swap-in {result['swap_in']['count']:,}, "
                  f"swap-out {result['swap_out']['count']:,}")  # fmt: skip
    if out is not None:
        paths = write_outputs(result, out)
        console.print(f"page: {paths['html']}")
    emit_json({k: result[k] for k in ("rows", "policies", "current", "proposed", "swap_in", "swap_out")})


def register(app: typer.Typer) -> None:
    app.command("simulate-policy")(simulate_policy_command)
