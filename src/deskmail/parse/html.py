"""HTML bodies to readable text (inscriptis keeps lists, tables and links)."""

from __future__ import annotations

from inscriptis import get_text
from inscriptis.model.config import ParserConfig

_CONFIG = ParserConfig(display_links=True, display_anchors=False)


def html_to_text(html: str) -> str:
    lines = [line.rstrip() for line in get_text(html, _CONFIG).splitlines()]
    # inscriptis keeps the layout's vertical whitespace; collapse runs of blank lines.
    out: list[str] = []
    for line in lines:
        if not line and (not out or not out[-1]):
            continue
        out.append(line)
    return "\n".join(out).strip("\n")
