"""Ed25519 keys of the risk team and the trust of the service: who may sign a model bundle.

A bundle's manifest lists the SHA-256 of every file; anyone can recompute those. The signature (``signature.json``
beside the manifest, see :mod:`pymescore.bundle`) is made over the manifest's exact bytes with a private key the
risk team holds, and checked against the public keys a service trusts. It covers whatever files a bundle holds.

Keys as text:

- private: PKCS#8 PEM (``pymescore keygen`` writes it to ``NAME.key``, mode 600; ``PYMESCORE_SIGNING_KEY`` is
  the PEM itself or the path of that file);
- public: ``ed25519:<base64 of the 32 raw bytes>`` (``NAME.pub``); ``PYMESCORE_TRUSTED_KEYS`` lists such keys
  or paths of such files, separated by commas;
- fingerprint: ``SHA256:`` + the first 16 hex digits of the raw public key's SHA-256 (what messages name).

>>> private, public = generate_key()
>>> trust = Trust.parse(public)
>>> block = sign(private, b"manifest")
>>> verify(block, b"manifest") == fingerprint(public)
True
>>> trust.trusts(block["fingerprint"])
True
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from pymescore.errors import PymescoreError

PREFIX = "ed25519:"
ALGORITHM = "ed25519"


class SigningError(PymescoreError):
    """A key that cannot be read, or a signature that does not verify."""

    code = "SIGNATURE_INVALID"


def _raw(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_text(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return PREFIX + base64.b64encode(_raw(public)).decode()


def _bad_public(text: str) -> SigningError:
    return SigningError(
        f"expected a public key 'ed25519:<base64>' (a NAME.pub of `pymescore keygen`), got {text[:24]!r} / "
        "se esperaba una clave pública 'ed25519:<base64>'",
        code="SIGNING_KEY_INVALID",
    )


def parse_public(text: str) -> Ed25519PublicKey:
    text = text.strip()
    if not text.startswith(PREFIX):
        raise _bad_public(text)
    try:
        return Ed25519PublicKey.from_public_bytes(base64.b64decode(text[len(PREFIX) :], validate=True))
    except (ValueError, binascii.Error) as exc:
        raise _bad_public(text) from exc


def fingerprint(key: str | Ed25519PublicKey) -> str:
    public = parse_public(key) if isinstance(key, str) else key
    return "SHA256:" + hashlib.sha256(_raw(public)).hexdigest()[:16]


def generate_key() -> tuple[str, str]:
    """A new key pair: (private PEM, public text)."""
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return pem, public_text(private)


def write_key_pair(out: Path) -> dict[str, str]:
    """``OUT.key`` (private, mode 600, refused if it exists) and ``OUT.pub``; returns their paths and the
    fingerprint."""
    out = Path(out)
    key_path, pub_path = out.with_name(out.name + ".key"), out.with_name(out.name + ".pub")
    if key_path.exists():
        raise SigningError(f"{key_path}: expected a new key file, got an existing one (a key is never overwritten) "
                           "/ la clave ya existe", code="SIGNING_KEY_EXISTS")  # fmt: skip
    pem, public = generate_key()
    key_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(pem)
    pub_path.write_text(public + "\n")
    return {"private_key": str(key_path), "public_key": str(pub_path), "fingerprint": fingerprint(public),
            "public": public}  # fmt: skip


def load_private(spec: str) -> Ed25519PrivateKey:
    """A private key from its PEM text or the path of a PEM file (``PYMESCORE_SIGNING_KEY``)."""
    text = spec if "-----BEGIN" in spec else None
    if text is None:
        try:
            text = Path(spec).read_text()
        except OSError as exc:
            raise SigningError(f"signing key: expected a PEM private key or the path of its file, got a path that "
                               f"cannot be read ({exc.strerror}) / clave de firma ilegible",
                               code="SIGNING_KEY_INVALID") from exc  # fmt: skip
    try:
        key = serialization.load_pem_private_key(text.encode(), password=None)
    except (ValueError, TypeError) as exc:
        raise SigningError("signing key: expected an unencrypted PKCS#8 PEM key (`pymescore keygen`), got an "
                           "unreadable one / clave de firma ilegible", code="SIGNING_KEY_INVALID") from exc  # fmt: skip
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningError(f"signing key: expected an Ed25519 key, got {type(key).__name__} / se esperaba Ed25519",
                           code="SIGNING_KEY_INVALID")  # fmt: skip
    return key


def sign(key: Ed25519PrivateKey | str, data: bytes) -> dict[str, Any]:
    """The signature block of ``data``: algorithm, public key, fingerprint, SHA-256 of ``data``, signature."""
    private = load_private(key) if isinstance(key, str) else key
    public = public_text(private)
    return {
        "algorithm": ALGORITHM,
        "public_key": public,
        "fingerprint": fingerprint(public),
        "signed_sha256": hashlib.sha256(data).hexdigest(),
        "signature": base64.b64encode(private.sign(data)).decode(),
    }


def verify(block: dict[str, Any], data: bytes) -> str:
    """Check that ``block`` signs ``data`` with the key it names; returns that key's fingerprint. Whether the
    key is trusted is :meth:`Trust.trusts`'s question."""
    try:
        public = parse_public(str(block["public_key"]))
        signature = base64.b64decode(str(block["signature"]), validate=True)
        if block.get("algorithm") != ALGORITHM:
            raise SigningError(f"expected algorithm {ALGORITHM}, got {block.get('algorithm')!r}")
        public.verify(signature, data)
    except (KeyError, TypeError, binascii.Error, InvalidSignature) as exc:
        raise SigningError("the signature does not match the manifest (forged or modified after signing) / "
                           "la firma no corresponde al manifiesto (falsificado o modificado)") from exc  # fmt: skip
    found = fingerprint(public)
    if block.get("fingerprint") not in (None, found):
        raise SigningError(f"the signature names key {block.get('fingerprint')!r} but was made by {found}")
    return found


@dataclass(frozen=True)
class Trust:
    """The public keys a service trusts (by fingerprint) and whether a signature is required.

    ``required`` holds in production mode (``PYMESCORE_REQUIRE_SIGNED``) and whenever trusted keys are given:
    a forger would otherwise drop the signature. The embedded default (no keys) loads an unsigned bundle with
    a warning.
    """

    keys: frozenset[str] = frozenset()
    required: bool = False

    @classmethod
    def parse(cls, spec: str | None, required: bool = False) -> Trust:
        found: set[str] = set()
        for item in (spec or "").replace("\n", ",").split(","):
            item = item.strip()
            if not item:
                continue
            if item.startswith(PREFIX):
                found.add(fingerprint(item))
                continue
            try:
                lines = Path(item).read_text().split()
            except OSError as exc:
                raise SigningError(f"PYMESCORE_TRUSTED_KEYS: expected 'ed25519:<base64>' keys or .pub files, got "
                                   f"{item[:80]!r} ({exc.strerror})", code="SIGNING_KEY_INVALID") from exc  # fmt: skip
            found |= {fingerprint(line) for line in lines if line.startswith(PREFIX)}
        return cls(frozenset(found), required or bool(found))

    def trusts(self, key_fingerprint: str) -> bool:
        return key_fingerprint in self.keys
