"""Content-Transfer-Encoding: a part's payload to its bytes, tolerating what mailers send.

Our own base64 reader, because the stdlib's stops at the first padding: a
payload that is several base64 blobs glued together (each with its `=`)
would silently lose everything after the first. Characters outside the
alphabet are skipped and a dangling last character dropped, with a problem
reported. Quoted-printable uses binascii, which is already lenient.

Base64 itself is decoded by pybase64 (SIMD): on the benchmark's attachments
it is about seven times as fast as binascii, which took a tenth of intake.
Its lenient mode skips line ends and other non-alphabet bytes as binascii
does, and it raises binascii.Error where binascii would.
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Iterator

import pybase64

_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
_WHITESPACE = b" \t\r\n\x0b\x0c"
_AFTER_PADDING = re.compile(rb"(?<==)(?=[^=])")
_BARE_CR = re.compile(rb"\r(?!\n)")
_UUENCODE = frozenset({"x-uuencode", "uuencode", "x-uue", "uue"})
_IDENTITY = frozenset({"", "7bit", "8bit", "binary"})
CHUNK = 256 * 1024  # characters of base64 decoded at a time into a file (parse/spool.py)


def decode_payload(payload: bytes, encoding: str) -> tuple[bytes, str | None]:
    """(bytes, problem) of a payload sent with Content-Transfer-Encoding `encoding`."""
    if encoding == "base64":
        return decode_base64(payload)
    if encoding == "quoted-printable":
        if b"\r" in payload:  # a2b_qp drops the rest of a line after a "=\r" soft break
            payload = _BARE_CR.sub(b"\r\n", payload)
        return binascii.a2b_qp(payload), None
    if encoding in _UUENCODE:
        return _uudecode(payload)
    if encoding in _IDENTITY:
        return payload, None
    return payload, f"unknown Content-Transfer-Encoding {encoding[:40]!r}; kept as sent"


def decode_base64(payload: bytes) -> tuple[bytes, str | None]:
    # bytes.translate runs in C over attachments of many megabytes; a regex is slower.
    data = payload.translate(None, _WHITESPACE)
    problem = None
    junk = data.translate(None, _ALPHABET)
    if junk:
        data = data.translate(None, junk)
        problem = "invalid base64 characters skipped"
    if b"=" not in data.rstrip(b"=") and len(data) % 4 == 0:
        # The usual case, one well-formed blob: decoded without further copies
        # (a 25 MB attachment should not exist four times over).
        try:
            return pybase64.b64decode(data), problem
        except binascii.Error:
            pass  # bad padding: the careful way below
    pieces = _AFTER_PADDING.split(data) if b"=" in data.rstrip(b"=") else [data]
    out = []
    for piece in pieces:
        piece = piece.replace(b"=", b"")
        if len(piece) % 4 == 1:  # six bits cannot make a byte
            piece = piece[:-1]
            problem = problem or "truncated base64"
        out.append(pybase64.b64decode(piece + b"=" * (-len(piece) % 4)))
    return b"".join(out), problem


def decode_base64_span(data: bytes, start: int, end: int) -> tuple[bytes, str | None]:
    """data[start:end] decoded without copying it first: base64 lines, checked by parse/elide.py.

    pybase64 skips the line ends itself; padding before the end (glued blobs)
    or a bad length goes the careful way.
    """
    if not _padded_inside(data, start, end):
        try:
            return pybase64.b64decode(memoryview(data)[start:end]), None
        except binascii.Error:
            pass
    return decode_base64(data[start:end])


def base64_span_chunks(data: bytes, start: int, end: int) -> Iterator[bytes] | None:
    """data[start:end] (base64 lines, checked by parse/elide.py) decoded CHUNK at a time;
    None when there is padding before its end (glued blobs). A bad length shows at the
    last chunk, as binascii.Error."""
    return None if _padded_inside(data, start, end) else _chunks(data, start, end)


def _padded_inside(data: bytes, start: int, end: int) -> bool:
    """Padding before the last two characters: blobs glued together, for the careful way."""
    padding = data.find(b"=", start, end)
    return 0 <= padding < end - 2


def _chunks(data: bytes, start: int, end: int) -> Iterator[bytes]:
    view = memoryview(data)
    at = start
    whole_lines = True  # until a run of whole lines fails to decode
    while at < end:
        stop = min(at + CHUNK, end)
        if stop < end and whole_lines:
            # Up to the last line end: encoders write lines whose width is a multiple
            # of four (76), so whole lines are whole four-character groups. pybase64
            # skips the line ends itself, and refuses a count that is not a multiple
            # of four. Counting the characters of every chunk instead read the data
            # twice more: 3% of the benchmark's run.
            line_end = data.rfind(b"\n", at, stop)
            if line_end > at:
                try:
                    decoded = pybase64.b64decode(view[at : line_end + 1])
                except binascii.Error:
                    whole_lines = False  # lines of another width: counted from here on
                else:
                    yield decoded
                    at = line_end + 1
                    continue
        if stop < end:
            stop = _whole_groups_end(data, at, stop)
        yield pybase64.b64decode(view[at:stop])
        at = stop


def _whole_groups_end(data: bytes, at: int, stop: int) -> int:
    """stop, moved back until data[at:stop] holds a whole number of four-character groups."""
    characters = stop - at - data.count(b"\n", at, stop) - data.count(b"\r", at, stop)
    while characters % 4:
        stop -= 1
        characters -= data[stop] not in b"\r\n"
    return stop


def _uudecode(payload: bytes) -> tuple[bytes, str | None]:
    out = []
    lines = iter(payload.splitlines())
    for line in lines:  # skip to the "begin 644 name" line
        if line.startswith(b"begin "):
            break
    else:
        return payload, "uuencoded payload without a begin line; kept as sent"
    for line in lines:
        if line.strip() == b"end":
            break
        if not line.strip():
            continue
        try:
            out.append(binascii.a2b_uu(line))
        except binascii.Error:
            # Some encoders pad lines with garbage: read only the length the line claims.
            length = (((line[0] - 32) & 63) * 4 + 5) // 3
            try:
                out.append(binascii.a2b_uu(line[:length]))
            except binascii.Error:
                return payload, "bad uuencoded line; kept as sent"
    return b"".join(out), None
