"""What the token lets the app do, read from its claims without sending anything.

`deskmail check` must not change the mailbox, yet it should say before the
first run that marking read or moving will be refused. An access token for
Graph is a JWT whose `roles` (app-only) or `scp` (delegated) claim lists the
granted permissions; its signature is Graph's business, not ours.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from deskmail.config.models import AfterProcessing

READ = frozenset({"Mail.Read", "Mail.ReadWrite", "Mail.Read.Shared", "Mail.ReadWrite.Shared"})
WRITE = frozenset({"Mail.ReadWrite", "Mail.ReadWrite.Shared"})


def granted(token: str) -> frozenset[str] | None:
    """The permissions in the token's claims; None when the token does not say
    (not a JWT, or neither claim), so nothing can be concluded."""
    claims = _claims(token)
    if claims is None:
        return None
    roles = claims.get("roles")
    scopes = claims.get("scp")
    if roles is None and scopes is None:
        return None
    names = {str(role) for role in roles} if isinstance(roles, list) else set()
    if isinstance(scopes, str):
        names.update(scopes.split())
    return frozenset(names)


def missing_permission(token: str, action: AfterProcessing) -> str | None:
    """What the token lacks to read the folder and apply `action`, in words; None if
    nothing is missing or the token does not say."""
    names = granted(token)
    if names is None:
        return None
    if not names & READ:
        return "the token grants no permission to read mail (Mail.Read or Mail.ReadWrite)"
    if action is not AfterProcessing.KEEP and not names & WRITE:
        have = ", ".join(sorted(names & READ))
        return (
            f"after_processing = {action.value} needs Mail.ReadWrite (delegated:"
            f" Mail.ReadWrite.Shared); the token grants only {have}"
        )
    return None


def _claims(token: str) -> dict[str, Any] | None:
    parts = token.split(".")
    if len(parts) != 3:
        return None
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload))
    except (ValueError, UnicodeDecodeError):
        return None
    return claims if isinstance(claims, dict) else None
