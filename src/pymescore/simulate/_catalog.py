"""Declarative tables the simulator draws from: sectors, regions, sizes, seasonality, names.

Every effect is a row in a table here, so that what drives risk and income can be read (and changed)
in one place. Logit effects add to the monthly default hazard; level effects multiply income.
"""

from __future__ import annotations

from typing import NamedTuple

#: UIT (S/) in force each year (Gestión / RPP, 17 Dec 2025); years outside use the nearest one.
UIT: dict[int, float] = {
    2012: 3650, 2013: 3700, 2014: 3800, 2015: 3850, 2016: 3950, 2017: 4050, 2018: 4150, 2019: 4200,
    2020: 4300, 2021: 4400, 2022: 4600, 2023: 4950, 2024: 5150, 2025: 5350, 2026: 5500,
}  # fmt: skip


def uit(year: int) -> float:
    """UIT of ``year`` (clamped to the table's range)."""
    return UIT[min(max(year, min(UIT)), max(UIT))]


class Size(NamedTuple):
    """A Ley 30056 size class: annual sales band in UIT and how it behaves."""

    name: str
    low_uit: float
    high_uit: float
    #: base log-odds of being in this class (micro = 0) and its slope on latent quality
    logit: float
    quality_slope: float
    #: logit of filing an annual financial statement (before the quality effect)
    statement_logit: float
    hazard: float


SIZES: tuple[Size, ...] = (
    Size("micro", 10.0, 150.0, 0.0, 0.0, -2.0, 0.0),
    Size("small", 150.0, 1700.0, -1.45, 0.45, 0.5, 0.10),
    Size("medium", 1700.0, 2300.0, -3.6, 0.6, 3.0, 0.25),
)


class Sector(NamedTuple):
    """A CIIU section: how often SMEs are in it, its income level, risk and seasonal profile."""

    weight: float
    level: float
    hazard: float
    season: str
    #: cost of sales / revenue and assets / revenue in statements
    cogs: float
    assets_turnover: float
    name_prefixes: tuple[str, ...]


_GENERIC = ("Inversiones", "Corporación", "Negociaciones", "Grupo", "Servicios Generales", "Representaciones")

SECTORS: dict[str, Sector] = {
    "A": Sector(0.07, 0.8, 0.30, "agri", 0.62, 1.6, ("Agroindustrias", "Agropecuaria", "Agrícola")),
    "B": Sector(0.01, 1.3, 0.20, "flat", 0.58, 1.8, ("Minera", "Canteras")),
    "C": Sector(0.10, 1.1, 0.00, "industry", 0.66, 1.4, ("Industrias", "Textil", "Panificadora", "Metalmecánica")),
    "D": Sector(0.002, 1.4, -0.20, "flat", 0.55, 2.5, ("Energía",)),
    "E": Sector(0.005, 1.1, 0.00, "flat", 0.55, 1.6, ("Reciclaje", "Saneamiento")),
    "F": Sector(0.06, 1.2, 0.35, "building", 0.70, 1.3, ("Constructora", "Contratistas", "Edificaciones")),
    "G": Sector(0.34, 1.0, 0.00, "retail", 0.76, 0.9, ("Comercial", "Distribuidora", "Importaciones", "Bodega")),
    "H": Sector(0.08, 0.9, 0.20, "flat", 0.60, 1.5, ("Transportes", "Logística", "Courier")),
    "I": Sector(0.09, 0.7, 0.35, "tourism", 0.45, 1.1, ("Restaurante", "Hostal", "Cevichería", "Pollería")),
    "J": Sector(0.02, 1.0, -0.10, "flat", 0.40, 1.2, ("Soluciones Digitales", "Comunicaciones")),
    "K": Sector(0.005, 1.2, -0.10, "flat", 0.30, 3.0, ("Financiera", "Casa de Cambio")),
    "L": Sector(0.02, 1.2, -0.10, "flat", 0.35, 3.5, ("Inmobiliaria",)),
    "M": Sector(0.05, 0.9, -0.25, "flat", 0.35, 1.0, ("Consultores", "Estudio Contable", "Asesoría")),
    "N": Sector(0.05, 0.9, 0.05, "flat", 0.50, 1.0, ("Servicios", "Seguridad", "Limpieza")),
    "P": Sector(0.02, 0.9, -0.20, "school", 0.40, 1.4, ("Institución Educativa", "Academia")),
    "Q": Sector(0.02, 1.0, -0.30, "flat", 0.45, 1.3, ("Clínica", "Policlínico", "Botica")),
    "R": Sector(0.01, 0.7, 0.30, "tourism", 0.45, 1.3, ("Producciones", "Eventos")),
    "S": Sector(0.05, 0.6, 0.10, "flat", 0.45, 0.9, ("Servicios", "Peluquería", "Lavandería")),
}  # fmt: skip

#: Monthly seasonal profiles (Jan..Dec), normalised to mean 1 where used.
SEASONS: dict[str, tuple[float, ...]] = {
    "retail": (0.90, 0.88, 0.95, 0.95, 1.00, 0.98, 1.08, 0.98, 0.96, 0.99, 1.05, 1.30),
    "agri": (0.85, 0.90, 1.10, 1.25, 1.30, 1.15, 1.00, 0.90, 0.85, 0.85, 0.90, 0.95),
    "tourism": (1.05, 1.00, 0.90, 0.95, 0.95, 0.95, 1.15, 1.00, 0.95, 0.95, 0.95, 1.20),
    "building": (0.85, 0.80, 0.85, 0.95, 1.00, 1.00, 1.05, 1.10, 1.10, 1.10, 1.10, 1.10),
    "industry": (0.88, 0.90, 0.97, 0.97, 1.00, 0.98, 1.00, 1.02, 1.05, 1.08, 1.10, 1.05),
    "school": (0.60, 0.70, 1.25, 1.10, 1.08, 1.05, 1.00, 1.05, 1.05, 1.05, 1.05, 1.02),
    "flat": (0.95, 0.95, 1.00, 1.00, 1.00, 1.00, 1.02, 1.00, 1.00, 1.00, 1.00, 1.08),
}

#: Department weights (INEI code -> share of formal SMEs, normalised in use), weighted toward Lima.
DEPARTMENT_WEIGHTS: dict[str, float] = {
    "15": 0.42, "07": 0.04, "04": 0.06, "13": 0.055, "20": 0.05, "14": 0.04, "12": 0.035, "08": 0.035,
    "02": 0.03, "11": 0.03, "06": 0.025, "21": 0.025, "22": 0.02, "16": 0.02, "25": 0.015, "10": 0.015,
    "23": 0.015, "24": 0.01, "05": 0.012, "18": 0.008, "03": 0.008, "01": 0.008, "19": 0.006, "17": 0.006,
    "09": 0.005,
}  # fmt: skip

#: Departments hit by the El Niño-like coastal shock: Piura, Tumbes, Lambayeque, La Libertad.
SHOCK_DEPARTMENTS: tuple[str, ...] = ("20", "24", "14", "13")
#: Shock intensity by month from its start (El Niño costero: February to June).
SHOCK_PROFILE: tuple[float, ...] = (0.5, 1.0, 1.0, 0.7, 0.35)

#: SUNAT register values other than the usual ones, with their hazard effect.
OTHER_TAXPAYER_STATES: tuple[str, ...] = (
    "SUSPENSION TEMPORAL",
    "BAJA PROVISIONAL",
    "BAJA PROV. POR OFICIO",
    "BAJA DE OFICIO",
)
OTHER_DOMICILE_CONDITIONS: tuple[str, ...] = (
    "NO HABIDO",
    "NO HALLADO",
    "NO HALLADO SE MUDO DE DOMICILIO",
    "NO HALLADO CERRADO",
)
TAXPAYER_STATE_HAZARD = 0.5
DOMICILE_HAZARD = 0.4

COMPANY_SUFFIXES: tuple[str, ...] = ("S.A.C.", "E.I.R.L.", "S.R.L.", "S.A.")
COMPANY_SUFFIX_WEIGHTS: tuple[float, ...] = (0.55, 0.30, 0.10, 0.05)
GENERIC_PREFIXES: tuple[str, ...] = _GENERIC
PLACE_WORDS: tuple[str, ...] = (
    "Andina", "del Norte", "del Sur", "Santa Rosa", "San Martín de Porres", "Los Ángeles",
    "Señor de Sipán", "Virgen de la Candelaria", "El Pacífico", "Amazónica", "Chavín", "Inca",
)  # fmt: skip
SURNAMES: tuple[str, ...] = (
    "Quispe", "Mamani", "Huamán", "Flores", "Rodríguez", "Sánchez", "García", "Chávez", "Ramírez",
    "Torres", "Vásquez", "Rojas", "Mendoza", "Gutiérrez", "Castillo", "Ñaupari", "Peña", "Muñoz",
    "Núñez", "Ibáñez", "Yáñez", "Cárdenas", "Córdova", "Condori", "Ccori", "Huanca", "Ticona",
    "Apaza", "Cóndor", "Gálvez", "Pérez", "López", "Díaz", "Gómez", "Ríos", "Ruiz", "Salazar",
    "Zúñiga", "Ordóñez", "Cahuana", "Ayala", "Villanueva", "Espinoza", "Ramos", "Vargas",
    "Castañeda", "Saldaña", "Montañez", "Begazo", "Llerena", "Paredes", "Tapia", "Herrera",
    "Medina", "Aguilar", "Quiroz", "Cisneros", "Ñahui", "Ñique", "Mañuico", "Yupanqui", "Inga",
)  # fmt: skip
GIVEN_NAMES: tuple[str, ...] = (
    "Juan Carlos", "María", "Rosa", "José", "Luis Alberto", "Ana", "Carmen", "Jorge", "Julia",
    "Pedro", "Lucía", "Víctor", "Milagros", "César", "Sofía", "Raúl", "Inés", "Ángel", "Martín",
    "Gladys", "Nélida", "Edwin", "Yésica", "Wilmer", "Flor de María", "Ítalo", "Begoña", "Iñigo",
    "Maribel", "Óscar", "Teófilo", "Zoila", "Héctor", "Noemí", "Rubén", "Túpac",
)  # fmt: skip
