"""An app's certificate credential, PEM or PFX: what msal needs, and when it expires."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

from deskmail.sources.errors import SourceError, Step


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise SourceError(
            Step.CLIENT, f"cannot read oauth2.certificate_file {path}: {exc.strerror}"
        ) from None


def load_credential(path: Path, password: str | None) -> dict[str, Any]:
    """msal's client_credential: the private key in PEM and the certificate, from which msal
    takes the SHA-256 thumbprint and signs with PS256 (SHA-1 thumbprints are deprecated)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.serialization import pkcs12

    data = _read(path)
    secret = password.encode() if password else None
    key: Any
    certificate: x509.Certificate | None
    try:
        if data.lstrip().startswith(b"-----"):
            key = serialization.load_pem_private_key(data, secret)
            certificate = x509.load_pem_x509_certificate(data)
        else:
            key, certificate, _extra = pkcs12.load_key_and_certificates(data, secret)
    except (ValueError, TypeError) as exc:
        raise SourceError(
            Step.CLIENT,
            f"oauth2.certificate_file {path} holds no usable key and certificate"
            f" ({str(exc).splitlines()[0]}); a wrong certificate_password_env?",
        ) from None
    if key is None or certificate is None:
        raise SourceError(
            Step.CLIENT, f"oauth2.certificate_file {path} must hold the key and the certificate"
        )
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")
    return {
        "private_key": private_pem,
        "public_certificate": certificate.public_bytes(serialization.Encoding.PEM).decode(),
    }


def certificate_expiry(path: Path, password: str | None) -> datetime.datetime:
    """The certificate's own not-after date."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import pkcs12

    data = _read(path)
    if data.lstrip().startswith(b"-----"):
        certificate = x509.load_pem_x509_certificate(data)
    else:
        _key, found, _extra = pkcs12.load_key_and_certificates(
            data, password.encode() if password else None
        )
        if found is None:
            raise SourceError(Step.CLIENT, f"oauth2.certificate_file {path} has no certificate")
        certificate = found
    return certificate.not_valid_after_utc
