"""Paging through a list endpoint and turning its items into flat records by the field mapping."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

from pymescore.sources._api._client import ApiClient, ApiSourceError
from pymescore.sources._api._config import Institution, Resource
from pymescore.sources._api._jsonpath import MISSING, read

#: a guard against an endpoint whose next link or cursor never ends
MAX_PAGES = 100_000


@dataclass(frozen=True)
class Fetched:
    """A resource's records (field -> value), each with its raw item and watermark, in a canonical order."""

    records: list[dict[str, Any]]
    raw: list[Any]
    watermarks: list[str | None]
    pages: int

    @property
    def watermark(self) -> str | None:
        found = [w for w in self.watermarks if w is not None]
        return max(found) if found else None

    def at_watermark(self) -> list[str]:
        """Hashes of the records at the watermark: the next sync's inclusive request gives them again."""
        mark = self.watermark
        return sorted(
            record_hash(r) for r, w in zip(self.raw, self.watermarks, strict=True) if w is not None and w == mark
        )

    def sha256(self) -> str:
        """A hash of the records' content: the same records give the same hash in any delivery order."""
        digest = hashlib.sha256()
        for item in self.raw:
            digest.update(json.dumps(item, sort_keys=True, default=str).encode())
            digest.update(b"\n")
        return digest.hexdigest()


def resource_url(inst: Institution, resource: Resource) -> str:
    return inst.base_url.rstrip("/") + "/" + resource.path.lstrip("/")


def pages(client: ApiClient, inst: Institution, resource: Resource, since: str | None) -> Iterator[list[Any]]:
    """The items of every page, following next links or cursors to the end."""
    pag = inst.pagination
    url = resource_url(inst, resource)
    origin = urlsplit(url)[:2]
    first: dict[str, str] = {}
    if pag.page_size_param:
        first[pag.page_size_param] = str(pag.page_size)
    if since is not None and resource.since_param:
        first[resource.since_param] = since
    params: dict[str, str] | None = first
    seen: set[str] = set()
    for _ in range(MAX_PAGES):
        doc = client.get_json(url, params)
        items = read(doc, pag.items)
        if not isinstance(items, list):
            raise ApiSourceError(
                f"institution {inst.name}: expected a list at {pag.items} of a page of {resource.path}, got "
                f"{'nothing' if items is MISSING else type(items).__name__}",
                code="API_PAGE_INVALID",
            )
        yield items
        step = read(doc, pag.next_link if pag.style == "next_link" else pag.cursor)
        if step is MISSING or step in (None, ""):
            return
        token = str(step)
        if token in seen:
            raise ApiSourceError(
                f"institution {inst.name}: expected each page of {resource.path} to lead to a new one, got a "
                "next page already read (a loop)",
                code="API_PAGE_LOOP",
            )
        seen.add(token)
        if pag.style == "next_link":
            url = urljoin(url, token)
            if urlsplit(url)[:2] != origin:  # the bearer token goes to the institution's API only
                raise ApiSourceError(
                    f"institution {inst.name}: expected next links on {origin[0]}://{origin[1]}, got one elsewhere",
                    code="API_PAGE_INVALID",
                )
            params = None
        else:
            params = first | {pag.cursor_param: token}
    raise ApiSourceError(f"institution {inst.name}: expected {resource.path} to end within {MAX_PAGES} pages, got more",
                         code="API_PAGE_LOOP")  # fmt: skip


def record_hash(raw: Any) -> str:
    """A short content hash of one raw record (how a boundary record is recognised on the next sync)."""
    return hashlib.sha256(json.dumps(raw, sort_keys=True, default=str).encode()).hexdigest()[:32]


def _value(value: Any) -> Any:
    """A mapped JSON value as the contract's parsing takes it: text, a number, or None."""
    if value is MISSING or value is None:
        return None
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    return value


def _field(item: Any, element: Any, path: str) -> Any:
    return read(item, "$." + path[2:]) if path.startswith("^.") else read(element, path)


def fetch(
    client: ApiClient, inst: Institution, resource: Resource, since: str | None, seen: frozenset[str] = frozenset()
) -> Fetched:
    """Every record of ``resource`` (from the watermark ``since`` when given), mapped and ordered by
    watermark then content, so that records delivered out of order resolve the same way every time.

    A record delivered twice with the same content is kept once; one at the watermark ``since`` whose hash is
    in ``seen`` (committed by the sync that set the watermark) is left out."""
    rows: list[tuple[str, str, dict[str, Any], Any, str | None]] = []
    count = 0
    for items in pages(client, inst, resource, since):
        count += 1
        for item in items:
            elements = [item] if resource.explode is None else _explode(item, resource.explode)
            mark = None
            if resource.watermark is not None:
                w = _field(item, item, resource.watermark)
                mark = None if w is MISSING or w is None else str(w)
            for element in elements:
                record = {name: _value(_field(item, element, path)) for name, path in resource.fields.items()}
                raw = (
                    element if resource.explode is None else {"item": _strip(item, resource.explode), "record": element}
                )
                rows.append((mark or "", json.dumps(raw, sort_keys=True, default=str), record, raw, mark))
    rows.sort(key=lambda r: (r[0], r[1]))
    kept, last = [], None
    for row in rows:
        if row[1] != last and not (since is not None and row[4] == since and record_hash(row[3]) in seen):
            kept.append(row)
        last = row[1]
    rows = kept
    return Fetched(records=[r[2] for r in rows], raw=[r[3] for r in rows], watermarks=[r[4] for r in rows], pages=count)


def _explode(item: Any, path: str) -> list[Any]:
    inner = read(item, path)
    return inner if isinstance(inner, list) else []


def _strip(item: Any, path: str) -> Any:
    """The listed item without the exploded array (kept once per record, not once per element)."""
    if not isinstance(item, dict):
        return item
    key = path.rsplit(".", 1)[-1]
    return {k: v for k, v in item.items() if k != key}
