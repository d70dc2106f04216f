"""Model bundles: one folder of safe files with a SHA-256 manifest, verified on every load.

Layout::

    BUNDLE/manifest.json      sha256 of every other file + a hash of the manifest itself
    BUNDLE/model.json         preprocessing, scorecard, logistic regression, blend weights, calibration, scale,
                              features, metadata
    BUNDLE/booster.ubj        the XGBoost booster (UBJSON), when the model uses XGBoost
    BUNDLE/lightgbm.txt       the LightGBM booster (its text model format), when the model uses LightGBM
    BUNDLE/tf_mlp.keras       the TensorFlow networks (Keras' zip of the architecture's JSON and the weights' HDF5),
    BUNDLE/tf_sequence.keras  when the model uses them; their input encodings and IG references are in model.json
    BUNDLE/metrics.json       the training report: cross-validation, out-of-time test, candidates, tuning
    BUNDLE/reference.json     training distributions of the score and of each feature (binned) for drift
    BUNDLE/model_card.md      intended use, data, validation, limitations, fairness
    BUNDLE/context.json       regional/sector context for online scoring (SME snapshots)
    BUNDLE/exchange_rates.json  the PEN/USD series (BCRP) the training data was converted with (SME snapshots): the
                              service's rates when it has no lake
    BUNDLE/signature.json     Ed25519 signature of manifest.json's bytes (``pymescore sign``; see signing.py)

Loading reads JSON, the boosters and a Keras file in safe mode only: no pickle, no code execution. A changed,
missing or extra file is refused with an error that names it. The manifest covers every other file, whatever they
are, and the signature covers the manifest: a bundle whose hashes were recomputed no longer matches its signature.
Whether a signer is trusted, and whether a signature is required, is the caller's :class:`~pymescore.signing.Trust`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import shutil
import tempfile
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import xgboost as xgb

from pymescore.errors import PymescoreError
from pymescore.model import FeatureInfo, FittedModel, ScoreScale, _lgbm
from pymescore.model._calibration import Calibrator
from pymescore.model._families import require
from pymescore.model._linear import Linear
from pymescore.model._preprocess import Preprocessor
from pymescore.model._scorecard import Scorecard
from pymescore.model._tf_net import TfNetwork
from pymescore.signing import SigningError, Trust, sign, verify

log = logging.getLogger(__name__)
FORMAT = 1
MANIFEST = "manifest.json"
SIGNATURE = "signature.json"


class BundleError(PymescoreError):
    code = "BUNDLE_INVALID"


@dataclass
class Bundle:
    model: FittedModel
    metrics: dict[str, Any]
    reference: dict[str, Any] = field(default_factory=dict)
    context: dict[str, Any] | None = None
    #: {"source": …, "dates": [YYYY-MM-DD, …], "pen_per_usd": […]}: the rates the training data was converted with
    exchange_rates: dict[str, Any] | None = None
    card: str = ""
    version: str = ""
    path: Path | None = None
    #: fingerprint of the key that signed the manifest (None: unsigned), and the SHA-256 of manifest.json
    signer: str | None = None
    manifest_digest: str = ""


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _canonical(data: Mapping[str, Any]) -> bytes:
    return (json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode()


def _model_dict(model: FittedModel) -> dict[str, Any]:
    s = model.scale
    return {
        "target": model.target,
        "positive": model.positive,
        "preprocessor": model.preprocessor.to_dict(),
        "scorecard": model.scorecard.to_dict() if model.scorecard is not None else None,
        "has_booster": model.booster is not None,
        "weight_xgboost": model.weight,
        "logistic": model.linear.to_dict() if model.linear is not None else None,
        "weight_logistic": model.linear_weight,
        "has_lightgbm": model.lightgbm is not None,
        "weight_lightgbm": model.lightgbm_weight,
        "tf_mlp": model.tf_mlp.to_dict() if model.tf_mlp is not None else None,
        "weight_tf_mlp": model.tf_mlp_weight,
        "tf_sequence": model.tf_sequence.to_dict() if model.tf_sequence is not None else None,
        "weight_tf_sequence": model.tf_sequence_weight,
        "history_features": [vars(f) for f in model.history_features],
        # the families in the blend, whose libraries a loader needs (a missing one is refused naming its extra)
        "families": [name for name, w in model.weights.items() if w > 0],
        "calibration": model.calibrator.to_dict(),
        "scale": {"base_score": s.base_score, "base_odds": s.base_odds, "pdo": s.pdo, "low": s.low, "high": s.high},
        "features": [vars(f) for f in model.features],
        "metadata": model.metadata,
    }


#: how a refused bundle ends its message: what happened, then how to fix it
_REFUSED = "refused; restore the bundle from where it came (MLflow, a copy) or retrain it"


def check_destination(out: Path) -> None:
    """``out`` can become a bundle folder: absent, empty or a bundle to replace, in a writable place."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise BundleError(f"{out}: expected a folder for the bundle, got a file; choose another --out")
    if out.exists() and any(out.iterdir()) and not (out / MANIFEST).exists():
        raise BundleError(f"{out}: expected an empty folder or an existing bundle to replace, got other files")
    parent = out.resolve().parent
    while not parent.exists():
        parent = parent.parent
    try:  # the one sure test of a place (permissions, read-only mounts, /proc): make a folder there
        os.rmdir(tempfile.mkdtemp(prefix=".pymescore-check-", dir=parent))
    except OSError as exc:
        raise BundleError(f"{out}: expected a place to write the bundle, got {parent} ({exc.strerror})") from exc


def save_bundle(bundle: Bundle, out: Path) -> Path:
    """Write the bundle to ``out`` atomically (a temporary folder renamed into place)."""
    out = Path(out)
    check_destination(out)
    tmp = out.with_name(f".{out.name}.{uuid.uuid4().hex}")
    tmp.mkdir(parents=True)
    try:
        version = bundle.version or dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        files: dict[str, bytes] = {
            "model.json": _canonical(_model_dict(bundle.model)),
            "metrics.json": _canonical(bundle.metrics),
            "reference.json": _canonical(bundle.reference),
            "model_card.md": bundle.card.encode(),
        }
        if bundle.context is not None:
            files["context.json"] = _canonical(bundle.context)
        if bundle.exchange_rates is not None:
            files["exchange_rates.json"] = _canonical(bundle.exchange_rates)
        for name, data in files.items():
            (tmp / name).write_bytes(data)
        if bundle.model.booster is not None:
            try:
                bundle.model.booster.save_model(str(tmp / "booster.ubj"))
            except xgb.core.XGBoostError as exc:  # XGBoost's own write error (a full disk, a vanished folder)
                reason = str(exc).strip().splitlines()[-1][:200]
                raise BundleError(f"{out}: expected to write booster.ubj, got {reason}; check the free space") from exc
        if bundle.model.lightgbm is not None:
            (tmp / "lightgbm.txt").write_text(_lgbm.to_text(bundle.model.lightgbm), encoding="utf-8")
        for net in (bundle.model.tf_mlp, bundle.model.tf_sequence):
            if net is not None:
                (tmp / f"{net.name}.keras").write_bytes(net.to_bytes())
        entries = {p.name: _sha256(p) for p in sorted(tmp.iterdir())}
        manifest: dict[str, Any] = {"format": FORMAT, "version": version, "files": entries}
        manifest["manifest_sha256"] = hashlib.sha256(_canonical(manifest)).hexdigest()
        (tmp / MANIFEST).write_bytes(_canonical(manifest))
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def verify_bundle(path: Path) -> dict[str, Any]:
    """Check the manifest and every file's SHA-256; return the manifest."""
    return _verified(path)[0]


def _verified(path: Path) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The manifest and the bytes of every file, each read once and checked against the manifest: what is
    parsed afterwards is exactly what was verified, even if the folder is rewritten meanwhile. The manifest's
    and the signature's bytes are in the contents too, under their names."""
    path = Path(path)
    mpath = path / MANIFEST
    if not mpath.is_file():
        raise BundleError(f"{path}: expected a model bundle with {MANIFEST}, got none (is this the bundle folder?)")
    raw = mpath.read_bytes()
    try:
        manifest: dict[str, Any] = json.loads(raw)
    except ValueError as exc:
        raise BundleError(f"{mpath}: expected the bundle manifest (JSON), got an unreadable file: {_REFUSED}") from exc
    body = {k: v for k, v in manifest.items() if k != "manifest_sha256"}
    if raw != _canonical(manifest) or manifest.get("manifest_sha256") != hashlib.sha256(_canonical(body)).hexdigest():
        raise BundleError(f"{mpath}: the manifest was modified after the bundle was written: {_REFUSED}")
    if manifest.get("format") != FORMAT:
        raise BundleError(f"{mpath}: expected bundle format {FORMAT}, got {manifest.get('format')!r}")
    listed: dict[str, str] = manifest["files"]
    present = {p.name for p in path.iterdir() if p.is_file() and p.name not in (MANIFEST, SIGNATURE)}
    for name in sorted(set(listed) - present):
        raise BundleError(f"{path / name}: listed in the manifest but missing: {_REFUSED}")
    for name in sorted(present - set(listed)):
        raise BundleError(f"{path / name}: not in the manifest (added after the bundle was written): {_REFUSED}")
    contents: dict[str, bytes] = {}
    for name, digest in listed.items():
        try:
            data = (path / name).read_bytes()
        except OSError as exc:
            raise BundleError(f"{path / name}: listed in the manifest but unreadable ({exc}): {_REFUSED}") from exc
        if hashlib.sha256(data).hexdigest() != digest:
            raise BundleError(f"{path / name}: SHA-256 does not match the manifest (the file was changed): {_REFUSED}")
        contents[name] = data
    contents[MANIFEST] = raw
    if (path / SIGNATURE).is_file():
        contents[SIGNATURE] = (path / SIGNATURE).read_bytes()
    return manifest, contents


def sign_bundle(path: Path, key: str | Any) -> dict[str, Any]:
    """Sign a verified bundle's manifest with a private key (PEM text, a PEM file's path or a key object);
    writes ``signature.json`` and returns the signature block (its ``fingerprint`` names the signer)."""
    from pymescore.files import write_atomic

    path = Path(path)
    _, contents = _verified(path)
    block = sign(key, contents[MANIFEST])
    write_atomic(path / SIGNATURE, lambda tmp: tmp.write_bytes(_canonical(block)))
    return block


def check_signature(path: Path, contents: Mapping[str, bytes], trust: Trust, expected_digest: str | None = None,
                    registered_as: str = "") -> str | None:  # fmt: skip
    """The signer's fingerprint after checking the signature against ``trust`` (None: unsigned, allowed only
    when ``trust`` does not require a signature); ``expected_digest`` is the manifest's SHA-256 the registry
    recorded for ``registered_as``."""
    digest = hashlib.sha256(contents[MANIFEST]).hexdigest()
    if expected_digest is not None and digest != expected_digest:
        raise BundleError(f"{path}: expected the manifest registered as {registered_as} (sha256 "
                          f"{expected_digest[:16]}…), got sha256 {digest[:16]}… (replaced after registration) / el "
                          f"manifiesto no es el registrado: {_REFUSED}", code="BUNDLE_NOT_REGISTERED")  # fmt: skip
    if SIGNATURE not in contents:
        if trust.required:
            raise BundleError(f"{path}: expected a bundle signed by a trusted key, got an unsigned one (sign it: "
                              "pymescore sign) / paquete sin firma", code="BUNDLE_UNSIGNED")  # fmt: skip
        log.warning(json.dumps({"event": "bundle_unsigned", "bundle": str(path), "message": "unsigned bundle loaded "
                                "(embedded default); production refuses it / paquete sin firma"}))  # fmt: skip
        return None
    try:
        block = json.loads(contents[SIGNATURE])
        signer = verify(block, contents[MANIFEST])
    except (ValueError, SigningError) as exc:
        reason = exc.message if isinstance(exc, SigningError) else "an unreadable signature.json"
        raise BundleError(f"{path / SIGNATURE}: {reason}: {_REFUSED}", code="BUNDLE_SIGNATURE_INVALID") from exc
    if not trust.trusts(signer):
        if trust.required:
            raise BundleError(f"{path}: signed by key {signer}, which is not among the trusted keys "
                              f"(PYMESCORE_TRUSTED_KEYS) / firmado con una clave no confiable {signer}",
                              code="BUNDLE_SIGNER_UNTRUSTED", signer=signer)  # fmt: skip
        log.info(json.dumps({"event": "bundle_signer_unchecked", "signer": signer, "message": "no trusted keys "
                                "configured (PYMESCORE_TRUSTED_KEYS) / sin claves de confianza"}))  # fmt: skip
    return signer


def load_bundle(path: Path, trust: Trust | None = None, expected_digest: str | None = None,
                registered_as: str = "") -> Bundle:  # fmt: skip
    """Verify (hashes, then the signature against ``trust``; default: the embedded default, which warns about an
    unsigned bundle), then read the bundle. Never unpickles: JSON, an XGBoost UBJSON booster, a LightGBM text
    model and a Keras network loaded with ``safe_mode=True`` only. A bundle whose families need a library that is
    not installed is refused naming the extra."""
    path = Path(path)
    manifest, contents = _verified(path)
    signer = check_signature(path, contents, trust or Trust(), expected_digest, registered_as)

    def read(name: str) -> Any:
        return json.loads(contents[name].decode("utf-8"))

    data = read("model.json")
    for name in data.get("families", []):  # a family whose library is missing: its extra named, nothing loaded
        require(name, f"{path}: ", scoring=True)
    lightgbm = None
    if data.get("has_lightgbm"):
        lightgbm = _lgbm.from_text(contents["lightgbm.txt"].decode("utf-8"), f"{path}: ")
    networks = {name: TfNetwork.from_parts(data[name], contents[f"{name}.keras"], f"{path}: ")
                for name in ("tf_mlp", "tf_sequence") if data.get(name) is not None}  # fmt: skip
    booster = None
    if data["has_booster"]:
        booster = xgb.Booster()
        booster.load_model(bytearray(contents["booster.ubj"]))
    model = FittedModel(
        preprocessor=Preprocessor.from_dict(data["preprocessor"]),
        booster=booster,
        scorecard=Scorecard.from_dict(data["scorecard"]) if data["scorecard"] is not None else None,
        weight=float(data["weight_xgboost"]),
        linear=Linear.from_dict(data["logistic"]) if data.get("logistic") is not None else None,
        linear_weight=float(data.get("weight_logistic", 0.0)),
        lightgbm=lightgbm,
        lightgbm_weight=float(data.get("weight_lightgbm", 0.0)),
        tf_mlp=networks.get("tf_mlp"),
        tf_mlp_weight=float(data.get("weight_tf_mlp", 0.0)),
        tf_sequence=networks.get("tf_sequence"),
        tf_sequence_weight=float(data.get("weight_tf_sequence", 0.0)),
        history_features=[FeatureInfo(**f) for f in data.get("history_features", [])],
        calibrator=Calibrator.from_dict(data["calibration"]),
        scale=ScoreScale(**data["scale"]),
        features=[FeatureInfo(**f) for f in data["features"]],
        target=data["target"],
        positive=data["positive"],
        metadata=data["metadata"],
    )
    return Bundle(
        model=model,
        metrics=read("metrics.json"),
        reference=read("reference.json"),
        context=read("context.json") if "context.json" in contents else None,
        exchange_rates=_rates(path, read("exchange_rates.json")) if "exchange_rates.json" in contents else None,
        card=contents["model_card.md"].decode("utf-8"),
        version=str(manifest["version"]),
        path=path,
        signer=signer,
        manifest_digest=hashlib.sha256(contents[MANIFEST]).hexdigest(),
    )


def _rates(path: Path, data: Any) -> dict[str, Any]:
    """The bundle's exchange rates, checked: as many rates as dates, dates ascending (ISO), rates finite and
    positive."""
    where = f"{path}/exchange_rates.json"
    dates, values = (data.get("dates"), data.get("pen_per_usd")) if isinstance(data, dict) else (None, None)
    if not isinstance(dates, list) or not isinstance(values, list) or len(dates) != len(values):
        raise BundleError(f"{where}: expected lists 'dates' and 'pen_per_usd' of one length, got another shape")
    ok = all(isinstance(d, str) and len(d) == 10 for d in dates) and dates == sorted(dates)
    ok = ok and all(isinstance(v, int | float) and 0 < v < float("inf") for v in values)
    if not ok:
        raise BundleError(f"{where}: expected ascending YYYY-MM-DD dates and positive rates, got others; {_REFUSED}")
    return dict(data)
