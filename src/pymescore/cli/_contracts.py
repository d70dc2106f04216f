"""``pymescore contracts``: the raw-table contracts as a document."""

from __future__ import annotations

import json
from typing import Annotated

import typer


def contracts_markdown() -> str:
    from pymescore.contracts import TABLES

    lines = ["# Raw-table contracts", ""]
    for t in TABLES.values():
        lines += [f"## `{t.name}`", "", t.description, "", f"Key: `{', '.join(t.key)}`", ""]
        lines += [
            "| column | type | unit | required | nullable | rule | description |",
            "|---|---|---|---|---|---|---|",
        ]
        for c in t.columns:
            rule = []
            if c.ge is not None:
                rule.append(f">= {c.ge:g}")
            if c.le is not None:
                rule.append(f"<= {c.le:g}")
            if c.isin:
                rule.append(" / ".join(c.isin))
            lines.append(
                f"| `{c.name}` | {c.kind} | {c.unit} | {'yes' if c.required else 'no'} | "
                f"{'yes' if c.nullable else 'no'} | {', '.join(rule)} | {c.description} |"
            )
        if t.amounts:
            lines += [
                "",
                f"Amounts converted to PEN at ingestion: {', '.join(t.amounts)} (rate of `{t.fx_date}`).",
            ]
        lines += [f"- {n}" for n in t.notes]
        lines.append("")
    return "\n".join(lines)


def contracts_command(
    fmt: Annotated[str, typer.Option("--format", help="md (Markdown) or json.")] = "md",
) -> None:
    """Print the contracts of the raw tables: columns, types, units, keys and rules.

    Example:

        pymescore contracts --format md > docs/contracts.md
    """
    from pymescore.contracts import TABLES

    if fmt == "json":
        payload = {
            t.name: {
                "description": t.description,
                "key": list(t.key),
                "columns": [
                    {
                        "name": c.name,
                        "kind": c.kind,
                        "unit": c.unit,
                        "required": c.required,
                        "nullable": c.nullable,
                        "description": c.description,
                    }
                    for c in t.columns
                ],
            }
            for t in TABLES.values()
        }
        print(json.dumps(payload, indent=1, ensure_ascii=False))
    elif fmt == "md":
        print(contracts_markdown())
    else:
        raise typer.BadParameter(f"expected md or json, got {fmt!r}", param_hint="--format")


def register(app: typer.Typer) -> None:
    app.command("contracts")(contracts_command)
