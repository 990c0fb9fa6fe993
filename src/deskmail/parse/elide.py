"""Long base64 runs kept out of the stdlib parser's line loop, then put back.

email.feedparser reads a body one line at a time in Python, a str per line:
a 2 MB attachment is some 36,000 lines, and on a support mailbox those lines
were most of the parsing time and memory (bench/ingest.py --profile). Before
parsing, every run of at least MIN_LINES lines made only of base64 characters
is cut out and replaced by one marker line; after parsing, each payload,
preamble or epilogue holding a marker gets the exact bytes back. A base64
line can be neither a MIME boundary ("--...") nor a header ("Name: ..."), so
the parser sees the same structure, and the restored message is the one a
plain parse would have given.

One exception saves memory: a base64 part whose whole body is one run is not
given its text back but a pointer into the raw bytes (SPAN_ATTRIBUTE), which
parts.payload_bytes decodes from there. A 25 MB attachment then exists as
the raw mail and as its decoded bytes, not also as two or three copies of its
base64 text.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from email.message import Message
from typing import Any

from deskmail.parse.mime_params import parse_params

MIN_LINES = 256  # ~19 KB of base64: below that the line loop costs little
# A body (after a header block's blank line) that starts with a base64 line...
_BODY = re.compile(rb"\n\r?\n(?=[A-Za-z0-9+/]{16})")
# ...runs until the first character that is not base64 nor a line end, or a blank line.
_END = re.compile(rb"[^A-Za-z0-9+/=\r\n]|\n\r?\n")
_CHECK_CHUNK = 256 * 1024  # translate() allocates its whole input size before it shrinks
_BASE64_CHARACTERS = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="


SPAN_ATTRIBUTE = "deskmail_base64_span"  # (raw, start, end) on a part; see the docstring


@dataclass
class Elided:
    """The bytes handed to the parser, and where in `raw` each marker's run is."""

    data: bytes
    raw: bytes = b""
    runs: dict[str, tuple[int, int]] = field(default_factory=dict)
    prefix: str = ""  # every marker is prefix + a decimal index


def elide(raw: bytes) -> Elided:
    if len(raw) < MIN_LINES * 64:
        return Elided(raw)
    # Unguessable, so no text a sender wrote can be taken for a marker.
    prefix = f"deskmailelided{secrets.token_hex(8)}x"
    runs: dict[str, tuple[int, int]] = {}
    pieces: list[bytes] = []
    done = 0  # raw[:done] is in pieces
    # search() from where the last run ended: a run's megabytes are not scanned twice.
    body = _BODY.search(raw)
    while body is not None:
        start = body.end()
        end, lines = _run_end(raw, start)
        if end <= start or lines < MIN_LINES:
            body = _BODY.search(raw, start)
            continue
        marker = f"{prefix}{len(runs)}"
        runs[marker] = (start, end)
        pieces += (raw[done:start], marker.encode("ascii"))
        done = end
        body = _BODY.search(raw, end)
    if not runs:
        return Elided(raw)
    pieces.append(raw[done:])
    return Elided(b"".join(pieces), raw, runs, prefix)


def _run_end(raw: bytes, start: int) -> tuple[int, int]:
    """Where the base64 lines from `start` stop (the end of the last whole line), and how many.

    Its line end is left out: the parser strips the line end before a
    boundary, and must still find it after the marker.
    """
    uniform = _uniform_run_end(raw, start)
    if uniform is not None and uniform[1] >= MIN_LINES:  # else maybe only a run's start
        return uniform
    dash = raw.find(b"\n-", start)
    stop = len(raw) if dash < 0 else dash
    while stop > start and raw[stop - 1] in b"\r\n":
        stop -= 1
    # Checked in C (translate, find) first: a regex walks a 2 MB run ten times slower.
    if (
        raw.find(b"\n\n", start, stop) < 0
        and raw.find(b"\n\r\n", start, stop) < 0
        and not _line_ends(raw, start, stop).translate(None, b"\r\n")  # base64 lines only
    ):
        end = stop
    else:
        found = _END.search(raw, start)
        end = raw.rfind(b"\n", start, found.start() if found else len(raw))
        end = end - 1 if end > 0 and raw[end - 1] == 0x0D else end  # before CR LF
    return end, raw.count(b"\n", start, end) + 1 if end > start else 0


def _uniform_run_end(raw: bytes, start: int) -> tuple[int, int] | None:
    """The common case, in one pass instead of five: lines of one width, the last shorter.

    Encoders write base64 in lines of one width (76 characters, MIME's
    limit). Every line end then sits at a fixed stride, which a strided slice
    (one byte per line) checks; one translate() then checks that nothing but
    base64 characters and those line ends is in between. None when the run is not
    of that shape: _run_end then walks it the general way.
    """
    first = raw.find(b"\n", start, start + 1000)
    if first <= start:
        return None
    crlf = raw[first - 1] == 0x0D
    width = first - start - crlf
    stride = width + 1 + crlf
    if width < 16:
        return None
    # One byte per line where each full line's line end must start.
    ends = raw[start + width :: stride]
    full = len(ends) - len(ends.lstrip(b"\r" if crlf else b"\n"))
    if crlf:
        newlines = raw[start + width + 1 :: stride]
        full = min(full, len(newlines) - len(newlines.lstrip(b"\n")))
    end = start + full * stride - 1 - crlf  # after the last full line's characters
    lines = full
    # A shorter last line (the rest of the data) belongs to the run too.
    tail = start + full * stride
    tail_end = raw.find(b"\n", tail, tail + stride)
    if tail_end > tail:
        tail_stop = tail_end - (raw[tail_end - 1] == 0x0D)
        if tail < tail_stop < tail + width and not _line_ends(raw, tail, tail_stop):
            end, lines = tail_stop, lines + 1
    if lines == 0 or end <= start:
        return None
    # Nothing but base64 characters and exactly one line end per line.
    if _line_ends(raw, start, end) != (b"\r\n" if crlf else b"\n") * (lines - 1):
        return None
    return end, lines


def _line_ends(raw: bytes, start: int, stop: int) -> bytes:
    """What is left of raw[start:stop] without its base64 characters.

    A slice at a time: a 25 MB attachment is not copied whole to be checked.
    """
    return b"".join(
        raw[at : min(at + _CHECK_CHUNK, stop)].translate(None, _BASE64_CHARACTERS)
        for at in range(start, stop, _CHECK_CHUNK)
    )


def restore(root: Message, elided: Elided) -> None:
    """Put every cut run back where its marker landed (or point a base64 part at it)."""
    if not elided.runs:
        return
    stack: list[tuple[Message, bool]] = [(root, False)]
    while stack:
        part, in_message = stack.pop()
        for attribute in ("preamble", "epilogue"):
            value = getattr(part, attribute, None)
            if isinstance(value, str) and elided.prefix in value:
                setattr(part, attribute, _put_back(value, elided))
        payload: Any = getattr(part, "_payload", None)  # get_payload() would decode or copy
        if isinstance(payload, list):
            # Inside an attached mail every part is written back out whole (eml.py).
            inner = in_message or not part.get_content_type().startswith("multipart/")
            stack.extend((child, inner) for child in payload if isinstance(child, Message))
        elif isinstance(payload, str) and elided.prefix in payload:
            span = elided.runs.get(payload.strip())
            if span is not None and not in_message and _is_base64_leaf(part):
                setattr(part, SPAN_ATTRIBUTE, (elided.raw, *span))
            else:
                # The attribute itself: set_payload() would also touch the charset.
                part._payload = _put_back(payload, elided)  # type: ignore[attr-defined]


def _is_base64_leaf(part: Message) -> bool:
    encoding, _params = parse_params(part.get("Content-Transfer-Encoding", "") or "")
    return encoding == "base64" and part.get_content_maintype() not in ("multipart", "message")


def _put_back(text: str, elided: Elided) -> str:
    # Markers are prefix + a decimal index; match the whole index, so "x1" never eats "x12".
    def run(match: re.Match[str]) -> str:
        span = elided.runs.get(match.group())
        return elided.raw[span[0] : span[1]].decode("ascii") if span else match.group()

    return re.sub(re.escape(elided.prefix) + r"\d+", run, text)
