"""The catalog: every feature pymescore computes, declared once (see ``_registry`` for the fields)."""

from __future__ import annotations

from pymescore.features._registry import Feature, Group, Kind

_INC = ("monthly_cashflows.income_pen", "monthly_cashflows.month")
_EXP = ("monthly_cashflows.expenses_pen", "monthly_cashflows.month")
_CF = ("monthly_cashflows.income_pen", "monthly_cashflows.expenses_pen", "monthly_cashflows.month")
_FS = ("financial_statements.period_end",)
_PAY = ("payments.due_date", "payments.paid_date", "payments.amount_due_pen", "payments.amount_paid_pen")
_BUR = ("bureau_ratings.month",)
_NONE = (None, None)
_RATIO = (-10.0, 10.0)


def _f(
    name: str,
    group: Group,
    es: str,
    en: str,
    sources: tuple[str, ...],
    unit: str,
    valid_range: tuple[float | None, float | None],
    monotone: int,
    rationale: str,
    reason: tuple[str, str],
    kind: Kind = "numeric",
) -> Feature:
    return Feature(name, group, kind, es, en, sources, unit, valid_range, monotone, rationale, reason[0], reason[1])


def _window(
    stem: str,
    what_es: str,
    what_en: str,
    mono: int,
    rationale: str,
    reason: tuple[str, str],
    sources: tuple[str, ...] = _CF,
) -> list[Feature]:
    out = []
    for months in (3, 6, 12):
        out.append(
            _f(f"{stem}_mean_{months}m", "cash_flow", f"{what_es}: promedio mensual de los últimos {months} meses",
               f"{what_en}: monthly mean over the last {months} months", sources, "PEN/month", _NONE, mono, rationale,
               reason)
        )  # fmt: skip
    out.append(
        _f(f"{stem}_median_12m", "cash_flow", f"{what_es}: mediana mensual de los últimos 12 meses",
           f"{what_en}: monthly median over the last 12 months", sources, "PEN/month", _NONE, mono, rationale, reason)
    )  # fmt: skip
    return out


_LOW_INCOME = ("Ingresos mensuales bajos", "Low monthly income")
_LOW_NET = ("Flujo de caja neto bajo o negativo", "Low or negative net cash flow")
# A free feature (monotone 0) pulls the score down for some values and up for others: its reason names the
# factor, not a direction ("Nivel de egresos mensuales"), so that it reads true whichever way the value lies.

CASH_FLOW = [
    *_window("income", "Ingresos", "Income", -1, "More income leaves more room to pay.", _LOW_INCOME, _INC),
    *_window("expenses", "Egresos", "Expenses", 0, "Expenses grow with the size of the business.",
             ("Nivel de egresos mensuales", "Level of monthly expenses"), _EXP),
    *_window("net_cf", "Flujo neto (ingresos - egresos)", "Net cash flow (income - expenses)", -1,
             "Net cash flow is what services debt.", _LOW_NET),
    _f("log_income_mean_12m", "cash_flow", "Logaritmo natural de 1 + ingreso mensual promedio (12 meses)",
       "Natural log of 1 + mean monthly income (12 months)", _INC, "log PEN", (0, 25), -1,
       "More income leaves more room to pay.", _LOW_INCOME),
    _f("net_cf_margin_12m", "cash_flow", "Flujo neto sobre ingresos, últimos 12 meses",
       "Net cash flow over income, last 12 months", _CF, "ratio", (-10, 1), -1,
       "A wider cash margin absorbs shocks.", ("Margen de caja estrecho", "Thin cash margin")),
    _f("income_cv_12m", "cash_flow", "Coeficiente de variación del ingreso mensual (12 meses)",
       "Coefficient of variation of monthly income (12 months)", _INC, "ratio", (0, 10), 1,
       "Volatile income makes instalments harder to meet.", ("Ingresos inestables", "Unstable income")),
    _f("net_cf_negative_months_12m", "cash_flow", "Meses con flujo neto negativo en los últimos 12",
       "Months with negative net cash flow in the last 12", _CF, "months", (0, 12), 1,
       "Months in deficit drain liquidity.", ("Meses con flujo de caja negativo", "Months with negative cash flow")),
    _f("income_slope_12m", "cash_flow", "Tendencia del ingreso: pendiente mensual relativa al promedio (12 meses)",
       "Income trend: monthly slope relative to the mean (12 months)", _INC, "1/month", (-1, 1), -1,
       "A falling income is an early warning.", ("Ingresos en descenso", "Falling income")),
    _f("income_yoy_growth_3m", "cash_flow", "Crecimiento interanual de los ingresos de los últimos 3 meses",
       "Year-on-year growth of the last 3 months' income", _INC, "ratio", _RATIO, -1,
       "Growing sales strengthen repayment capacity.", ("Caída interanual de ventas", "Year-on-year sales decline")),
    _f("net_cf_margin_24m", "cash_flow", "Flujo neto sobre ingresos, últimos 24 meses",
       "Net cash flow over income, last 24 months", _CF, "ratio", (-10, 1), -1,
       "Two years of margin tell the firm's cost structure apart from a good or bad year.",
       ("Margen de caja estrecho en dos años", "Thin cash margin over two years")),
    _f("net_cf_margin_median_24m", "cash_flow", "Margen de caja del mes típico: mediana del flujo neto sobre ingresos de cada mes (24 meses)",
       "Cash margin of the typical month: median of each month's net cash flow over income (24 months)", _CF, "ratio",
       (-10, 1), -1, "The typical month's margin, unmoved by one exceptional month or a mistyped amount.",
       ("Margen de caja mensual típico estrecho", "Thin cash margin in a typical month")),
    _f("income_growth_24m", "cash_flow", "Crecimiento del ingreso: pendiente mensual del logaritmo del ingreso (24 meses)",
       "Income growth: monthly slope of log income (24 months)", _INC, "log/month", (-1, 1), -1,
       "A business that has grown for two years is less likely to be in decline.",
       ("Ingresos estancados o en descenso en dos años", "Flat or falling income over two years")),
    _f("income_volatility_24m", "cash_flow", "Volatilidad del ingreso: desviación estándar del cambio mensual del logaritmo del ingreso (24 meses)",
       "Income volatility: standard deviation of the monthly change in log income (24 months)", _INC, "log",
       (0, 10), 1, "Month-to-month swings, free of the income level and its trend, make instalments harder to meet.",
       ("Ingresos muy variables de un mes a otro", "Income swings from month to month")),
    _f("seasonality_strength", "cash_flow", "Fuerza estacional: correlación del ingreso con el mismo mes del año anterior",
       "Seasonality strength: correlation of income with the same month a year earlier", _INC, "correlation",
       (-1, 1), 0, "Seasonality is neither good nor bad; it shapes when the firm can pay.",
       ("Patrón estacional de los ingresos", "Seasonal pattern of income")),
]  # fmt: skip

PROFITABILITY = [
    _f("roa", "profitability", "Rentabilidad sobre activos (utilidad neta / activo total), último estado presentado",
       "Return on assets (net income / total assets), latest filed statement", _FS, "ratio", _RATIO, -1,
       "Profitable firms generate the cash to repay.", ("Baja rentabilidad sobre activos", "Low return on assets")),
    _f("roe", "profitability", "Rentabilidad sobre patrimonio (utilidad neta / patrimonio); NaN si patrimonio <= 0",
       "Return on equity (net income / equity); NaN when equity <= 0", _FS, "ratio", _RATIO, -1,
       "Profitable firms generate the cash to repay.", ("Baja rentabilidad patrimonial", "Low return on equity")),
    _f("gross_margin", "profitability", "Margen bruto ((ventas - costo de ventas) / ventas)",
       "Gross margin ((revenue - cost of sales) / revenue)", _FS, "ratio", (-10, 1), -1,
       "A wider margin absorbs cost shocks.", ("Margen bruto bajo", "Low gross margin")),
    _f("net_margin", "profitability", "Margen neto (utilidad neta / ventas)", "Net margin (net income / revenue)",
       _FS, "ratio", _RATIO, -1, "A wider margin absorbs cost shocks.", ("Margen neto bajo", "Low net margin")),
    _f("roa_x_gross_margin", "profitability", "Interacción: rentabilidad sobre activos × margen bruto",
       "Interaction: return on assets × gross margin", _FS, "ratio", (-100, 100), 0,
       "The product of two signed ratios is not monotone in risk.",
       ("Rentabilidad y margen bruto combinados", "Return on assets and gross margin combined")),
    _f("revenue_growth", "profitability", "Crecimiento de ventas frente al estado del año anterior",
       "Revenue growth against the previous year's statement", _FS, "ratio", _RATIO, -1,
       "Growing sales strengthen repayment capacity.", ("Ventas anuales en caída", "Falling annual sales")),
]  # fmt: skip

LEVERAGE = [
    _f("total_debt", "leverage", "Pasivo total del último estado presentado", "Total liabilities, latest filed statement",
       _FS, "PEN", (0, None), 0, "Debt scales with the size of the firm; leverage ratios carry the risk.",
       ("Nivel de pasivos en el último estado financiero", "Level of liabilities in the latest statement")),
    _f("total_equity", "leverage", "Patrimonio del último estado presentado", "Equity, latest filed statement",
       _FS, "PEN", _NONE, -1, "Equity is the owners' cushion against losses.", ("Patrimonio reducido", "Thin equity")),
    _f("debt_to_equity", "leverage", "Pasivo / patrimonio; NaN si patrimonio <= 0 (ver negative_equity)",
       "Liabilities / equity; NaN when equity <= 0 (see negative_equity)", _FS, "ratio", (0, 100), 1,
       "More leverage leaves less cushion.", ("Endeudamiento alto frente al patrimonio", "High debt to equity")),
    _f("negative_equity", "leverage", "1 si el patrimonio es cero o negativo", "1 when equity is zero or negative",
       _FS, "flag", (0, 1), 1, "A firm with no equity is technically insolvent.",
       ("Patrimonio negativo", "Negative equity"), "flag"),
    _f("log_total_assets", "leverage", "Logaritmo natural de 1 + activo total", "Natural log of 1 + total assets",
       _FS, "log PEN", (0, 30), -1, "A larger asset base absorbs shocks.", ("Base de activos pequeña", "Small asset base")),
]  # fmt: skip

_LATE = ("Atrasos en pagos recientes", "Recent late payments")
PAYMENTS = [
    _f("pay_on_time_share_12m", "payment_behaviour", "Proporción de cuotas vencidas en 12 meses pagadas a tiempo",
       "Share of instalments due in the last 12 months paid on time", _PAY, "ratio", (0, 1), -1,
       "Paying on time is the most direct evidence of willingness and capacity.",
       ("Pocas cuotas pagadas a tiempo", "Few instalments paid on time")),
    *[
        _f(f"dpd_{stat}_{m}m", "payment_behaviour",
           f"Días de atraso {'promedio' if stat == 'mean' else 'máximos'} de las cuotas vencidas en los últimos {m} meses",
           f"{'Mean' if stat == 'mean' else 'Maximum'} days past due of instalments due in the last {m} months",
           _PAY, "days", (0, 3650), 1, "More days past due can never lower risk.", _LATE)
        for stat in ("mean", "max") for m in (3, 6, 12)
    ],
    _f("late_share_24m", "payment_behaviour", "Proporción de cuotas vencidas en 24 meses pagadas con atraso o impagas",
       "Share of instalments due in the last 24 months paid late or still unpaid", _PAY, "ratio", (0, 1), 1,
       "Two years of instalments show a habit that one year may hide.",
       ("Atrasos frecuentes en dos años", "Frequent late payments over two years")),
    _f("dpd_current", "payment_behaviour", "Días de atraso de la cuota impaga más antigua a la fecha de corte",
       "Days past due of the oldest unpaid instalment at the cut-off date", _PAY, "days", (0, 3650), 1,
       "An arrear open today is the strongest short-term signal.", ("Deuda vencida a la fecha", "Arrears open today")),
    _f("payments_made_12m", "payment_behaviour", "Cuotas pagadas en los últimos 12 meses (frecuencia de pago)",
       "Instalments paid in the last 12 months (payment frequency)", _PAY, "count", (0, 1000), 0,
       "Frequency reflects the loan schedule, not quality.",
       ("Número de cuotas pagadas en 12 meses", "Number of instalments paid in 12 months")),
    _f("payment_completion_12m", "payment_behaviour", "Monto pagado / monto vencido de las cuotas de 12 meses",
       "Amount paid / amount due of instalments due in the last 12 months", _PAY, "ratio", (0, 2), -1,
       "Paying in full shows capacity.", ("Pagos incompletos", "Incomplete payments")),
    _f("late_payments_12m", "payment_behaviour", "Cuotas pagadas o abiertas con atraso (> 0 días) en 12 meses",
       "Instalments paid or open past their due date (> 0 days) in the last 12 months", _PAY, "count", (0, 1000), 1,
       "Each late instalment is evidence of strain.", _LATE),
    _f("months_since_delinquency", "payment_behaviour",
       "Meses desde el último atraso de más de 30 días (120 si nunca)",
       "Months since the last delinquency over 30 days (120 if never)", _PAY, "months", (0, 120), -1,
       "Older delinquencies weigh less.", ("Morosidad reciente (> 30 días)", "Recent delinquency (> 30 days)")),
]  # fmt: skip

BUREAU = [
    _f("sbs_rating_current", "bureau", "Calificación SBS del último mes reportado (0 Normal ... 4 Pérdida)",
       "SBS rating of the latest reported month (0 Normal ... 4 Loss)", (*_BUR, "bureau_ratings.sbs_rating"),
       "category", (0, 4), 1, "A worse rating is worse risk.", ("Calificación SBS actual deteriorada",
       "Current SBS rating below Normal")),
    _f("sbs_rating_worst_12m", "bureau", "Peor calificación SBS de los últimos 12 meses",
       "Worst SBS rating of the last 12 months", (*_BUR, "bureau_ratings.sbs_rating"), "category", (0, 4), 1,
       "A worse rating is worse risk.", ("Calificación SBS deteriorada en el último año", "SBS rating below Normal in the last year")),
    _f("debt_system_pen", "bureau", "Deuda total en el sistema financiero (último mes)",
       "Total debt in the financial system (latest month)", (*_BUR, "bureau_ratings.debt_total"), "PEN", (0, None),
       0, "Debt scales with size; growth and leverage carry the risk.",
       ("Nivel de deuda en el sistema financiero", "Level of debt in the financial system")),
    _f("debt_system_growth_12m", "bureau", "Crecimiento de la deuda en el sistema frente a 12 meses antes",
       "Growth of debt in the financial system against 12 months earlier", (*_BUR, "bureau_ratings.debt_total"),
       "ratio", _RATIO, 1, "Fast-growing debt often funds losses.", ("Deuda creciendo rápido", "Fast-growing debt")),
    _f("n_lenders", "bureau", "Número de entidades que reportan a la empresa (último mes)",
       "Number of lenders reporting the firm (latest month)", (*_BUR, "bureau_ratings.n_lenders"), "count", (0, 100),
       1, "Borrowing from many lenders signals strain.", ("Deuda con muchas entidades", "Debt with many lenders")),
]  # fmt: skip

FIRMOGRAPHICS = [
    _f("firm_age_years", "firmographics", "Antigüedad desde el inicio de actividades", "Age since start of activities",
       ("firms.start_date",), "years", (0, 120), -1, "Young firms fail more often.", ("Empresa joven", "Young firm")),
    _f("annual_sales_uit", "firmographics", "Ventas anuales (ingresos de 12 meses) en UIT del año",
       "Annual sales (12 months of income) in UIT of the year", _INC, "UIT", (0, None), 0,
       "Size is not risk by itself (medianas show the highest NPL in Peru).",
       ("Nivel de ventas anuales", "Level of annual sales")),
    _f("size_class", "firmographics", "Tamaño Ley 30056: 0 micro (<=150 UIT), 1 pequeña (<=1700), 2 mediana (<=2300), 3 gran",
       "Ley 30056 size: 0 micro (<=150 UIT), 1 small (<=1700), 2 medium (<=2300), 3 large", _INC, "class", (0, 3), 0,
       "Size is not risk by itself (medianas show the highest NPL in Peru).",
       ("Tamaño de la empresa (Ley 30056)", "Firm size class (Ley 30056)")),
    _f("ciiu_section", "firmographics", "Sección CIIU Rev.4 de la actividad principal (A-U)",
       "CIIU Rev.4 section of the main activity (A-U)", ("firms.ciiu",), "category", _NONE, 0,
       "Sector effects are learnt, not imposed.", ("Sector de mayor riesgo", "Higher-risk sector"), "categorical"),
    _f("department", "firmographics", "Departamento INEI del domicilio fiscal (01-25)",
       "INEI department of the fiscal address (01-25)", ("firms.ubigeo",), "category", _NONE, 0,
       "Regional effects are learnt, not imposed.", ("Región de mayor riesgo", "Higher-risk region"), "categorical"),
    _f("taxpayer_not_active", "firmographics", "1 si el estado SUNAT no es ACTIVO", "1 when the SUNAT state is not ACTIVO",
       ("firms.taxpayer_state",), "flag", (0, 1), 1, "A suspended or deregistered taxpayer cannot operate normally.",
       ("Contribuyente no activo en SUNAT", "Taxpayer not active at SUNAT"), "flag"),
    _f("domicile_not_habido", "firmographics", "1 si la condición de domicilio SUNAT no es HABIDO",
       "1 when the SUNAT domicile condition is not HABIDO", ("firms.domicile_condition",), "flag", (0, 1), 1,
       "An unlocatable taxpayer is a fraud and collection risk.", ("Domicilio fiscal no habido", "Fiscal address not located"),
       "flag"),
    _f("ruc_natural_person", "firmographics", "1 si el RUC es de persona natural (prefijo 10, 15 o 17)",
       "1 when the RUC belongs to a natural person (prefix 10, 15 or 17)", ("firms.ruc",), "flag", (0, 1), 0,
       "Legal form is not risk by itself.",
       ("Tipo de contribuyente (persona natural o jurídica)", "Taxpayer type (natural or legal person)"), "flag"),
]  # fmt: skip

CURRENCY = [
    _f("usd_share_income_12m", "currency_exposure", "Proporción del ingreso de 12 meses recibida en dólares",
       "Share of the last 12 months' income received in USD", (*_CF, "monthly_cashflows.currency"), "ratio", (0, 1), 0,
       "USD income hedges USD debt; alone it is neither good nor bad.",
       ("Proporción de ingresos en dólares", "Share of income in US dollars")),
    _f("usd_share_debt", "currency_exposure", "Proporción de las cuotas de 12 meses en dólares",
       "Share of the last 12 months' instalments in USD", (*_PAY, "payments.currency"), "ratio", (0, 1), 0,
       "FX mismatch matters only against PEN income; learnt, not imposed.",
       ("Proporción de cuotas en dólares", "Share of instalments in US dollars")),
]  # fmt: skip

CONTEXT = [
    _f("region_income_growth_12m", "context", "Mediana del crecimiento interanual de ingresos de las empresas del departamento",
       "Median year-on-year income growth of the firms in the department", _INC, "ratio", _RATIO, -1,
       "A growing regional economy supports repayment.", ("Economía regional más débil que el promedio", "Regional economy weaker than average")),
    _f("sector_income_growth_12m", "context", "Mediana del crecimiento interanual de ingresos de las empresas de la sección CIIU",
       "Median year-on-year income growth of the firms in the CIIU section", _INC, "ratio", _RATIO, -1,
       "A growing sector supports repayment.", ("Sector más débil que el promedio", "Sector weaker than average")),
    _f("region_delinquency_rate_12m", "context",
       "Proporción de empresas del departamento con calificación >= Deficiente en los 12 meses previos al corte",
       "Share of the department's firms rated Deficiente or worse in the 12 months before the cut-off",
       (*_BUR, "bureau_ratings.sbs_rating"), "ratio", (0, 1), 1, "Regional stress spreads to local firms.",
       ("Morosidad de la región mayor que el promedio", "Regional delinquency above average")),
    _f("sector_delinquency_rate_12m", "context",
       "Proporción de empresas de la sección CIIU con calificación >= Deficiente en los 12 meses previos al corte",
       "Share of the CIIU section's firms rated Deficiente or worse in the 12 months before the cut-off",
       (*_BUR, "bureau_ratings.sbs_rating"), "ratio", (0, 1), 1, "Sector stress spreads to its firms.",
       ("Morosidad del sector mayor que el promedio", "Sector delinquency above average")),
]  # fmt: skip

COVERAGE = [
    _f("months_of_history", "data_coverage", "Meses con flujo de caja registrado antes del corte",
       "Months with recorded cash flow before the cut-off", _CF, "months", (0, 600), 0,
       "A short history is uncertainty, not risk: thin files must not be punished by construction.",
       ("Antigüedad del historial de flujos de caja", "Length of the cash-flow history")),
    _f("has_cashflows", "data_coverage", "1 si hay flujos de caja en los últimos 12 meses",
       "1 when there are cash flows in the last 12 months", _CF, "flag", (0, 1), 0, "Coverage, not quality.",
       ("Disponibilidad de flujos de caja recientes", "Availability of recent cash flows"), "flag"),
    _f("has_statements", "data_coverage", "1 si hay un estado financiero presentado", "1 when a filed statement exists",
       _FS, "flag", (0, 1), 0, "Coverage, not quality.",
       ("Disponibilidad de estados financieros", "Availability of financial statements"), "flag"),
    _f("statement_age_months", "data_coverage", "Meses desde el cierre del último estado presentado",
       "Months since the close of the latest filed statement", _FS, "months", (0, 600), 0, "Coverage, not quality.",
       ("Antigüedad del último estado financiero", "Age of the latest financial statement")),
    _f("has_payments", "data_coverage", "1 si hay cuotas vencidas antes del corte", "1 when instalments fell due before the cut-off",
       _PAY, "flag", (0, 1), 0, "Coverage, not quality.",
       ("Disponibilidad de historial de pagos", "Availability of a payment history"), "flag"),
    _f("has_bureau", "data_coverage", "1 si hay reporte en la central de riesgos en los últimos 12 meses",
       "1 when the bureau reported the firm in the last 12 months", _BUR, "flag", (0, 1), 0, "Coverage, not quality.",
       ("Disponibilidad de reporte en la central de riesgos", "Availability of a credit bureau report"), "flag"),
]  # fmt: skip

FEATURES: tuple[Feature, ...] = (
    *CASH_FLOW, *PROFITABILITY, *LEVERAGE, *PAYMENTS, *BUREAU, *FIRMOGRAPHICS, *CURRENCY, *CONTEXT, *COVERAGE,
)  # fmt: skip
FEATURE_NAMES: tuple[str, ...] = tuple(f.name for f in FEATURES)
BY_NAME = {f.name: f for f in FEATURES}
