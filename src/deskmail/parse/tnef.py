"""TNEF (winmail.dat, application/ms-tnef): Outlook's wrapper around attachments and body.

tnefparse reads the stream; its compressed RTF body is decompressed by
compressed_rtf (tnefparse's optional dependency) and turned into text by
striprtf. Anything tnefparse raises becomes a TnefError, so the caller can
keep the winmail.dat itself instead. Both are imported when a winmail.dat
comes: imported at start, every run would pay their time and memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from deskmail.parse.charsets import decode_text
from deskmail.parse.filenames import safe_display_name
from deskmail.parse.html import html_to_text

TNEF_TYPES = frozenset({"application/ms-tnef", "application/vnd.ms-tnef"})


class TnefError(ValueError):
    """The stream could not be unpacked."""


@dataclass(frozen=True, slots=True)
class TnefFile:
    filename: str
    data: bytes
    media_type: str  # as Outlook recorded it; "" when it did not
    content_id: str | None


@dataclass(frozen=True, slots=True)
class TnefContent:
    files: tuple[TnefFile, ...]
    text: str | None  # the body as text: plain, else from HTML, else from RTF
    html: str | None
    problems: tuple[str, ...] = ()


def is_tnef(media_type: str, filename: str) -> bool:
    return media_type in TNEF_TYPES or filename.strip().lower() == "winmail.dat"


def unpack_tnef(data: bytes) -> TnefContent:
    from tnefparse import TNEF

    _check_counts(data)
    try:
        tnef = TNEF(data, do_checksum=False)
        codepage = str(tnef.codepage or "cp1252")
        files = tuple(_file(attachment, index) for index, attachment in enumerate(tnef.attachments))
        html = _non_blank(_text(tnef.htmlbody, codepage))
        text = _non_blank(_text(tnef.body, codepage))
        if text is None and html is not None:
            text = html_to_text(html)
        wants_rtf = text is None and bool(tnef.has_body())
    except Exception as exc:  # tnefparse raises anything from struct.error to KeyError
        raise TnefError(f"{type(exc).__name__}: {exc}") from exc
    problems: tuple[str, ...] = ()
    if wants_rtf:
        text, problem = _rtf_text(tnef)
        problems = (problem,) if problem else ()
    if not files and text is None and html is None:
        raise TnefError("no attachment and no body found")
    return TnefContent(files, text, html, problems)


# The attributes whose data tnefparse reads as a count then that many MAPI properties
# (or recipient rows): attMAPIProps, attRecipTable, attAttachment.
_COUNTED = frozenset({0x9003, 0x9004, 0x9005})


def _check_counts(data: bytes) -> None:
    """Refuse a count no data could hold (each property or row takes at least 4 bytes).

    tnefparse loops over the count it reads, warning once per property past the end
    of the data: a count of 4 billion in an 800-byte winmail.dat kept the parser busy
    for hours (found by fuzzing). Walks the attributes as tnefparse frames them."""
    offset = 6  # signature, key
    while offset + 12 < len(data):
        name = int.from_bytes(data[offset + 1 : offset + 3], "little")
        declared = int.from_bytes(data[offset + 5 : offset + 9], "little")
        length = min(len(data) - offset, declared + 11)
        value = data[offset + 9 : offset + length - 2]
        if name in _COUNTED and len(value) >= 4:
            count = int.from_bytes(value[:4], "little")
            if count > len(value) // 4:
                raise TnefError(f"attribute {name:#06x}: {count} entries in {len(value)} bytes")
        offset += length


def _file(attachment: Any, index: int) -> TnefFile:
    from tnefparse.properties import MAPI_ATTACH_CONTENT_ID, MAPI_ATTACH_MIME_TAG

    try:
        name = str(attachment.long_filename())
    except UnicodeDecodeError:  # tnefparse decodes 8-bit short names as UTF-8
        name = ""
    attrs = {attr.name: attr.data for attr in attachment.mapi_attrs}
    return TnefFile(
        # Made safe like a MIME part's name: a control character or NUL inside it came
        # through to the attachment's name (found by fuzzing).
        filename=safe_display_name(name, f"attachment-{index + 1}"),
        data=bytes(attachment.data or b""),
        media_type=_text(attrs.get(MAPI_ATTACH_MIME_TAG), "ascii").strip().lower(),
        content_id=_text(attrs.get(MAPI_ATTACH_CONTENT_ID), "ascii").strip().strip("<>") or None,
    )


def _text(value: object, codepage: str) -> str:
    """MAPI values come as str, bytes or a one-element list of either."""
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, bytes):
        value, _problem = decode_text(value, codepage)
    return value.rstrip("\x00") if isinstance(value, str) else ""


def _non_blank(text: str) -> str | None:
    return text if text.strip() else None


def _rtf_text(tnef: Any) -> tuple[str | None, str | None]:
    """(text, problem) of the RTF body."""
    from striprtf.striprtf import rtf_to_text

    try:
        rtf = tnef.rtfbody  # decompressed by compressed_rtf, when installed
        if not isinstance(rtf, bytes) or not rtf.lstrip().startswith(b"{\\rtf"):
            return None, "winmail.dat: RTF body not readable (is compressed_rtf installed?)"
        # RTF is 7-bit with escapes; latin-1 maps any stray byte one to one.
        text: str = rtf_to_text(rtf.decode("latin-1"), errors="replace")  # type: ignore[no-untyped-call]
        return text.strip() or None, None
    except Exception as exc:  # striprtf is regex-based; a broken body must not cost the files
        return None, f"winmail.dat: RTF body not readable ({type(exc).__name__})"
