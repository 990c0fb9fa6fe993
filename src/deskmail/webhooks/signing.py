"""The Standard Webhooks signature (standardwebhooks.com): what a receiver verifies.

    webhook-id: msg_...            the same for every attempt of a message
    webhook-timestamp: 1765083600  seconds, the time of this attempt
    webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body", keyed by the secret>

The secret is "whsec_" and the base64 of 32 random bytes. The scheme's PyPI
package does the same; it is only a test dependency, where it verifies these
signatures (tests/webhooks/), since signing is five lines of the standard library.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The webhook-signature header's value for one attempt."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def signed_headers(secret: str, message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(secret, message_id, timestamp, body),
    }


__all__ = ["SECRET_PREFIX", "new_secret", "signature", "signed_headers"]
