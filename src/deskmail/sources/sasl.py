"""SASL mechanisms: the client's answer to each server challenge, whatever the protocol.

IMAP (AUTHENTICATE) and POP3 (AUTH) carry the same exchange: the server sends
a challenge, the client answers it, until the server says yes or no. The
adapters do the framing and the base64; here are only the answers, as bytes.
They hold the password, so nothing here logs, and no answer goes to a log.

A new mechanism is one more class and one more entry in `_MECHANISMS`; XOAUTH2
takes an access token where the others take the password.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from typing import ClassVar, Protocol

from deskmail.config.models import AuthMechanism


class SaslError(Exception):
    """This side cannot go on with the exchange (a challenge it does not understand)."""


class SaslClient(Protocol):
    name: ClassVar[str]  # as servers announce it: "CRAM-MD5"

    def respond(self, challenge: bytes) -> bytes:
        """The answer to one challenge (already base64-decoded); SaslError to give up."""
        ...


def sasl_name(mechanism: AuthMechanism) -> str:
    """The name servers announce ("AUTH=CRAM-MD5", "SASL CRAM-MD5"): the setting in capitals."""
    return mechanism.value.upper()


class _Plain:
    """RFC 4616: one answer, the password in it (base64 only: for TLS connections)."""

    name: ClassVar[str] = "PLAIN"

    def __init__(self, user: str, secret: str) -> None:
        self._answer = f"\0{user}\0{secret}".encode()

    def respond(self, challenge: bytes) -> bytes:
        return self._answer


class _Login:
    """The old LOGIN mechanism: the user, then the password, whatever the prompts say."""

    name: ClassVar[str] = "LOGIN"

    def __init__(self, user: str, secret: str) -> None:
        self._answers = [user.encode(), secret.encode()]

    def respond(self, challenge: bytes) -> bytes:
        if not self._answers:
            raise SaslError("LOGIN: the server asked more than the user name and the password")
        return self._answers.pop(0)


class _CramMd5:
    """RFC 2195: the user and an HMAC-MD5 of the server's challenge; the password stays here."""

    name: ClassVar[str] = "CRAM-MD5"

    def __init__(self, user: str, secret: str) -> None:
        self._user = user
        self._key = secret.encode()

    def respond(self, challenge: bytes) -> bytes:
        if not challenge:
            raise SaslError("CRAM-MD5: the server sent an empty challenge")
        digest = hmac.new(self._key, challenge, "md5").hexdigest()
        return f"{self._user} {digest}".encode()


class _Ntlm:
    """NTLM (Microsoft's SPA): negotiate, then answer the server's challenge (NTLMv2).

    pyspnego's own NTLM code, never the system's GSSAPI: the same on every machine.
    The user may be written "DOMAIN\\\\user" or "user@domain.example".
    """

    name: ClassVar[str] = "NTLM"

    def __init__(self, user: str, secret: str) -> None:
        # Imported here: a slow import that only an NTLM job pays.
        import spnego

        # pyspnego logs tokens at debug level on some of its paths; they are not for a log.
        quiet = logging.getLogger("spnego")
        if quiet.level == logging.NOTSET:
            quiet.setLevel(logging.INFO)
        self._context = spnego.client(
            user, secret, protocol="ntlm", options=spnego.NegotiateOptions.use_ntlm
        )
        self._negotiated = False

    def respond(self, challenge: bytes) -> bytes:
        if self._context.complete:
            raise SaslError("NTLM: the server asked again after the authentication message")
        try:
            if not self._negotiated:  # the first, empty challenge: send NEGOTIATE
                self._negotiated = True
                answer = self._context.step()
            else:  # the server's CHALLENGE: send AUTHENTICATE
                answer = self._context.step(challenge)
        except Exception as exc:  # pyspnego's parser fails on bad input with any error type
            raise SaslError(
                f"NTLM: the server's challenge was not understood ({type(exc).__name__})"
            ) from None
        if not answer:
            raise SaslError("NTLM: nothing to answer the server's challenge with")
        return answer


class _XOAuth2:
    """Google's and Microsoft's XOAUTH2: the user and an OAuth2 access token, in one answer.

    A refused token comes back as a challenge holding the server's error (JSON);
    the answer to it is empty, after which the server says no.
    """

    name: ClassVar[str] = "XOAUTH2"

    def __init__(self, user: str, token: str) -> None:
        self._answer: bytes | None = xoauth2_response(user, token)
        self.error = b""  # the server's JSON error, when it refused the token

    def respond(self, challenge: bytes) -> bytes:
        if self._answer is None:
            self.error = challenge
            return b""
        answer, self._answer = self._answer, None
        return answer


def xoauth2_response(user: str, token: str) -> bytes:
    """The XOAUTH2 initial response, before base64: user=U^Aauth=Bearer T^A^A."""
    return f"user={user}\x01auth=Bearer {token}\x01\x01".encode()


_MECHANISMS: dict[AuthMechanism, Callable[[str, str], SaslClient]] = {
    AuthMechanism.PLAIN: _Plain,
    AuthMechanism.LOGIN: _Login,
    AuthMechanism.CRAM_MD5: _CramMd5,
    AuthMechanism.NTLM: _Ntlm,
    AuthMechanism.XOAUTH2: _XOAuth2,
}


def sasl_client(mechanism: AuthMechanism, user: str, secret: str) -> SaslClient:
    """A fresh exchange for one login attempt (mechanisms keep state between challenges)."""
    return _MECHANISMS[mechanism](user, secret)
