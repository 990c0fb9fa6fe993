"""An attachment's media type from its content as well as its header.

The header is the sender's claim; the first bytes are evidence. The sniffed
type wins when the content clearly says what it is (an .exe labelled
image/png is an executable). Some signatures are too short to be evidence
("BM" opens a bitmap and the word "BMW"; "%!" opens PostScript and a shell
comment): those only replace a generic label. Containers say less than an
application/* label (a .docx is a zip, an Outlook .msg is an OLE file), so
they do not replace one.
"""

from __future__ import annotations

import mimetypes

import filetype

GENERIC = frozenset(
    {"", "application/octet-stream", "application/unknown", "binary/octet-stream",
     "application/x-download", "application/force-download", "application/binary"}
)  # fmt: skip
_ALIASES = {
    "image/jpg": "image/jpeg",
    "image/pjpeg": "image/jpeg",
    "image/x-png": "image/png",
    "image/x-ms-bmp": "image/bmp",
    "application/x-pdf": "application/pdf",
    "application/x-zip-compressed": "application/zip",
    "application/x-zip": "application/zip",
    "application/x-gzip": "application/gzip",
    "audio/mp3": "audio/mpeg",
    "application/x-rtf": "application/rtf",
    "text/rtf": "application/rtf",
    "application/x-exe": "application/x-msdownload",
    "application/x-msdos-program": "application/x-msdownload",
    "application/x-dosexec": "application/x-msdownload",
    "application/vnd.microsoft.portable-executable": "application/x-msdownload",
}
# Signatures of three bytes or fewer, or text-like: a hint, not evidence.
_WEAK = frozenset(
    {"image/bmp", "audio/mpeg", "audio/aac", "video/mpeg", "image/x-icon", "application/x-bzip2",
     "application/x-compress", "application/postscript", "application/rtf", "audio/midi",
     "application/octet-stream", "application/dicom"}
)  # fmt: skip
# Containers whose specific label is more precise than the sniffed container.
_CONTAINERS = frozenset(
    {"application/zip", "application/msword", "application/vnd.ms-excel",
     "application/vnd.ms-powerpoint", "application/x-tar", "application/gzip"}
)  # fmt: skip
SNIFF_BYTES = 8192  # filetype reads no further
# The built-in table only: the system's mime.types differs from machine to machine.
_TABLE = mimetypes.MimeTypes()


def normalize(media_type: str) -> str:
    media_type = media_type.strip().lower()
    return _ALIASES.get(media_type, media_type)


def sniff(data: bytes) -> str | None:
    """The media type the content's signature names, or None."""
    head = data[:SNIFF_BYTES]
    kind = filetype.guess(head)
    if kind is None:
        return None
    mime = normalize(str(kind.mime))
    if mime == "application/x-msdownload" and not _is_pe(head):
        return None  # "MZ" alone is two letters, not a Windows program
    return mime


def _is_pe(head: bytes) -> bool:
    if len(head) < 64:
        return False
    offset = int.from_bytes(head[60:64], "little")
    return head[offset : offset + 4] == b"PE\0\0" if offset + 4 <= len(head) else True


def resolve(data: bytes, declared: str) -> tuple[str, str]:
    """(media_type, declared_type): the trustworthy type, and the header's when it differs."""
    declared = normalize(declared)
    sniffed = sniff(data)
    if sniffed is None or sniffed == declared:
        return declared or "application/octet-stream", ""
    if declared in GENERIC:
        return sniffed, declared
    if sniffed in _WEAK or (sniffed in _CONTAINERS and declared.startswith("application/")):
        return declared, ""
    return sniffed, declared


def guess_type(filename: str) -> str:
    """The media type a file name suggests (for files sent without one, as in TNEF)."""
    guessed, _encoding = _TABLE.guess_type(filename, strict=False)
    return guessed or "application/octet-stream"


def guess_extension(media_type: str) -> str | None:
    """ ".png" for image/png; None when the table does not know the type."""
    return _TABLE.guess_extension(media_type, strict=False)
