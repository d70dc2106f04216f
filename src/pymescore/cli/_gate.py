"""``pymescore gate``: may the challenger replace the champion?"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pymescore.cli._output import console, emit_json
from pymescore.cli._policy import PolicyOpt, read_policy


def gate_command(
    challenger: Annotated[Path, typer.Option("--challenger", help="The new bundle.")],
    table: Annotated[Path, typer.Option("--table", help="Out-of-time rows (a snapshot: its latest date is used).")],
    target: Annotated[str, typer.Option("--target", help="Target column.")] = "default_12m",
    champion: Annotated[Path | None, typer.Option("--champion", help="The champion's bundle folder.")] = None,
    champion_uri: Annotated[
        str | None, typer.Option("--champion-uri", help="Or the registry's champion, models:/pymescore@champion.")
    ] = None,
    positive: Annotated[str | None, typer.Option("--positive", help="The target value that means default.")] = None,
    max_auc_drop: Annotated[float, typer.Option(help="Largest AUC loss against the champion allowed.")] = 0.01,
    fairness_tolerance: Annotated[float, typer.Option(help="Largest widening of a fairness gap allowed.")] = 0.05,
    promote_version: Annotated[
        int | None, typer.Option(help="Registry version of the challenger to make champion when it passes.")
    ] = None,
    policy: PolicyOpt = None,
    shadow_from: Annotated[
        str | None,
        typer.Option(
            "--shadow-from",
            help="The live comparison: a monitor --out folder (monitor.json) or an audit store URL whose "
            "shadow_decisions are compared now (last 30 days).",
        ),
    ] = None,
    min_shadow_agreement: Annotated[
        float | None, typer.Option(help="With --shadow-from: least share of live decisions the two agree on.")
    ] = None,
    max_shadow_swap_share: Annotated[
        float | None, typer.Option(help="With --shadow-from: largest share of live decisions swapped in or out.")
    ] = None,
    min_shadow_decisions: Annotated[
        int, typer.Option(min=1, help="With --shadow-from: fewest live decisions scored by both.")
    ] = 200,
) -> None:
    """Compare a challenger with the champion on the same out-of-time rows: AUC not worse by more than
    --max-auc-drop, score bands monotone (no fall in bad rate beyond 1.96 standard errors between adjacent
    bands), fairness gaps not wider by more than --fairness-tolerance.

    Prints the verdict as JSON (the last line) with every reason; exits 1 when the challenger is refused.
    With --promote-version, a passing challenger becomes the registry's champion.

    The approval rates behind the fairness gaps use the decision policy's approve cut-off (--policy, else
    PYMESCORE_POLICY_FILE, else the built-in) for both bundles; a bundle validated with another policy is named
    in the verdict's notices (never a reason to refuse).

    With --shadow-from, the challenger's decisions in the shadow of the champion on live traffic count too: it is
    refused when that comparison is of another version, has fewer than --min-shadow-decisions decisions, agrees on
    less than --min-shadow-agreement or swaps more than --max-shadow-swap-share of them (docs/shadow.md).

    Example: pymescore gate --challenger new_bundle --champion-uri models:/pymescore@champion --table oot.parquet

    Example: pymescore gate --challenger new_bundle --champion-uri models:/pymescore@champion --table oot.parquet
    --shadow-from monitoring --min-shadow-agreement 0.9 --max-shadow-swap-share 0.05
    """
    from pymescore.bundle import load_bundle
    from pymescore.gate import GatePolicy, gate
    from pymescore.tables import read_table

    decision_policy = read_policy(policy)

    old = None
    if champion is not None:
        old = load_bundle(champion)
    elif champion_uri is not None:
        from pymescore.registry import download

        old = load_bundle(download(champion_uri))
    new = load_bundle(challenger)
    shadow = None
    if shadow_from is not None:
        from pymescore.pipelines import shadow_comparison_from

        shadow = shadow_comparison_from(shadow_from, new.version)
    rules = GatePolicy(max_auc_drop, fairness_tolerance, min_shadow_agreement=min_shadow_agreement,
                       max_shadow_swap_share=max_shadow_swap_share, min_shadow_n=min_shadow_decisions)  # fmt: skip
    verdict = gate(new, old, read_table(table), target, positive, rules, decision_policy, shadow)
    for notice in verdict["notices"]:
        console.print(notice, style="yellow", markup=False)
    if verdict["promote"] and promote_version is not None:
        from pymescore.registry import promote

        verdict["promoted"] = promote(promote_version, "champion")
    if verdict["promote"]:
        console.print(f"[green]Challenger accepted[/] on {verdict['rows']:,} rows.")
    else:
        console.print("[red]Challenger refused:[/] " + "; ".join(verdict["reasons"]))
    emit_json(verdict)
    if not verdict["promote"]:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("gate")(gate_command)
