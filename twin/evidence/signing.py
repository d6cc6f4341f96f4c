"""Optional Ed25519 signatures over a bundle's `manifest.json` (needs the `cryptography` package).

`signature.ed25519` holds the raw 64-byte signature of the exact bytes of
`manifest.json`; since the manifest holds the sha256 of every other file, the
signature covers the whole bundle. It can also be checked without twin::

    openssl pkeyutl -verify -pubin -inkey public.pem -rawin \\
        -in manifest.json -sigfile signature.ed25519

Keys are PEM files: a private key (PKCS#8, unencrypted) to sign, the public
key (SubjectPublicKeyInfo) to verify, e.g. from
``openssl genpkey -algorithm ed25519 -out key.pem`` and
``openssl pkey -in key.pem -pubout -out public.pem``.
"""

from __future__ import annotations

from pathlib import Path

from twin.errors import InputError

SIGNATURE = "signature.ed25519"
INSTALL_HINT = ("signing needs the `cryptography` package: pip install 'twin[sign]' "
                "(or pip install cryptography)")


def _serialization(option: str):
    try:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ed25519
    except ImportError:
        raise InputError.single(option, "", INSTALL_HINT) from None
    return serialization, ed25519


def load_private_key(path: str | Path, option: str = "--sign"):
    """The Ed25519 private key in PEM file `path` (InputError naming the file if it is not one)."""
    serialization, ed25519 = _serialization(option)
    data = _read(path, option)
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise InputError.single(str(path), "", f"not an unencrypted PEM private key ({exc})") from None
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise InputError.single(str(path), "", "not an Ed25519 private key")
    return key


def load_public_key(path: str | Path, option: str = "--pubkey"):
    """The Ed25519 public key in PEM file `path`."""
    serialization, ed25519 = _serialization(option)
    data = _read(path, option)
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as exc:
        raise InputError.single(str(path), "", f"not a PEM public key ({exc})") from None
    if not isinstance(key, ed25519.Ed25519PublicKey):
        raise InputError.single(str(path), "", "not an Ed25519 public key")
    return key


def _read(path: str | Path, option: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise InputError.single(str(path), "", f"cannot read the key given by {option}: "
                                               f"{exc.strerror or exc}") from None


def sign(manifest: bytes, private_key) -> bytes:
    """The raw Ed25519 signature of the manifest bytes."""
    return private_key.sign(manifest)


def check(manifest: bytes, signature: bytes, public_key) -> bool:
    """Whether `signature` is a valid signature of `manifest` under `public_key`."""
    from cryptography.exceptions import InvalidSignature

    try:
        public_key.verify(signature, manifest)
    except InvalidSignature:
        return False
    return True
