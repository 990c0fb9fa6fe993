"""Identity-provider answers and network failures, named by the step that failed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from deskmail.sources.errors import SourceError, Step

# error -> step: the OAuth2 error codes (RFC 6749 5.2, 8628 3.5) and Entra ID's AADSTS ones.
_BY_ERROR = {
    "invalid_client": Step.CLIENT,
    "unauthorized_client": Step.CLIENT,
    "invalid_scope": Step.CONSENT,
    "consent_required": Step.CONSENT,
    "access_denied": Step.CONSENT,
    "invalid_grant": Step.SIGN_IN,
    "interaction_required": Step.SIGN_IN,
    "expired_token": Step.SIGN_IN,
    "authorization_declined": Step.SIGN_IN,
    "invalid_tenant": Step.IDENTITY,
}
# AADSTS codes that say more than the error: consent missing, app disabled.
_BY_CODE = {65001: Step.CONSENT, 650057: Step.CONSENT, 7000112: Step.CLIENT, 700016: Step.CLIENT}


def refusal(answer: Mapping[str, Any], server: str, sign_in_hint: str) -> SourceError:
    """The identity provider's error answer as a SourceError; never echoes a token."""
    error = str(answer.get("error", "unknown_error"))
    codes = answer.get("error_codes") or []
    step = next((_BY_CODE[c] for c in codes if c in _BY_CODE), None) or _BY_ERROR.get(
        error, Step.IDENTITY
    )
    description = str(answer.get("error_description", "")).split(" Trace ID:")[0].strip()
    detail = f"{error}: {description}" if description else error
    hint = sign_in_hint if step is Step.SIGN_IN else ""
    return SourceError(step, detail, server=server, hint=hint)


def unreachable(exc: BaseException, server: str) -> SourceError:
    """A network failure talking to the identity provider (requests' exceptions)."""
    text = str(exc)
    if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text:
        return SourceError(
            Step.CERTIFICATE,
            "the identity provider's certificate is not trusted",
            server=server,
            hint="set oauth2.ca_file to the CA that signed it (a proxy that inspects TLS?)",
        )
    if "SSL" in type(exc).__name__ or "SSLError" in text:
        return SourceError(
            Step.TLS, "the TLS handshake with the identity provider failed", server=server
        )
    return SourceError(
        Step.IDENTITY,
        f"the identity provider cannot be reached ({type(exc).__name__})",
        server=server,
        hint="check oauth2.authority (or token_endpoint), DNS, the firewall and any proxy",
    )
