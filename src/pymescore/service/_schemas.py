"""The service's public request and response bodies (the OpenAPI contract other systems build against).

History records carry the raw tables' contract columns (``pymescore contracts``) without ``ruc``; the
service parses and checks them with the same contracts as ingestion and builds features with the same
builders as training.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SkipValidation, WithJsonSchema, model_validator

from pymescore.errors import InputError
from pymescore.service._rates import RATE_MAX, RATE_MIN

MAX_HISTORY_ROWS = 600
MAX_FEATURES = 200
#: values of one model row (the model's inputs: its columns, and a sequence model's 36 months × 8 channels)
MAX_INPUTS = 2000
MAX_RATES = 240
#: an amount in the record's currency (finite; beyond ±10^13 is a typing error, not an SME)
#: strict: JSON ``true`` or ``"5000"`` is not an amount (pydantic's lax mode would read 1.0 and 5000.0)
Money = Annotated[float, Field(strict=True, allow_inf_nan=False, ge=-1e13, le=1e13)]
#: a count: a JSON integer (24, or 24.0, the same number to JSON); never true, "24" or 24.5
_Count = Annotated[int, Field(strict=True)] | Annotated[float, Field(strict=True, multiple_of=1)]
RATING = "SBS rating: 0 Normal, 1 CPP, 2 Deficiente, 3 Dudoso, 4 Pérdida."
Term = Annotated[_Count, Field(ge=1, le=120), WithJsonSchema({"type": "integer", "minimum": 1, "maximum": 120})]
_RATING_SCHEMA = {"type": "integer", "minimum": -1000, "maximum": 1000, "description": RATING}
Rating = Annotated[_Count, Field(ge=-1000, le=1000), WithJsonSchema(_RATING_SCHEMA)]
Lenders = Annotated[_Count, Field(ge=-1000, le=100000),
                    WithJsonSchema({"type": "integer", "minimum": -1000, "maximum": 100000})]  # fmt: skip
#: a feature's value: a number (never a boolean), a text (a category) or null
FeatureValue = Annotated[float, Field(strict=True)] | str | None
#: the RUC as POST /v1/scores checks it: a person (10), a company (20) or another taxpayer (15, 17), then the
#: SUNAT check digit (mod 11); ``format: pe-ruc`` names the check, which no pattern can
RUC_PATTERN = r"^(10|15|17|20)[0-9]{9}$"
RUC_SCHEMA: dict[str, Any] = {"format": "pe-ruc"}
RUC_DESCRIPTION = (
    "RUC (SUNAT): 11 ASCII digits, starting 10, 15, 17 or 20, whose last digit is the check digit "
    "(weights 5,4,3,2,7,6,5,4,3,2 on the first ten; 11 - sum mod 11, keeping the last digit)."
)
Code = str
MONTH = r"^[0-9]{4}-(0[1-9]|1[0-2])(-01(T00:00(:00(\.0{1,9})?)?)?)?$"
#: in the spec only: the contract checks the month (its message names YYYY-MM, with the record's other problems)
_MONTH: dict[str, Any] = {"pattern": MONTH}


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FirmIn(_Record):
    name: str | None = Field(None, max_length=300, description="Razón social (not used by the model).")
    ciiu: Code | None = Field(None, max_length=8, description="CIIU Rev.4 class (4 digits).", examples=["4711"])
    ubigeo: Code | None = Field(None, max_length=8, description="INEI district code (6 digits).", examples=["150101"])
    start_date: dt.date | None = Field(None, description="Start of activities (SUNAT).")
    taxpayer_state: str | None = Field(None, max_length=60, examples=["ACTIVO"])
    domicile_condition: str | None = Field(None, max_length=60, examples=["HABIDO"])


class CashflowIn(_Record):
    month: str = Field(
        max_length=40,
        description="Month, YYYY-MM (or its first day, also as an ISO date-time at midnight, as pandas writes it).",
        examples=["2024-06"],
        json_schema_extra=_MONTH,
    )
    currency: str = Field("PEN", max_length=3, examples=["PEN"])
    income: Money
    expenses: Money


class StatementIn(_Record):
    period_end: dt.date
    currency: str = Field("PEN", max_length=3)
    total_assets: Money
    total_liabilities: Money
    equity: Money
    revenue: Money
    cost_of_sales: Money
    net_income: Money


class PaymentIn(_Record):
    loan_id: str = Field(max_length=64)
    due_date: dt.date
    paid_date: dt.date | None = None
    amount_due: Money
    amount_paid: Money
    currency: str = Field("PEN", max_length=3)
    disbursement_date: dt.date | None = None


class BureauIn(_Record):
    month: str = Field(
        max_length=40,
        description="Month, YYYY-MM (or its first day, also as an ISO date-time at midnight, as pandas writes it).",
        examples=["2024-06"],
        json_schema_extra=_MONTH,
    )
    sbs_rating: Rating
    debt_total: Money
    n_lenders: Lenders


class ClientRate(_Record):
    """A PEN/USD rate the client vouches for, for a month no official series of the service covers."""

    month: str = Field(max_length=40, description="Month, YYYY-MM.", examples=["2024-06"],
                       json_schema_extra={"pattern": MONTH})  # fmt: skip
    # the band is checked with the histories (every problem of a request at once); the spec documents it
    pen_per_usd: float = Field(
        strict=True,
        allow_inf_nan=False,
        description=f"Soles per US dollar (BCRP); plausible band {RATE_MIN:g}-{RATE_MAX:g}.",
        examples=[3.75],
        json_schema_extra={"minimum": RATE_MIN, "maximum": RATE_MAX},
    )


_EXAMPLE: dict[str, Any] = {
    "ruc": "20100070970",
    "requested_amount": 50000,
    "currency": "PEN",
    "term_months": 24,
    "as_of": "2024-12-31",
    "firm": {"ciiu": "4711", "ubigeo": "150101", "start_date": "2015-03-01", "taxpayer_state": "ACTIVO",
             "domicile_condition": "HABIDO"},
    "monthly_cashflows": [{"month": "2024-11", "currency": "PEN", "income": 42000, "expenses": 35500}],
    "financial_statements": [],
    "payments": [{"loan_id": "L-1", "due_date": "2024-11-15", "paid_date": "2024-11-14", "amount_due": 2500,
                  "amount_paid": 2500, "currency": "PEN"}],
    "bureau_ratings": [{"month": "2024-11", "sbs_rating": 0, "debt_total": 60000, "n_lenders": 2}],
}  # fmt: skip


class ScoreRequest(BaseModel):
    """One credit application: raw histories, or precomputed ``features`` instead of them."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_EXAMPLE]})

    # the RUC's shape and check digit are checked with the histories (every problem of a request at once), not
    # here, where a bad RUC would hide them; the schema documents what that check enforces
    ruc: str = Field(
        max_length=64,
        description=RUC_DESCRIPTION,
        json_schema_extra={**RUC_SCHEMA, "pattern": RUC_PATTERN, "minLength": 11, "maxLength": 11},
    )
    requested_amount: float = Field(gt=0, le=1e10, allow_inf_nan=False, strict=True)
    currency: Literal["PEN", "USD"] = "PEN"
    term_months: Term
    as_of: dt.date | None = Field(
        None, ge=dt.date(1990, 1, 1), description="Evaluation date (default: today, Lima). Data after it is ignored."
    )
    guarantee: Literal["none", "preferred", "preferred_quick"] = Field(
        "none",
        description="The loan's guarantee under the SBS provision tables (preferred; preferred of quick "
        "realisation): sets the provision and the LGD of the expected loss.",
    )
    firm: FirmIn | None = None
    monthly_cashflows: list[CashflowIn] = Field(default_factory=list, max_length=MAX_HISTORY_ROWS)
    financial_statements: list[StatementIn] = Field(default_factory=list, max_length=MAX_HISTORY_ROWS)
    payments: list[PaymentIn] = Field(default_factory=list, max_length=MAX_HISTORY_ROWS)
    bureau_ratings: list[BureauIn] = Field(default_factory=list, max_length=MAX_HISTORY_ROWS)
    features: dict[str, FeatureValue] | None = Field(
        None, max_length=MAX_FEATURES, description="Precomputed features (the model's feature list, GET /v1/model)."
    )
    exchange_rates: list[ClientRate] | None = Field(
        None,
        max_length=MAX_RATES,
        description="PEN/USD rates by month, used only for a USD amount of a month that neither the lake's nor the "
        "bundle's official rates cover (and that the features read); stored with the decision.",
    )

    @model_validator(mode="after")
    def _one_mode(self) -> ScoreRequest:
        if self.features is not None and (
            self.firm is not None
            or self.monthly_cashflows
            or self.financial_statements
            or self.payments
            or self.bureau_ratings
        ):
            raise InputError("expected either 'features' or the histories (firm, monthly_cashflows, ...), got both")
        return self


class BatchRequest(BaseModel):
    """Applications documented as ``ScoreRequest`` but validated one by one by the route, so that one broken
    application gets its own 422 item instead of refusing the whole batch."""

    model_config = ConfigDict(extra="forbid")
    applications: list[SkipValidation[ScoreRequest]] = Field(
        min_length=1, max_length=1000, description="At most PYMESCORE_BATCH_MAX (100 by default) applications."
    )


class Reason(BaseModel):
    code: str
    text: str
    impact_points: float


class PolicyRule(BaseModel):
    code: str
    text: str
    effect: Literal["decline", "review", "note"] = Field(
        description="decline: a knock-out; review: sends the application to an analyst; note: named for the owner "
        "and the analyst, changes nothing (NOTE_THIN_FILE on a decline)."
    )


class Hint(BaseModel):
    feature: str
    text: str
    current_value: float | None
    target_value: float
    points: float


class Regulatory(BaseModel):
    """What Peru's rules attach to the loan this application would be (Res. SBS 11356-2008)."""

    credit_type: str = Field(description="SBS credit type: microempresa, pequena_empresa or mediana_empresa.")
    sbs_category: str = Field(description="The category a new loan takes: Normal, aligned to the bureau's rating.")
    guarantee: str
    exposure: float = Field(description="The suggested amount when the policy set one, else the requested amount.")
    provision_rate: float
    provision_amount: float
    lgd: float
    expected_loss: float = Field(description="PD × LGD × exposure, in the request's currency.")
    regulation_version: str


class Notice(BaseModel):
    """The automated-decision notice (DS 016-2024-JUS; DS 115-2025-PCM)."""

    version: str
    text: str
    data_used: list[str]


class RateUsed(BaseModel):
    month: str
    pen_per_usd: float
    used: bool = Field(description="Whether it converted an amount (an official rate, when one covers the "
                                   "month, is used instead).")  # fmt: skip


class Conversion(BaseModel):
    """How the application's amounts were brought to PEN."""

    client_rates: list[RateUsed] = Field(description="The request's exchange_rates, as stored with the decision.")
    usd_amounts_by_source: dict[str, int] = Field(
        description="USD records (and the requested amount) converted with the lake's, the bundle's or the "
        "client's rates."
    )
    amounts_not_read: dict[str, int] = Field(
        description="Records per history whose amounts the features do not read at this as_of (older than their "
        "window, or not yet due or filed): accepted, not converted, not checked against a rate."
    )


class ScoreResponse(BaseModel):
    score_id: str
    created_at: str
    ruc: str
    as_of: str
    model_version: str
    policy_version: str
    pd: float
    score: int
    band: str
    decision: Literal["approve", "review", "decline"]
    requested_amount: float
    suggested_amount: float
    currency: str
    reasons: list[Reason]
    policy_rules: list[PolicyRule]
    improvement_hints: list[Hint]
    improvement_note: str | None = Field(
        default=None,
        description="Set on a review or decline without hints: says that no input the firm runs raises the score.",
    )
    language: Literal["es", "en"]
    regulatory: Regulatory | None = None
    automated_decision_notice: Notice | None = None
    exchange_rates: Conversion | None = None


class FieldProblem(BaseModel):
    path: str
    expected: str
    got: str


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str = ""
    instance: str | None = None
    code: str | None = None
    errors: list[FieldProblem] = Field(default_factory=list)


class BatchItem(BaseModel):
    index: int
    status: int
    result: ScoreResponse | None = None
    problem: Problem | None = None


class BatchResponse(BaseModel):
    results: list[BatchItem]


class HistoryResponse(BaseModel):
    ruc: str
    items: list[ScoreResponse]


class ModelInfo(BaseModel):
    name: str
    version: str
    source: str
    target: str
    features: list[dict[str, Any]]
    #: the model's input row (name, categories or null), the order of a list instance of the predict route
    inputs: list[dict[str, Any]]
    metrics: dict[str, Any]
    card: str
    policy_version: str


#: a model row, as a SavedModel export reads it: one number per model input (GET /v1/model ``inputs``), in order;
#: null (or NaN) for a missing value, a category as its index in the input's ``categories``
ModelRow = Annotated[list[Annotated[float, Field(strict=True)] | None], Field(max_length=MAX_INPUTS)]


class PredictRequest(BaseModel):
    """TensorFlow Serving's row format: per instance, either an object of feature values (the model's features,
    as ``features`` of POST /v1/scores) or the model's input row as a list of numbers (what the SavedModel export
    takes: the same request gets the same answer from TensorFlow Serving)."""

    model_config = ConfigDict(extra="forbid")
    instances: list[dict[str, FeatureValue] | ModelRow] = Field(min_length=1, max_length=1000)


class Prediction(BaseModel):
    pd: float
    score: int


class PredictResponse(BaseModel):
    predictions: list[Prediction]
    model_version: str
