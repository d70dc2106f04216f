"""Declarative contracts of the raw tables: columns, types, units, keys and cross-field rules.

The column names listed in ``CONTRACT_COLUMNS`` are public: other tools, tests and the scoring API build
records with them. Columns may be added, never renamed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pymescore.errors import ContractError

Kind = Literal["str", "code", "date", "month", "float", "int"]


@dataclass(frozen=True)
class Column:
    """One column of a raw table.

    ``kind`` decides parsing: ``code`` is a digit string whose leading zeros matter (zero-padded to
    ``width`` when a source stored it as a number), ``month`` a date on the first day of its month.
    ``required`` columns must be present in every source; optional ones may be absent (then null).
    """

    name: str
    kind: Kind
    description: str
    unit: str = ""
    nullable: bool = False
    required: bool = True
    ge: float | None = None
    le: float | None = None
    isin: tuple[str, ...] | None = None
    width: int | None = None


@dataclass(frozen=True)
class TableContract:
    """A raw table: its columns, primary key and what its amounts are worth in PEN."""

    name: str
    description: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    #: amount columns converted to PEN (``<col>_pen``) when the table has a ``currency`` column
    amounts: tuple[str, ...] = ()
    #: date column whose exchange rate converts the amounts (last published rate on or before it;
    #: a ``month`` column means the month's last day)
    fx_date: str | None = None
    #: the column that dates a record for point-in-time reads
    event_date: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def required_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise ContractError(
            f"{self.name}: expected one of its columns ({', '.join(self.column_names)}), got {name!r}",
            code="CONTRACT_UNKNOWN_COLUMN",
        )


CURRENCIES = ("PEN", "USD")

_RUC = Column("ruc", "code", "RUC of the firm: 11 digits, prefix 10/15/17/20, valid check digit", width=11)
_CURRENCY = Column("currency", "str", "ISO 4217 currency of the amounts in this row", isin=CURRENCIES)

FIRMS = TableContract(
    name="firms",
    description="One row per firm: identity and SUNAT register data.",
    key=("ruc",),
    columns=(
        _RUC,
        Column("name", "str", "Legal name (razón social) or the person's name for RUC 10"),
        Column("ciiu", "code", "Main economic activity, CIIU Rev.4 class (4 digits)", nullable=True, width=4),
        Column("ubigeo", "code", "INEI UBIGEO of the fiscal address (DDPPdd)", nullable=True, width=6),
        Column("start_date", "date", "Start of activities in the RUC register", "date", nullable=True),
        Column("taxpayer_state", "str", "SUNAT estado del contribuyente (canonical text)"),
        Column("domicile_condition", "str", "SUNAT condición de domicilio (canonical text)"),
    ),
    notes=(
        "taxpayer_state and domicile_condition accept the SUNAT padrón's truncated texts and are stored "
        "in their canonical spelling.",
        "A well-formed UBIGEO whose department exists but whose district is not in the shipped table "
        "(districts created after 2021-08) is kept and flagged with ubigeo_known = false.",
    ),
)

MONTHLY_CASHFLOWS = TableContract(
    name="monthly_cashflows",
    description="Monthly operating cash flows of a firm (e.g. from bank statements or e-invoicing).",
    key=("ruc", "month", "currency"),
    amounts=("income", "expenses"),
    fx_date="month",
    event_date="month",
    columns=(
        _RUC,
        Column("month", "month", "Calendar month (first day of the month)", "month"),
        _CURRENCY,
        Column("income", "float", "Cash received in the month", "currency units", ge=0),
        Column("expenses", "float", "Cash paid out in the month", "currency units", ge=0),
    ),
)

FINANCIAL_STATEMENTS = TableContract(
    name="financial_statements",
    description="Annual financial statements (balance sheet and income statement) of a firm.",
    key=("ruc", "period_end"),
    amounts=("total_assets", "total_liabilities", "equity", "revenue", "cost_of_sales", "net_income"),
    fx_date="period_end",
    event_date="period_end",
    columns=(
        _RUC,
        Column("period_end", "date", "Closing date of the fiscal period", "date"),
        _CURRENCY,
        Column("total_assets", "float", "Total assets at period end", "currency units", ge=0),
        Column("total_liabilities", "float", "Total liabilities at period end", "currency units", ge=0),
        Column("equity", "float", "Equity at period end (= assets - liabilities)", "currency units"),
        Column("revenue", "float", "Net sales of the period", "currency units", ge=0),
        Column("cost_of_sales", "float", "Cost of sales of the period", "currency units", ge=0),
        Column("net_income", "float", "Net income (loss) of the period", "currency units"),
    ),
    notes=("equity must equal total_assets - total_liabilities within the configured tolerance.",),
)

PAYMENTS = TableContract(
    name="payments",
    description="Loan instalments: what was due, when, and what was paid.",
    key=("loan_id", "due_date"),
    amounts=("amount_due", "amount_paid"),
    fx_date="due_date",
    event_date="due_date",
    columns=(
        _RUC,
        Column("loan_id", "str", "Lender's loan identifier"),
        Column("due_date", "date", "Due date of the instalment", "date"),
        Column("paid_date", "date", "Date the instalment was paid; empty while unpaid", "date", nullable=True),
        Column("amount_due", "float", "Instalment amount due", "currency units", ge=0),
        Column("amount_paid", "float", "Amount paid for the instalment", "currency units", ge=0),
        _CURRENCY,
        Column(
            "disbursement_date",
            "date",
            "Date the loan was disbursed (loan start)",
            "date",
            nullable=True,
            required=False,
        ),
    ),
    notes=(
        "paid_date is never before the loan start (disbursement_date when given); a row with "
        "amount_paid > 0 has a paid_date; due_date is after the disbursement_date.",
    ),
)

BUREAU_RATINGS = TableContract(
    name="bureau_ratings",
    description="Monthly SBS credit-bureau (RCC) position of a firm in the financial system.",
    key=("ruc", "month"),
    event_date="month",
    columns=(
        _RUC,
        Column("month", "month", "Reporting month (first day of the month)", "month"),
        Column(
            "sbs_rating",
            "int",
            "Worst SBS classification: 0 Normal, 1 CPP, 2 Deficiente, 3 Dudoso, 4 Pérdida",
            "category",
            ge=0,
            le=4,
        ),
        Column("debt_total", "float", "Total debt in the financial system", "PEN", ge=0),
        Column("n_lenders", "int", "Number of lenders reporting the firm", "count", ge=0, le=100),
    ),
)

EXCHANGE_RATES = TableContract(
    name="exchange_rates",
    description="Daily PEN per USD exchange rate (BCRP, SBS selling rate PD04640PD by default).",
    key=("date",),
    event_date="date",
    columns=(
        Column("date", "date", "Publication date", "date"),
        Column("pen_per_usd", "float", "Soles per US dollar", "PEN/USD", ge=2.5, le=4.5),
    ),
    notes=("The 2.5-4.5 band catches unit errors (a rate in cents, a rate inverted).",),
)

APPLICATIONS = TableContract(
    name="applications",
    description="Credit applications and the lender's decision on each, under the policy then in force.",
    key=("ruc", "application_date"),
    event_date="application_date",
    columns=(
        _RUC,
        Column("application_date", "date", "Date the application was decided (its features' as_of)", "date"),
        Column("decision", "str", "The lender's decision: approved, or rejected (no loan, no outcome observed)",
               isin=("approved", "rejected")),
        Column("policy_score", "float", "Points the scorecard then in force gave the application", "points",
               nullable=True, required=False),
    ),
    notes=(
        "With this table in the lake, `pymescore features` builds one row per application (rejected ones marked, "
        "their label missing) instead of one per firm at risk.",
    ),
)  # fmt: skip

TABLES: dict[str, TableContract] = {
    t.name: t
    for t in (FIRMS, MONTHLY_CASHFLOWS, FINANCIAL_STATEMENTS, PAYMENTS, BUREAU_RATINGS, EXCHANGE_RATES, APPLICATIONS)
}

#: The simulator's ground truth (not ingested: written next to the raw tables).
ORACLE_COLUMNS = ("ruc", "as_of", "true_pd", "defaulted")

#: Public column contract: add columns freely, rename none.
CONTRACT_COLUMNS: dict[str, tuple[str, ...]] = {name: t.column_names for name, t in TABLES.items()}
