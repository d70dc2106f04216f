"""What an SME owner reads (issue 17 #6): each reason says the firm's value in plain units and its side of the
typical value; hints name a concrete target in plain words (the SBS category by its name, never «de 4 a 0»,
never a log or a slope); a thin file is named whatever the score. Spanish and English."""

from __future__ import annotations

import numpy as np
import pytest

from pymescore.decision import Policy, hint_text
from pymescore.decision import reasons as reasons_of
from pymescore.decision._hints import Hints, actionable
from pymescore.decision._reasons import typical_values
from pymescore.decision._stage import rule_entries
from pymescore.features import BY_NAME, FEATURES
from pymescore.features._display import display_value
from pymescore.features._plain import HINTS
from pymescore.model._fitted import FeatureInfo

TECHNICAL = ("logaritmo", "logarithm", "log ", "pendiente", "slope", "coeficiente", "coefficient", "desviación",
             "deviation", "«")  # fmt: skip


@pytest.mark.parametrize(
    ("name", "value", "es", "en"),
    [
        ("sbs_rating_current", 0.0, "Normal", "Normal"),
        ("sbs_rating_current", 1.0, "CPP (con problemas potenciales)", "CPP (potential problems)"),
        ("sbs_rating_worst_12m", 2.0, "Deficiente", "Deficiente (substandard)"),
        ("sbs_rating_current", 3.0, "Dudoso", "Dudoso (doubtful)"),
        ("sbs_rating_current", 4.0, "Pérdida", "Pérdida (loss)"),
        ("size_class", 1.0, "pequeña empresa", "small firm"),
        ("negative_equity", 1.0, "sí", "yes"),
        ("log_income_mean_12m", float(np.log1p(8000.0)), "S/ 8,000 al mes", "PEN 8,000 a month"),
    ],
)
def test_coded_values_are_shown_by_their_names(name: str, value: float, es: str, en: str) -> None:
    assert display_value(BY_NAME[name], value, "es") == es
    assert display_value(BY_NAME[name], value, "en") == en


def _hintable() -> list[str]:
    return [f.name for f in FEATURES if f.monotone != 0 and f.kind != "categorical" and actionable(f.name)]


@pytest.mark.parametrize("name", _hintable())
@pytest.mark.parametrize("lang", ["es", "en"])
def test_every_hint_names_a_concrete_target_in_plain_words(name: str, lang: str) -> None:
    f = BY_NAME[name]
    low, high = f.valid_range
    current, target = (1.0, 0.0) if f.monotone > 0 else (0.0, 1.0)
    if low is not None and high is not None and f.unit in ("days", "months", "count"):
        current, target = (min(high, 30.0), 0.0) if f.monotone > 0 else (0.0, min(high, 30.0))
    text = hint_text(name, current, target, lang)
    assert not any(word in text.lower() for word in TECHNICAL), text
    assert name in HINTS  # its own sentence, not the feature's technical description
    if f.unit != "flag":  # a flag's sentence names its target in words («Recuperar un patrimonio positivo»)
        assert display_value(f, target, lang) in text, text  # the target, in its unit
    assert text != hint_text(name, current, target, "en" if lang == "es" else "es")


def test_an_sbs_hint_names_the_categories() -> None:
    """Before: «Llevar «Calificación SBS del último mes reportado (0 Normal ... 4 Pérdida)» de 4 a 0»."""
    assert hint_text("sbs_rating_current", 4.0, 0.0, "es") == (
        "Mejorar su calificación SBS actual de Pérdida a Normal (pagando a tiempo en todas las entidades)"
    )
    assert "from Pérdida (loss) to Normal" in hint_text("sbs_rating_current", 4.0, 0.0, "en")


def test_a_whole_unit_target_is_rounded_to_the_safe_side() -> None:
    reference = {
        "dpd_max_12m": {"kind": "numeric", "quartiles": [2.5, 6.0, 14.0], "edges": [1.0, 20.0]},
        "pay_on_time_share_12m": {"kind": "numeric", "quartiles": [0.5, 0.8, 0.92], "edges": [0.3, 0.98]},
    }
    hints = Hints({"dpd_max_12m": 1, "pay_on_time_share_12m": -1}, reference,
                  ["dpd_max_12m", "pay_on_time_share_12m"], {"dpd_max_12m", "pay_on_time_share_12m"})  # fmt: skip
    values = {"dpd_max_12m": np.array([30.0]), "pay_on_time_share_12m": np.array([0.4])}
    trials = hints.fallback([0], values)
    assert (0, "dpd_max_12m", 30.0, 2.0) in trials  # 2.5 days -> 2 days, the quartile
    assert (0, "dpd_max_12m", 30.0, 1.0) in trials  # the safe-side decile
    assert (0, "pay_on_time_share_12m", 0.4, 0.92) in trials


def _features(*names: str) -> list[FeatureInfo]:
    return [FeatureInfo(n, "numeric", BY_NAME[n].monotone, BY_NAME[n].reason_es, BY_NAME[n].reason_en) for n in names]


def test_each_reason_says_the_firms_value_and_its_side_of_the_typical_one() -> None:
    """Before: «Nivel de egresos mensuales», «Calificación SBS actual deteriorada»: no value, no direction."""
    names = ("expenses_mean_6m", "sbs_rating_current", "log_income_mean_12m", "dpd_max_12m")
    reference = {
        "expenses_mean_6m": {"kind": "numeric", "quartiles": [4000.0, 8000.0, 15000.0]},
        "sbs_rating_current": {"kind": "numeric", "quartiles": [0.0, 0.0, 1.0]},
        "log_income_mean_12m": {"kind": "numeric", "quartiles": [8.0, float(np.log1p(9000.0)), 11.0]},
    }
    values = {"expenses_mean_6m": np.array([12000.0]), "sbs_rating_current": np.array([2.0]),
              "log_income_mean_12m": np.array([float(np.log1p(3000.0))]), "dpd_max_12m": np.array([15.0])}  # fmt: skip
    points = np.array([[-4.0, -3.0, -2.0, -1.0]])
    typical = typical_values(reference)
    (row,) = reasons_of(points, list(names), _features(*names), 4, values, typical)
    es = {r["code"]: r["text_es"] for r in row}
    en = {r["code"]: r["text_en"] for r in row}
    assert (
        es["expenses_mean_6m"]
        == "Nivel de egresos mensuales: S/ 12,000 al mes, por encima de lo típico (S/ 8,000 al mes)"
    )
    assert en["expenses_mean_6m"].endswith(": PEN 12,000 a month, above the typical PEN 8,000 a month")
    assert es["sbs_rating_current"] == "Calificación SBS actual deteriorada: Deficiente (lo típico: Normal)"
    assert es["log_income_mean_12m"] == (
        "Ingresos mensuales bajos: S/ 3,000 al mes, por debajo de lo típico (S/ 9,000 al mes)"
    )
    assert es["dpd_max_12m"] == "Atrasos en pagos recientes: 15 días"  # no reference: the value alone
    (only_en,) = reasons_of(points, list(names), _features(*names), 4, values, typical, "en")
    assert only_en[0]["text_en"].startswith("Monthly") or ":" in only_en[0]["text_en"]
    assert ":" not in only_en[0]["text_es"]  # one language written when the stage asks for one


def test_a_value_on_the_safe_side_of_the_median_is_not_called_risky() -> None:
    """A monotone feature that pulls the score down from the safe side of the median (the model's pivot is a
    mean) is «cerca de lo típico», never «Morosidad del sector mayor…: 16.0%, por debajo de lo típico»."""
    name = "sector_delinquency_rate_12m"
    typical = typical_values({name: {"kind": "numeric", "quartiles": [0.1, 0.162, 0.2]}})
    (row,) = reasons_of(np.array([[-1.0]]), [name], _features(name), 4, {name: np.array([0.16])}, typical)
    assert row[0]["text_es"].endswith("16.0%, cerca de lo típico (16.2%)")
    assert row[0]["text_en"].endswith("16.0%, close to the typical 16.2%")


@pytest.mark.parametrize("score", [450, 550, 580, 700])
def test_a_thin_file_is_named_whatever_the_score(score: int) -> None:
    """Before: a thin-file firm declined at 550 had no thin-file rule (only reviews named it)."""
    policy = Policy()
    thin = {"months_of_history": 3.0, "taxpayer_not_active": 0.0, "domicile_not_habido": 0.0, "firm_age_years": 5.0}
    decision, rules, _ = policy.decide(score, thin, None, 12, 1.0)
    assert any(code.endswith("THIN_FILE") for code in rules), (decision, rules)
    full, rules_full, _ = policy.decide(score, {**thin, "months_of_history": 24.0}, None, 12, 1.0)
    assert decision == ("review" if full == "approve" else full)  # a note changes no decision
    assert not any(code.endswith("THIN_FILE") for code in rules_full)
    for lang in ("es", "en"):
        entry = next(e for e in rule_entries(rules, lang) if e["code"].endswith("THIN_FILE"))
        assert entry["text"].startswith(("Expediente delgado", "Thin file"))
        assert entry["effect"] == ("note" if decision == "decline" else "review")


def test_a_knocked_out_thin_file_is_named_too() -> None:
    f = {"months_of_history": float("nan"), "taxpayer_not_active": 1.0, "domicile_not_habido": 0.0,
         "firm_age_years": 5.0}  # fmt: skip
    decision, rules, amount = Policy().decide(700, f, 1000.0, 12, 1.0)
    assert (decision, rules, amount) == ("decline", ["KO_TAXPAYER_NOT_ACTIVE", "NOTE_THIN_FILE"], 0.0)
