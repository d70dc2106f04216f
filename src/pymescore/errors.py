"""One exception hierarchy for pymescore.

Every error has a stable ``code`` and a message in the expected-vs-got form. Messages never echo
applicant data beyond what is needed to find the problem (file, row, column). Callers catch by branch::

    PymescoreError                      code
    ├── ConfigError                     CONFIG_INVALID
    ├── InputError (also a ValueError)  INPUT_INVALID
    ├── NameNotFoundError (also an AttributeError)  NAME_NOT_FOUND
    ├── SourceError                     (reading raw data failed; nothing was written)
    │   ├── SourceUnreadableError            SOURCE_UNREADABLE
    │   ├── SourceEncodingError         SOURCE_ENCODING
    │   └── MissingColumnError          COLUMN_MISSING
    ├── ContractError                   CONTRACT_UNKNOWN_TABLE, ...
    └── LakeError                       LAKE_INVALID, LAKE_MISSING_TABLE, LAKE_LOCKED

Modules add their own branches (``BundleError``, ``RegistryError``, the service's ``ProblemError``, ...), always
under ``PymescoreError``: ``tests/test_errors.py`` reads every module and fails on a ``raise`` of a builtin
exception or on an exception class outside this hierarchy.

The mapping from errors to exit codes lives in the CLI; to HTTP statuses, in the service.
"""

from __future__ import annotations

_MAX_MESSAGE = 600


class PymescoreError(Exception):
    """Root of every error pymescore raises on purpose."""

    code = "PYMESCORE_ERROR"

    def __init__(self, message: str, *, code: str | None = None, **fields: object) -> None:
        if len(message) > _MAX_MESSAGE:
            message = message[: _MAX_MESSAGE - 1] + "…"
        super().__init__(message)
        if code is not None:
            self.code = code
        self.message = message
        self.fields = fields

    def __reduce__(self) -> tuple[object, ...]:  # errors cross process boundaries intact
        return (_rebuild, (type(self), self.message, self.code, self.fields))


def _rebuild(cls: type[PymescoreError], message: str, code: str, fields: dict[str, object]) -> PymescoreError:
    return cls(message, code=code, **fields)


class ConfigError(PymescoreError):
    code = "CONFIG_INVALID"


class InputError(PymescoreError, ValueError):
    """A value handed to a function (or a field of a request) that it cannot take. Also a ``ValueError``:
    callers that catch ``ValueError``, and pydantic validators, which must raise one, keep working."""

    code = "INPUT_INVALID"


class NameNotFoundError(PymescoreError, AttributeError):
    """A name a module does not have (a package's lazy ``__getattr__``). Also an ``AttributeError``, as
    ``hasattr`` and ``from ... import`` expect."""

    code = "NAME_NOT_FOUND"


class SourceError(PymescoreError):
    code = "SOURCE_ERROR"


class SourceUnreadableError(SourceError):
    code = "SOURCE_UNREADABLE"


class SourceEncodingError(SourceError):
    code = "SOURCE_ENCODING"


class MissingColumnError(SourceError):
    code = "COLUMN_MISSING"


class ContractError(PymescoreError):
    code = "CONTRACT_ERROR"


class LakeError(PymescoreError):
    code = "LAKE_INVALID"
