"""A parsed message (or part) back to bytes, to keep an attached mail whole as an .eml.

Our own writer, because the stdlib's generator falls short on broken mail:
it re-folds headers, and raises UnicodeEncodeError on some 8-bit parts (it
reads them through get_payload(), which has already turned the bytes into
U+FFFD). Here header values and payloads are written as the parser kept
them, so the result is the original up to line ends around boundaries.
"""

from __future__ import annotations

from email.message import Message

from deskmail.parse.encoded_words import raw_bytes
from deskmail.parse.parts import raw_items, raw_payload

CRLF = b"\r\n"


def to_bytes(part: Message) -> bytes:
    out = bytearray()
    _write(part, out)
    return bytes(out)


def _write(part: Message, out: bytearray) -> None:
    for name, value in raw_items(part):
        out += raw_bytes(f"{name}: {value}") + CRLF
    out += CRLF
    payload = raw_payload(part)
    if isinstance(payload, str):
        out += raw_bytes(payload)
        return
    if not payload:
        return
    boundary = _boundary(part)
    if boundary is None:  # message/rfc822 and other message/* containers
        for child in payload:
            _write(child, out)
        return
    if part.preamble:
        out += raw_bytes(part.preamble) + CRLF
    for child in payload:
        out += b"--" + boundary + CRLF
        _write(child, out)
        out += CRLF
    out += b"--" + boundary + b"--" + CRLF
    if part.epilogue:
        out += raw_bytes(part.epilogue)


def _boundary(part: Message) -> bytes | None:
    try:
        boundary = part.get_boundary()
    except Exception:  # the stdlib reads it through header objects that may raise
        return None
    return raw_bytes(boundary) if boundary else None
