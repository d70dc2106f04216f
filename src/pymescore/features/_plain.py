"""Plain words for an SME owner: the SBS category's name instead of its code, the firm's size class, a flag as
yes/no, a region or sector by its name, and each actionable input's improvement hint as a sentence with a
concrete target (``{now}`` and ``{then}`` are the values in their unit, from ``_display.display_value``).

The hint sentences say what the owner would change, not how the feature is computed: «Aumentar lo que le
queda en caja de cada sol que vende (últimos 12 meses) de 5.2% a 16.2%», not «pendiente mensual del logaritmo
del ingreso (24 meses)».
"""

from __future__ import annotations

import math

#: SBS debtor categories (Res. SBS N° 11356-2008), by code 0-4
SBS_CATEGORIES: dict[str, tuple[str, ...]] = {
    "es": ("Normal", "CPP (con problemas potenciales)", "Deficiente", "Dudoso", "Pérdida"),
    "en": ("Normal", "CPP (potential problems)", "Deficiente (substandard)", "Dudoso (doubtful)", "Pérdida (loss)"),
}
#: firm size by Ley 30056, by code 0-3
SIZE_CLASSES: dict[str, tuple[str, ...]] = {
    "es": ("microempresa", "pequeña empresa", "mediana empresa", "gran empresa"),
    "en": ("micro firm", "small firm", "medium firm", "large firm"),
}
YES_NO: dict[str, tuple[str, str]] = {"es": ("no", "sí"), "en": ("no", "yes")}


def _code(value: float, names: tuple[str, ...]) -> str | None:
    if not math.isfinite(value):
        return None
    k = round(value)
    return names[k] if 0 <= k < len(names) else None


def category_name(unit: str, value: float, lang: str) -> str | None:
    """The name of a coded value (SBS category, size class, flag); None when the unit is not coded."""
    lang = "es" if lang == "es" else "en"
    if unit == "category":
        return _code(value, SBS_CATEGORIES[lang])
    if unit == "class":
        return _code(value, SIZE_CLASSES[lang])
    if unit == "flag":
        return _code(value, YES_NO[lang])
    return None


def label_name(name: str, label: object, lang: str) -> str:
    """A categorical input's label as a person reads it: a CIIU section or an INEI department by its name."""
    from pymescore.contracts._reference import DEPARTMENTS, ciiu_section_label, ciiu_sections

    text = str(label)
    if name == "ciiu_section" and text in ciiu_sections():
        return ciiu_section_label(text, lang)
    if name == "department" and text.zfill(2) in DEPARTMENTS:
        return DEPARTMENTS[text.zfill(2)].title()
    return text


def _months(n: str) -> tuple[str, str]:
    return f"últimos {n} meses", f"last {n} months"


#: input -> (Spanish, English) hint sentence with {now} and {then}
HINTS: dict[str, tuple[str, str]] = {
    "net_cf_margin_12m": (
        "Aumentar lo que le queda en caja de cada sol que vende (últimos 12 meses) de {now} a {then}",
        "Raise what stays in cash from each sol you sell (last 12 months) from {now} to {then}",
    ),
    "net_cf_margin_24m": (
        "Aumentar lo que le queda en caja de cada sol que vende (últimos 24 meses) de {now} a {then}",
        "Raise what stays in cash from each sol you sell (last 24 months) from {now} to {then}",
    ),
    "net_cf_margin_median_24m": (
        "Aumentar lo que le queda en caja de cada sol vendido en un mes típico de {now} a {then}",
        "Raise what stays in cash from each sol sold in a typical month from {now} to {then}",
    ),
    "income_cv_12m": (
        "Estabilizar sus ingresos: que varíen de un mes a otro {then} en vez de {now} (últimos 12 meses)",
        "Steady your income: let it vary {then} from month to month instead of {now} (last 12 months)",
    ),
    "net_cf_negative_months_12m": (
        "Reducir los meses en que gasta más de lo que ingresa de {now} a {then} (de los últimos 12)",
        "Cut the months in which you spend more than you take in from {now} to {then} (of the last 12)",
    ),
    "income_slope_12m": (
        "Hacer crecer sus ingresos: de {now} a {then} (cambio por mes, últimos 12 meses)",
        "Grow your income: from {now} to {then} (change per month, last 12 months)",
    ),
    "income_yoy_growth_3m": (
        "Aumentar sus ventas de los últimos 3 meses frente a los mismos meses del año anterior: de {now} a {then}",
        "Raise your last 3 months' sales over the same months a year before: from {now} to {then}",
    ),
    "income_growth_24m": (
        "Hacer crecer sus ingresos: de {now} a {then} (crecimiento por mes, últimos 24 meses)",
        "Grow your income: from {now} to {then} (growth per month, last 24 months)",
    ),
    "income_volatility_24m": (
        "Estabilizar sus ingresos: que cambien de un mes a otro alrededor de {then} en vez de {now} (últimos 24 meses)",
        "Steady your income: let it change from one month to the next by about {then} instead of {now} "
        "(last 24 months)",
    ),
    "roa": (
        "Aumentar la utilidad neta por cada sol de activos de {now} a {then} (último estado financiero)",
        "Raise the net profit per sol of assets from {now} to {then} (latest financial statement)",
    ),
    "roe": (
        "Aumentar la utilidad neta por cada sol de patrimonio de {now} a {then} (último estado financiero)",
        "Raise the net profit per sol of equity from {now} to {then} (latest financial statement)",
    ),
    "gross_margin": (
        "Aumentar lo que queda de cada sol vendido tras el costo de ventas de {now} a {then}",
        "Raise what is left of each sol sold after the cost of sales from {now} to {then}",
    ),
    "net_margin": (
        "Aumentar la utilidad neta de cada sol vendido de {now} a {then}",
        "Raise the net profit on each sol sold from {now} to {then}",
    ),
    "revenue_growth": (
        "Hacer crecer sus ventas anuales frente al año anterior: de {now} a {then}",
        "Grow your annual sales over the previous year: from {now} to {then}",
    ),
    "debt_to_equity": (
        "Reducir sus deudas frente a su patrimonio de {now} a {then}",
        "Reduce your debts relative to your equity from {now} to {then}",
    ),
    "negative_equity": (
        "Recuperar un patrimonio positivo (hoy el último estado financiero lo muestra en cero o negativo)",
        "Restore a positive equity (the latest financial statement shows it at zero or below)",
    ),
    "pay_on_time_share_12m": (
        "Pagar a tiempo más cuotas: de {now} a {then} de sus cuotas (últimos 12 meses)",
        "Pay more instalments on time: from {now} to {then} of them (last 12 months)",
    ),
    "late_share_24m": (
        "Reducir las cuotas pagadas con atraso o impagas de {now} a {then} (últimos 24 meses)",
        "Cut the instalments paid late or unpaid from {now} to {then} (last 24 months)",
    ),
    "dpd_current": (
        "Ponerse al día: reducir el atraso de su cuota impaga más antigua de {now} a {then}",
        "Catch up: reduce the delay of your oldest unpaid instalment from {now} to {then}",
    ),
    "payment_completion_12m": (
        "Pagar sus cuotas completas: de {now} a {then} de lo que vencía (últimos 12 meses)",
        "Pay your instalments in full: from {now} to {then} of what fell due (last 12 months)",
    ),
    "late_payments_12m": (
        "Reducir de {now} a {then} las cuotas pagadas con atraso (últimos 12 meses)",
        "Cut the instalments paid late from {now} to {then} (last 12 months)",
    ),
    "months_since_delinquency": (
        "Mantenerse sin atrasos de más de 30 días: hoy lleva {now} sin ellos, la meta es {then}",
        "Stay clear of delays over 30 days: {now} so far, the target is {then}",
    ),
    "sbs_rating_current": (
        "Mejorar su calificación SBS actual de {now} a {then} (pagando a tiempo en todas las entidades)",
        "Improve your current SBS rating from {now} to {then} (paying on time at every lender)",
    ),
    "sbs_rating_worst_12m": (
        "Mejorar su peor calificación SBS del último año de {now} a {then} (pagando a tiempo en todas las entidades)",
        "Improve your worst SBS rating of the last year from {now} to {then} (paying on time at every lender)",
    ),
    "debt_system_growth_12m": (
        "Frenar el crecimiento de su deuda en el sistema financiero (frente a hace 12 meses) de {now} a {then}",
        "Slow the growth of your debt in the financial system (over 12 months before) from {now} to {then}",
    ),
    "n_lenders": (
        "Concentrar su deuda: reducir de {now} a {then} las entidades financieras a las que debe",
        "Consolidate your debt: reduce the lenders you owe from {now} to {then}",
    ),
}
for _n in ("3", "6", "12"):
    _es, _en = _months(_n)
    HINTS[f"dpd_mean_{_n}m"] = (
        f"Reducir el atraso promedio de sus cuotas ({_es}) de {{now}} a {{then}}",
        f"Reduce the average delay of your instalments ({_en}) from {{now}} to {{then}}",
    )
    HINTS[f"dpd_max_{_n}m"] = (
        f"Reducir su mayor atraso en una cuota ({_es}) de {{now}} a {{then}}",
        f"Reduce your longest delay on an instalment ({_en}) from {{now}} to {{then}}",
    )
