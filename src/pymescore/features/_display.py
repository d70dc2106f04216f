"""Feature values as a person reads them: soles, percentages, days, in Spanish or English.

What the scoring service shows an SME owner next to a raw model input. The registry's ``unit`` decides the
form; a feature kept on a log scale (``log PEN``) is shown as the amount itself, under the name of that
amount (its description without the "natural log of 1 +" prefix).
"""

from __future__ import annotations

import math

from pymescore.features._plain import category_name
from pymescore.features._registry import Feature

_LOG_PREFIX = {"es": "Logaritmo natural de 1 + ", "en": "Natural log of 1 + "}
_WORDS = {
    "es": {"month": "al mes", "per_month": "mensual", "times": "veces", "days": ("día", "días"),
           "months": ("mes", "meses"), "years": ("año", "años")},
    "en": {"month": "a month", "per_month": "a month", "times": "times", "days": ("day", "days"),
           "months": ("month", "months"), "years": ("year", "years")},
}  # fmt: skip


def quantity_name(feature: Feature, lang: str = "es") -> str:
    """The name of what a value of ``feature`` measures (for a log-scale feature, the amount itself)."""
    text = feature.description_es if lang == "es" else feature.description_en
    prefix = _LOG_PREFIX["es" if lang == "es" else "en"]
    if feature.unit == "log PEN" and text.startswith(prefix):
        rest = text[len(prefix) :]
        return rest[:1].upper() + rest[1:]
    return text


def _unsigned_zero(value: float, digits: int) -> float:
    """``value`` rounded as it will be shown, without the sign of a negative zero ("-0", "-0.0%")."""
    rounded = round(value, digits)
    return 0.0 if rounded == 0 else rounded


def _amount(value: float, lang: str) -> str:
    text = f"{_unsigned_zero(value, 0):,.0f}"
    if lang == "es":  # Peruvian usage: comma for thousands as in English (SBS, SUNAT forms), "S/" before
        return f"S/ {text}"
    return f"PEN {text}"


def _number(value: float) -> str:
    if abs(value) >= 1000:
        return f"{_unsigned_zero(value, 0):,.0f}"
    return f"{_unsigned_zero(value, 2):,.2f}".rstrip("0").rstrip(".")


def display_value(feature: Feature, value: float, lang: str = "es") -> str:
    """``value`` of ``feature`` in the unit a person expects: ``S/ 12,500 al mes``, ``4.2%``, ``15 días``,
    ``2.5 veces`` (a ratio that is a multiple, not a share), the SBS category by its name (``Deficiente``), a
    size class (``pequeña empresa``), a flag as ``sí`` / ``no``."""
    if not math.isfinite(value):
        return "—"
    named = category_name(feature.unit, value, lang)
    if named is not None:
        return named
    words = _WORDS["es" if lang == "es" else "en"]
    unit = feature.unit
    if unit == "PEN/month":
        return f"{_amount(value, lang)} {words['month']}"
    if unit == "PEN":
        return _amount(value, lang)
    if unit == "log PEN":  # a monthly amount (income) says so, as "PEN/month" does
        monthly = "monthly" in feature.description_en
        return f"{_amount(math.expm1(value), lang)} {words['month']}" if monthly else _amount(math.expm1(value), lang)
    if unit == "ratio":
        low, high = feature.valid_range
        if low is not None and low >= 0 and high is not None and high > 10:  # a multiple (debt / equity)
            return f"{_number(value)} {words['times']}"
        return f"{_unsigned_zero(100 * value, 1):.1f}%"
    if unit in ("1/month", "log/month"):
        return f"{_unsigned_zero(100 * value, 1):.1f}% {words['per_month']}"
    if unit == "log":  # a spread of log changes reads as a typical percent change
        return f"{_unsigned_zero(100 * value, 1):.1f}%"
    if unit in ("days", "months", "years"):
        one, many = words[unit]
        text = _number(value)
        return f"{text} {one if text == '1' else many}"
    if unit == "UIT":
        return f"{_number(value)} UIT"
    return _number(value)
