"""``pymescore ingest --source api:NAME --config sources.toml``: sync one institution's API into the lake."""

from __future__ import annotations

from pathlib import Path

from pymescore.cli._output import console, emit_json
from pymescore.errors import ConfigError


def ingest_api(source: str, config: Path | None, lake: str | Path) -> None:
    from pymescore.config import Settings
    from pymescore.lake import Lake
    from pymescore.sources._api import institution, sync_institution

    name = source.removeprefix("api:")
    if config is None:
        raise ConfigError(f"--source {source}: expected --config FILE (the TOML of API sources), got none")
    inst = institution(config, name)
    with console.status(f"Syncing {name}…"):
        done = sync_institution(inst, Lake(lake), equity_tolerance=Settings().equity_tolerance)
    for r in done:
        s = r.ingest or {}
        console.print(
            f"[bold]{name}/{r.resource}[/] → {r.table}: {r.records:,} records in {r.pages} pages since {r.since}, "
            f"{s.get('accepted', 0):,} accepted, {s.get('quarantined', 0):,} quarantined"
        )
    emit_json([r.to_dict() for r in done])
