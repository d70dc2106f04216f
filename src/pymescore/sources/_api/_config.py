"""The TOML file of API sources: one ``[institutions.NAME]`` table per bank or open-finance provider.

Read once by :func:`load_institutions` into frozen, validated objects. The client secret is never stored in
the file: ``client_secret_env`` names an environment variable, ``client_secret_file`` a file holding it; it is
read when a token is requested (:meth:`Institution.client_secret`) and never put in a message or a log.
The full format with an example: ``docs/sources-api.md``.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from pymescore.errors import ConfigError, InputError
from pymescore.sources._api._jsonpath import check_path

#: what a resource's records become: the account lookup, transactions aggregated into monthly cash flows, or
#: rows of a contract table, one per record
RESOURCE_TABLES = ("accounts", "transactions", "monthly_cashflows", "payments", "financial_statements")
#: fields a resource must map, by the table it feeds (contract tables: the contract's required columns)
ACCOUNT_FIELDS = ("account_id", "ruc")
TRANSACTION_FIELDS = ("id", "date", "amount", "currency")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Pagination(_Strict):
    """How the institution pages a list: a link to the next page, or a cursor passed back as a parameter."""

    style: Literal["next_link", "cursor"] = "next_link"
    items: str = "$.data"
    next_link: str = "$.links.next"
    cursor: str = "$.meta.next_cursor"
    cursor_param: str = "cursor"
    page_size_param: str | None = "limit"
    page_size: int = Field(100, ge=1, le=10_000)

    @field_validator("items", "next_link", "cursor")
    @classmethod
    def _path(cls, value: str) -> str:
        return check_path(value)


class Resource(_Strict):
    """One list endpoint: where it is, what it feeds, how its fields map and how it syncs incrementally."""

    path: str
    table: Literal["accounts", "transactions", "monthly_cashflows", "payments", "financial_statements"]
    scope: str | None = None
    #: JSON path (on each listed item) of an array whose elements are the records (a loan's instalments)
    explode: str | None = None
    #: record field -> JSON path; ``^.`` paths read the listed item when ``explode`` is set
    fields: dict[str, str]
    #: JSON path of a value that only grows (an update time): the stored watermark of incremental syncs
    watermark: str | None = None
    #: query parameter that asks for records whose watermark is at or after the stored one
    since_param: str | None = None
    #: values of the ``direction`` field meaning money in / money out (transactions); without a ``direction``
    #: field, the sign of the amount says it
    credit_values: tuple[str, ...] = ("CREDIT", "CRDT", "C")
    debit_values: tuple[str, ...] = ("DEBIT", "DBIT", "D")

    @field_validator("fields")
    @classmethod
    def _paths(cls, value: dict[str, str]) -> dict[str, str]:
        for path in value.values():
            check_path(path.replace("^.", "$.", 1) if path.startswith("^.") else path)
        return value

    @field_validator("explode", "watermark")
    @classmethod
    def _optional_path(cls, value: str | None) -> str | None:
        return None if value is None else check_path(value.replace("^.", "$.", 1) if value.startswith("^.") else value)

    @model_validator(mode="after")
    def _complete(self) -> Resource:
        from pymescore.contracts import TABLES

        if self.table == "accounts":
            needed: tuple[str, ...] = ACCOUNT_FIELDS
        elif self.table == "transactions":
            needed = TRANSACTION_FIELDS
            if "ruc" not in self.fields and "account_id" not in self.fields:
                needed = (*needed, "ruc or account_id")
        else:
            needed = TABLES[self.table].required_columns
        missing = [f for f in needed if f not in self.fields]
        if missing:
            raise InputError(f"fields: expected a JSON path for {', '.join(missing)}, got none")
        if (self.since_param is None) != (self.watermark is None):
            raise InputError("expected both watermark and since_param (incremental sync) or neither")
        return self


class Institution(_Strict):
    """One institution's connection, paging and resources."""

    name: str = ""
    base_url: str
    token_url: str
    client_id: str
    client_secret_env: str | None = None
    client_secret_file: Path | None = None
    auth_method: Literal["client_secret_basic", "client_secret_post"] = "client_secret_basic"
    scopes: tuple[str, ...] = ()
    timeout_s: float = Field(10.0, gt=0)
    rate_limit_per_s: float = Field(5.0, gt=0)
    max_retries: int = Field(5, ge=0, le=20)
    backoff_s: float = Field(0.5, ge=0)
    backoff_max_s: float = Field(30.0, ge=0)
    #: a token is renewed when it has fewer than this many seconds left
    token_refresh_margin_s: float = Field(60.0, ge=0)
    #: the longest Retry-After honoured; a longer one fails the sync (it would stall a daily job)
    retry_after_max_s: float = Field(300.0, ge=0)
    tls_client_cert: Path | None = None
    tls_client_key: Path | None = None
    tls_ca_bundle: Path | None = None
    pagination: Pagination = Pagination()
    resources: dict[str, Resource]

    @model_validator(mode="after")
    def _secret_and_tls(self) -> Institution:
        if (self.client_secret_env is None) == (self.client_secret_file is None):
            raise InputError("expected exactly one of client_secret_env or client_secret_file")
        if self.tls_client_key is not None and self.tls_client_cert is None:
            raise InputError("tls_client_key: expected it with tls_client_cert, got a key alone")
        for url in (self.base_url, self.token_url):
            if not url.startswith(("https://", "http://")):
                raise InputError(f"expected an http(s) URL, got {url!r}")
        lookups = [r for r in self.resources.values() if r.table == "accounts"]
        if len(lookups) > 1:
            raise InputError("resources: expected at most one with table = 'accounts'")
        for name, r in self.resources.items():
            if r.table == "transactions" and "ruc" not in r.fields and not lookups:
                raise InputError(f"resources.{name}: maps account_id but no resource has table = 'accounts'")
        return self

    def client_secret(self) -> str:
        """The secret, read now from the variable or file the configuration names."""
        if self.client_secret_env is not None:
            value = os.environ.get(self.client_secret_env)
            if not value:
                raise ConfigError(
                    f"institution {self.name}: expected the client secret in environment variable "
                    f"{self.client_secret_env}, got it unset or empty",
                    code="API_SECRET_MISSING",
                )
            return value
        assert self.client_secret_file is not None
        try:
            value = self.client_secret_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(
                f"institution {self.name}: expected the client secret in {self.client_secret_file}, got "
                f"an unreadable file ({exc.strerror})",
                code="API_SECRET_MISSING",
            ) from exc
        if not value:
            raise ConfigError(f"{self.client_secret_file}: expected the client secret, got an empty file",
                              code="API_SECRET_MISSING")  # fmt: skip
        return value


def _relative(inst: dict[str, object], base: Path) -> dict[str, object]:
    """Paths in the file are relative to the file's folder."""
    out = dict(inst)
    for key in ("client_secret_file", "tls_client_cert", "tls_client_key", "tls_ca_bundle"):
        if isinstance(out.get(key), str):
            out[key] = base / str(out[key])
    return out


def load_institutions(path: Path) -> dict[str, Institution]:
    """Every ``[institutions.NAME]`` of the TOML file ``path``, validated."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: expected a readable TOML file of API sources, got {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: expected valid TOML, got {exc}") from exc
    tables = data.get("institutions")
    if not isinstance(tables, dict) or not tables:
        raise ConfigError(f"{path}: expected at least one [institutions.NAME] table, got none")
    out: dict[str, Institution] = {}
    for name, raw in tables.items():
        if not isinstance(raw, dict):
            raise ConfigError(f"{path}: institutions.{name}: expected a table, got {type(raw).__name__}")
        try:
            out[name] = Institution.model_validate({**_relative(raw, Path(path).parent), "name": name})
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            got = "" if first["type"] == "missing" or not first["loc"] else f" (got {str(first.get('input'))[:80]!r})"
            msg = first["msg"].removeprefix("Value error, ")
            raise ConfigError(f"{path}: institutions.{name}{'.' + where if where else ''}: {msg}{got}") from exc
    return out


def institution(path: Path, name: str) -> Institution:
    found = load_institutions(path)
    if name not in found:
        raise ConfigError(f"{path}: expected an [institutions.{name}] table, got only {', '.join(found)}")
    return found[name]
