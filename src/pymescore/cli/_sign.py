"""``pymescore keygen`` and ``pymescore sign``: the risk team's Ed25519 key pair, and a bundle's signature."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pymescore.cli._output import emit_json

KeyOpt = Annotated[
    str | None,
    typer.Option("--key", help="Private key file (PEM) to sign with; default PYMESCORE_SIGNING_KEY (PEM or file)."),
]


def signing_key(key: str | None) -> str:
    """The private key to sign with: ``--key``, else ``PYMESCORE_SIGNING_KEY``; checked before any work."""
    from pymescore.config import Settings
    from pymescore.errors import ConfigError
    from pymescore.signing import load_private

    spec = key or Settings().signing_key
    if not spec:
        raise ConfigError("sign: expected --key FILE or PYMESCORE_SIGNING_KEY (make one: pymescore keygen --out "
                          "keys/risk), got neither / falta la clave de firma")  # fmt: skip
    load_private(spec)  # a bad key stops the command here
    return spec


def keygen_command(
    out: Annotated[Path, typer.Option("--out", help="Key pair path without extension: writes OUT.key and OUT.pub.")],
) -> None:
    """Create an Ed25519 key pair for signing bundles: OUT.key (private, mode 600, keep it with the risk team)
    and OUT.pub (give it to the services: PYMESCORE_TRUSTED_KEYS). Prints the public key and its fingerprint.

    Example:

        pymescore keygen --out keys/risk-2025
    """
    from pymescore.signing import write_key_pair

    emit_json(write_key_pair(out))


def sign_command(
    bundle: Annotated[Path, typer.Option("--bundle", help="Model bundle folder to sign.")],
    key: KeyOpt = None,
) -> None:
    """Sign a bundle's manifest (which lists the SHA-256 of every file) with the risk team's private key:
    writes BUNDLE/signature.json. A service with PYMESCORE_TRUSTED_KEYS serves only bundles signed by those keys.

    Examples:

        pymescore sign --bundle bundle/ --key keys/risk-2025.key

        PYMESCORE_SIGNING_KEY=keys/risk-2025.key pymescore sign --bundle bundle/
    """
    from pymescore.bundle import sign_bundle

    block = sign_bundle(bundle, signing_key(key))
    emit_json({"bundle": str(bundle), "signer": block["fingerprint"], "manifest_sha256": block["signed_sha256"]})


def register(app: typer.Typer) -> None:
    app.command("keygen")(keygen_command)
    app.command("sign")(sign_command)
