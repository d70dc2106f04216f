"""Signed bundles: a forged bundle (hashes recomputed) is refused on load, on serve and on reload with the old model
still serving; an untrusted signer is refused by its fingerprint; the registry's digest pins an alias's bundle;
an unsigned (old) bundle still loads in the embedded default, with a warning."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from pymescore.bundle import MANIFEST, SIGNATURE, BundleError, _canonical, load_bundle, sign_bundle
from pymescore.service import application_bodies
from pymescore.signing import Trust, fingerprint, generate_key, write_key_pair
from tests.service_support import keys, make_app


def forge(bundle: Path, points: float = 100.0) -> None:
    """The attack: scale.base_score + ``points`` in model.json, its SHA-256 and the manifest's hash recomputed."""
    model = json.loads((bundle / "model.json").read_text())
    model["scale"]["base_score"] += points
    (bundle / "model.json").write_bytes(_canonical(model))
    manifest = json.loads((bundle / MANIFEST).read_text())
    manifest["files"]["model.json"] = hashlib.sha256((bundle / "model.json").read_bytes()).hexdigest()
    body = {k: v for k, v in manifest.items() if k != "manifest_sha256"}
    manifest["manifest_sha256"] = hashlib.sha256(_canonical(body)).hexdigest()
    (bundle / MANIFEST).write_bytes(_canonical(manifest))


@pytest.fixture(scope="module")
def team_key() -> tuple[str, str]:
    return generate_key()


@pytest.fixture
def signed(sme_bundle: dict[str, Any], tmp_path: Path, team_key: tuple[str, str]) -> Path:
    shutil.copytree(sme_bundle["bundle"], tmp_path / "bundle")
    sign_bundle(tmp_path / "bundle", team_key[0])
    return tmp_path / "bundle"


def test_a_forged_bundle_is_refused_on_load(signed: Path, team_key: tuple[str, str]) -> None:
    trust = Trust.parse(team_key[1])
    good = load_bundle(signed, trust)
    assert good.signer == fingerprint(team_key[1])
    forge(signed)
    for given in (trust, Trust()):  # the signature no longer matches, trusted keys or not
        with pytest.raises(BundleError, match="signature does not match") as info:
            load_bundle(signed, given)
        assert info.value.code == "BUNDLE_SIGNATURE_INVALID"
    (signed / SIGNATURE).unlink()  # the forger drops the signature: a service with trusted keys wants one
    with pytest.raises(BundleError, match="unsigned") as info:
        load_bundle(signed, trust)
    assert info.value.code == "BUNDLE_UNSIGNED"
    with pytest.raises(BundleError, match="unsigned"):
        load_bundle(signed, Trust(required=True))  # production mode without keys


def test_a_bundle_signed_by_an_untrusted_key_is_refused_naming_its_fingerprint(
    signed: Path, team_key: tuple[str, str]
) -> None:
    other_private, other_public = generate_key()
    sign_bundle(signed, other_private)
    with pytest.raises(BundleError) as info:
        load_bundle(signed, Trust.parse(team_key[1]))
    assert info.value.code == "BUNDLE_SIGNER_UNTRUSTED"
    assert fingerprint(other_public) in info.value.message
    assert load_bundle(signed, Trust.parse(f"{team_key[1]},{other_public}")).signer == fingerprint(other_public)


def test_an_unsigned_old_bundle_loads_in_the_embedded_default_with_a_warning(
    sme_bundle: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="pymescore.bundle"):
        bundle = load_bundle(sme_bundle["bundle"])
    assert bundle.signer is None
    assert any("bundle_unsigned" in r.getMessage() for r in caplog.records)


def test_a_forged_bundle_is_refused_on_serve(signed: Path, team_key: tuple[str, str], tmp_path: Path) -> None:
    forge(signed)
    env = {**os.environ, "PYMESCORE_TRUSTED_KEYS": team_key[1], "PYMESCORE_DATABASE_URL":
           f"sqlite:///{tmp_path / 'audit.db'}", "PYMESCORE_LAKE": str(tmp_path / "none")}  # fmt: skip
    done = subprocess.run([sys.executable, "-m", "pymescore", "serve", "--bundle", str(signed), "--port", "0"],
                          capture_output=True, text=True, env=env, timeout=120)  # fmt: skip
    assert done.returncode == 2, done.stdout[-500:] + done.stderr[-1500:]
    assert "signature does not match" in done.stderr


def test_a_forged_bundle_is_refused_on_reload_and_the_old_model_keeps_serving(
    signed: Path, team_key: tuple[str, str], sme_bundle: dict[str, Any], tmp_path: Path
) -> None:
    app, state = make_app(signed, f"sqlite:///{tmp_path / 'audit.db'}", trusted_keys=team_key[1])
    h = keys(state)
    tables = sme_bundle["tables"]
    bodies = application_bodies(tables, [str(r) for r in tables["firms"]["ruc"].iloc[:20]], sme_bundle["as_of"])
    with TestClient(app) as c:
        r = c.post("/v1/scores:batch", json={"applications": bodies}, headers={"Authorization": h["all"]})
        body = bodies[next(i["index"] for i in r.json()["results"] if i["status"] == 201)]
        before = c.post("/v1/scores", json=body, headers={"Authorization": h["all"]}).json()["score"]
        forge(signed)
        r = c.post("/v1/admin/reload", headers={"Authorization": h["admin"]})
        assert r.status_code == 409, r.text
        assert "signature does not match" in r.json()["detail"]
        after = c.post("/v1/scores", json=body, headers={"Authorization": h["all"]})
        assert after.status_code == 201
        assert after.json()["score"] == before  # not +100: the forged scale was never served
    state.store.dispose()


def test_the_service_refuses_a_bundle_other_than_the_one_registered_under_its_alias(
    sme_bundle: dict[str, Any], tmp_path: Path, team_key: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from pymescore.bundle import save_bundle
    from pymescore.config import Settings
    from pymescore.registry import register
    from pymescore.service._source import ModelSource, policy_from

    monkeypatch.setenv("PYMESCORE_MLFLOW_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.chdir(tmp_path)
    first, second = tmp_path / "first", tmp_path / "second"
    shutil.copytree(sme_bundle["bundle"], first)
    sign_bundle(first, team_key[0])
    other = load_bundle(first)
    other.version += "-other"
    save_bundle(other, second)  # a genuine bundle, signed by the trusted key too, but not the one registered
    sign_bundle(second, team_key[0])
    done = register(first, {}, {}, alias="champion")
    assert done["signer"] == fingerprint(team_key[1])
    assert done["manifest_sha256"] == hashlib.sha256((first / MANIFEST).read_bytes()).hexdigest()
    source = ModelSource(model_uri="models:/pymescore@champion", trust=Trust.parse(team_key[1]))
    policy = policy_from(Settings())
    assert source.load(policy, None, 1).version == load_bundle(first).version
    artifact = Path(done["source"].removeprefix("file://"))
    shutil.rmtree(artifact)
    shutil.copytree(second, artifact)  # the artifact swapped in the store
    with pytest.raises(BundleError, match="registered as models:/pymescore@champion") as info:
        source.load(policy, None, 1)
    assert info.value.code == "BUNDLE_NOT_REGISTERED"


def test_keygen_and_sign_commands(sme_bundle: dict[str, Any], tmp_path: Path) -> None:
    from pymescore.cli import _register, app

    _register()
    runner = CliRunner()
    made = runner.invoke(app, ["keygen", "--out", str(tmp_path / "keys" / "risk")])
    assert made.exit_code == 0, made.output
    pair = json.loads(made.output.strip().splitlines()[-1])
    assert oct((tmp_path / "keys" / "risk.key").stat().st_mode & 0o777) == "0o600"
    again = runner.invoke(app, ["keygen", "--out", str(tmp_path / "keys" / "risk")])
    assert again.exit_code != 0  # a key is never overwritten
    shutil.copytree(sme_bundle["bundle"], tmp_path / "bundle")
    signed = runner.invoke(app, ["sign", "--bundle", str(tmp_path / "bundle"), "--key", pair["private_key"]])
    assert signed.exit_code == 0, signed.output
    assert json.loads(signed.output.strip().splitlines()[-1])["signer"] == pair["fingerprint"]
    assert load_bundle(tmp_path / "bundle", Trust.parse(pair["public_key"])).signer == pair["fingerprint"]


def test_write_key_pair_refuses_to_overwrite(tmp_path: Path) -> None:
    from pymescore.signing import SigningError

    write_key_pair(tmp_path / "k")
    with pytest.raises(SigningError):
        write_key_pair(tmp_path / "k")


def test_docstring_examples() -> None:
    import doctest

    import pymescore.signing

    result = doctest.testmod(pymescore.signing)
    assert result.attempted
    assert not result.failed
