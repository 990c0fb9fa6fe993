"""HTML bodies to readable text (inscriptis keeps lists, tables and links), in bounded time.

inscriptis slows down quadratically on huge documents (2.8 MB of inline
markup takes seconds), so past MAX_LAYOUT_CHARS a plain, linear conversion
is used instead: line breaks at block ends, tags dropped by nh3. The same
plain conversion saves documents too deep for inscriptis (it recurses once
per level) or that lxml cannot read. nh3's html5ever is quadratic in the
nesting of block elements (100,000 nested <div> take 12 s), so
limit_nesting() first drops the tags nested deeper than MAX_NESTING,
keeping their text.
"""

from __future__ import annotations

import functools
import html as html_entities
import re
from typing import TYPE_CHECKING

import nh3

if TYPE_CHECKING:
    from inscriptis.model.config import ParserConfig

MAX_LAYOUT_CHARS = 500_000
MAX_NESTING = 500

_BLOCK_END = re.compile(r"<(?:br|hr|/p|/div|/tr|/li|/h[1-6]|/table|/blockquote)\b[^>]*>", re.I)
_XML_DECLARATION = re.compile(r"^<\?xml [^>]+?\?>")
_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9]*)\b[^>]*?(/?)>")
# Elements that never nest: void ones, and ones whose end tag may be left out
# (an unclosed <p> or <li> is closed by the next one, not nested in it).
_FLAT = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
     "track", "wbr", "p", "li", "dt", "dd", "tr", "td", "th", "thead", "tbody", "tfoot",
     "option", "colgroup", "caption"}
)  # fmt: skip


def html_to_text(html: str) -> str:
    text = ""
    if len(html) <= MAX_LAYOUT_CHARS:
        try:
            text = _layout_text(html)
        except Exception:  # lxml gives up on some documents; RecursionError past ~800 levels
            text = ""
    if not text.strip():
        text = _plain(html)
    lines = [line.rstrip() for line in text.splitlines()]
    # inscriptis keeps the layout's vertical whitespace; collapse runs of blank lines.
    out: list[str] = []
    for line in lines:
        if not line and (not out or not out[-1]):
            continue
        out.append(line)
    return "\n".join(out).strip("\n")


def _layout_text(html: str) -> str:
    # inscriptis.get_text() without its parser: lxml's default one silently drops
    # everything below 256 levels of nesting, which would lose text unnoticed.
    content = _XML_DECLARATION.sub("", html.strip(), count=1)
    if not content:
        return ""
    # Imported on the first HTML-only mail: lxml and inscriptis are heavy, and most
    # mail carries a text/plain part, which never needs them.
    from inscriptis import Inscriptis
    from lxml.html import HTMLParser, document_fromstring  # type: ignore[import-untyped]

    tree = document_fromstring(content, parser=HTMLParser(huge_tree=True))
    text: str = Inscriptis(tree, _layout_config()).get_text()
    return text


@functools.cache
def _layout_config() -> ParserConfig:
    from inscriptis.model.config import ParserConfig

    return ParserConfig(display_links=True, display_anchors=False)


def _plain(html: str) -> str:
    marked = _BLOCK_END.sub(lambda match: match.group() + "\n", html)
    return html_entities.unescape(nh3.clean(marked, tags=set()))


def limit_nesting(html: str) -> tuple[str, bool]:
    """(html, cut): tags nested deeper than MAX_NESTING removed, their text kept."""
    if html.count("<") <= MAX_NESTING:  # cannot nest that deep: skip the scan
        return html, False
    pieces: list[str] = []
    depth = last = 0
    # Up to the last ">": past it every "<" would scan to the end and fail, which made
    # a body of "<a <a <a ..." quadratic; a tag ends with ">", so none is missed.
    for match in _TAG.finditer(html, 0, html.rfind(">") + 1):
        closing, name, self_closing = match.groups()
        if name.lower() in _FLAT or self_closing:
            too_deep = depth >= MAX_NESTING
        elif closing:
            too_deep = depth > MAX_NESTING
            depth = max(depth - 1, 0)
        else:
            depth += 1
            too_deep = depth > MAX_NESTING
        if too_deep:
            pieces.append(html[last : match.start()])
            last = match.end()
    if not pieces:
        return html, False
    pieces.append(html[last:])
    return "".join(pieces), True
