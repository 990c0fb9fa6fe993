"""Turning a part's bytes into text without ever raising.

The declared charset is tried first; mail in the wild declares unknown
("x-unknown", "utf8mb4") or wrong ones (Windows-1252 labelled ISO-8859-1), so
we fall back to UTF-8 and then Windows-1252, and finally to latin-1, which
maps every byte. The raw bytes stay in the journal either way.
"""

from __future__ import annotations

import codecs

_ALIASES = {"utf8mb4": "utf-8", "x-unknown": "utf-8", "unknown-8bit": "utf-8", "ascii": "us-ascii"}


def decode_text(data: bytes, declared: str | None) -> tuple[str, str | None]:
    """Return (text, problem); problem is None when the declared charset worked."""
    label = (declared or "us-ascii").strip().strip('"').lower()
    label = _ALIASES.get(label, label)
    try:
        codec = codecs.lookup(label).name
    except LookupError:
        codec = None
    if codec is not None:
        try:
            return data.decode(codec), None
        except UnicodeDecodeError:
            pass
    for fallback in ("utf-8", "cp1252"):
        try:
            return data.decode(fallback), f"charset {label!r} did not decode; used {fallback}"
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1"), f"charset {label!r} did not decode; used latin-1"
