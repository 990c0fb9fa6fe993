"""Attachment and raw-message responses: always downloads, never rendered by the browser.

Every attachment goes out with `Content-Disposition: attachment` and nosniff;
anything but a plain raster image is sent as application/octet-stream, so an
HTML or SVG attachment cannot become a page of deskmail's origin even if a
browser ignored the disposition. The raw .eml is shown as text/plain (viewable)
or downloaded as message/rfc822.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote

from starlette.responses import Response, StreamingResponse

from deskmail.web.mail_view.sanitise import INLINE_IMAGE_TYPES

_CHUNK = 64 * 1024
_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f\"\\/]")


def disposition(filename: str, *, inline: bool = False) -> str:
    """RFC 6266: an ASCII fallback and the UTF-8 name, neither able to break the header."""
    name = _UNSAFE_NAME.sub("_", Path(filename.replace("\\", "/")).name) or "attachment"
    fallback = name.encode("ascii", "replace").decode().replace("?", "_")
    kind = "inline" if inline else "attachment"
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def served_type(media_type: str) -> str:
    """The Content-Type an attachment is sent with: its own only for raster images."""
    media_type = media_type.lower().strip()
    return media_type if media_type in INLINE_IMAGE_TYPES else "application/octet-stream"


def _chunks(file: BinaryIO) -> Iterator[bytes]:
    with file:
        while chunk := file.read(_CHUNK):
            yield chunk


def _headers(content_disposition: str, size: int | None) -> dict[str, str]:
    headers = {
        "content-disposition": content_disposition,
        "x-content-type-options": "nosniff",
        "cache-control": "private, no-store",
        # Should a browser render it anyway: no script, no subresource, an opaque origin.
        "content-security-policy": "default-src 'none'; sandbox",
    }
    if size is not None:
        headers["content-length"] = str(size)
    return headers


def attachment_response(file: BinaryIO, filename: str, media_type: str, size: int) -> Response:
    return StreamingResponse(
        _chunks(file),
        media_type=served_type(media_type),
        headers=_headers(disposition(filename), size),
    )


def raw_response(file: BinaryIO, filename: str, size: int, *, download: bool) -> Response:
    if download:
        return StreamingResponse(
            _chunks(file),
            media_type="message/rfc822",
            headers=_headers(disposition(filename), size),
        )
    return StreamingResponse(
        _chunks(file),
        media_type="text/plain; charset=utf-8",
        headers=_headers(disposition(filename, inline=True), size),
    )
