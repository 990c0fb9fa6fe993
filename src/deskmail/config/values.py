"""Checks shared by the configuration models (models.py imports rules.py, so they live here)."""

from __future__ import annotations

import unicodedata


def printable(value: str) -> str:
    """Refuse control characters.

    Names and folders end up in log lines, event subjects and IMAP commands:
    a CR or LF there could forge a line or a command.
    """
    if any(unicodedata.category(char) == "Cc" for char in value):
        raise ValueError("must not contain control characters (tabs, line breaks, ...)")
    return value
