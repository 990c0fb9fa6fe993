"""Attachment names: harmless display names, and names for parts that have none.

Storage never uses a name (blobs are stored by SHA-256); these rules are for
showing a name and for offering a download, where the name reaches a browser
or a desktop: no path, no hidden or reserved file, no disguised extension.
"""

from __future__ import annotations

import re
import unicodedata

from deskmail.parse.media_types import guess_extension

MAX_NAME_BYTES = 200  # UTF-8 bytes; file systems allow 255
MAX_EXTENSION = 16
FALLBACK_NAME = "attachment"

# Bidirectional controls: U+202E makes "invoice\u202efdp.exe" look like "invoiceexe.pdf".
_BIDI = dict.fromkeys(
    map(ord, "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
)
_NOT_ALLOWED = re.compile(r'[<>:"|?*\x00-\x1f\x7f-\x9f\u2028\u2029]')
# Windows treats these as devices whatever the extension: "CON.txt" is the console.
_RESERVED = re.compile(r"^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³]|conin\$|conout\$)$", re.I)


def safe_display_name(name: str, fallback: str = FALLBACK_NAME) -> str:
    """A name safe to show and to offer as a download file name."""
    name = unicodedata.normalize("NFC", name).translate(_BIDI)
    name = re.split(r"[/\\]", name)[-1]  # the last path component: no directory, no drive
    name = _NOT_ALLOWED.sub("_", name)
    name = " ".join(name.split())
    name = name.strip(". ")  # leading dots hide files; Windows drops trailing dots/spaces
    if not name:
        return fallback
    if _RESERVED.match(name.partition(".")[0].rstrip(" ")):
        name = f"_{name}"
    return _shorten(name)


def _shorten(name: str) -> str:
    if len(name.encode("utf-8")) <= MAX_NAME_BYTES:
        return name
    stem, dot, extension = name.rpartition(".")
    if not dot or not stem or len(extension) > MAX_EXTENSION:
        stem, extension = name, ""
    suffix = f".{extension}" if extension else ""
    budget = MAX_NAME_BYTES - len(suffix.encode("utf-8"))
    cut = stem.encode("utf-8")[:budget].decode("utf-8", "ignore").rstrip(". ")
    return f"{cut}{suffix}"


def default_name(media_type: str, index: int) -> str:
    """A name for a part sent without one: "part-3.png"."""
    extension = guess_extension(media_type)
    if not extension:
        subtype = media_type.partition("/")[2]
        extension = "." + (re.sub(r"[^a-z0-9]+", "", subtype.lower())[:MAX_EXTENSION] or "bin")
    return f"part-{index}{extension}"


def eml_name(subject: str, fallback: str) -> str:
    """A mail kept as a file is named from its subject: "Printer jam.eml"."""
    if not subject.strip():
        return fallback
    # A slash in a subject ("Re: A/B test") is text, not a path.
    name = re.sub(r"[/\\]", "-", subject.strip()[:150])
    return safe_display_name(f"{name}.eml", fallback)
