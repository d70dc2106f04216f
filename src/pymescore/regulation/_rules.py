"""The SBS rules as data: categories, days-past-due bands, credit types, alignment, provisions and LGD.

Loaded like the policy: the packaged file (``data/sbs_11356_2008.toml``) unless ``PYMESCORE_REGULATION_FILE``
names another; its version (name + a hash of every value) is recorded with what it produced.
"""

from __future__ import annotations

import hashlib
import json
import os
import tomllib
from dataclasses import dataclass
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any

from pymescore.errors import ConfigError

GUARANTEES = ("none", "preferred", "preferred_quick")
DEFAULT_FILE = "sbs_11356_2008.toml"


@dataclass(frozen=True)
class Portfolio:
    """A classification row: the credit types it covers and the inclusive upper DPD bound of each category
    but the last."""

    name: str
    credit_types: tuple[str, ...]
    max_days: tuple[int, ...]
    source: str
    verified: bool


@dataclass(frozen=True)
class Regulation:
    name: str
    categories: tuple[str, ...]
    portfolios: tuple[Portfolio, ...]
    mediana_min_sales_pen: float
    micro_max_debt_pen: float
    alignment_min_share: float
    alignment_levels: int
    generic: dict[str, float]
    procyclical_active: bool
    procyclical: dict[str, float]
    specific: dict[str, tuple[float, ...]]
    lgd: dict[str, float]
    raw: dict[str, Any]

    @cached_property
    def version(self) -> str:  # frozen: hashed once (every decision records it)
        digest = hashlib.sha256(json.dumps(self.raw, sort_keys=True, default=str).encode()).hexdigest()[:12]
        return f"{self.name}+{digest}"

    def portfolio_of(self, credit_type: str) -> Portfolio:
        for p in self.portfolios:
            if credit_type in p.credit_types:
                return p
        known = sorted(t for p in self.portfolios for t in p.credit_types)
        raise ConfigError(f"regulation {self.name}: expected a credit type in {', '.join(known)}, got {credit_type!r}")

    def sources(self) -> list[dict[str, Any]]:
        """Each rule's source, whether it was checked against the official text and, when the file has one, the
        note on that check (what was searched for, what was found) — for reports."""
        sections = [(f"classification.{name}", s) for name, s in self.raw["classification"].items()]
        sections += [(key, self.raw[key]) for key in ("credit_types", "alignment")]
        sections += [
            (f"provisions.{key}", self.raw["provisions"][key]) for key in ("generic", "procyclical", "specific")
        ]
        sections.append(("loss_given_default", self.raw["loss_given_default"]))
        return [
            {"rule": rule, "source": str(s.get("source") or s.get("mediana_source", "")),
             "verified": bool(s.get("verified", False)), "note": str(s.get("note", ""))}
            for rule, s in sections
        ]  # fmt: skip


def load_regulation(path: str | Path | None = None) -> Regulation:
    """The rules in ``path``, else ``PYMESCORE_REGULATION_FILE``, else the packaged SBS file."""
    chosen = path or os.environ.get("PYMESCORE_REGULATION_FILE")
    if chosen:
        where = str(chosen)
        try:
            text = Path(chosen).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"{where}: expected a readable regulation TOML file, got {exc.strerror}") from exc
    else:
        where = f"pymescore/regulation/data/{DEFAULT_FILE}"
        text = resources.files("pymescore.regulation").joinpath("data", DEFAULT_FILE).read_text(encoding="utf-8")
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where}: expected TOML, got {exc}") from exc
    try:
        return _parse(raw)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc.message}") from exc
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(
            f"{where}: expected the keys of {DEFAULT_FILE} with valid values, got a problem at {exc}"
        ) from exc


def _parse(raw: dict[str, Any]) -> Regulation:
    categories = tuple(str(c) for c in raw["categories"])
    portfolios = []
    for name, section in raw["classification"].items():
        bounds = tuple(int(d) for d in section["max_days"])
        if len(bounds) != len(categories) - 1 or list(bounds) != sorted(set(bounds)):
            raise ConfigError(f"classification.{name}.max_days: expected {len(categories) - 1} increasing bounds")
        portfolios.append(Portfolio(name, tuple(section["credit_types"]), bounds, str(section["source"]),
                                    bool(section["verified"])))  # fmt: skip
    provisions = raw["provisions"]
    specific = {g: tuple(float(r) for r in provisions["specific"][g]) for g in GUARANTEES}
    for g, rates in specific.items():
        if len(rates) != len(categories) - 1 or not all(0 <= r <= 1 for r in rates):
            raise ConfigError(f"provisions.specific.{g}: expected {len(categories) - 1} rates in [0, 1]")
    lgd = {g: float(raw["loss_given_default"][g]) for g in GUARANTEES}
    if not all(0 <= v <= 1 for v in lgd.values()):
        raise ConfigError("loss_given_default: expected values in [0, 1]")
    return Regulation(
        name=str(raw["name"]),
        categories=categories,
        portfolios=tuple(portfolios),
        mediana_min_sales_pen=float(raw["credit_types"]["mediana_min_annual_sales_pen"]),
        micro_max_debt_pen=float(raw["credit_types"]["micro_max_debt_pen"]),
        alignment_min_share=float(raw["alignment"]["min_share"]),
        alignment_levels=int(raw["alignment"]["levels_allowed"]),
        generic={k: float(v) for k, v in provisions["generic"]["rate"].items()},
        procyclical_active=bool(provisions["procyclical"]["active"]),
        procyclical={k: float(v) for k, v in provisions["procyclical"]["rate"].items()},
        specific=specific,
        lgd=lgd,
        raw=raw,
    )
