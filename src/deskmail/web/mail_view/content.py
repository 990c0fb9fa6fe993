"""What the frame of one mail shows: its HTML (from the raw message when kept), else its text.

With the raw message kept, the HTML is the part as sent, sanitised here, so a
remote image can be shown when the viewer asks (the parser's stored copy has
dropped them for good). Without it, the parser's sanitised copy is used and its
`/attachments/<sha256>` images embedded.
"""

from __future__ import annotations

from deskmail.parse.message import ParsedAttachment
from deskmail.parse.parser import parse_message
from deskmail.store.blobs import BlobStore
from deskmail.web.mail_view.sanitise import (
    INLINE_IMAGE_TYPES,
    MAX_INLINE_IMAGE,
    FrameHtml,
    InlineImage,
    frame_html,
)
from deskmail.web.queries.mail import MailSource

_MAX_RAW = 50 * 1024 * 1024  # a bigger raw message is not parsed again for the frame


def _showable(media_type: str, size: int) -> bool:
    return media_type.lower() in INLINE_IMAGE_TYPES and size <= MAX_INLINE_IMAGE


def _parsed_images(attachments: tuple[ParsedAttachment, ...]) -> dict[str, InlineImage]:
    by_cid: dict[str, InlineImage] = {}
    for part in attachments:
        if part.content_id and part.spooled is None and _showable(part.media_type, part.size):
            key = part.content_id.strip().strip("<>").lower()
            by_cid.setdefault(key, InlineImage(part.sha256, part.media_type.lower(), part.data))
    return by_cid


def frame_content(blobs: BlobStore, source: MailSource, *, remote_images: bool) -> FrameHtml | str:
    if source.raw_sha256 is not None and blobs.path(source.raw_sha256).stat().st_size <= _MAX_RAW:
        with blobs.open(source.raw_sha256) as file:
            parsed = parse_message(file.read())
        if parsed.html is not None:
            by_cid = _parsed_images(parsed.attachments)
            by_sha256 = {image.sha256: image for image in by_cid.values()}
            return frame_html(
                parsed.html, by_cid=by_cid, by_sha256=by_sha256, remote_images=remote_images
            )
    if source.html is None:
        return source.text
    by_sha256 = {}
    for info in source.attachments:
        if _showable(info.media_type, info.size) and blobs.exists(info.sha256):
            with blobs.open(info.sha256) as file:
                by_sha256[info.sha256] = InlineImage(
                    info.sha256, info.media_type.lower(), file.read()
                )
    return frame_html(source.html, by_cid={}, by_sha256=by_sha256, remote_images=False)
