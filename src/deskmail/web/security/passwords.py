"""Password hashing: argon2id through pwdlib (its recommended parameters)."""

from __future__ import annotations

from functools import cache

from pwdlib import PasswordHash

MIN_LENGTH = 10
MAX_LENGTH = 1024  # argon2 takes any length; this bounds the work one request can cause


@cache
def _hasher() -> PasswordHash:
    return PasswordHash.recommended()


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(password: str, password_hash: str | None) -> tuple[bool, str | None]:
    """(matches, a new hash to store when the parameters changed since, or None).

    With no hash (unknown user) a dummy hash is verified all the same, so that
    the answer takes as long and does not tell whether the user exists.
    """
    if password_hash is None:
        _hasher().verify(password, _dummy_hash())
        return False, None
    return _hasher().verify_and_update(password, password_hash)


@cache
def _dummy_hash() -> str:
    return hash_password("deskmail: no such user")


def password_problem(password: str) -> str | None:
    """Why a new password is refused, in plain words; None when it is acceptable."""
    if len(password) < MIN_LENGTH:
        return f"must be at least {MIN_LENGTH} characters long"
    if len(password) > MAX_LENGTH:
        return f"must be at most {MAX_LENGTH} characters long"
    if not password.strip():
        return "must not be only spaces"
    return None
