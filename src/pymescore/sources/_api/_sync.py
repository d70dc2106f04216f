"""One institution's sync: each resource fetched from its stored watermark, checked, and committed to the
lake with its new watermark in the same commit.

The watermark of a resource is the largest value of its ``watermark`` field among the records committed; it
lives in the lineage record of the commit (``api.watermark``), so it advances with the data or not at all:
a sync that fails or is killed before a resource's commit leaves that resource where it was, and the next
sync asks for the same records again (duplicates resolve by key, so nothing is counted twice). The ``since``
request is inclusive (records at the watermark come again and are deduplicated).

Resources are synced in the order of the file; the ``accounts`` lookup is read whole on every sync.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd

from pymescore.lake import Lake
from pymescore.sources._api._client import ApiClient
from pymescore.sources._api._config import Institution, Resource
from pymescore.sources._api._pages import Fetched, fetch, resource_url
from pymescore.sources._api._transactions import Accounts, monthly_batch
from pymescore.sources._batch import RawBatch
from pymescore.sources._ingest import IngestSummary, ingest, normalize_dtypes

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ResourceSync:
    """What one resource's sync fetched and committed."""

    institution: str
    resource: str
    table: str
    since: str | None
    watermark: str | None
    records: int
    pages: int
    ingest: dict[str, Any] | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def source_label(inst: Institution, name: str) -> str:
    return f"api:{inst.name}/{name}"


def target_table(resource: Resource) -> str:
    return "monthly_cashflows" if resource.table == "transactions" else resource.table


def stored_state(lake: Lake, inst: Institution, name: str, resource: Resource) -> tuple[str | None, frozenset[str]]:
    """The watermark committed by the last sync of this resource (None before the first) and the hashes of
    the records it committed at that watermark."""
    for record in reversed(lake.lineage(target_table(resource))):
        api = record.get("api")
        if isinstance(api, dict) and api.get("institution") == inst.name and api.get("resource") == name:
            mark = api.get("watermark")
            return (None if mark is None else str(mark)), frozenset(api.get("at_watermark") or ())
    return None, frozenset()


def stored_watermark(lake: Lake, inst: Institution, name: str) -> str | None:
    """The watermark of resource ``name`` committed in ``lake`` (None before its first sync)."""
    return stored_state(lake, inst, name, inst.resources[name])[0]


def ledger_name(inst: Institution, name: str) -> str:
    return f"api_{inst.name}_{name}_ledger"


def _batch(inst: Institution, name: str, frame: pd.DataFrame, fetched: Fetched, **extra: Any) -> RawBatch:
    """The records as a batch; its hash covers the source too (two institutions sending the same records are
    two sources, each with its own quarantine rows)."""
    label = source_label(inst, name)
    sha = hashlib.sha256(f"{label}\n{fetched.sha256()}".encode()).hexdigest()
    return RawBatch(frame=frame, source=label, sha256=sha, kind="api", **extra)


def sync_resource(
    client: ApiClient, inst: Institution, name: str, lake: Lake, accounts: Accounts | None, equity_tolerance: float
) -> ResourceSync:
    resource = inst.resources[name]
    table = target_table(resource)
    since, seen = stored_state(lake, inst, name, resource)
    fetched = fetch(client, inst, resource, since, seen)
    mark = max(filter(None, (since, fetched.watermark)), default=None)
    log.info("institution %s: %s: %d records in %d pages since %s", inst.name, name, len(fetched.records),
             fetched.pages, since)  # fmt: skip
    if not fetched.records:
        return ResourceSync(inst.name, name, table, since, mark, 0, fetched.pages, None)
    boundary = fetched.at_watermark() if mark == fetched.watermark else sorted(seen)
    lineage = {"api": {"institution": inst.name, "resource": name, "url": resource_url(inst, resource),
                       "since": since, "watermark": mark, "records": len(fetched.records), "pages": fetched.pages,
                       "at_watermark": boundary}}  # fmt: skip
    if resource.table == "transactions":
        ledger = lake.sidecar(table, ledger_name(inst, name))
        monthly, refused, new_ledger = monthly_batch(fetched.records, fetched.raw, resource, accounts, ledger)
        batch = _batch(inst, name, monthly, fetched, malformed=refused)
        changed = mark != since or ledger is None or not new_ledger.equals(normalize_dtypes(ledger))
        summary = ingest(batch, table, lake, equity_tolerance=equity_tolerance, lineage_extra=lineage,
                         sidecars={ledger_name(inst, name): new_ledger}, state_changed=changed)  # fmt: skip
    else:
        frame = pd.DataFrame(fetched.records, index=pd.RangeIndex(1, len(fetched.records) + 1, name="source_row"))
        batch = _batch(inst, name, frame, fetched, columns=tuple(resource.fields))
        summary = ingest(batch, table, lake, equity_tolerance=equity_tolerance, lineage_extra=lineage,
                         state_changed=mark != since)  # fmt: skip
    return ResourceSync(inst.name, name, table, since, mark, len(fetched.records), fetched.pages, summary.to_dict())


def sync_institution(
    inst: Institution, lake: Lake, *, equity_tolerance: float = 0.01, client: ApiClient | None = None
) -> list[ResourceSync]:
    """Sync every resource of ``inst`` into ``lake``; raises on the first resource that cannot be read (the
    resources committed before it stay committed, with their watermarks)."""
    own = client is None
    client = client or ApiClient(inst)
    try:
        accounts = None
        for resource in inst.resources.values():
            if resource.table == "accounts":
                accounts = Accounts.from_records(fetch(client, inst, resource, None).records)
        return [
            sync_resource(client, inst, name, lake, accounts, equity_tolerance)
            for name, resource in inst.resources.items()
            if resource.table != "accounts"
        ]
    finally:
        if own:
            client.http.close()


__all__ = ["IngestSummary", "ResourceSync", "stored_watermark", "sync_institution"]
