"""Turning bytes into text without ever raising and without dropping a byte.

The declared charset is tried first, through a safe lookup: mail declares
unknown labels ("x-unknown", "utf8mb4"), labels in comments or quotes, and
labels naming Python codecs that are not charsets at all ("unicode_escape"
would turn `C:\\Users` into garbage). Latin-1 and a few Asian labels are read
with the superset their senders really use (as browsers do, per the WHATWG
Encoding Standard). Text labelled Latin-1 or ASCII that is valid UTF-8 is
UTF-8. A known charset that fails on a few bytes keeps its reading of the
rest; otherwise the bytes are read as UTF-8. Either way every undecodable
byte becomes its Windows-1252 (else Latin-1) character, so no byte silently
disappears. The raw bytes stay in the journal too.
"""

from __future__ import annotations

import codecs
import re

# Labels seen in mail that Python does not know under that name.
_ALIASES = {
    "utf8mb4": "utf-8",
    "x-unknown": "utf-8",
    "unknown-8bit": "utf-8",
    "unknown": "utf-8",
    "x-user-defined": "cp1252",
    "windows-874": "cp874",
    "x-mac-roman": "mac-roman",
    "x-sjis": "shift_jis",
    "unicode-1-1-utf-7": "utf-7",
}
# codecs.lookup() name -> the superset that decodes what senders really meant.
_SUPERSETS = {
    "iso8859-1": "cp1252",
    "iso8859-9": "cp1254",
    "iso8859-11": "cp874",
    "tis-620": "cp874",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "euc_kr": "cp949",
    "shift_jis": "cp932",
    "big5": "cp950",
}
# Text codecs that interpret escapes or are not charsets: never applied to mail.
_UNSAFE = frozenset(
    {"unicode-escape", "raw-unicode-escape", "idna", "punycode", "undefined", "palmos"}
)
# Labels whose text is, in practice, often UTF-8 sent by a misconfigured client.
_OFTEN_UTF8 = frozenset({"cp1252", "ascii"})

_COMMENT = re.compile(r"\([^()]*\)")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _byte_char(byte: int) -> str:
    try:
        return bytes([byte]).decode("cp1252")
    except UnicodeDecodeError:  # the five bytes Windows-1252 leaves undefined
        return chr(byte)


_BYTE_CHARS = tuple(_byte_char(b) for b in range(256))


def _bytewise(error: UnicodeError) -> tuple[str, int]:
    if not isinstance(error, UnicodeDecodeError):
        raise error
    bad = error.object[error.start : error.end]
    return "".join(_BYTE_CHARS[b] for b in bad), error.end


codecs.register_error("deskmail-bytewise", _bytewise)


def clean_label(declared: str | None) -> str:
    """A charset label without comments, quotes, RFC 2231 language or spaces."""
    if not declared:
        return ""
    label = _COMMENT.sub(" ", declared) if "(" in declared else declared
    label = label.replace('"', " ").replace("'", " ").strip().lower()
    return label.split()[0].split("*", 1)[0] if label else ""


def lookup_codec(declared: str | None) -> str | None:
    """The codec to decode `declared` text with; None when unknown or unsafe."""
    label = clean_label(declared)
    if not label or not label.isascii() or len(label) > 64:
        return None
    try:
        info = codecs.lookup(_ALIASES.get(label, label))
    except (LookupError, ValueError):  # ValueError: a NUL in the label
        return None
    if not info._is_text_encoding or info.name in _UNSAFE:
        return None
    return _SUPERSETS.get(info.name, info.name)


def decode_text(data: bytes, declared: str | None) -> tuple[str, str | None]:
    """Return (text, problem); problem is None when the declared charset worked."""
    label = clean_label(declared) or "us-ascii"
    codec = lookup_codec(label)
    problem: str | None = None
    if codec is None:
        problem = f"unknown charset {label!r}"
    elif data.isascii() and codec in _OFTEN_UTF8:
        return _clean(data.decode("ascii"), problem)
    else:
        if codec in _OFTEN_UTF8:
            try:
                return _clean(data.decode("utf-8"), f"charset {label!r} was UTF-8")
            except UnicodeDecodeError:
                pass
        try:
            return _clean(data.decode(codec), None)
        except UnicodeDecodeError:
            problem = f"charset {label!r} did not decode"
        if codec not in _OFTEN_UTF8:  # right charset, a few bad bytes: keep the rest readable
            return _clean(data.decode(codec, "deskmail-bytewise"), f"{problem}; bad bytes kept")
    text = data.decode("utf-8", "deskmail-bytewise")
    return _clean(text, f"{problem}; read as UTF-8, other bytes as Windows-1252")


def _clean(text: str, problem: str | None) -> tuple[str, str | None]:
    # NUL and lone surrogates (UTF-7 can make them) cannot be stored in PostgreSQL text.
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
        problem = f"{problem}; NUL replaced" if problem else "NUL characters replaced"
    if not text.isascii() and _SURROGATE.search(text):
        text = _SURROGATE.sub("\ufffd", text)
        problem = f"{problem}; lone surrogates replaced" if problem else "lone surrogates replaced"
    return text, problem
