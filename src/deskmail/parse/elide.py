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
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from email.message import Message

from deskmail.parse.parts import raw_payload

MIN_LINES = 256  # ~19 KB of base64: below that the line loop costs little
# A body (after a header block's blank line) that starts with a base64 line...
_BODY = re.compile(rb"\n\r?\n(?=[A-Za-z0-9+/]{16})")
# ...runs until the first character that is not base64 nor a line end, or a blank line.
_END = re.compile(rb"[^A-Za-z0-9+/=\r\n]|\n\r?\n")
_BASE64_LINES = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=\r\n"


@dataclass
class Elided:
    """The bytes handed to the parser, and what each marker stands for."""

    data: bytes
    runs: dict[str, str] = field(default_factory=dict)
    prefix: str = ""  # every marker is prefix + a decimal index


def elide(raw: bytes) -> Elided:
    if len(raw) < MIN_LINES * 64:
        return Elided(raw)
    # Unguessable, so no text a sender wrote can be taken for a marker.
    prefix = f"deskmailelided{secrets.token_hex(8)}x"
    runs: dict[str, str] = {}
    pieces: list[bytes] = []
    done = 0  # raw[:done] is in pieces
    for body in _BODY.finditer(raw):
        start = body.end()
        if start < done:
            continue
        end = _run_end(raw, start)
        if end <= start or raw.count(b"\n", start, end) < MIN_LINES - 1:
            continue
        marker = f"{prefix}{len(runs)}"
        runs[marker] = raw[start:end].decode("ascii")  # base64 characters only
        pieces += (raw[done:start], marker.encode("ascii"))
        done = end
    if not runs:
        return Elided(raw)
    pieces.append(raw[done:])
    return Elided(b"".join(pieces), runs, prefix)


def _run_end(raw: bytes, start: int) -> int:
    """Where the base64 lines from `start` stop: the end of the last whole line.

    Its line end is left out: the parser strips the line end before a
    boundary, and must still find it after the marker.
    """
    dash = raw.find(b"\n-", start)
    stop = len(raw) if dash < 0 else dash
    while stop > start and raw[stop - 1] in b"\r\n":
        stop -= 1
    # Checked in C (translate, find) first: a regex walks a 2 MB run ten times slower.
    if (
        raw.find(b"\n\n", start, stop) < 0
        and raw.find(b"\n\r\n", start, stop) < 0
        and not raw[start:stop].translate(None, _BASE64_LINES)
    ):
        return stop
    found = _END.search(raw, start)
    end = raw.rfind(b"\n", start, found.start() if found else len(raw))
    return end - 1 if end > 0 and raw[end - 1] == 0x0D else end  # before CR LF


def restore(root: Message, elided: Elided) -> None:
    """Put every cut run back where its marker landed."""
    if not elided.runs:
        return
    prefix = elided.prefix
    for part in root.walk():
        for attribute in ("preamble", "epilogue"):
            value = getattr(part, attribute, None)
            if isinstance(value, str) and prefix in value:
                setattr(part, attribute, _put_back(value, elided.runs, prefix))
        payload = raw_payload(part)  # get_payload() would decode or copy
        if isinstance(payload, str) and prefix in payload:
            # The attribute itself: set_payload() would also touch the charset.
            part._payload = _put_back(payload, elided.runs, prefix)  # type: ignore[attr-defined]


def _put_back(text: str, runs: dict[str, str], prefix: str) -> str:
    # Markers are "prefix" + a decimal index; match the whole index, so "x1" never eats "x12".
    return re.sub(re.escape(prefix) + r"\d+", lambda m: runs.get(m.group(), m.group()), text)
