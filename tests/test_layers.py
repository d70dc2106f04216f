"""The import contracts cover every module: a new module below the service is forbidden the web, metrics and
scheduler stacks as soon as it exists (``lint-imports`` checks the imports; this checks the list)."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: the layers allowed to import fastapi, starlette, prometheus_client (never airflow: a contract of its own)
ABOVE = {"pymescore.cli", "pymescore.pipelines", "pymescore.service", "pymescore.__main__", "pymescore.__init__"}


def _contract(name: str) -> dict[str, object]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    return next(c for c in contracts if c["name"].startswith(name))


def test_every_module_below_the_service_is_a_source_of_the_forbidden_contract() -> None:
    contract = _contract("The web, metrics and scheduler stacks")
    assert set(contract["forbidden_modules"]) == {"fastapi", "starlette", "prometheus_client", "airflow"}  # type: ignore[arg-type]
    src = ROOT / "src" / "pymescore"
    modules = {f"pymescore.{p.stem}" for p in src.glob("*.py")} | {
        f"pymescore.{p.name}" for p in src.iterdir() if (p / "__init__.py").exists()
    }
    assert modules - ABOVE == set(contract["source_modules"])  # type: ignore[arg-type]


def test_airflow_is_forbidden_to_the_whole_package() -> None:
    contract = _contract("Airflow stays in deploy/airflow")
    assert (contract["source_modules"], contract["forbidden_modules"]) == (["pymescore"], ["airflow"])
