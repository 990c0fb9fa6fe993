"""Random secrets handed to a client, and the digests kept of them."""

from __future__ import annotations

import hashlib
import secrets


def new_secret(prefix: str = "") -> str:
    """32 random bytes, URL-safe, after a prefix that says what the secret is."""
    return prefix + secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    """SHA-256 in hex: enough for 256-bit random secrets (no salt or stretching needed)."""
    return hashlib.sha256(secret.encode()).hexdigest()
