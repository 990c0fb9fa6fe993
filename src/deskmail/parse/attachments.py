"""Building a ParsedAttachment: the content hash and the trustworthy media type."""

from __future__ import annotations

import hashlib

from deskmail.parse.media_types import resolve
from deskmail.parse.message import ParsedAttachment
from deskmail.parse.spool import Spooled

WHOLE_MAIL_NAME = "original-message.eml"  # a whole mail kept as a file, when it has no subject


def make_attachment(
    filename: str,
    declared_type: str,
    data: bytes,
    *,
    inline: bool = False,
    content_id: str | None = None,
    sniff: bool = True,
) -> ParsedAttachment:
    media_type, declared = resolve(data, declared_type) if sniff else (declared_type, "")
    return ParsedAttachment(
        filename=filename,
        media_type=media_type,
        data=data,
        inline=inline,
        content_id=content_id,
        sha256=hashlib.sha256(data).hexdigest(),
        declared_type=declared,
    )


def spooled_attachment(
    filename: str,
    declared_type: str,
    spooled: Spooled,
    *,
    inline: bool = False,
    content_id: str | None = None,
) -> ParsedAttachment:
    """An attachment whose bytes were decoded into a file (parse/spool.py)."""
    media_type, declared = resolve(spooled.head, declared_type)
    return ParsedAttachment(
        filename=filename,
        media_type=media_type,
        data=b"",
        inline=inline,
        content_id=content_id,
        sha256=spooled.sha256,
        declared_type=declared,
        spooled=spooled.file,
    )


def eml_attachment(raw: bytes, filename: str) -> ParsedAttachment:
    """A whole mail as an .eml file; its type is message/rfc822 whatever its first bytes."""
    return make_attachment(filename, "message/rfc822", raw, sniff=False)
