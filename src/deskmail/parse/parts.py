"""One MIME part of a compat32 message: its type, name, Content-ID and decoded bytes.

Reads the part's raw header list (`Message._headers`) rather than the
stdlib accessors: those wrap 8-bit values in Header objects that lose the
bytes, keep comments in values, and raise on unknown charsets. compat32
gives every leaf payload as a str of the raw bytes (ASCII + surrogateescape).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import Message
from typing import Any

from deskmail.parse.elide import SPAN_ATTRIBUTE
from deskmail.parse.encoded_words import decode_header_text, raw_bytes
from deskmail.parse.mime_params import parse_params
from deskmail.parse.transfer import decode_base64_span, decode_payload

_MEDIA_TYPE = re.compile(r"[a-z0-9!#$&^_.+-]+/[a-z0-9!#$&^_.+-]+")


@dataclass(frozen=True, slots=True)
class PartInfo:
    media_type: str  # "text/plain"; the RFC 2045 default when missing or invalid
    charset: str | None
    filename: str  # decoded; "" when the part has none
    disposition: str  # "inline", "attachment" or ""
    content_id: str | None  # without <>

    @property
    def inline(self) -> bool:
        # A Content-ID without a disposition is an image the HTML refers to.
        return self.disposition == "inline" or (
            self.disposition == "" and self.content_id is not None
        )


def raw_items(part: Message) -> list[tuple[str, str]]:
    """The part's headers as parsed: (name, raw value) pairs in order."""
    items: list[tuple[str, Any]] = getattr(part, "_headers", [])
    return [(str(name), value if isinstance(value, str) else str(value)) for name, value in items]


def raw_payload(part: Message) -> str | list[Message] | None:
    """A leaf's raw text or a container's sub-parts (get_payload() would lose 8-bit bytes)."""
    payload: Any = getattr(part, "_payload", None)
    if isinstance(payload, list):
        return [item for item in payload if isinstance(item, Message)]
    return payload if isinstance(payload, str) else None


def raw_header(part: Message, name: str) -> str | None:
    """The first raw value of a header, as parsed; None when absent."""
    wanted = name.lower()
    # Not through raw_items(): a part is asked for several headers, each of which
    # converted them all.
    items: list[tuple[str, Any]] = getattr(part, "_headers", [])
    for key, value in items:
        if str(key).lower() == wanted:
            return value if isinstance(value, str) else str(value)
    return None


def read_part(part: Message) -> PartInfo:
    media_type, params = parse_params(raw_header(part, "Content-Type") or "")
    if not _MEDIA_TYPE.fullmatch(media_type):
        media_type = part.get_default_type()  # message/rfc822 inside multipart/digest
    disposition, disposition_params = parse_params(raw_header(part, "Content-Disposition") or "")
    content_id = decode_header_text(raw_header(part, "Content-ID") or "").strip("<> ")
    return PartInfo(
        media_type=media_type,
        charset=params.get("charset"),
        filename=disposition_params.get("filename") or params.get("name") or "",
        # RFC 2183: an unknown disposition is treated as "attachment".
        disposition=disposition if disposition in ("inline", "") else "attachment",
        content_id=content_id or None,
    )


def payload_bytes(part: Message) -> tuple[bytes, str | None]:
    """The part's content with its transfer encoding undone: (bytes, problem)."""
    span = getattr(part, SPAN_ATTRIBUTE, None)
    if span is not None:  # a base64 body left in the raw mail (parse/elide.py)
        return decode_base64_span(*span)
    payload = raw_payload(part)
    if not isinstance(payload, str):
        return b"", None
    encoding, _params = parse_params(raw_header(part, "Content-Transfer-Encoding") or "")
    return decode_payload(raw_bytes(payload), encoding)
