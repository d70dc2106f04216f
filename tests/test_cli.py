from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pymescore.cli import _register, app
from tests.helpers import CASHFLOW_HEADER, RATES_CSV, bad_ruc, make_ruc

_register()
runner = CliRunner()


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pymescore", *args], capture_output=True, text=True)


def last_json(stdout: str) -> object:
    return json.loads(stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    "command",
    [["simulate"], ["ingest"], ["ingest-folder"], ["contracts"], ["lake", "summary"], ["lake", "validate"]],
)
def test_every_command_has_help_with_an_example(command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "Example" in result.output
    assert "pymescore" in result.output


def test_ingest_cli_prints_summary_json_and_fatal_errors_are_one_line(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    (tmp_path / "rates.csv").write_text(RATES_CSV)
    ok = run_cli("ingest", "--source", str(tmp_path / "rates.csv"), "--table", "exchange_rates", "--lake", str(lake))
    assert ok.returncode == 0, ok.stderr
    assert last_json(ok.stdout)["accepted"] == 4
    flows = tmp_path / "flows.csv"
    flows.write_text(f"{CASHFLOW_HEADER}\n{make_ruc(1)},2024-01,PEN,5,1\n{bad_ruc(2)},2024-01,PEN,5,1\n")
    ok = run_cli("ingest", "-s", str(flows), "-t", "monthly_cashflows", "-l", str(lake))
    summary = last_json(ok.stdout)
    assert {k: summary[k] for k in ("table", "accepted", "quarantined", "duplicates")} == {
        "table": "monthly_cashflows", "accepted": 1, "quarantined": 1, "duplicates": 0,
    }  # fmt: skip
    missing = tmp_path / "missing.csv"
    missing.write_text("ruc,month,currency,income\n")
    bad = run_cli("ingest", "-s", str(missing), "-t", "monthly_cashflows", "-l", str(lake))
    assert bad.returncode == 2
    assert "Traceback" not in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1
    assert "missing.csv" in bad.stderr
    assert "expenses" in bad.stderr
    unknown = run_cli("ingest", "-s", str(flows), "-t", "flows", "-l", str(lake))
    assert unknown.returncode == 2
    assert "expected --table to be one of firms" in unknown.stderr


def test_lake_summary_and_validate(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    (tmp_path / "exchange_rates.csv").write_text(RATES_CSV)
    (tmp_path / "firms.csv").write_text(
        "ruc,name,ciiu,ubigeo,start_date,taxpayer_state,domicile_condition\n"
        f"{make_ruc(1)},Bodega Ñusta,4711,080101,2019-01-01,ACTIVO,HABIDO\n"
    )
    (tmp_path / "monthly_cashflows.csv").write_text(
        f"{CASHFLOW_HEADER}\n{make_ruc(1)},2024-01,PEN,5,1\n{make_ruc(2)},2024-01,USD,5,1\n"
    )
    ingested = run_cli("ingest-folder", str(tmp_path), "--lake", str(lake))
    assert ingested.returncode == 0, ingested.stderr
    assert [s["table"] for s in last_json(ingested.stdout)] == [
        "exchange_rates",
        "firms",
        "monthly_cashflows",
    ]
    summary = run_cli("lake", "summary", "--lake", str(lake))
    info = last_json(summary.stdout)
    assert info["tables"]["monthly_cashflows"]["rows"] == 2
    assert info["tables"]["monthly_cashflows"]["usd_share"] == 0.5
    assert info["tables"]["firms"]["firms"] == 1
    validated = run_cli("lake", "validate", "--lake", str(lake))
    assert validated.returncode == 0
    result = last_json(validated.stdout)
    assert result["ok"] is True
    assert result["findings"][0]["check"] == "references"  # make_ruc(2) is not in firms
    # the warning says what it costs and how to clear it, and the verdict does not hide it
    assert "no register features" in result["findings"][0]["message"]
    assert "padrón" in result["findings"][0]["message"]
    assert "lake is consistent" not in validated.stderr
    assert "1 warning(s) above" in validated.stderr


def test_usage_errors_are_short_and_never_a_traceback() -> None:
    result = run_cli("simulate", "--firms", "10")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "Missing option '--months'" in result.stderr
