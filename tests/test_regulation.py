"""SBS classification, alignment, provisions and the portfolio view (issue 20, item 1)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pymescore.errors import ConfigError, InputError
from pymescore.regulation import (
    GUARANTEES,
    Loans,
    align,
    category,
    expected_loss,
    load_regulation,
    loan_table,
    migration,
    provision_rates,
    summary,
)
from pymescore.regulation._portfolio import month_ends

RULES = load_regulation()
RETAIL = ("pequena_empresa", "microempresa", "consumo")
# the tables as the regulation states them (PERU_DOMAIN.md §1.2), read plainly: the last day of each category
PLAIN = {"retail": (8, 30, 60, 120), "mortgage": (30, 60, 120, 365), "non_retail": (0, 60, 120, 365)}
TYPE_TABLE = {**dict.fromkeys(RETAIL, "retail"), "hipotecario": "mortgage",
              **dict.fromkeys(("mediana_empresa", "gran_empresa", "corporativo"), "non_retail")}  # fmt: skip


def plain_category(days: int, credit_type: str) -> int:
    for code, last_day in enumerate(PLAIN[TYPE_TABLE[credit_type]]):
        if days <= last_day:
            return code
    return 4


@pytest.mark.parametrize(("days", "expected"), [(0, 0), (8, 0), (9, 1), (30, 1), (31, 2), (60, 2), (61, 3),
                                                (120, 3), (121, 4), (5000, 4)])  # fmt: skip
def test_retail_boundaries(days: int, expected: int) -> None:
    for credit_type in RETAIL:
        assert category(RULES, [days], credit_type).tolist() == [expected]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, 2000), min_size=1, max_size=50), st.sampled_from(sorted(TYPE_TABLE)))
def test_category_is_the_table_read_plainly(days: list[int], credit_type: str) -> None:
    got = category(RULES, days, credit_type).tolist()
    assert got == [plain_category(d, credit_type) for d in days]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 400), min_size=2, max_size=30).map(sorted))
def test_category_never_improves_with_more_days(days: list[int]) -> None:
    cats = category(RULES, days, "microempresa")
    assert (np.diff(cats) >= 0).all()


def test_category_refuses_negative_or_missing_days() -> None:
    with pytest.raises(InputError, match="days_past_due"):
        category(RULES, [3, -1], "microempresa")
    with pytest.raises(ConfigError, match="credit type"):
        category(RULES, [3], "leasing")


def test_alignment_follows_the_weighty_institutions_with_one_level_of_discrepancy() -> None:
    # own Normal; an institution holding 25% rates Dudoso: aligned to Deficiente (one level better allowed)
    assert align(RULES, [0], [[3]], [[0.25]]).tolist() == [2]
    # the same rating from an institution holding 10% does not count
    assert align(RULES, [0], [[3]], [[0.10]]).tolist() == [0]
    # the worst of several weighty institutions; the own category is never improved by alignment
    assert align(RULES, [1, 4], [[1, 4], [0, 0]], [[0.5, 0.3], [0.6, 0.4]]).tolist() == [3, 4]
    # exactly 20% counts; a missing rating does not
    assert align(RULES, [0, 0], [[2], [np.nan]], [[0.20], [0.9]]).tolist() == [1, 0]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.integers(0, 4), st.floats(0, 1)), min_size=1, max_size=20))
def test_alignment_bounds(rows: list[tuple[int, int, float]]) -> None:
    own = [r[0] for r in rows]
    aligned = align(RULES, own, [[r[1]] for r in rows], [[r[2]] for r in rows])
    for (o, other, share), a in zip(rows, aligned.tolist(), strict=True):
        assert a >= o
        assert a == (max(o, other - 1) if share >= 0.2 else o)


def test_provision_rates_by_category_and_guarantee() -> None:
    cats = [0, 1, 2, 3, 4]
    assert provision_rates(RULES, cats, "microempresa").tolist() == [0.01, 0.05, 0.25, 0.60, 1.00]
    assert provision_rates(RULES, cats, "pequena_empresa", "preferred").tolist() == [0.01, 0.025, 0.125, 0.30, 0.60]
    assert provision_rates(RULES, cats, "microempresa", "preferred_quick").tolist() == [
        0.01, 0.0125, 0.0625, 0.15, 0.30]  # fmt: skip
    with pytest.raises(InputError, match="guarantee"):
        provision_rates(RULES, [0], "microempresa", "gold")


def test_procyclical_component_adds_to_normal_only_when_active(tmp_path: Path) -> None:
    text = (Path(__file__).parents[1] / "src/pymescore/regulation/data/sbs_11356_2008.toml").read_text()
    path = tmp_path / "rules.toml"
    path.write_text(text.replace("active = false", "active = true"))
    active = load_regulation(path)
    assert active.version != RULES.version
    assert provision_rates(active, [0, 1], "microempresa").tolist() == pytest.approx([0.015, 0.05])


def test_expected_loss_is_pd_times_lgd_times_exposure() -> None:
    got = expected_loss([0.1, 0.02], [1000.0, 5000.0], RULES, ["none", "preferred"])
    assert got.tolist() == pytest.approx([0.1 * RULES.lgd["none"] * 1000, 0.02 * RULES.lgd["preferred"] * 5000])


def test_every_rule_cites_its_source() -> None:
    sources = RULES.sources()
    assert {s["rule"] for s in sources} >= {"classification.retail", "alignment", "provisions.specific",
                                            "provisions.generic", "loss_given_default"}  # fmt: skip
    assert all(s["source"].strip() for s in sources)
    assert all(isinstance(s["verified"], bool) for s in sources)
    # a value not checked against the official text says what was searched for and what was (not) found
    assert [s["rule"] for s in sources if not s["verified"] and len(s["note"]) < 40] == []
    assert set(GUARANTEES) == set(RULES.specific)


def test_a_broken_rules_file_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\ncategories = ["a"]\n')
    with pytest.raises(ConfigError, match=r"bad\.toml"):
        load_regulation(bad)


def _payments(rows: list[tuple[str, str, str, str | None, float, float]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["ruc", "loan_id", "due_date", "paid_date", "amount_due_pen", "amount_paid_pen"])
    frame["due_date"] = pd.to_datetime(frame["due_date"])
    frame["paid_date"] = pd.to_datetime(frame["paid_date"])
    frame["disbursement_date"] = pd.Timestamp("2024-01-01")
    return frame


def test_days_past_due_and_exposure_at_a_date() -> None:
    loans = Loans.from_payments(_payments([
        ("20100000001", "A", "2024-02-01", "2024-02-01", 100.0, 100.0),  # paid on time
        ("20100000001", "A", "2024-03-01", None, 100.0, 0.0),  # unpaid: 61 days late on May 1
        ("20100000001", "A", "2024-04-01", "2024-04-20", 100.0, 100.0),  # paid late, settled by May 1
        ("20100000001", "A", "2024-06-01", None, 100.0, 0.0),  # not due yet
        ("20100000002", "B", "2024-04-15", "2024-04-15", 100.0, 40.0),  # partial: 16 days late, 60 owed
        ("20100000003", "C", "2024-03-01", "2024-03-01", 100.0, 100.0),  # repaid: closed
    ]))  # fmt: skip
    days, exposure, open_ = loans.state(np.datetime64("2024-05-01"))
    by_id = dict(zip(loans.loan_id.tolist(), zip(days.tolist(), exposure.tolist(), open_.tolist(), strict=True),
                     strict=True))  # fmt: skip
    assert by_id["A"] == (61, 200.0, True)
    assert by_id["B"] == (16, 60.0, True)
    assert by_id["C"][2] is False


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 300), st.one_of(st.none(), st.integers(0, 400))), min_size=1, max_size=25),
       st.integers(10, 300))  # fmt: skip
def test_the_state_at_a_date_reads_nothing_after_it(instalments: list[tuple[int, int | None]], at_day: int) -> None:
    """Point in time: a payment made after the date reads as no payment at all."""
    base = np.datetime64("2024-01-01")
    rows = [("20100000001", "L", str(base + due), None if paid is None else str(base + due + paid), 100.0, 100.0)
            for due, paid in instalments]  # fmt: skip
    at = base + at_day
    later = [(r[0], r[1], r[2], r[3] if r[3] is not None and np.datetime64(r[3]) <= at else None, r[4], r[5])
             for r in rows]  # fmt: skip
    a = Loans.from_payments(_payments(rows)).state(at)
    b = Loans.from_payments(_payments(later)).state(at)
    for x, y in zip(a, b, strict=True):
        assert x.tolist() == y.tolist()


def test_month_ends_end_at_the_date() -> None:
    ends = month_ends(np.datetime64("2024-03-15"), 2)
    assert [str(e) for e in ends] == ["2024-01-31", "2024-02-29", "2024-03-15"]


def test_portfolio_provisions_add_up_and_migration_rows_sum_to_one(sim_lake: dict[str, Any]) -> None:
    lake = sim_lake["lake"]
    loans = Loans.from_payments(lake.read("payments"))
    at = np.datetime64("2023-12-31")
    table = loan_table(RULES, loans, at, lake.read("monthly_cashflows"), lake.read("bureau_ratings"))
    assert len(table) > 100
    assert (table["provision_pen"] <= table["exposure_pen"] + 0.01).all()
    totals = summary(RULES, table).set_index("sbs_category")
    for name in RULES.categories:  # per category: the loans' own provisions
        mine = table[table["sbs_category"] == name]
        assert totals.loc[name, "provision_pen"] == pytest.approx(mine["provision_pen"].sum())
        assert totals.loc[name, "loans"] == len(mine)
    assert totals.loc["Total", "provision_pen"] == pytest.approx(table["provision_pen"].sum())
    assert totals.loc["Total", "exposure_pen"] == pytest.approx(table["exposure_pen"].sum())
    # a debtor's category is never better than its worst loan's
    order = {c: k for k, c in enumerate(RULES.categories)}
    assert (table["sbs_category"].map(order) >= table["loan_category"].map(order)).all()
    moves = migration(RULES, loans, at, 6)
    shares = moves.drop(columns=["from", "loans"]).to_numpy()
    assert moves["loans"].sum() > 0
    assert shares[moves["loans"] > 0].sum(axis=1) == pytest.approx(np.ones(int((moves["loans"] > 0).sum())))


def test_portfolio_command_writes_files_and_a_page_with_plots(sim_lake: dict[str, Any], tmp_path: Path) -> None:
    out = tmp_path / "portfolio"
    run = subprocess.run([sys.executable, "-m", "pymescore", "portfolio", "--lake", str(sim_lake["lake"].root),
                          "--as-of", "2023-12-31", "--out", str(out)], capture_output=True, text=True)  # fmt: skip
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["loans"] > 0
    assert result["provision_pen"] > 0
    for name in ("loans", "summary", "migration", "vintages"):
        assert len(pd.read_parquet(out / f"{name}.parquet")) > 0
    page = (out / "portfolio.html").read_text(encoding="utf-8")
    assert page.count("data:image/png;base64,") >= 5  # provisions, migration, three vintage curves
    vintage = pd.read_parquet(out / "vintages.parquet")
    assert (vintage["ever_30_plus"] >= vintage["ever_60_plus"]).all()
    assert (vintage["ever_60_plus"] >= vintage["ever_90_plus"]).all()
    command = [sys.executable, "-m", "pymescore", "portfolio", "--lake", str(sim_lake["lake"].root)]
    bad = subprocess.run([*command, "--as-of", "yesterday", "--out", str(tmp_path / "x")], capture_output=True,
                         text=True)  # fmt: skip
    assert bad.returncode == 2
    assert "--as-of" in bad.stderr
    assert "Traceback" not in bad.stderr
    assert not (tmp_path / "x").exists()


def test_the_portfolio_page_shows_its_plots_in_chromium(sim_lake: dict[str, Any], tmp_path: Path, browser: Any) -> None:
    """The page renders offline with every plot drawn; photographed into ``$PYMESCORE_SCREENSHOTS`` (docs/)."""
    import os

    from pymescore.regulation._report import portfolio

    out = tmp_path / "portfolio"
    portfolio(sim_lake["lake"].root, "2023-12-31", out, RULES)
    shots = Path(os.environ.get("PYMESCORE_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    try:
        context.set_offline(True)
        page = context.new_page()
        page.goto((out / "portfolio.html").as_uri())
        drawn = page.eval_on_selector_all("img", "imgs => imgs.map(i => i.complete && i.naturalWidth > 0)")
        assert len(drawn) >= 5
        assert all(drawn)
        assert "Pérdida" in page.inner_text("table")
        page.screenshot(path=str(shots / "portfolio.png"), full_page=True)
    finally:
        context.close()
    assert (shots / "portfolio.png").stat().st_size > 10_000
