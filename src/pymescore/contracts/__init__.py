"""Contracts of the raw tables (pandera) and the reference data they check against."""

from pymescore.contracts._spec import (
    CONTRACT_COLUMNS,
    CURRENCIES,
    ORACLE_COLUMNS,
    TABLES,
    Column,
    TableContract,
)
from pymescore.contracts._validate import ValidationResult, object_array, validate_table

__all__ = [
    "CONTRACT_COLUMNS",
    "CURRENCIES",
    "ORACLE_COLUMNS",
    "TABLES",
    "Column",
    "TableContract",
    "ValidationResult",
    "object_array",
    "validate_table",
]
