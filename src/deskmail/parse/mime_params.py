"""MIME header parameters (Content-Type, Content-Disposition): RFC 2045 and RFC 2231.

Our own, because the stdlib's parameter access falls short on real mail: it
goes through header objects that turn raw 8-bit bytes into U+FFFD, keeps
comments in values ("text/plain (plain text)"), and gives RFC 2231 values in
an unknown charset back half-decoded. Here comments are dropped, RFC 2231
continuations are joined as bytes and decoded leniently, and plain values
get RFC 2047 decoding too (`filename="=?utf-8?B?...?="` is common).
"""

from __future__ import annotations

import re
from urllib.parse import unquote_to_bytes

from deskmail.parse.charsets import decode_text
from deskmail.parse.encoded_words import decode_header_text, one_line, raw_bytes

MAX_PARAM_HEADER = 65_536  # characters of one header read for parameters

# Quoted strings (closing quote optional: broken mail), comments, separators, the rest.
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"?|\((?:[^()\\]|\\.)*\)?|;|[^";(]+', re.DOTALL)
_SECTION = re.compile(r"^([^*]+)\*(?:(\d{1,4})\*?|)$")


def parse_params(value: str) -> tuple[str, dict[str, str]]:
    """'text/plain; charset="utf-8" (c)' -> ('text/plain', {'charset': 'utf-8'}).

    The main value is lower-cased; parameter names are lower-cased; values are
    unquoted and decoded to one clean line. The first of a repeated name wins.
    """
    segments = _segments(value[:MAX_PARAM_HEADER])
    main = "".join(segments[0].split()).lower() if segments else ""
    plain: dict[str, str] = {}
    sections: dict[str, list[tuple[int, bool, str]]] = {}
    for segment in segments[1:]:
        name, eq, raw = segment.partition("=")
        name = name.strip().lower()
        if not eq or not name:
            continue
        raw = _unquote(raw.strip())
        section = _SECTION.match(name)
        if section is None:
            plain.setdefault(name, raw)
            continue
        index = int(section.group(2)) if section.group(2) else 0
        encoded = name.endswith("*")
        sections.setdefault(section.group(1), []).append((index, encoded, raw))
    params = {name: decode_header_text(raw) for name, raw in plain.items()}
    for name, parts in sections.items():
        params[name] = _rfc2231(parts)  # wins over a plain value of the same name
    return main, params


def _segments(value: str) -> list[str]:
    segments: list[str] = []
    current: list[str] = []
    for match in _TOKEN.finditer(value):
        token = match.group()
        if token == ";":
            segments.append("".join(current))
            current = []
        elif not token.startswith("("):  # a comment: dropped
            current.append(token)
    segments.append("".join(current))
    return segments


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        # Only \\ and \" are unescaped: senders put unescaped Windows paths in quotes.
        return value[1:-1].replace("\\\\", "\\").replace('\\"', '"')
    return value.strip('"')


def _rfc2231(parts: list[tuple[int, bool, str]]) -> str:
    parts.sort(key=lambda part: part[0])
    charset = ""
    data = b""
    for position, (_index, encoded, raw) in enumerate(parts):
        if encoded and position == 0 and raw.count("'") >= 2:
            charset, _language, raw = raw.split("'", 2)
        data += unquote_to_bytes(raw_bytes(raw)) if encoded else raw_bytes(raw)
    text, _problem = decode_text(data, charset or "us-ascii")
    return one_line(text)
