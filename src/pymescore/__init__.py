"""pymescore: credit risk scoring for Peruvian SMEs from their operational data."""

from pymescore.contracts import TABLES, validate_table
from pymescore.errors import PymescoreError

__version__ = "0.1.0"

__all__ = ["TABLES", "PymescoreError", "__version__", "validate_table"]
