"""Feature and label settings: a small frozen object passed to the builders."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

#: UIT (S/) by year, Peru; DS 301-2025-EF for 2026 (see PERU_DOMAIN.md section 2)
UIT_BY_YEAR: dict[int, float] = {
    2012: 3650, 2013: 3700, 2014: 3800, 2015: 3850, 2016: 3950, 2017: 4050, 2018: 4150, 2019: 4200,
    2020: 4300, 2021: 4400, 2022: 4600, 2023: 4950, 2024: 5150, 2025: 5350, 2026: 5500,
}  # fmt: skip

#: Ley 30056 upper bounds of annual sales in UIT: micro, pequeña, mediana (above: gran empresa)
SIZE_BOUNDS_UIT = (150.0, 1700.0, 2300.0)

DefaultDefinition = Literal["sbs", "basel"]
DEFINITIONS: dict[str, str] = {
    "sbs": "SBS: the firm's SBS rating is Deficiente (2) or worse in a month of the performance window "
    "(retail thresholds: more than 30 days past due).",
    "basel": "Basel: an instalment reaches 90 days past due inside the performance window.",
}
#: the same definitions in Spanish, for the Spanish texts (the model card's summary)
DEFINITIONS_ES: dict[str, str] = {
    "sbs": "SBS: la calificación SBS de la empresa es Deficiente (2) o peor en algún mes de la ventana de "
    "desempeño (umbrales minoristas: más de 30 días de atraso).",
    "basel": "Basilea: una cuota llega a 90 días de atraso dentro de la ventana de desempeño.",
}


@dataclass(frozen=True)
class FeatureConfig:
    """How features and labels are computed.

    ``statement_lag_months``: a financial statement is used only from ``period_end`` plus this lag (the
    annual return is filed in the first months of the next year). ``window_months``: months of monthly
    history the panels read (at least 24: year-on-year features need two years).
    """

    statement_lag_months: int = 4
    window_months: int = 24
    horizon_months: int = 12
    default_definition: DefaultDefinition = "sbs"
    uit_by_year: dict[int, float] = field(default_factory=lambda: dict(UIT_BY_YEAR))

    def __post_init__(self) -> None:
        from pymescore.errors import ConfigError

        if not 0 <= self.statement_lag_months <= 24:
            raise ConfigError(f"statement_lag_months must be in [0, 24]. Got {self.statement_lag_months}.")
        if not 24 <= self.window_months <= 120:
            raise ConfigError(f"window_months must be in [24, 120]. Got {self.window_months}.")
        if not 1 <= self.horizon_months <= 36:
            raise ConfigError(f"horizon_months must be in [1, 36]. Got {self.horizon_months}.")
        if self.default_definition not in DEFINITIONS:
            raise ConfigError(
                f"default_definition must be one of {', '.join(DEFINITIONS)}. Got {self.default_definition!r}."
            )

    def uit(self, year: int) -> float:
        """UIT of ``year``; the nearest known year outside the table."""
        years = sorted(self.uit_by_year)
        return self.uit_by_year[min(max(year, years[0]), years[-1])]
