"""``pymescore model-risk-pack`` and ``pymescore approve-model``: the model-risk inventory and its approvals."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from pymescore.cli._output import console, emit_json


def pack_command(
    out: Annotated[Path, typer.Option("--out", help="Folder for inventory.json and model_risk_pack.html.")],
    bundle: Annotated[Path | None, typer.Option("--bundle", help="A bundle folder.")] = None,
    model_uri: Annotated[
        str | None, typer.Option("--model-uri", help="Or a registered model, e.g. models:/pymescore@champion.")
    ] = None,
    owner: Annotated[str | None, typer.Option(help="The model owner (default: the registry's 'owner' tag).")] = None,
    purpose: Annotated[str | None, typer.Option(help="The model's purpose (default: from the bundle).")] = None,
) -> None:
    """The model-risk pack (Res. SBS 00053-2023) of a bundle: its inventory record (id, version, owner, purpose,
    tier, data and dates, methodology, validation figures, limitations, monitoring thresholds, approvals) as
    JSON, and an HTML pack with the record and the model card.

    From the registry (--model-uri) the owner and the approvals recorded by `pymescore approve-model` are
    included; a field nobody recorded is listed under "missing" (the command still writes the pack, and exits
    1 so that a pipeline notices).

    Example: pymescore model-risk-pack --model-uri models:/pymescore@champion --out pack/
    """
    from pymescore.bundle import load_bundle
    from pymescore.model_risk import inventory, write_pack

    if (bundle is None) == (model_uri is None):
        raise typer.BadParameter("expected exactly one of --bundle or --model-uri", param_hint="--bundle")
    registry: dict[str, Any] | None = None
    if model_uri is not None:
        from pymescore.registry import download, version_info

        registry = version_info(model_uri)
        bundle = download(model_uri)
    assert bundle is not None
    loaded = load_bundle(bundle)
    record = inventory(loaded, registry, owner, purpose)
    paths = write_pack(record, loaded.card, out)
    console.print(f"Model-risk pack: {', '.join(map(str, paths))}")
    if record["missing"]:
        console.print("Not recorded yet: " + ", ".join(record["missing"]), style="yellow", markup=False)
    emit_json({"id": record["id"], "tier": record["tier"]["level"], "missing": record["missing"],
               "files": [str(p) for p in paths]})  # fmt: skip
    if record["missing"]:
        raise typer.Exit(1)


def approve_command(
    model_uri: Annotated[str, typer.Option("--model-uri", help="The registered model, e.g. models:/pymescore/3.")],
    role: Annotated[str, typer.Option("--role", help="owner or validator.")],
    by: Annotated[str, typer.Option("--by", help="Who approves (name or user id).")],
    note: Annotated[str, typer.Option(help="What the approval rests on (a report, a committee minute).")] = "",
) -> None:
    """Record an approval of a registered model version as registry tags (who, when, note). The owner and the
    validator must be different people; the model-risk pack shows both.

    Example: pymescore approve-model --model-uri models:/pymescore/3 --role validator --by "A. Quispe"
    """
    from pymescore.model_risk import approval_tags
    from pymescore.registry import tag_version, version_info

    tags = approval_tags(role, by, note, version_info(model_uri)["tags"])
    info = tag_version(model_uri, tags)
    console.print(f"{role} approval by {by} recorded on {info['name']} version {info['version']}.")
    emit_json({"name": info["name"], "version": info["version"], **tags})


def register(app: typer.Typer) -> None:
    app.command("model-risk-pack")(pack_command)
    app.command("approve-model")(approve_command)
