"""Raw RFC 5322 bytes -> ParsedMessage, never raising for bad mail.

The stdlib parser with policy.default does the MIME work. Its header objects
are parsed lazily and can raise on broken input (IndexError on some address
headers in 3.11, ValueError on bad dates), so every header read goes through
`_header`, which falls back to the compat32 decoding of the raw value.
Part payloads are decoded with get_payload(decode=True), which tolerates bad
base64 and quoted-printable, and then through decode_text for the charset.
"""

from __future__ import annotations

import email.utils
import logging
from collections.abc import Callable
from datetime import datetime
from email import policy
from email.header import decode_header, make_header
from email.message import EmailMessage, Message
from email.parser import BytesParser
from typing import TypeVar

from deskmail.parse.charsets import decode_text
from deskmail.parse.html import html_to_text
from deskmail.parse.message import Address, ParsedAttachment, ParsedMessage

log = logging.getLogger(__name__)

MAX_DEPTH = 30  # deeper multipart nesting is treated as opaque data, not walked

_PARSER = BytesParser(policy=policy.default)


class _Collector:
    """Walks the MIME tree once, sorting parts into bodies and attachments."""

    def __init__(self) -> None:
        self.text: str | None = None
        self.html: str | None = None
        self.attachments: list[ParsedAttachment] = []
        self.defects: list[str] = []

    def walk(self, part: Message, depth: int = 0) -> None:
        ctype = part.get_content_type()
        if part.is_multipart() and ctype != "message/rfc822":
            if depth >= MAX_DEPTH:
                self.defects.append(f"multipart nesting deeper than {MAX_DEPTH}; rest kept as data")
                self._attach(part, ctype, part.as_bytes())
                return
            for child in part.get_payload():
                if isinstance(child, Message):
                    self.walk(child, depth + 1)
            return
        if ctype == "message/rfc822":
            # An attached mail is kept whole, as an .eml, not mixed into our body.
            inner = part.get_payload()
            first = inner[0] if isinstance(inner, list) and inner else None
            data = first.as_bytes() if isinstance(first, Message) else b""
            self._attach(part, ctype, data, default_name="attached-message.eml")
            return
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        disposition = (part.get_content_disposition() or "").lower()
        is_body_candidate = disposition != "attachment" and not _filename(part)
        if ctype == "text/plain" and is_body_candidate and self.text is None:
            self.text = self._decode(part, data)
        elif ctype == "text/html" and is_body_candidate and self.html is None:
            self.html = self._decode(part, data)
        else:
            self._attach(part, ctype, data)

    def _decode(self, part: Message, data: bytes) -> str:
        text, problem = decode_text(data, part.get_content_charset())
        if problem:
            self.defects.append(problem)
        return text

    def _attach(self, part: Message, ctype: str, data: bytes, default_name: str = "") -> None:
        name = _filename(part) or default_name or _default_name(ctype, len(self.attachments) + 1)
        cid = _safe(lambda: part.get("Content-ID"))
        inline = (part.get_content_disposition() or "").lower() == "inline" or (
            cid is not None and (part.get_content_disposition() or "") != "attachment"
        )
        self.attachments.append(
            ParsedAttachment(
                filename=name,
                media_type=ctype,
                data=data,
                inline=inline,
                content_id=str(cid).strip().strip("<>") if cid else None,
            )
        )


def parse_message(raw: bytes) -> ParsedMessage:
    msg = _PARSER.parsebytes(raw)
    collector = _Collector()
    collector.walk(msg)
    defects = [*collector.defects, *(type(d).__name__ for d in msg.defects)]

    text = collector.text
    if text is None and collector.html is not None:
        text = html_to_text(collector.html)
    return ParsedMessage(
        message_id=_message_id(_header(msg, "Message-ID", defects)),
        subject=_one_line(_header(msg, "Subject", defects)),
        sender=_first(_addresses(msg, "From", defects)),
        to=tuple(_addresses(msg, "To", defects)),
        cc=tuple(_addresses(msg, "Cc", defects)),
        date=_date(msg, defects),
        in_reply_to=_message_id(_header(msg, "In-Reply-To", defects)),
        references=tuple(_message_ids(_header(msg, "References", defects))),
        text=(text or "").replace("\r\n", "\n"),
        html=collector.html,
        attachments=tuple(collector.attachments),
        defects=tuple(defects),
    )


def _header(msg: EmailMessage | Message, name: str, defects: list[str]) -> str:
    try:
        value = msg.get(name)
        return "" if value is None else str(value)
    except Exception as exc:  # the policy's header classes raise on some broken input
        defects.append(f"{name}: {type(exc).__name__}")
    raw = next((v for k, v in msg.raw_items() if k.lower() == name.lower()), "")
    return _decode_raw_header(raw)


def _decode_raw_header(raw: str) -> str:
    try:
        return str(make_header(decode_header(raw)))
    except Exception:
        return raw.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _addresses(msg: EmailMessage | Message, name: str, defects: list[str]) -> list[Address]:
    try:
        header = msg.get(name)
        if header is None:
            return []
        found = [
            Address(name=a.display_name, address=a.addr_spec)
            for a in getattr(header, "addresses", ())
            if a.addr_spec and a.addr_spec != "<>"
        ]
        if found:
            return found
    except Exception as exc:
        defects.append(f"{name}: {type(exc).__name__}")
    raw = _header(msg, name, defects)
    return [
        Address(name=display, address=addr)
        for display, addr in email.utils.getaddresses([raw])
        if "@" in addr
    ]


def _date(msg: EmailMessage | Message, defects: list[str]) -> datetime | None:
    raw = _header(msg, "Date", defects)
    if not raw:
        return None
    try:
        return email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        defects.append("Date: unparseable")
        return None


def _message_ids(value: str) -> list[str]:
    ids = []
    for token in value.replace(",", " ").split():
        token = token.strip()
        if token.startswith("<") and token.endswith(">") and len(token) > 2:
            ids.append(token[1:-1])
    return ids


def _message_id(value: str) -> str | None:
    ids = _message_ids(value)
    if ids:
        return ids[0]
    value = value.strip()
    return value or None


def _one_line(value: str) -> str:
    return " ".join(value.split())


def _first(addresses: list[Address]) -> Address | None:
    return addresses[0] if addresses else None


def _filename(part: Message) -> str:
    name = _safe(part.get_filename)
    return _one_line(str(name)) if name else ""


def _default_name(ctype: str, index: int) -> str:
    maintype, _, subtype = ctype.partition("/")
    return f"part-{index}.{subtype or maintype or 'bin'}"


T = TypeVar("T")


def _safe(read: Callable[[], T]) -> T | None:
    try:
        return read()
    except Exception:
        return None
