"""Official PEN/USD exchange rates from the BCRP's statistics API (BCRPData), with a CSV for offline use.

The API (``https://estadisticas.bcrp.gob.pe/estadisticas/series/api/{series}/json/{start}/{end}/esp``) needs
no key. A JSON answer looks like::

    {"config": {"title": "Tipo de cambio", "series": [{"name": "TC Sistema bancario SBS (S/ por US$) - Venta",
                                                       "dec": "3"}]},
     "periods": [{"name": "02.Ene.24", "values": ["3.705"]}, {"name": "06.Ene.24", "values": ["n.d."]}]}

Days are ``DD.Mmm.YY`` with Spanish month abbreviations (``Ene``, ``Ago``, ``Set``, ``Dic``; English with
``/ing``), values are text and ``n.d.`` marks a day without a publication (weekends, holidays, the latest
days before they are published): those days are not rates, so they are counted and left out, never
quarantined. Every other value goes through the ``exchange_rates`` contract like any source's. The body is
parsed whatever its Content-Type (the BCRP labels JSON ``text/html``); a body that is not JSON (a CDN
challenge page), a 5xx, a 429 or a timeout is retried with exponential backoff and jitter.

Default series: ``PD04640PD``, "TC Sistema bancario SBS (S/ por US$) - Venta", the SBS selling rate that
the MEF and SUNAT use; ``PD04638PD`` is the interbank selling rate.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import http.client
import json
import logging
import random
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from pymescore.errors import ConfigError, SourceUnreadableError
from pymescore.lake import Lake
from pymescore.sources._batch import RawBatch
from pymescore.sources._ingest import ingest
from pymescore.sources._readers import read_source

log = logging.getLogger(__name__)

BCRP_URL = "https://estadisticas.bcrp.gob.pe/estadisticas/series/api"
DEFAULT_SERIES = "PD04640PD"
_SERIES_CODE = re.compile(r"[A-Z]{2}[0-9]{5}[A-Z]{2}")
#: Spanish abbreviations as the BCRP writes them (``Set`` for septiembre), and the English ones of ``/ing``
MONTHS = {
    "ene": 1, "feb": 2, "mar": 3, "abr": 4, "may": 5, "jun": 6, "jul": 7, "ago": 8, "set": 9, "sep": 9, "oct": 10,
    "nov": 11, "dic": 12, "jan": 1, "apr": 4, "aug": 8, "dec": 12,
}  # fmt: skip
NOT_PUBLISHED = "n.d."
_RETRY_STATUS = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class BcrpRequest:
    """What to fetch and how hard to try: one request per calendar year of ``start``..``end``."""

    series: str = DEFAULT_SERIES
    start: dt.date = dt.date(2020, 1, 1)
    end: dt.date = field(default_factory=dt.date.today)
    base_url: str = BCRP_URL
    retries: int = 4
    backoff_s: float = 1.0
    timeout_s: float = 30.0

    def check(self) -> None:
        if not _SERIES_CODE.fullmatch(self.series):
            raise ConfigError(
                f"--series: expected a BCRPData series code like {DEFAULT_SERIES} (two letters, five digits, two "
                f"letters), got {self.series!r}",
                code="BCRP_SERIES_INVALID",
            )
        if not self.series.endswith("D"):
            raise ConfigError(
                f"--series: expected a daily series (code ending in D, such as {DEFAULT_SERIES}): exchange_rates "
                f"holds one rate per publication day, got {self.series!r}",
                code="BCRP_SERIES_INVALID",
            )
        if self.start > self.end:
            raise ConfigError(f"--start/--end: expected start on or before end, got {self.start} > {self.end}")

    def urls(self) -> list[str]:
        out = []
        for year in range(self.start.year, self.end.year + 1):
            lo, hi = max(self.start, dt.date(year, 1, 1)), min(self.end, dt.date(year, 12, 31))
            out.append(f"{self.base_url.rstrip('/')}/{self.series}/json/{lo:%Y-%m-%d}/{hi:%Y-%m-%d}/esp")
        return out


@dataclass(frozen=True)
class BcrpRates:
    """Rates read: the batch for ingestion, the days without a publication, the series' name."""

    batch: RawBatch
    not_published: int
    title: str
    urls: tuple[str, ...]


def parse_period(name: str) -> dt.date:
    """``02.Ene.24`` → 2024-01-02 (two-digit years from 1950 on)."""
    parts = name.strip().split(".")
    if len(parts) != 3 or parts[1].lower() not in MONTHS or not (parts[0].isdigit() and parts[2].isdigit()):
        raise SourceUnreadableError(
            f"BCRP period {name!r}: expected a day like 02.Ene.24 (DD.Mmm.YY, Spanish month), got another shape",
            code="BCRP_RESPONSE_INVALID",
        )
    year = int(parts[2])
    year += 2000 if year < 50 else 1900 if year < 100 else 0
    try:
        return dt.date(year, MONTHS[parts[1].lower()], int(parts[0]))
    except ValueError as exc:
        raise SourceUnreadableError(
            f"BCRP period {name!r}: expected a calendar day, got {exc}", code="BCRP_RESPONSE_INVALID"
        ) from exc


def parse_response(payload: dict[str, Any], series: str, url: str) -> tuple[list[tuple[str, str]], int, str]:
    """(date ISO, value text) of each published day, the number of ``n.d.`` days, and the series' name."""
    config = payload.get("config") if isinstance(payload, dict) else None
    described = (config or {}).get("series") if isinstance(config, dict) else None
    periods = payload.get("periods") if isinstance(payload, dict) else None
    if not described or not isinstance(periods, list):
        raise SourceUnreadableError(
            f"{url}: expected series {series} in BCRPData's answer (config.series and periods), got "
            f"{'no series' if not described else 'no periods'}; check the code at "
            "estadisticas.bcrp.gob.pe (daily exchange rates: PD04640PD SBS selling, PD04638PD interbank selling)",
            code="BCRP_SERIES_UNKNOWN",
        )
    rows, missing = [], 0
    for period in periods:
        values = period.get("values") if isinstance(period, dict) else None
        if not isinstance(values, list) or not values or "name" not in period:
            raise SourceUnreadableError(
                f"{url}: expected each period as {{'name': 'DD.Mmm.YY', 'values': [...]}}, got {str(period)[:80]!r}",
                code="BCRP_RESPONSE_INVALID",
            )
        text = str(values[0]).strip()
        if text.lower() == NOT_PUBLISHED:
            missing += 1
            continue
        rows.append((parse_period(str(period["name"])).isoformat(), text))
    first = described[0] if isinstance(described[0], dict) else {}
    return rows, missing, str(first.get("name", series))


def _get(url: str, request: BcrpRequest, sleep: Callable[[float], None]) -> bytes:
    """The body of ``url``: retried on a timeout, a refused connection, a 5xx, a 429 (Retry-After honoured) or
    a body that is not JSON; a 404 means the series does not exist."""
    headers = {"Accept": "application/json", "User-Agent": "pymescore (exchange rates; +BCRPData API)"}
    last = ""
    for attempt in range(request.retries + 1):
        wait = request.backoff_s * 2**attempt * (0.5 + random.random() / 2)  # exponential, jittered
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=request.timeout_s) as r:
                body: bytes = r.read()
            json.loads(body)
            return body
        except urllib.error.HTTPError as exc:
            after = exc.headers.get("Retry-After", "") if exc.headers else ""
            exc.close()  # its body is not read: release the connection
            if exc.code == 404:
                raise SourceUnreadableError(
                    f"{url}: expected series {request.series} to exist in BCRPData, got 404 Not Found; check the "
                    "code (daily exchange rates: PD04640PD SBS selling, PD04638PD interbank selling)",
                    code="BCRP_SERIES_UNKNOWN",
                ) from exc
            if exc.code not in _RETRY_STATUS:
                raise SourceUnreadableError(
                    f"{url}: expected BCRPData to answer 200, got {exc.code} {exc.reason}", code="BCRP_UNAVAILABLE"
                ) from exc
            last = f"HTTP {exc.code}"
            if exc.code == 429 and after.strip().isdigit():
                wait = max(wait, float(after))
        except ValueError:  # JSONDecodeError: an HTML page where JSON was due (a CDN challenge), or cut short
            last = f"a body that is not JSON ({body[:60]!r})"
        except (OSError, http.client.HTTPException) as exc:  # URLError, timeouts, resets, a body cut short
            last = f"no answer ({getattr(exc, 'reason', exc)})"
        if attempt < request.retries:
            log.warning("BCRPData %s: %s; retry %d of %d in %.1f s", url, last, attempt + 1, request.retries, wait)
            sleep(wait)
    raise SourceUnreadableError(
        f"{url}: expected a JSON answer from BCRPData within {request.retries + 1} tries, got {last}; "
        "pass --csv FILE to load the rates from a file instead",
        code="BCRP_UNAVAILABLE",
    )


def fetch_rates(request: BcrpRequest, sleep: Callable[[float], None] = time.sleep) -> BcrpRates:
    """Every published day of ``request.series`` between its dates, as a batch for ``exchange_rates``."""
    request.check()
    rows: list[tuple[str, str]] = []
    digest = hashlib.sha256()
    missing, title = 0, request.series
    urls = request.urls()
    for url in urls:
        body = _get(url, request, sleep)
        digest.update(body)
        got, gaps, title = parse_response(json.loads(body), request.series, url)
        rows += got
        missing += gaps
    frame = pd.DataFrame(rows, columns=["date", "pen_per_usd"], dtype="string")
    frame.index = pd.RangeIndex(1, len(frame) + 1, name="source_row")
    source = f"BCRPData {request.series} {request.start}..{request.end}"
    return BcrpRates(RawBatch(frame, source, digest.hexdigest(), "bcrp"), missing, title, tuple(urls))


def ingest_rates(
    lake: Lake,
    request: BcrpRequest | None = None,
    *,
    csv: Path | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Fetch ``request`` from BCRPData into ``lake``'s ``exchange_rates`` through the contract and quarantine.

    With ``csv`` and no ``request`` the file is read instead (offline); with both, the file is the fallback when
    BCRPData cannot be reached (never when the series is wrong: that is a mistake to fix, not to hide).
    """
    not_published, title, origin = 0, "", "bcrp"
    if request is None:
        if csv is None:
            raise ConfigError("expected a BCRPData request or --csv FILE, got neither")
        batch, origin = read_source(str(csv)), "csv"
    else:
        try:
            rates = fetch_rates(request, sleep)
            batch, not_published, title = rates.batch, rates.not_published, rates.title
        except SourceUnreadableError as exc:
            if csv is None or exc.code != "BCRP_UNAVAILABLE":
                raise
            log.warning("BCRPData unavailable (%s); reading the rates from %s instead", exc.message, csv)
            batch, origin = read_source(str(csv)), "csv"
    summary = ingest(batch, "exchange_rates", lake).to_dict()
    return {**summary, "origin": origin, "series": request.series if request else None, "title": title,
            "not_published": not_published}  # fmt: skip


def incremental_start(lake: Lake, overlap_days: int = 10, first: dt.date = dt.date(2020, 1, 1)) -> dt.date:
    """Where a scheduled fetch starts: ``overlap_days`` before the lake's last rate (late publications and
    corrections are fetched again and upserted), or ``first`` for an empty lake."""
    rates = lake.read_optional("exchange_rates")
    if rates is None or rates.empty:
        return first
    last = pd.Timestamp(rates["date"].max()).date()
    return last - dt.timedelta(days=overlap_days)
