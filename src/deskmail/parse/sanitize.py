"""A copy of a mail's HTML that is safe to show in the deskmail UI (nh3).

Scripts, styles sheets, event handlers, forms and frames go (nh3's allow
list). Images inside the mail (`cid:`) point at their stored attachment,
/attachments/<sha256>; any other image source (remote: a tracking pixel;
data: URIs) and unknown cids are dropped, so showing a mail fetches nothing
from outside. Relative links are dropped too: in our UI they would point
into deskmail itself. Links keep rel="noopener noreferrer".
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from copy import deepcopy
from dataclasses import dataclass
from urllib.parse import unquote

import nh3

from deskmail.parse.message import ParsedAttachment

ATTACHMENT_URL = "/attachments/{sha256}"

_TAGS = nh3.ALLOWED_TAGS | {"font"}
_ATTRIBUTES = deepcopy(nh3.ALLOWED_ATTRIBUTES)
_ATTRIBUTES.setdefault("*", set()).update({"style", "title", "dir", "lang"})
_ATTRIBUTES.setdefault("font", set()).update({"color", "face", "size"})
for _cell in ("table", "td", "th"):
    _ATTRIBUTES.setdefault(_cell, set()).update({"width", "valign", "bgcolor", "border"})
# Links that open a new tab: nh3 refuses an attribute both allowed and set.
_ATTRIBUTES_NEW_TAB = {**_ATTRIBUTES, "a": (_ATTRIBUTES.get("a", set()) - {"target"}) | {"href"}}
# "cid" must pass nh3's scheme check to reach the attribute filter.
_SCHEMES = {"http", "https", "mailto", "tel", "cid"}
# Layout only: no property that can load a URL (background, list-style-image, ...).
_STYLE_PROPERTIES = {
    "color", "background-color", "font-weight", "font-style", "font-size", "font-family",
    "text-align", "text-decoration", "vertical-align", "white-space", "line-height",
    "margin", "margin-left", "margin-right", "margin-top", "margin-bottom",
    "padding", "padding-left", "padding-right", "padding-top", "padding-bottom",
    "border", "border-collapse", "width", "height",
}  # fmt: skip
_URL_ATTRIBUTES = frozenset({"href", "src", "cite", "longdesc"})
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")
CSS_FETCH = re.compile(r"url\s*\(|expression\s*\(|@import|\\", re.I)  # a style that loads


def clean_mail_html(
    html: str, decide: Callable[[str, str, str], str | None], *, links_in_new_tab: bool = False
) -> str:
    """`html` through deskmail's one allow list of tags, attributes, schemes and styles;
    `decide(tag, attribute, value)` keeps, rewrites (a URL) or drops (None) each value.
    The intake's stored copy and the web's frame use it, each with its own URL rules."""
    return nh3.clean(
        html,
        tags=_TAGS,
        attributes=_ATTRIBUTES_NEW_TAB if links_in_new_tab else _ATTRIBUTES,
        attribute_filter=decide,
        url_schemes=_SCHEMES,
        link_rel="noopener noreferrer",
        set_tag_attribute_values={"a": {"target": "_blank"}} if links_in_new_tab else None,
        filter_style_properties=_STYLE_PROPERTIES,
        strip_comments=True,
    )


@dataclass(frozen=True, slots=True)
class SafeHtml:
    html: str
    shown: frozenset[str]  # sha256 of the attachments the HTML shows through cid:


def sanitize_html(html: str, attachments: Iterable[ParsedAttachment]) -> SafeHtml:
    cids = content_ids(attachments)
    shown: set[str] = set()

    def rewrite(tag: str, attribute: str, value: str) -> str | None:
        if attribute in _URL_ATTRIBUTES:
            url = value.strip()
            if url[:4].lower() == "cid:":
                sha256 = lookup_cid(cids, url[4:])
                if sha256 is None:
                    return None
                shown.add(sha256)
                return ATTACHMENT_URL.format(sha256=sha256)
            if attribute == "src" or not _SCHEME.match(url):
                return None  # a remote or data: image, or a link into our own site
        if attribute == "style" and CSS_FETCH.search(value):
            return None
        return value

    return SafeHtml(clean_mail_html(html, rewrite), frozenset(shown))


def content_ids(attachments: Iterable[ParsedAttachment]) -> dict[str, str]:
    """Content-ID -> sha256, exactly and lower-cased; inline parts win over attached ones."""
    found: dict[str, str] = {}
    ranked = sorted(attachments, key=lambda attachment: not attachment.inline)
    for attachment in ranked:
        if attachment.content_id:
            key = attachment.content_id.strip().strip("<>")
            found.setdefault(key, attachment.sha256)
            found.setdefault(key.lower(), attachment.sha256)
    return found


def lookup_cid(cids: dict[str, str], reference: str) -> str | None:
    """The sha256 a `cid:` URL names; the URL may be %-encoded (RFC 2392) and keep its <>."""
    key = unquote(reference).strip().strip("<>")
    return cids.get(key) or cids.get(key.lower())
