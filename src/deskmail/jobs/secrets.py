"""Which settings of a job are secrets, taken out of its table to be sealed apart.

A secret is a field hidden from repr in the models (as config.secrets.redact
decides): the job's password, its SMTP password and the OAuth2 client secrets.
Their values never reach the stored settings; they are sealed together in one
Fernet token with the store's keys (store/sealing.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from deskmail.config.oauth2 import CREDENTIAL_KEYS

if TYPE_CHECKING:
    from cryptography.fernet import MultiFernet


class SecretSlot(StrEnum):
    """Where a secret sits in a job's table, as a dotted key."""

    PASSWORD = "password"
    SMTP_PASSWORD = "smtp.password"
    CLIENT_SECRET = "oauth2.client_secret"
    SMTP_CLIENT_SECRET = "smtp.oauth2.client_secret"

    @property
    def table(self) -> tuple[str, ...]:
        return tuple(self.value.split(".")[:-1])

    @property
    def key(self) -> str:
        return self.value.split(".")[-1]


# The other ways of giving each secret: naming one of them in a change drops the rest.
ALTERNATIVES: dict[str, tuple[str, ...]] = {
    "password": ("password", "password_env", "password_file"),
    "client_secret": CREDENTIAL_KEYS,
}
# Stands in for a kept secret while the settings are validated without opening it.
KEPT = "(kept)"


class UnreadableSecrets(Exception):
    """Sealed with a key that is no longer configured; the message says what to do."""


def table_at(settings: Mapping[str, Any], path: tuple[str, ...]) -> Mapping[str, Any] | None:
    """The sub-table at `path` (("smtp", "oauth2")), or None where the job has none."""
    for part in path:
        inner = settings.get(part)
        if not isinstance(inner, Mapping):
            return None
        settings = inner
    return settings


def split_secrets(settings: Mapping[str, Any]) -> tuple[dict[str, Any], dict[SecretSlot, str]]:
    """The settings without their secret values, and those values by slot."""
    plain: dict[str, Any] = json.loads(json.dumps(settings))  # a deep copy of the JSON-ready table
    secrets: dict[SecretSlot, str] = {}
    for slot in SecretSlot:
        table = table_at(plain, slot.table)
        if table is not None and table.get(slot.key) is not None:
            assert isinstance(table, dict)
            secrets[slot] = str(table.pop(slot.key))
    return plain, secrets


def with_secrets(settings: Mapping[str, Any], secrets: Mapping[SecretSlot, str]) -> dict[str, Any]:
    """The settings with the secrets put back where their tables still are."""
    joined: dict[str, Any] = json.loads(json.dumps(settings))
    for slot, value in secrets.items():
        table = table_at(joined, slot.table)
        if table is not None:
            assert isinstance(table, dict)
            table[slot.key] = value
    return joined


def secret_families(
    changes: Mapping[str, Any], path: tuple[str, ...] = ()
) -> list[tuple[str, ...]]:
    """The tables (paths) in which `changes` names a way of giving a secret: there the
    other ways are dropped, so that setting password_env replaces a stored password."""
    found = []
    for key, value in changes.items():
        if isinstance(value, Mapping):
            found += secret_families(value, (*path, key))
        else:
            found += [(*path, name) for name, keys in ALTERNATIVES.items() if key in keys]
    return found


def drop_other_ways(
    settings: dict[str, Any], family: tuple[str, ...], changes: Mapping[str, Any]
) -> None:
    """In `settings`, remove the ways of giving family's secret that `changes` does not name."""
    table = table_at(settings, family[:-1])
    given = table_at(changes, family[:-1]) or {}
    if table is None:
        return
    assert isinstance(table, dict)
    for key in ALTERNATIVES[family[-1]]:
        if key not in given:
            table.pop(key, None)


def seal(keys: MultiFernet, secrets: Mapping[SecretSlot, str]) -> str | None:
    if not secrets:
        return None
    text = json.dumps({slot.value: value for slot, value in secrets.items()})
    return keys.encrypt(text.encode("utf-8")).decode("ascii")


def open_sealed(keys: MultiFernet, sealed: str, job: str) -> dict[SecretSlot, str]:
    from cryptography.fernet import InvalidToken

    try:
        opened = json.loads(keys.decrypt(sealed.encode("ascii")))
    except InvalidToken:
        raise UnreadableSecrets(
            f'the secrets of job "{job}" were sealed with another key than the configured ones'
            " (DESKMAIL_SECRET_KEY or the key file): add the old key after the new one, or"
            " enter the secrets again"
        ) from None
    return {SecretSlot(slot): value for slot, value in opened.items()}


def slots_text(slots: Iterable[SecretSlot]) -> str:
    return ",".join(sorted(slot.value for slot in slots))


def slots_of(text: str | None) -> frozenset[SecretSlot]:
    return frozenset(SecretSlot(part) for part in (text or "").split(",") if part)
