"""The MLflow model registry: each trained bundle a run and a model version; aliases champion/challenger.

The tracking URI comes from ``PYMESCORE_MLFLOW_URI`` (default: a local SQLite file ``mlflow.db``; the
artifacts go to ``mlartifacts/`` beside a SQLite database). The bundle folder is logged as run artifacts
and registered as a model version by its artifact location: no MLflow flavour, no pickle; the service loads it with
:func:`pymescore.bundle.load_bundle`. Each version records the SHA-256 of the bundle's manifest and the fingerprint
of its signer (tags ``pymescore.manifest_sha256``, ``pymescore.signer``): a service loading an alias refuses a bundle
whose manifest differs from the registered one, even one signed by a trusted key (an artifact swapped in the store).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from pymescore.errors import PymescoreError

MODEL_NAME = "pymescore"
DEFAULT_URI = "sqlite:///mlflow.db"
DIGEST_TAG = "pymescore.manifest_sha256"
SIGNER_TAG = "pymescore.signer"


class RegistryError(PymescoreError):
    code = "REGISTRY_ERROR"


def _mlflow() -> Any:
    try:
        import mlflow
    except ImportError as exc:  # pragma: no cover - the mlflow extra brings it
        raise RegistryError("the model registry needs MLflow: pip install 'pymescore[mlflow]'") from exc
    uri = os.environ.get("PYMESCORE_MLFLOW_URI", DEFAULT_URI)
    mlflow.set_tracking_uri(uri)
    if uri.startswith("sqlite:"):
        mlflow.set_registry_uri(uri)
    return mlflow


def _flat(prefix: str, value: Any, out: dict[str, float]) -> None:
    if isinstance(value, bool) or value is None:
        return
    if isinstance(value, (int, float)):
        out[prefix] = float(value)
    elif isinstance(value, dict):
        for k, v in value.items():
            _flat(f"{prefix}.{k}" if prefix else str(k), v, out)


def register(bundle_dir: Path, metrics: dict[str, Any], params: dict[str, Any], report: Path | None = None,
             alias: str = "challenger", name: str = MODEL_NAME) -> dict[str, Any]:  # fmt: skip
    """Log a run with the bundle (and report) and register it as a new version with ``alias``."""
    mlflow = _mlflow()
    from mlflow.tracking import MlflowClient

    if mlflow.get_experiment_by_name(name) is None:
        uri = mlflow.get_tracking_uri()
        location = None
        if uri.startswith("sqlite:///"):  # keep the artifacts next to the database, not in the working folder
            location = (Path(uri[len("sqlite:///") :]).resolve().parent / "mlartifacts").as_uri()
        mlflow.create_experiment(name, artifact_location=location)
    mlflow.set_experiment(name)
    flat: dict[str, float] = {}
    for key in ("test_metrics", "cv"):
        _flat(key, {k: v for k, v in (metrics.get(key) or {}).items() if k != "folds"}, flat)
    with mlflow.start_run() as run:
        mlflow.log_params({k: str(v)[:500] for k, v in params.items()})
        if flat:
            mlflow.log_metrics(flat)
        mlflow.log_artifacts(str(bundle_dir), artifact_path="bundle")
        if report is not None and report.exists():
            mlflow.log_artifact(str(report), artifact_path="report")
        source = f"{run.info.artifact_uri}/bundle"
    client = MlflowClient()
    try:
        client.get_registered_model(name)
    except Exception:
        client.create_registered_model(name)
    tags = _bundle_tags(Path(bundle_dir))
    version = client.create_model_version(name, source=source, run_id=run.info.run_id, tags=tags)
    client.set_registered_model_alias(name, alias, version.version)
    return {"name": name, "version": int(version.version), "alias": alias, "run_id": run.info.run_id, "source": source,
            "manifest_sha256": tags[DIGEST_TAG], "signer": tags[SIGNER_TAG]}  # fmt: skip


def _bundle_tags(bundle_dir: Path) -> dict[str, str]:
    """What the registry records of a bundle: its manifest's SHA-256 and its signer ("unsigned" when none)."""
    from pymescore.bundle import MANIFEST, SIGNATURE, verify_bundle

    verify_bundle(bundle_dir)
    signer = "unsigned"
    if (bundle_dir / SIGNATURE).is_file():
        signer = str(json.loads((bundle_dir / SIGNATURE).read_text()).get("fingerprint", "unsigned"))
    return {DIGEST_TAG: hashlib.sha256((bundle_dir / MANIFEST).read_bytes()).hexdigest(), SIGNER_TAG: signer}


def promote(version: int, alias: str = "champion", name: str = MODEL_NAME) -> dict[str, Any]:
    """Point ``alias`` (champion by default) at ``version``."""
    _mlflow()
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    try:
        found = client.get_model_version(name, str(version))
    except Exception as exc:
        try:
            known = sorted(int(v.version) for v in client.search_model_versions(f"name='{name}'"))
        except Exception as listing:  # the registry itself cannot be read: say that, not "no such version"
            reason = (str(listing).strip().splitlines() or [type(listing).__name__])[0][:200]
            raise RegistryError(f"expected a readable MLflow registry (PYMESCORE_MLFLOW_URI), got: {reason}") from exc
        have = f"versions {', '.join(map(str, known))}" if known else "no version"
        raise RegistryError(f"--version: expected a version of model '{name}' in the registry, got {version} "
                            f"(it holds {have})") from exc  # fmt: skip
    try:
        client.set_registered_model_alias(name, alias, str(version))
    except Exception as exc:  # MLflow refuses a malformed alias with its own exception type
        reason = str(exc).splitlines()[0][:200]
        raise RegistryError(f"--alias: expected a name like champion or challenger, got {alias!r} ({reason})") from exc
    return {"name": name, "version": version, "alias": alias, "test_metrics": _test_metrics(client, found.run_id)}


def _test_metrics(client: Any, run_id: str | None) -> dict[str, float]:
    """The test figures the version's run logged at registration (``test_metrics.*``); none when unreadable."""
    if not run_id:
        return {}
    try:
        logged = client.get_run(run_id).data.metrics
    except Exception:  # an older or foreign run: the promotion stands, without the figures
        return {}
    prefix = "test_metrics."
    return {k[len(prefix) :]: float(v) for k, v in logged.items() if k.startswith(prefix)}


def _model_version(uri: str) -> Any:
    _mlflow()
    from mlflow.tracking import MlflowClient

    if not uri.startswith("models:/"):
        raise RegistryError(f"expected a model URI like models:/pymescore@champion, got {uri!r}")
    ref = uri[len("models:/") :]
    client = MlflowClient()
    try:
        if "@" in ref:
            name, alias = ref.split("@", 1)
            return client.get_model_version_by_alias(name, alias)
        name, ver = ref.split("/", 1)
        return client.get_model_version(name, ver)
    except Exception as exc:
        raise RegistryError(f"{uri}: expected a registered model version, got none ({exc})") from exc


def resolve(uri: str) -> str:
    """The registered version a model URI points at now (an alias moves when a model is promoted)."""
    return str(_model_version(uri).version)


def download(uri: str, dest: Path | None = None) -> Path:
    """A registered bundle (``models:/pymescore@champion`` or ``models:/pymescore/3``) as a local folder."""
    return fetch(uri, dest)[0]


def fetch(uri: str, dest: Path | None = None) -> tuple[Path, str | None, str]:
    """A registered bundle as a local folder, with the manifest SHA-256 recorded at registration (None for a
    version registered before digests were recorded) and the version it was: one lookup, so that an alias moved
    meanwhile cannot pair one version's files with another's digest."""
    mlflow = _mlflow()
    mv = _model_version(uri)
    dest = dest or Path(tempfile.mkdtemp(prefix="pymescore-bundle-"))
    local = mlflow.artifacts.download_artifacts(artifact_uri=mv.source, dst_path=str(dest))
    tags = dict(getattr(mv, "tags", None) or {})
    return Path(local), tags.get(DIGEST_TAG), str(mv.version)


def version_info(uri: str) -> dict[str, Any]:
    """The registered version ``uri`` points at: name, version, source and tags."""
    mv = _model_version(uri)
    return {"name": mv.name, "version": int(mv.version), "source": mv.source, "tags": dict(mv.tags or {})}


def tag_version(uri: str, tags: dict[str, str]) -> dict[str, Any]:
    """Set ``tags`` on the registered version ``uri`` points at; returns its info with the tags after."""
    from mlflow.tracking import MlflowClient

    mv = _model_version(uri)
    client = MlflowClient()
    for key, value in tags.items():
        client.set_model_version_tag(mv.name, mv.version, key, value)
    return version_info(f"models:/{mv.name}/{mv.version}")
