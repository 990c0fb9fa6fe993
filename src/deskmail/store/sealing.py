"""The key that seals what the store keeps secret (OAuth2 token caches, the passwords and
client secrets of jobs kept in the database): DESKMAIL_SECRET_KEY, or a 0600 key file made
on first use.

Several keys (comma-separated in the variable, one per line in the file) allow
rotation: the first seals, every one of them opens.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cryptography.fernet import MultiFernet

SECRET_KEY_ENV = "DESKMAIL_SECRET_KEY"
KEY_FILE_ENV = "DESKMAIL_SECRET_KEY_FILE"
KEY_FILE_NAME = "deskmail-secret.key"


class SecretKeyError(Exception):
    """The configured key cannot be used; the message says which and why (never the key)."""


def key_file_for(config_file: Path | None) -> Path:
    """DESKMAIL_SECRET_KEY_FILE, else deskmail-secret.key beside the configuration file."""
    configured = os.environ.get(KEY_FILE_ENV)
    if configured:
        return Path(configured)
    folder = config_file.absolute().parent if config_file is not None else Path.cwd()
    return folder / KEY_FILE_NAME


def sealing_keys(key_file: Path) -> MultiFernet:
    """The keys from the environment, else from `key_file` (created with a new key if absent)."""
    from cryptography.fernet import Fernet, MultiFernet

    written = os.environ.get(SECRET_KEY_ENV)
    if written:
        source = f"environment variable {SECRET_KEY_ENV}"
        texts = [part.strip() for part in written.split(",") if part.strip()]
    else:
        source = str(key_file)
        texts = [line.strip() for line in _read_or_create(key_file).splitlines() if line.strip()]
    keys = []
    for position, text in enumerate(texts, 1):
        try:
            keys.append(Fernet(text.encode("ascii")))
        except (ValueError, UnicodeEncodeError):
            raise SecretKeyError(
                f"{source}: key {position} is not a Fernet key (32 url-safe base64-encoded"
                " bytes, as `python -c 'from cryptography.fernet import Fernet;"
                " print(Fernet.generate_key().decode())'` prints)"
            ) from None
    if not keys:
        raise SecretKeyError(f"{source}: holds no key")
    return MultiFernet(keys)


def _read_or_create(path: Path) -> str:
    from cryptography.fernet import Fernet

    try:
        return path.read_text("ascii")
    except FileNotFoundError:
        pass
    except (OSError, UnicodeDecodeError) as exc:
        raise SecretKeyError(f"cannot read the key file {path}: {exc}") from None
    try:
        # O_EXCL: two processes starting at once must not seal with two different keys.
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text("ascii")
    except OSError as exc:
        raise SecretKeyError(f"cannot create the key file {path}: {exc.strerror}") from None
    key = Fernet.generate_key().decode("ascii")
    with os.fdopen(descriptor, "w") as file:
        file.write(key + "\n")
    return key
