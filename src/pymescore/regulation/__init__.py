"""Peru's rules for lenders: SBS debtor classification (Res. SBS 11356-2008), provisions, expected loss and
the portfolio view (per-loan provisions, migration between categories, vintage curves).

The rules are data (``data/sbs_11356_2008.toml``, each value with its source; ``PYMESCORE_REGULATION_FILE``
replaces it); the code applies them on arrays.
"""

from pymescore.regulation._classify import align, category, credit_types, expected_loss, provision_rates
from pymescore.regulation._portfolio import Loans, loan_table, migration, summary, vintages
from pymescore.regulation._rules import GUARANTEES, Portfolio, Regulation, load_regulation

__all__ = [
    "GUARANTEES",
    "Loans",
    "Portfolio",
    "Regulation",
    "align",
    "category",
    "credit_types",
    "expected_loss",
    "load_regulation",
    "loan_table",
    "migration",
    "provision_rates",
    "summary",
    "vintages",
]
