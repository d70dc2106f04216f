"""``--policy FILE``: the decision policy whose cut-offs a command uses (train, report, gate)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from pymescore.decision import Policy

PolicyOpt = Annotated[
    Path | None,
    typer.Option(
        "--policy",
        help="TOML decision policy whose cut-offs (approve ≥, review ≥) the approval rates use "
        "(default: PYMESCORE_POLICY_FILE, else the built-in policy).",
    ),
]


def read_policy(path: Path | None) -> Policy:
    """The policy of ``--policy``, else the one in force (``PYMESCORE_POLICY_FILE`` or the built-in)."""
    from pymescore.decision import current_policy, load_policy

    return load_policy(path) if path is not None else current_policy()
