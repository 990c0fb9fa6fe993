"""The HTML of a mail as the frame shows it: sanitised by nh3, images decided here.

Inline images (`cid:` in the mail as sent, or `/attachments/<sha256>` in the copy
the parser stored) become data: URIs of the stored attachment, so the frame needs
no cookie and no URL of deskmail. Remote images are dropped, and counted so the
page can offer to load them, unless the viewer asked for them. Scripts, event
handlers, forms, frames and `javascript:` links never pass nh3; links open in a
new tab (the frame is sandboxed without top navigation).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import unquote

from deskmail.parse.sanitize import CSS_FETCH, clean_mail_html

# Only these kinds of images may be shown; never SVG (it can carry script) or HTML.
INLINE_IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
# An inline image bigger than this is listed as an attachment, not embedded.
MAX_INLINE_IMAGE = 5 * 1024 * 1024

_STORED_IMAGE = re.compile(r"/attachments/([0-9a-f]{64})")
_REMOTE = re.compile(r"https?://", re.I)
_LINK = re.compile(r"(https?|mailto|tel):", re.I)


@dataclass(frozen=True, slots=True)
class InlineImage:
    """An image the mail carries, ready to embed."""

    sha256: str
    media_type: str
    data: bytes

    def data_uri(self) -> str:
        return f"data:{self.media_type};base64,{base64.b64encode(self.data).decode()}"


@dataclass(frozen=True, slots=True)
class FrameHtml:
    html: str  # the body's inner HTML, safe to put in the frame's document
    remote_images: int  # remote images dropped (or kept, when they were asked for)


def frame_html(
    html: str,
    *,
    by_cid: Mapping[str, InlineImage],
    by_sha256: Mapping[str, InlineImage],
    remote_images: bool,
) -> FrameHtml:
    """`html` cleaned for the frame. `by_cid` keys are Content-IDs without <>, lower-cased."""
    remote = 0

    def decide(tag: str, attribute: str, value: str) -> str | None:
        nonlocal remote
        url = value.strip()
        if attribute == "src":
            if tag != "img":
                return None
            if url[:4].lower() == "cid:":
                image = by_cid.get(unquote(url[4:]).strip().strip("<>").lower())
                return image.data_uri() if image else None
            stored = _STORED_IMAGE.fullmatch(url)
            if stored:
                image = by_sha256.get(stored.group(1))
                return image.data_uri() if image else None
            if _REMOTE.match(url):
                remote += 1
                return url if remote_images else None
            return None  # data:, relative, anything else
        if attribute in {"href", "cite", "longdesc"}:
            return url if _LINK.match(url) else None  # no link into deskmail itself
        if attribute == "style" and CSS_FETCH.search(value):
            return None
        return value

    return FrameHtml(clean_mail_html(html, decide, links_in_new_tab=True), remote)
