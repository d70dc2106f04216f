"""The BCRPData client against a local server serving answers in BCRPData's shape (tests/fixtures/bcrp/):
parsing (Spanish months, n.d.), the contract and quarantine, retries, clear errors, the CSV fallback, the CLI."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pymescore.contracts import TABLES, validate_table
from pymescore.errors import ConfigError, SourceUnreadableError
from pymescore.lake import Lake
from pymescore.sources._bcrp import BcrpRequest, fetch_rates, incremental_start, ingest_rates, parse_period
from tests.bcrp_server import FIXTURES, BcrpServer, serve

SPANISH = ["Ene", "Feb", "Mar", "Abr", "May", "Jun", "Jul", "Ago", "Set", "Oct", "Nov", "Dic"]
WINDOW = {"start": dt.date(2023, 12, 18), "end": dt.date(2024, 1, 12)}


def _periods() -> list[tuple[str, str]]:
    """(day ISO, value text) of every period in the fixtures, read from the files."""
    out = []
    for file in sorted(FIXTURES.glob("PD04640PD-*.json")):
        for p in json.loads(file.read_text(encoding="utf-8"))["periods"]:
            d, m, y = p["name"].split(".")
            out.append((dt.date(2000 + int(y), SPANISH.index(m) + 1, int(d)).isoformat(), p["values"][0]))
    return out


def _published() -> dict[str, float]:
    """Every day with a value (what a correct parse must give)."""
    return {day: float(v) for day, v in _periods() if v != "n.d."}


@pytest.fixture
def bcrp() -> Iterator[BcrpServer]:
    with serve() as server:
        yield server


def _request(server: BcrpServer, **kw: object) -> BcrpRequest:
    return BcrpRequest(**{**WINDOW, "base_url": server.url, "backoff_s": 0.001, "timeout_s": 5, **kw})  # type: ignore[arg-type]


@given(st.dates(min_value=dt.date(1950, 1, 1), max_value=dt.date(2049, 12, 31)))
def test_a_day_in_bcrp_notation_parses_back_to_itself(day: dt.date) -> None:
    assert parse_period(f"{day.day:02d}.{SPANISH[day.month - 1]}.{day.year % 100:02d}") == day


def test_september_is_set_and_english_months_parse_too() -> None:
    assert parse_period("15.Set.22") == parse_period("15.Sep.22") == dt.date(2022, 9, 15)
    assert parse_period("02.Aug.26") == dt.date(2026, 8, 2)
    with pytest.raises(SourceUnreadableError, match=r"DD\.Mmm\.YY"):
        parse_period("2024-01-02")


def test_the_answers_become_exchange_rates_that_pass_the_contract(bcrp: BcrpServer, tmp_path: Path) -> None:
    rates = fetch_rates(_request(bcrp))
    assert len(bcrp.requests) == 2  # one request per calendar year of the window
    assert bcrp.requests[0].endswith("/PD04640PD/json/2023-12-18/2023-12-31/esp")
    expected = _published()
    assert dict(zip(rates.batch.frame["date"], rates.batch.frame["pen_per_usd"].astype(float), strict=True)) == expected
    assert rates.not_published == sum(v == "n.d." for _, v in _periods()) > 0  # counted, not quarantined
    assert "SBS" in rates.title
    result = validate_table(rates.batch.frame, TABLES["exchange_rates"])
    assert len(result.rejected) == 0
    assert len(result.valid) == len(expected)

    summary = ingest_rates(Lake(tmp_path / "lake"), _request(bcrp))
    assert (summary["accepted"], summary["quarantined"], summary["origin"]) == (len(expected), 0, "bcrp")
    lake = Lake(tmp_path / "lake").read("exchange_rates")
    assert lake["date"].dt.strftime("%Y-%m-%d").tolist() == sorted(expected)
    assert lake["pen_per_usd"].tolist() == [expected[d] for d in sorted(expected)]
    again = ingest_rates(Lake(tmp_path / "lake"), _request(bcrp))
    assert again["changed"] is False  # the same answers leave the lake as it was


def test_a_value_that_breaks_the_contract_is_quarantined_with_its_reason(bcrp: BcrpServer, tmp_path: Path) -> None:
    payload = json.loads((FIXTURES / "PD04640PD-2024.json").read_text(encoding="utf-8"))
    payload["periods"][1]["values"] = ["371.6"]  # a unit error: cents of a sol
    (tmp_path / "PD04640PD-2024.json").write_text(json.dumps(payload), encoding="utf-8")
    bcrp.fixtures = tmp_path
    summary = ingest_rates(Lake(tmp_path / "lake"), _request(bcrp, start=dt.date(2024, 1, 1)))
    assert summary["quarantined"] == 1
    q = Lake(tmp_path / "lake").quarantine("exchange_rates")
    assert q["pen_per_usd"].tolist() == ["371.6"]
    assert "pen_per_usd" in q["reason"].iloc[0]


@pytest.mark.parametrize("faults", [["500", "502", "503"], ["429:0"], ["challenge"], ["truncated"]])
def test_transient_failures_are_retried(bcrp: BcrpServer, faults: list[str]) -> None:
    bcrp.faults = list(faults)
    waits: list[float] = []
    rates = fetch_rates(_request(bcrp, retries=3), sleep=waits.append)
    assert len(rates.batch.frame) == len(_published())
    assert len(waits) == len(faults)
    assert len(bcrp.requests) == 2 + len(faults)
    assert all(b >= a * 0.99 for a, b in itertools.pairwise(waits))  # backoff grows


def test_retry_after_is_honoured(bcrp: BcrpServer) -> None:
    bcrp.faults = ["429:2"]
    waits: list[float] = []
    fetch_rates(_request(bcrp), sleep=waits.append)
    assert waits == [2.0]


def test_a_server_that_keeps_failing_ends_with_a_clear_error(bcrp: BcrpServer) -> None:
    bcrp.faults = ["503"] * 10
    with pytest.raises(SourceUnreadableError, match=r"within 3 tries, got HTTP 503.*--csv") as err:
        fetch_rates(_request(bcrp, retries=2), sleep=lambda _: None)
    assert err.value.code == "BCRP_UNAVAILABLE"


def test_an_unknown_series_is_named_and_not_retried(bcrp: BcrpServer) -> None:
    with pytest.raises(SourceUnreadableError, match="expected series PD99999PD") as err:
        fetch_rates(_request(bcrp, series="PD99999PD"))
    assert err.value.code == "BCRP_SERIES_UNKNOWN"
    assert len(bcrp.requests) == 1
    bcrp.faults = ["404"]
    with pytest.raises(SourceUnreadableError, match="404") as err:
        fetch_rates(_request(bcrp))
    assert err.value.code == "BCRP_SERIES_UNKNOWN"
    for bad in ("pd04640pd", "PD04640", "PN01210PM"):  # not a code; a monthly series
        with pytest.raises(ConfigError, match="--series"):
            fetch_rates(_request(bcrp, series=bad))


def test_the_csv_is_the_fallback_when_bcrp_is_down_but_never_hides_a_wrong_series(
    bcrp: BcrpServer, tmp_path: Path
) -> None:
    csv = tmp_path / "rates.csv"
    csv.write_text("date,pen_per_usd\n2024-01-02,3.716\n2024-01-03,3.727\n", encoding="utf-8")
    bcrp.faults = ["500"] * 10
    summary = ingest_rates(Lake(tmp_path / "lake"), _request(bcrp, retries=1), csv=csv, sleep=lambda _: None)
    assert (summary["origin"], summary["accepted"]) == ("csv", 2)
    bcrp.faults = []
    with pytest.raises(SourceUnreadableError, match="PD99999PD"):
        ingest_rates(Lake(tmp_path / "lake2"), _request(bcrp, series="PD99999PD"), csv=csv)
    offline = ingest_rates(Lake(tmp_path / "lake3"), None, csv=csv)
    assert offline["origin"] == "csv"


def test_a_scheduled_run_starts_a_little_before_the_last_rate(bcrp: BcrpServer, tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    assert incremental_start(lake) == dt.date(2020, 1, 1)
    ingest_rates(lake, _request(bcrp))
    assert incremental_start(lake) == dt.date(2024, 1, 1)  # 11 Jan 2024 - 10 days


def test_the_cli_ingests_rates_and_prints_a_summary(bcrp: BcrpServer, tmp_path: Path) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "pymescore.cli", "ingest-rates", "--lake", str(tmp_path / "lake"),
                               *args], capture_output=True, text=True, timeout=120, check=False,
                              env={**__import__("os").environ, "PYMESCORE_BCRP_URL": bcrp.url})  # fmt: skip

    done = run("--start", "2023-12-18", "--end", "2024-01-12")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["accepted"] == len(_published())
    assert summary["series"] == "PD04640PD"
    bad = run("--series", "PD99999PD", "--start", "2024-01-01", "--end", "2024-01-12")
    assert bad.returncode == 2, bad.stderr
    assert "BCRP_SERIES_UNKNOWN" in bad.stderr
    assert "Traceback" not in bad.stderr
    rates = pd.read_parquet(Lake(tmp_path / "lake").current("exchange_rates").data_path)  # type: ignore[union-attr]
    assert len(rates) == len(_published())
