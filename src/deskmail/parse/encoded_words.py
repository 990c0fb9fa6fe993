"""Header text to a clean one-line string: RFC 2047 encoded words and raw 8-bit bytes.

Our own decoder: the compat32 parser (see parser.py) leaves header values
raw, and the stdlib's helpers for raw values fall short on real mail:
make_header() raises LookupError on an unknown charset, and raw 8-bit bytes
come back as U+FFFD. Here adjacent words of one charset are joined before
decoding (a character may be split across two), bad base64 and stray `=`
in quoted-printable are tolerated, and raw 8-bit header bytes (UTF-8
mostly) go through the same lenient charset decoding as bodies. The result
never holds a line break or a control character, so nothing decoded can
forge a header line."""

from __future__ import annotations

import base64
import binascii
import re

from deskmail.parse.charsets import decode_text

# Lenient on purpose: spaces inside the encoded text (Outlook does that) and
# words glued to other text are accepted. No nested quantifier: linear time.
ENCODED_WORD = re.compile(r"=\?([^?\s]{1,80})\?([bBqQ])\?([^?]*)\?=")
_Q_ESCAPE = re.compile(rb"=([0-9A-Fa-f]{2})")
_NOT_BASE64 = re.compile(rb"[^A-Za-z0-9+/]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # not TAB, LF, CR: whitespace


def decode_header_text(value: str) -> str:
    """Decode a raw header value (as the compat32 parser gives it) to one clean line."""
    if "=?" not in value:
        return one_line(_raw_text(value))
    out: list[str] = []
    charset = ""
    data = b""
    pos = 0
    for match in ENCODED_WORD.finditer(value):
        gap = value[pos : match.start()]
        # Whitespace between two encoded words is not part of the text (RFC 2047 6.2).
        if gap and not (data and gap.isspace()):
            out.append(_decoded(data, charset))
            data = b""
            out.append(_raw_text(gap))
        word_charset = match.group(1).split("*", 1)[0].lower()
        if data and word_charset != charset:
            out.append(_decoded(data, charset))
            data = b""
        charset = word_charset
        data += _decode_b(match.group(3)) if match.group(2) in "bB" else _decode_q(match.group(3))
        pos = match.end()
    out.append(_decoded(data, charset))
    out.append(_raw_text(value[pos:]))
    return one_line("".join(out))


def one_line(text: str) -> str:
    """Line breaks and tabs to spaces, other controls to U+FFFD, runs of spaces to one."""
    if _CONTROL.search(text):
        text = _CONTROL.sub("\ufffd", text)
    return " ".join(text.split())


def _raw_text(text: str) -> str:
    # The parser read header bytes as ASCII with surrogateescape; get the bytes back.
    if text.isascii():
        return text
    decoded, _problem = decode_text(raw_bytes(text), "utf-8")
    return decoded


def raw_bytes(text: str) -> bytes:
    """The bytes behind a string from the parser (ASCII with surrogateescape)."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate the parser did not make
        return text.encode("utf-8", "replace")


def _decoded(data: bytes, charset: str) -> str:
    if not data:
        return ""
    text, _problem = decode_text(data, charset)
    return text


def _decode_q(text: str) -> bytes:
    raw = raw_bytes(text).replace(b"_", b" ")
    return _Q_ESCAPE.sub(lambda m: bytes([int(m.group(1), 16)]), raw)


def _decode_b(text: str) -> bytes:
    raw = _NOT_BASE64.sub(b"", raw_bytes(text))
    raw = raw[: len(raw) - len(raw) % 4] if len(raw) % 4 == 1 else raw
    try:
        return base64.b64decode(raw + b"=" * (-len(raw) % 4))
    except binascii.Error:
        return b""
