"""The bank / open-finance API source against a real local server (tests/api_server.py) that injects faults:
every fault ends with the lake a clean sync writes, bad records are quarantined with their reason, a second
sync fetches only what is new, and the secret and tokens appear in no log line and no lake file. Then as
users run it: `pymescore ingest --source api:NAME` in its own process, killed with SIGKILL at any point of a
sync and restarted (nothing lost, nothing doubled), and over mutual TLS."""

from __future__ import annotations

import json
import logging
import os
import secrets
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from pymescore.errors import ConfigError
from pymescore.lake import Lake
from pymescore.sources._api import ApiClient, ApiSourceError, Institution, load_institutions, sync_institution
from tests.api_server import ApiServer, ServerState, config_toml, dataset, make_tls

ENV = "PYMESCORE_TEST_BANK_SECRET"
TABLES = ("monthly_cashflows", "payments", "financial_statements")


@pytest.fixture
def secret(monkeypatch: pytest.MonkeyPatch) -> str:
    value = "sk-" + secrets.token_hex(16)
    monkeypatch.setenv(ENV, value)
    return value


@contextmanager
def bank(secret: str, tmp: Path, **state: Any) -> Iterator[tuple[ApiServer, Institution]]:
    options = state.pop("toml", {})
    srv = ApiServer(ServerState(data=state.pop("data", None) or dataset(bad=True), secret=secret, **state))
    with srv:
        path = tmp / f"sources-{secrets.token_hex(4)}.toml"
        path.write_text(config_toml(srv, ENV, **options), encoding="utf-8")
        yield srv, load_institutions(path)["banco"]


def snapshot(lake: Lake) -> dict[str, pd.DataFrame]:
    """Each table's rows and quarantine (without the source hash): what two syncs must agree on."""
    out = {}
    for t in TABLES:
        out[t] = lake.read(t).reset_index(drop=True)
        q = lake.quarantine(t)
        out[t + "/quarantine"] = q.drop(columns=["source_sha256"]).reset_index(drop=True)
    return out


def assert_same_lake(got: Lake, want: Lake) -> None:
    a, b = snapshot(got), snapshot(want)
    for name in b:
        pd.testing.assert_frame_equal(a[name], b[name], check_exact=True, obj=name)


@pytest.fixture
def clean_lake(secret: str, tmp_path: Path) -> Lake:
    lake = Lake(tmp_path / "clean")
    with bank(secret, tmp_path) as (_, inst):
        sync_institution(inst, lake)
    return lake


def test_a_clean_sync_maps_each_resource_into_its_contract_table(clean_lake: Lake) -> None:
    data = dataset(bad=True)
    cash = clean_lake.read("monthly_cashflows")
    assert len(cash) == 3 * 3
    assert set(cash["currency"]) == {"PEN"}
    # monthly sums of the transactions, by account holder and booking month
    rucs = {a["account_id"]: a["holder"]["tax_id"] for a in data["accounts"]}
    tx = pd.DataFrame([{"ruc": rucs[t["account_id"]], "month": pd.Timestamp(t["booking_date"][:7] + "-01"),
                        "value": t["amount"]["value"], "credit": t["credit_debit_indicator"] == "CREDIT"}
                       for t in data["transactions"] if t["amount"]["currency"] == "PEN"])  # fmt: skip
    want = tx.assign(income=tx["value"].where(tx["credit"], 0.0), expenses=tx["value"].where(~tx["credit"], 0.0))
    want = want.groupby(["ruc", "month"])[["income", "expenses"]].sum().reset_index()
    got = cash[["ruc", "month", "income", "expenses"]].astype({"ruc": str, "month": "datetime64[ns]"})
    pd.testing.assert_frame_equal(got.reset_index(drop=True), want.astype({"month": "datetime64[ns]"}), rtol=1e-12)
    pay = clean_lake.read("payments")
    assert len(pay) == 3 * 3
    assert set(pay["loan_id"]) == {"LN-000", "LN-001", "LN-002"}
    assert (pay["disbursement_date"] == pd.Timestamp("2023-12-15")).all()
    assert len(clean_lake.read("financial_statements")) == 3
    record = clean_lake.lineage("payments")[-1]
    assert record["source"] == "api:banco/loans"
    assert record["api"]["watermark"] == data["loans"][-1]["updated_at"]


def test_a_record_that_breaks_the_contract_is_quarantined_with_its_reason(
    clean_lake: Lake, secret: str, tmp_path: Path
) -> None:
    good = Lake(tmp_path / "good")
    with bank(secret, tmp_path, data=dataset(bad=False)) as (_, inst):
        sync_institution(inst, good)
    for t in TABLES:  # the bad records change nothing else
        pd.testing.assert_frame_equal(clean_lake.read(t), good.read(t))
    reasons = {t: clean_lake.quarantine(t)[["reason_codes", "reason"]].to_dict("records") for t in TABLES}
    assert reasons["monthly_cashflows"] == [{"reason_codes": "VALUE_UNKNOWN", "reason":
        "transaction TX-BAD-CURRENCY: currency: expected one of PEN, USD, got 'EUR'"}]  # fmt: skip
    assert reasons["payments"] == [{"reason_codes": "AMOUNT_NEGATIVE", "reason": "amount_due: expected >= 0, got -5.0"}]
    assert reasons["financial_statements"][0]["reason_codes"] == "RUC_INVALID"
    assert "TX-BAD-CURRENCY" in clean_lake.quarantine("monthly_cashflows")["raw_line"].iloc[0]


@pytest.mark.parametrize("style", ["next_link", "cursor"])
def test_every_fault_at_once_ends_with_the_lake_of_a_clean_sync(
    clean_lake: Lake, secret: str, tmp_path: Path, style: str
) -> None:
    faults = {2: "429", 4: "500", 6: "timeout", 8: "truncate", 10: "expire", 13: "500"}
    lake = Lake(tmp_path / "faulty")
    with bank(secret, tmp_path, faults=faults, shuffle=True, duplicates=True, toml={"style": style}) as (srv, inst):
        sync_institution(inst, lake)
    assert_same_lake(lake, clean_lake)
    log = srv.state.log
    assert {e["fault"] for e in log} == {None, *faults.values()}
    assert log[2]["time"] - log[1]["time"] >= srv.state.retry_after  # Retry-After honoured
    assert len(srv.state.token_log) == 2  # one refresh, after the token expired mid-sync
    assert [e["status"] for e in log if e["fault"] == "expire"] == [401]


@pytest.mark.slow
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    spots=st.lists(
        st.tuples(st.integers(0, 2), st.sampled_from(["429", "500", "truncate", "timeout", "expire"])),
        min_size=1,
        max_size=6,
    ),
    shuffle=st.booleans(),
    duplicates=st.booleans(),
)
def test_faults_anywhere_never_lose_or_double_a_record(
    clean_lake: Lake, secret: str, tmp_path: Path, spots: list[tuple[int, str]], shuffle: bool, duplicates: bool
) -> None:
    # faults at request numbers at least two apart (each retry then gets a clean answer: more in a row is
    # the retry budget's test below); Retry-After 0 keeps it fast
    faults, n = {}, 0
    for gap, kind in spots:
        n += 2 + gap
        faults[n] = kind
    lake = Lake(tmp_path / secrets.token_hex(4))
    with bank(secret, tmp_path, faults=faults, shuffle=shuffle, duplicates=duplicates, retry_after=0) as (_, inst):
        sync_institution(inst, lake)
    assert_same_lake(lake, clean_lake)


def test_a_resource_that_keeps_failing_fails_the_sync_and_keeps_its_watermark(
    clean_lake: Lake, secret: str, tmp_path: Path
) -> None:
    lake = Lake(tmp_path / "retried")
    # request 1 is accounts, 2-9 the transactions' pages, then the loans fail five times in a row
    faults = dict.fromkeys(range(10, 15), "500")
    with bank(secret, tmp_path, faults=faults) as (srv, inst), pytest.raises(ApiSourceError) as err:
        sync_institution(inst, lake)
    assert err.value.code == "API_RETRIES_EXHAUSTED"
    assert "/v1/loans" in err.value.message
    assert [e["resource"] for e in srv.state.log[9:]] == ["loans"] * 5  # 1 + max_retries attempts, then stop
    assert lake.tables() == ["monthly_cashflows"]  # the resource synced before it stays committed
    with bank(secret, tmp_path) as (srv, inst):
        sync_institution(inst, lake)
    assert_same_lake(lake, clean_lake)
    # already committed: only the record at the watermark comes again (the since request is inclusive)
    assert srv.state.served("transactions") == ["TX-BAD-CURRENCY"]


def test_a_second_401_with_a_fresh_token_fails_rather_than_loop(secret: str, tmp_path: Path) -> None:
    faults = {1: "expire", 2: "expire"}
    with bank(secret, tmp_path, faults=faults) as (srv, inst), pytest.raises(ApiSourceError) as err:
        sync_institution(inst, Lake(tmp_path / "lake"))
    assert err.value.code == "API_AUTH"
    assert len(srv.state.token_log) == 2


def test_a_second_sync_fetches_only_new_records(clean_lake: Lake, secret: str, tmp_path: Path) -> None:
    first, full = dataset(bad=True), dataset(bad=True)
    # new records after the first sync: a fourth month for every firm, a new loan, a new statement
    later = dataset(firms=3, months=4, bad=False, start=1000)
    new_tx = [t for t in later["transactions"] if t["booking_date"].startswith("2024-04")]
    new_loan = {**later["loans"][0], "loan_id": "LN-NEW"}
    new_st = {**later["statements"][0], "period_end": "2022-12-31", "statement_id": "ST-NEW"}
    lake = Lake(tmp_path / "incremental")
    state = ServerState(data=first, secret=secret)
    with ApiServer(state) as srv:
        path = tmp_path / "inc.toml"
        path.write_text(config_toml(srv, ENV), encoding="utf-8")
        inst = load_institutions(path)["banco"]
        sync_institution(inst, lake)
        versions = Lake(lake.root).versions()
        before = len(state.log)
        sync_institution(inst, lake)  # nothing new: one page each, nothing written
        assert len(state.log) - before == 4
        assert lake.versions() == versions
        for name, items in (("transactions", new_tx), ("loans", [new_loan]), ("statements", [new_st])):
            first[name].extend(items)
            full[name].extend(items)
        before = len(state.log)
        sync_institution(inst, lake)
    second = state.log[before:]
    served = {r: [i for e in second if e["resource"] == r for i in e["ids"]] for r in ("transactions", "loans")}
    # the inclusive since request also gives the record at the watermark again (then left out by its hash)
    assert served["transactions"] == [full["transactions"][-len(new_tx) - 1]["transaction_id"]] + [
        t["transaction_id"] for t in new_tx]  # fmt: skip
    assert served["loans"] == [full["loans"][-2]["loan_id"], "LN-NEW"]
    assert len(second) == 1 + -(-(len(new_tx) + 1) // 5) + 1 + 1  # accounts, transaction pages, loans, statements
    once = Lake(tmp_path / "once")
    with bank(secret, tmp_path, data=full) as (_, inst):
        sync_institution(inst, once)
    for t in TABLES:  # two syncs give the lake of one sync of everything
        pd.testing.assert_frame_equal(lake.read(t), once.read(t), check_exact=True)
    assert len(lake.read("monthly_cashflows")) == 3 * 4


def test_a_corrected_transaction_moves_between_months(secret: str, tmp_path: Path) -> None:
    data = dataset(firms=1, months=2, bad=False)
    lake = Lake(tmp_path / "lake")
    state = ServerState(data=data, secret=secret)
    with ApiServer(state) as srv:
        path = tmp_path / "s.toml"
        path.write_text(config_toml(srv, ENV), encoding="utf-8")
        inst = load_institutions(path)["banco"]
        sync_institution(inst, lake)
        moved = data["transactions"][0]
        data["transactions"].append({**moved, "booking_date": "2024-02-01", "updated_at": "2030-01-01T00:00:00Z"})
        sync_institution(inst, lake)
    ledger = lake.sidecar("monthly_cashflows", "api_banco_transactions_ledger")
    assert ledger is not None
    assert ledger["id"].is_unique
    assert len(ledger) == 8
    cash = lake.read("monthly_cashflows").set_index("month")
    rows = [{"m": t["booking_date"][:7], "v": t["amount"]["value"] * (t["credit_debit_indicator"] == "CREDIT")}
            for t in data["transactions"][1:]]  # fmt: skip
    months = pd.DataFrame(rows).groupby("m")["v"].sum()
    assert cash["income"].tolist() == pytest.approx(months.tolist(), rel=1e-12)


def test_the_token_is_cached_and_renewed_before_it_expires(secret: str, tmp_path: Path) -> None:
    now = [0.0]
    with (
        bank(secret, tmp_path, expires_in=100, toml={"token_refresh_margin_s": 30}) as (srv, inst),
        ApiClient(inst, clock=lambda: now[0], sleep=lambda s: None) as client,
    ):
        for t in (0.0, 10.0, 69.0):
            now[0] = t
            client.get_json(srv.url + "/accounts")
        assert len(srv.state.token_log) == 1
        now[0] = 71.0  # 29 s left: renewed before the server would refuse it
        client.get_json(srv.url + "/accounts")
    assert len(srv.state.token_log) == 2
    assert all(e["status"] == 200 for e in srv.state.log)
    assert srv.state.token_log[0] == {"scope": " ".join(srv.state.scopes), "grant_type": "client_credentials",
                                      "basic": True}  # fmt: skip


def test_client_secret_post_and_a_secret_file(secret: str, tmp_path: Path) -> None:
    (tmp_path / "secret.txt").write_text(secret + "\n", encoding="utf-8")
    toml = {"auth_method": "client_secret_post", "client_secret_file": "secret.txt", "client_secret_env": None}
    with bank(secret, tmp_path, toml=toml) as (srv, inst):
        sync_institution(inst, Lake(tmp_path / "lake"))
    assert srv.state.token_log[0]["basic"] is False
    assert len(srv.state.tokens) == 1


def test_scopes_and_credentials_are_refused_with_the_oauth_error(secret: str, tmp_path: Path) -> None:
    with bank(secret, tmp_path, scopes=("accounts:read", "transactions:read", "loans:read")) as (_, inst):
        with pytest.raises(ApiSourceError, match="invalid_scope") as err:
            sync_institution(inst, Lake(tmp_path / "a"))
        assert err.value.code == "API_AUTH"
    with bank(secret, tmp_path, toml={"scopes": ["accounts:read", "transactions:read", "loans:read"]}) as (_, inst):
        lake = Lake(tmp_path / "b")
        with pytest.raises(ApiSourceError, match=r"403 insufficient_scope.*scopes") as err:
            sync_institution(inst, lake)
        assert lake.tables() == ["monthly_cashflows", "payments"]
    with bank("another-secret", tmp_path) as (_, inst), pytest.raises(ApiSourceError, match="invalid_client") as err:
        sync_institution(inst, Lake(tmp_path / "c"))
    assert secret not in err.value.message


def test_requests_keep_to_the_rate_limit(secret: str, tmp_path: Path) -> None:
    with bank(secret, tmp_path, toml={"rate_limit_per_s": 40, "page_size": 2}, data=dataset(firms=2, months=2)) as (
        srv,
        inst,
    ):
        sync_institution(inst, Lake(tmp_path / "lake"))
    times = [e["time"] for e in srv.state.log]
    assert len(times) > 8
    assert times[-1] - times[0] >= (len(times) - 1) / 40 * 0.95


def test_the_secret_and_tokens_are_in_no_log_line_and_no_lake_file(
    secret: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    lake = Lake(tmp_path / "lake")
    with bank(secret, tmp_path, faults={3: "expire", 5: "500"}) as (srv, inst):
        sync_institution(inst, lake)
        tokens = list(srv.state.tokens)
    assert len(tokens) == 2
    assert caplog.records
    for needle in (secret, *tokens):
        assert needle not in caplog.text
        for f in lake.root.rglob("*"):
            assert not f.is_file() or needle.encode() not in f.read_bytes(), f


def test_configuration_errors_name_the_place(secret: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with bank(secret, tmp_path) as (srv, _):
        text = config_toml(srv, ENV)
    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace('amount = "$.amount.value"\n', ""), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"institutions\.banco\.resources\.transactions.*amount"):
        load_institutions(bad)
    bad.write_text(text.replace('"$.booking_date"', '"booking_date"'), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"JSON path 'booking_date': expected it to start with '\$'"):
        load_institutions(bad)
    monkeypatch.delenv(ENV)
    ok = tmp_path / "ok.toml"
    ok.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=f"environment variable {ENV}") as err:
        sync_institution(load_institutions(ok)["banco"], Lake(tmp_path / "lake"))
    assert err.value.code == "API_SECRET_MISSING"


@pytest.mark.parametrize("module", ["_jsonpath", "_client"])
def test_docstring_examples(module: str) -> None:
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(f"pymescore.sources._api.{module}"))
    assert result.attempted > 0
    assert result.failed == 0


FUNCTION_FIXTURES = [HealthCheck.function_scoped_fixture]


def _cli(config: Path, lake: Path, secret: str, name: str = "banco") -> subprocess.Popen[str]:
    env = {**os.environ, ENV: secret}
    return subprocess.Popen(
        [sys.executable, "-m", "pymescore.cli", "ingest", "--source", f"api:{name}", "--config", str(config),
         "--lake", str(lake)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def _serve(secret: str, tmp: Path, **state: object) -> tuple[ApiServer, Path]:
    srv = ApiServer(ServerState(data=dataset(bad=True), secret=secret, **state))  # type: ignore[arg-type]
    config = tmp / f"sources-{secrets.token_hex(4)}.toml"
    config.write_text(config_toml(srv, ENV), encoding="utf-8")
    return srv, config


@pytest.mark.slow
def test_the_cli_syncs_prints_a_summary_and_never_the_secret(clean_lake: Lake, secret: str, tmp_path: Path) -> None:
    srv, config = _serve(secret, tmp_path, faults={2: "500", 4: "expire"})
    with srv:
        proc = _cli(config, tmp_path / "lake", secret)
        out, err = proc.communicate(timeout=120)
        tokens = list(srv.state.tokens)
    assert proc.returncode == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert [r["resource"] for r in summary] == ["transactions", "loans", "statements"]
    assert summary[1]["ingest"]["quarantined"] == 1
    for needle in (secret, *tokens):
        assert needle not in out + err
    assert_same_lake(Lake(tmp_path / "lake"), clean_lake)
    cmd = [sys.executable, "-m", "pymescore.cli", "ingest", "--source", "api:banco", "--lake", str(tmp_path / "x")]
    missing = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    assert missing.returncode == 2
    assert "expected --config FILE" in missing.stderr


@pytest.mark.slow
@settings(max_examples=6, deadline=None, suppress_health_check=FUNCTION_FIXTURES)
@given(kill_at=st.integers(1, 12), delay=st.floats(0.0, 0.5))
@example(kill_at=3, delay=0.0)
def test_a_sync_killed_anywhere_and_restarted_loses_nothing_and_doubles_nothing(
    clean_lake: Lake, secret: str, tmp_path: Path, kill_at: int, delay: float
) -> None:
    lake = tmp_path / f"lake-{secrets.token_hex(4)}"
    srv, config = _serve(secret, tmp_path)
    with srv:
        proc = _cli(config, lake, secret)
        srv.state.kill = (proc.pid, kill_at, delay)  # the child imports for a second before its first request
        proc.communicate(timeout=120)
        srv.state.kill = None
        if delay == 0 and kill_at <= 9:  # killed before the last transactions page: before any commit
            assert proc.returncode == -signal.SIGKILL
        again = _cli(config, lake, secret)
        _, err = again.communicate(timeout=120)
    assert again.returncode == 0, err
    assert_same_lake(Lake(lake), clean_lake)
    for table in ("monthly_cashflows", "payments", "financial_statements"):
        assert len(Lake(lake).quarantine(table)) == 1  # the bad record, once


def test_mutual_tls(clean_lake: Lake, secret: str, tmp_path: Path) -> None:
    server_tls, client_files = make_tls(tmp_path)
    srv = ApiServer(ServerState(data=dataset(bad=True), secret=secret), tls=server_tls)
    with srv:
        config = tmp_path / "tls.toml"
        config.write_text(config_toml(srv, ENV, **client_files), encoding="utf-8")
        lake = Lake(tmp_path / "lake")
        sync_institution(load_institutions(config)["banco"], lake)
        assert_same_lake(lake, clean_lake)
        # without the client certificate the server refuses the handshake: the sync fails, nothing is written
        config.write_text(config_toml(srv, ENV, tls_ca_bundle=client_files["tls_ca_bundle"], max_retries=1),
                          encoding="utf-8")  # fmt: skip
        bare = Lake(tmp_path / "bare")
        with pytest.raises(ApiSourceError) as err:
            sync_institution(load_institutions(config)["banco"], bare)
    assert err.value.code == "API_RETRIES_EXHAUSTED"
    assert bare.tables() == []
    assert srv.url.startswith("https://")
