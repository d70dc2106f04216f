"""Where the served model comes from (a bundle folder or the registry), and how to notice a new one."""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pymescore.bundle import MANIFEST, load_bundle
from pymescore.config import Settings
from pymescore.decision import Policy, load_policy
from pymescore.errors import ConfigError
from pymescore.service._scorer import Scorer


@dataclass
class ModelSource:
    """``bundle`` (a folder) or ``model_uri`` (``models:/pymescore@champion``)."""

    bundle: Path | None = None
    model_uri: str | None = None

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
        """Load and verify; a bundle whose manifest fails is refused (BundleError) and nothing changes."""
        if self.bundle is not None:
            return Scorer(load_bundle(self.bundle), policy, rates, self.label, nthread)
        from pymescore.registry import download

        assert self.model_uri is not None
        tmp = Path(tempfile.mkdtemp(prefix="pymescore-serve-"))
        try:
            bundle = load_bundle(download(self.model_uri, tmp))
            return Scorer(bundle, policy, rates, self.label, nthread)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


def source_from(settings: Settings) -> ModelSource:
    return ModelSource(settings.serve_bundle, settings.serve_model_uri)


def exchange_rates(settings: Settings) -> pd.DataFrame | None:
    """The lake's PEN/USD series when the lake exists (USD histories need it), else None."""
    from pymescore.lake import Lake

    if not (Path(settings.lake) / "_manifest.json").exists():
        return None
    return Lake(settings.lake).read_optional("exchange_rates")


def policy_from(settings: Settings) -> Policy:
    return load_policy(settings.policy_file)
