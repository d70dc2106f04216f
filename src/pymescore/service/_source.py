"""Where the served model comes from (a bundle folder or the registry), and how to notice a new one."""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from pymescore.bundle import MANIFEST, load_bundle
from pymescore.config import Settings
from pymescore.decision import Policy, load_policy
from pymescore.errors import ConfigError
from pymescore.service._scorer import Scorer
from pymescore.signing import Trust


@dataclass
class ModelSource:
    """``bundle`` (a folder) or ``model_uri`` (``models:/pymescore@champion``), verified against ``trust``."""

    bundle: Path | None = None
    model_uri: str | None = None
    trust: Trust = field(default_factory=Trust)

    def __post_init__(self) -> None:
        if (self.bundle is None) == (self.model_uri is None):
            raise ConfigError("serve: expected exactly one of --bundle DIR or --model-uri URI, got "
                              + ("both" if self.bundle else "neither"))  # fmt: skip

    @property
    def label(self) -> str:
        return self.model_uri or str(self.bundle)

    def probe(self) -> str:
        """A cheap identity of what the source holds now: changes when a new model is there."""
        if self.bundle is not None:
            path = self.bundle / MANIFEST
            return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "missing"
        from pymescore.registry import resolve

        assert self.model_uri is not None
        return resolve(self.model_uri)

    def load(self, policy: Policy, rates: pd.DataFrame | None, nthread: int) -> Scorer:
        """Load and verify (hashes, signature, and the manifest registered under the alias); a bundle that fails
        is refused (BundleError) and nothing changes."""
        if self.bundle is not None:
            return Scorer(load_bundle(self.bundle, self.trust), policy, rates, self.label, nthread)
        from pymescore.bundle import BundleError
        from pymescore.registry import fetch

        assert self.model_uri is not None
        tmp = Path(tempfile.mkdtemp(prefix="pymescore-serve-"))
        try:
            path, digest, version = fetch(self.model_uri, tmp)
            where = f"{self.model_uri} (version {version})"
            if digest is None and self.trust.required:
                raise BundleError(f"{where}: expected a version registered with its manifest's SHA-256, got none "
                                  "(register it again) / versión registrada sin huella",
                                  code="BUNDLE_NOT_REGISTERED")  # fmt: skip
            bundle = load_bundle(path, self.trust, digest, where)
            return Scorer(bundle, policy, rates, self.label, nthread)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


def source_from(settings: Settings) -> ModelSource:
    return ModelSource(settings.serve_bundle, settings.serve_model_uri, trust_from(settings))


def shadow_source_from(settings: Settings) -> ModelSource | None:
    """The challenger scored in the shadow (``PYMESCORE_SERVE_SHADOW_BUNDLE`` or ``..._SHADOW_URI``), verified
    against the same trusted keys as the champion; None when neither is set."""
    if settings.serve_shadow_bundle is None and settings.serve_shadow_uri is None:
        return None
    if settings.serve_shadow_bundle is not None and settings.serve_shadow_uri is not None:
        raise ConfigError("serve: expected at most one of --shadow-bundle DIR or --shadow-uri URI, got both")
    return ModelSource(settings.serve_shadow_bundle, settings.serve_shadow_uri, trust_from(settings))


def trust_from(settings: Settings) -> Trust:
    """The keys the service trusts (``PYMESCORE_TRUSTED_KEYS``) and whether it is in production mode."""
    return Trust.parse(settings.trusted_keys, settings.require_signed)


def exchange_rates(settings: Settings) -> pd.DataFrame | None:
    """The lake's PEN/USD series when the lake exists, else None (the bundle's rates then, or the client's)."""
    from pymescore.lake import Lake

    if not (Path(settings.lake) / "_manifest.json").exists():
        return None
    return Lake(settings.lake).read_optional("exchange_rates")


def rates_version(settings: Settings) -> str:
    """The version of the lake's exchange_rates table ("" without a lake or rates): changes when rates are added."""
    from pymescore.lake import Lake

    if not (Path(settings.lake) / "_manifest.json").exists():
        return ""
    return str(Lake(settings.lake).versions().get("exchange_rates", ""))


def policy_from(settings: Settings) -> Policy:
    return load_policy(settings.policy_file)
