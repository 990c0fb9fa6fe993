"""A few headers of a raw mail, for a person to look at (quarantine and denied mail).

Read leniently, apart from the parser proper: the mail may be the one that
broke it. Values are made safe for a terminal.
"""

from __future__ import annotations

import email.parser
import email.policy

GLANCE_HEADERS = ("From", "To", "Cc", "Subject", "Date", "Message-ID")


def glance_headers(raw: bytes) -> list[tuple[str, str]]:
    """(name, printable value) of each of GLANCE_HEADERS the mail has, in that order."""
    if not raw:
        return []
    parsed = email.parser.BytesHeaderParser(policy=email.policy.default).parsebytes(raw)
    found = []
    for name in GLANCE_HEADERS:
        try:
            value = parsed[name]
        except Exception as exc:  # a header the parser cannot decode
            value = f"(unreadable: {type(exc).__name__})"
        if value is not None:
            found.append((name, printable(str(value))))
    return found


def printable(text: str) -> str:
    """Mail and error text reach a terminal: no line breaks, no escape sequences."""
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())
