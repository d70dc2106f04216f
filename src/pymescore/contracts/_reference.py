"""Reference data shipped in the package: INEI UBIGEO districts, CIIU Rev.4, SUNAT register values."""

from __future__ import annotations

import csv
import functools
from functools import cache
from importlib import resources

import pandas as pd

#: The 25 first-level units (24 departamentos + Callao), INEI codes.
DEPARTMENTS: dict[str, str] = {
    "01": "AMAZONAS", "02": "ANCASH", "03": "APURIMAC", "04": "AREQUIPA", "05": "AYACUCHO",
    "06": "CAJAMARCA", "07": "CALLAO", "08": "CUSCO", "09": "HUANCAVELICA", "10": "HUANUCO",
    "11": "ICA", "12": "JUNIN", "13": "LA LIBERTAD", "14": "LAMBAYEQUE", "15": "LIMA",
    "16": "LORETO", "17": "MADRE DE DIOS", "18": "MOQUEGUA", "19": "PASCO", "20": "PIURA",
    "21": "PUNO", "22": "SAN MARTIN", "23": "TACNA", "24": "TUMBES", "25": "UCAYALI",
}  # fmt: skip

#: SUNAT "estado del contribuyente" values (canonical text, as SUNAT's services spell them).
TAXPAYER_STATES: tuple[str, ...] = (
    "ACTIVO",
    "BAJA PROVISIONAL",
    "BAJA PROV. POR OFICIO",
    "SUSPENSION TEMPORAL",
    "BAJA DEFINITIVA",
    "BAJA DE OFICIO",
    "BAJA MULT.INSCR. Y OTROS",
    "NUM. INTERNO IDENTIF.",
    "OTROS OBLIGADOS",
    "INHABILITADO-VENT.UNICA",
    "ANULACION - ERROR SUNAT",
    "ANUL.PROVI.-ACTO ILI",
    "ANULACION - ACTO ILI",
    "PENDIENTE DE INI. DE ACTIVIDADES",
)

#: SUNAT "condición de domicilio" values.
DOMICILE_CONDITIONS: tuple[str, ...] = (
    "HABIDO",
    "NO HABIDO",
    "NO HALLADO",
    "NO HALLADO SE MUDO DE DOMICILIO",
    "NO HALLADO FALLECIO",
    "NO HALLADO NO EXISTE DOMICILIO",
    "NO HALLADO CERRADO",
    "NO HALLADO NRO.PUERTA NO EXISTE",
    "NO HALLADO DESTINATARIO DESCONOCIDO",
    "NO HALLADO RECHAZADO",
    "NO HALLADO OTROS MOTIVOS",
    "PENDIENTE",
    "NO APLICABLE",
    "POR VERIFICAR",
    "NO EXISTE LA DIRECCION DECLARADA",
    "DOMICILIO CERRADO",
    "NEGATIVA RECEPCION X PERSONA CAPAZ",
    "AUSENCIA DE PERSONA CAPAZ",
    "NO APLICABLE X TRAMITE DE REVERSION",
    "DEVUELTO",
)

#: The SUNAT padrón cuts text to about 20 characters; a value is recognised when it is a prefix of
#: one canonical value of at least this length.
_MIN_TRUNCATED = 12


def canonical_register_value(value: str, allowed: tuple[str, ...]) -> str | None:
    """Map a (possibly truncated) SUNAT register text to its canonical value, or None if unknown.

    >>> canonical_register_value("BAJA MULT.INSCR. Y O", TAXPAYER_STATES)
    'BAJA MULT.INSCR. Y OTROS'
    >>> canonical_register_value("activo", TAXPAYER_STATES)
    'ACTIVO'
    >>> canonical_register_value("CERRADA", TAXPAYER_STATES) is None
    True
    """
    text = " ".join(value.upper().split())
    if text in allowed:
        return text
    if len(text) >= _MIN_TRUNCATED:
        matches = [a for a in allowed if a.startswith(text)]
        if len(matches) >= 1:
            return min(matches, key=len)
    return None


@functools.lru_cache(maxsize=1024)
def canonical_or_given(value: str, allowed: tuple[str, ...]) -> str:
    """The canonical register value of ``value``, else ``value`` as given (for the contract rule to refuse)."""
    return canonical_register_value(value, allowed) or value


def _read_csv(name: str) -> list[dict[str, str]]:
    with resources.files("pymescore.contracts").joinpath("data", name).open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


@cache
def ubigeo_districts() -> pd.DataFrame:
    """INEI district codes with department, province, district, macro-region and coordinates."""
    frame = pd.DataFrame(_read_csv("ubigeo_distrito.csv"))
    for col in ("latitude", "longitude", "pct_pobreza_total"):
        frame[col] = pd.to_numeric(frame[col], errors="coerce")
    return frame


@cache
def ubigeo_codes() -> frozenset[str]:
    return frozenset(ubigeo_districts()["inei"])


@cache
def ciiu_table() -> pd.DataFrame:
    """CIIU Rev.4 structure: code, level (section/division/group/class), section, titles es/en."""
    return pd.DataFrame(_read_csv("ciiu_rev4.csv"))


@cache
def ciiu_sections() -> dict[str, tuple[str, str]]:
    """The 21 CIIU Rev.4 sections (A-U): letter -> (Spanish title, English title)."""
    t = ciiu_table()
    t = t[t["level"] == "section"]
    return {str(c): (str(es), str(en)) for c, es, en in zip(t["code"], t["title_es"], t["title_en"], strict=True)}


def ciiu_section_label(code: object, lang: str = "es", width: int | None = None) -> str:
    """A section letter with its name, as a person reads it: «G — Comercio al por mayor y al por menor; …»
    (``lang="en"``: the ISIC title); a value that is no section letter as given. ``width`` cuts the name with «…».
    """
    text = str(code)
    titles = ciiu_sections().get(text.strip().upper())
    if titles is None:
        return text
    title = titles[1] if lang == "en" else titles[0]
    label = f"{text.strip().upper()} — {title}"
    return label if width is None or len(label) <= width else label[: max(width - 1, 1)].rstrip() + "…"


@cache
def ciiu_classes() -> dict[str, str]:
    """4-digit CIIU class -> section letter."""
    t = ciiu_table()
    t = t[t["level"] == "class"]
    return dict(zip(t["code"], t["section"], strict=True))
