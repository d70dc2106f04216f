"""The model-risk pack and model approvals in the registry (issue 20, item 4)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pymescore.bundle import load_bundle
from pymescore.errors import InputError
from pymescore.model_risk import approval_tags, inventory, tier


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pymescore", *args], capture_output=True, text=True, env=env)


def _last_json(stdout: str) -> Any:
    return json.loads(stdout.strip().splitlines()[-1])


def test_inventory_fields_come_from_the_bundle(sme_bundle: dict[str, Any]) -> None:
    bundle = load_bundle(sme_bundle["bundle"])
    record = inventory(bundle, owner="Gerencia de Riesgos")
    metrics = json.loads((sme_bundle["bundle"] / "metrics.json").read_text())
    assert record["validation"]["test"]["auc"] == metrics["test_metrics"]["auc"]
    assert record["data"]["rows"] == metrics["rows"]
    assert record["methodology"]["features"] == len(bundle.model.features)
    assert record["manifest_sha256"] == json.loads((sme_bundle["bundle"] / "manifest.json").read_text())[
        "manifest_sha256"]  # fmt: skip
    assert record["tier"]["level"] == 1  # it decides credit
    assert record["limitations"]
    assert record["missing"] == ["approvals.owner", "approvals.validator"]  # nobody approved it yet


def test_tiers() -> None:
    assert tier(True, "medium", None)[0] == 1
    assert tier(False, "high", 0.5)[0] == 1
    assert tier(False, "medium", 0.01)[0] == 3
    assert tier(False, "medium", 0.4)[0] == 2


def test_one_person_cannot_approve_as_owner_and_validator() -> None:
    tags = approval_tags("validator", "A. Quispe", "informe 12", {})
    assert tags["approval.validator.by"] == "A. Quispe"
    with pytest.raises(InputError, match="someone other than the validator"):
        approval_tags("owner", "a. quispe ", "", tags)
    with pytest.raises(InputError, match="--role"):
        approval_tags("auditor", "B", "", {})


def test_pack_from_the_registry_shows_two_approvals(sme_bundle: dict[str, Any], tmp_path: Path) -> None:
    env = {**os.environ, "PYMESCORE_MLFLOW_URI": f"sqlite:///{tmp_path / 'mlflow.db'}"}
    code = ("import sys, json; from pathlib import Path; from pymescore.registry import register; "
            "print(json.dumps(register(Path(sys.argv[1]), {}, {}, alias='champion')))")  # fmt: skip
    reg = subprocess.run([sys.executable, "-c", code, str(sme_bundle["bundle"])], capture_output=True, text=True,
                         env=env)  # fmt: skip
    assert reg.returncode == 0, reg.stderr
    uri = "models:/pymescore@champion"
    unapproved = _cli("model-risk-pack", "--model-uri", uri, "--owner", "Riesgos", "--out", str(tmp_path / "p0"),
                      env=env)  # fmt: skip
    assert unapproved.returncode == 1  # written, but approvals are missing
    assert _last_json(unapproved.stdout)["missing"] == ["approvals.owner", "approvals.validator"]
    ok = _cli("approve-model", "--model-uri", uri, "--role", "validator", "--by", "Validación Independiente",
              "--note", "informe VAL-2026-07", env=env)  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    same = _cli("approve-model", "--model-uri", uri, "--role", "owner", "--by", "Validación Independiente", env=env)
    assert same.returncode == 2
    assert "one person cannot approve as both" in same.stderr
    ok = _cli("approve-model", "--model-uri", uri, "--role", "owner", "--by", "Gerencia de Riesgos", env=env)
    assert ok.returncode == 0, ok.stderr
    out = tmp_path / "pack"
    pack = _cli("model-risk-pack", "--model-uri", uri, "--out", str(out), env=env)
    assert pack.returncode == 0, pack.stderr
    record = json.loads((out / "inventory.json").read_text(encoding="utf-8"))
    assert record["missing"] == []
    assert record["approvals"]["validator"]["by"] == "Validación Independiente"
    assert record["approvals"]["owner"]["by"] == "Gerencia de Riesgos"
    assert record["approvals"]["validator"]["note"] == "informe VAL-2026-07"
    assert record["id"] == "pymescore/1"
    page = (out / "model_risk_pack.html").read_text(encoding="utf-8")
    assert "Gerencia de Riesgos" in page
    assert "Validación Independiente" in page
    assert "Model card" in page or "Ficha del modelo" in page
