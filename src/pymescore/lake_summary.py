"""What is in a lake, and whether its tables still hold together (keys, contracts, references)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd

from pymescore.contracts import TABLES, validate_table
from pymescore.lake import Lake


@dataclass(frozen=True)
class Finding:
    severity: str  # "error" or "warning"
    table: str
    check: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


def summarize(lake: Lake) -> dict[str, Any]:
    """Rows, quarantine, firms, date span and last ingest of every table, plus top quarantine reasons."""
    tables: dict[str, Any] = {}
    for name in lake.tables():
        contract = TABLES[name]
        data = lake.read(name)
        quarantine = lake.quarantine(name)
        lineage = lake.lineage(name)
        entry: dict[str, Any] = {
            "version": lake.versions()[name],
            "rows": len(data),
            "quarantined": len(quarantine),
        }
        if "ruc" in data:
            entry["firms"] = int(data["ruc"].nunique())
        if contract.event_date and len(data):
            dates = data[contract.event_date]
            entry["from"] = str(dates.min().date())
            entry["to"] = str(dates.max().date())
        if "currency" in data and len(data):
            entry["usd_share"] = round(float((data["currency"] == "USD").mean()), 4)
        if len(quarantine):
            codes = quarantine["reason_codes"].str.split(",").explode().value_counts().head(5)
            entry["top_reasons"] = {str(k): int(v) for k, v in codes.items()}
        if lineage:
            entry["last_ingest"] = {k: lineage[-1][k] for k in ("time", "source", "sha256")}
        tables[name] = entry
    return {"lake": str(lake.root), "tables": tables}


def check(lake: Lake, *, equity_tolerance: float = 0.01) -> list[Finding]:
    """Re-check every stored table: contract, unique keys, firms known, rates covering USD rows."""
    findings: list[Finding] = []
    names = lake.tables()
    firms = set(lake.read("firms", columns=["ruc"])["ruc"]) if "firms" in names else None
    if firms is None:
        findings.append(Finding("warning", "firms", "present", "no firms table: references cannot be checked"))
    for name in names:
        contract = TABLES[name]
        data = lake.read(name)
        contract_cols = [c for c in contract.column_names if c in data]
        raw = data[contract_cols].copy()
        raw.index = pd.RangeIndex(1, len(raw) + 1)
        rejected = validate_table(raw, contract, equity_tolerance=equity_tolerance, provided=contract_cols).rejected
        if len(rejected):
            findings.append(
                Finding(
                    "error",
                    name,
                    "contract",
                    f"{len(rejected)} stored rows break the contract, e.g. {rejected['reason'].iloc[0]}",
                )
            )
        dupes = int(data.duplicated(subset=list(contract.key)).sum())
        if dupes:
            findings.append(Finding("error", name, "key", f"{dupes} rows repeat the key {contract.key}"))
        if firms is not None and name != "firms" and "ruc" in data:
            orphans = int((~data["ruc"].isin(firms)).sum())
            if orphans:
                findings.append(
                    Finding(
                        "warning",
                        name,
                        "references",
                        f"{orphans} rows name a RUC that is not in firms: "
                        "kept (they broke no contract), but those firms get no register features (location, "
                        "sector, age, taxpayer status) and are scored as unknown there; ingest their rows of "
                        "the SUNAT register (padrón) into firms / filas con RUC ausente de firms: se conservan, "
                        "pero esas empresas no tienen datos del padrón",
                    )
                )
    return findings
