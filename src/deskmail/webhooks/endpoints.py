"""The endpoints webhooks go to: add (the secret shown once), list, remove, enable, disable.

The service the CLI calls, and the web UI and API will: typed values in and
out, a clear EndpointError naming the field for bad input. The signing secret
is sealed with the deskmail secret key (store/sealing.py) and never returned again
after add.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from deskmail.store.models import WebhookEndpoint, utcnow
from deskmail.webhooks.payloads import SUBSCRIBABLE
from deskmail.webhooks.signing import new_secret

if TYPE_CHECKING:
    from cryptography.fernet import MultiFernet

ALL_KINDS = "*"


class EndpointError(ValueError):
    """Bad input for an endpoint: `field` names what, the message says the problem."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


@dataclass(frozen=True, slots=True)
class EndpointView:
    """An endpoint as shown: everything but its secret."""

    id: int
    url: str
    kinds: tuple[str, ...]
    enabled: bool
    description: str
    include_subject: bool
    failing_since: datetime | None
    failures: int  # attempts failed in a row
    disabled_reason: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: WebhookEndpoint) -> EndpointView:
        return cls(
            row.id,
            row.url,
            tuple(row.kinds.split()),
            row.enabled,
            row.description,
            row.include_subject,
            row.failing_since,
            row.failures,
            row.disabled_reason,
            row.created_at,
            row.updated_at,
        )


@dataclass(frozen=True, slots=True)
class NewEndpoint:
    endpoint: EndpointView
    secret: str  # whsec_...: shown to the person who added it, then only kept sealed


def check_url(url: str) -> str:
    url = url.strip()
    if any(char.isspace() or ord(char) < 32 or ord(char) == 127 for char in url):
        raise EndpointError("url", "must not contain spaces or control characters")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise EndpointError("url", f"must start with https:// or http:// (got {url!r})")
    if not parts.hostname:
        raise EndpointError("url", f"has no host name (got {url!r})")
    if len(url) > 2000:
        raise EndpointError("url", f"is {len(url)} characters long; at most 2000")
    if parts.username or parts.password:
        raise EndpointError("url", "must not carry a user name or password")
    return url


def check_description(description: str) -> str:
    if any(ord(char) < 32 and char not in "\t\n\r" for char in description):
        raise EndpointError("description", "must not contain control characters")
    if len(description) > 2000:
        raise EndpointError("description", f"is {len(description)} characters long; at most 2000")
    return description.strip()


def check_kinds(kinds: Iterable[str]) -> tuple[str, ...]:
    """The event kinds, in the order of SUBSCRIBABLE; "*" is every one."""
    wanted = {kind.strip() for kind in kinds if kind.strip()}
    if ALL_KINDS in wanted:
        return SUBSCRIBABLE
    if not wanted:
        raise EndpointError("events", f"name at least one event kind, or {ALL_KINDS} for all")
    unknown = sorted(wanted - set(SUBSCRIBABLE))
    if unknown:
        raise EndpointError(
            "events",
            f"unknown event kind {', '.join(map(repr, unknown))}; the kinds are"
            f" {', '.join(SUBSCRIBABLE)}",
        )
    return tuple(kind for kind in SUBSCRIBABLE if kind in wanted)


def add_endpoint(
    session: Session,
    keys: MultiFernet,
    url: str,
    kinds: Iterable[str],
    *,
    description: str = "",
    include_subject: bool = False,
) -> NewEndpoint:
    secret = new_secret()
    row = WebhookEndpoint(
        url=check_url(url),
        kinds=" ".join(check_kinds(kinds)),
        enabled=True,
        secret_sealed=keys.encrypt(secret.encode("ascii")).decode("ascii"),
        description=check_description(description),
        include_subject=include_subject,
        failures=0,
        created_at=utcnow(),
    )
    session.add(row)
    session.flush()
    return NewEndpoint(EndpointView.of(row), secret)


def list_endpoints(session: Session, updated_since: datetime | None = None) -> list[EndpointView]:
    query = select(WebhookEndpoint)
    if updated_since is not None:
        query = query.where(WebhookEndpoint.updated_at >= updated_since)
    rows = session.scalars(query.order_by(WebhookEndpoint.id))
    return [EndpointView.of(row) for row in rows]


def get_endpoint(session: Session, endpoint_id: int) -> EndpointView | None:
    row = session.get(WebhookEndpoint, endpoint_id)
    return EndpointView.of(row) if row is not None else None


def remove_endpoint(session: Session, endpoint_id: int) -> bool:
    """Delete the endpoint with its deliveries and their log; False if there is none."""
    row = session.get(WebhookEndpoint, endpoint_id)
    if row is None:
        return False
    session.delete(row)
    session.flush()
    return True


def update_endpoint(
    session: Session,
    endpoint_id: int,
    *,
    url: str | None = None,
    kinds: Iterable[str] | None = None,
    description: str | None = None,
    include_subject: bool | None = None,
) -> EndpointView | None:
    """Change what is given (None: kept); the secret stays. None if there is no such endpoint.

    Deliveries already queued keep going to it; new kinds apply to events from now on.
    """
    row = session.get(WebhookEndpoint, endpoint_id, with_for_update=True)
    if row is None:
        return None
    if url is not None:
        row.url = check_url(url)
    if kinds is not None:
        row.kinds = " ".join(check_kinds(kinds))
    if description is not None:
        row.description = check_description(description)
    if include_subject is not None:
        row.include_subject = include_subject
    session.flush()
    return EndpointView.of(row)


def set_enabled(session: Session, endpoint_id: int, enabled: bool) -> EndpointView | None:
    """Enable (its failure count starts again) or disable by hand; None if there is none.

    Deliveries queued while it was disabled are posted once it is enabled again.
    """
    row = session.get(WebhookEndpoint, endpoint_id, with_for_update=True)
    if row is None:
        return None
    row.enabled = enabled
    if enabled:
        row.failing_since, row.failures, row.disabled_reason = None, 0, None
    else:
        row.disabled_reason = "disabled by hand"
    session.flush()
    return EndpointView.of(row)


def unseal_secret(keys: MultiFernet, sealed: str) -> str:
    """The endpoint's whsec_ secret; EndpointError when no configured key opens it."""
    from cryptography.fernet import InvalidToken

    try:
        return keys.decrypt(sealed.encode("ascii")).decode("ascii")
    except InvalidToken:
        raise EndpointError(
            "secret",
            "was sealed with another key than the configured ones (DESKMAIL_SECRET_KEY or"
            " the key file): add the old key after the new one, or remove the endpoint and"
            " add it again",
        ) from None


__all__ = [
    "ALL_KINDS",
    "EndpointError",
    "EndpointView",
    "NewEndpoint",
    "add_endpoint",
    "check_description",
    "check_kinds",
    "check_url",
    "get_endpoint",
    "list_endpoints",
    "remove_endpoint",
    "set_enabled",
    "unseal_secret",
    "update_endpoint",
]
