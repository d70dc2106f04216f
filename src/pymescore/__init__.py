"""pymescore: credit risk scoring for Peruvian SMEs from their operational data.

``TABLES`` and ``validate_table`` are read on first use, so that ``import pymescore`` (and the command line's
``--help``) does not import pandas.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pymescore.errors import NameNotFoundError, PymescoreError

if TYPE_CHECKING:
    from pymescore.contracts import TABLES, validate_table

__version__ = "0.1.0"

__all__ = ["TABLES", "PymescoreError", "__version__", "validate_table"]


def __getattr__(name: str) -> Any:
    if name in ("TABLES", "validate_table"):
        from pymescore import contracts

        return getattr(contracts, name)
    raise NameNotFoundError(f"module 'pymescore' has no attribute {name!r}")
