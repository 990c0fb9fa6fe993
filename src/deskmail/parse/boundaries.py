"""MIME boundary lines found without compiling a regular expression per multipart.

email.feedparser compiles a new regex for every multipart it meets, from the
boundary's text: "--" + re.escape(boundary) + a fixed tail. Boundaries are
unique per mail, so re's cache never helps, and compiling (sre_parse, in
Python) was a tenth of our parsing time (bench/ingest.py profile; the
stdlib floor pays it too). This module stands in for `re` inside
email.feedparser: that one pattern becomes a startswith() plus the tail,
compiled once, whose match object answers the same groups (end, ws,
linesep). Any other pattern, or that one if a Python release changes it, is
compiled by re as before, so the stand-in can only ever be as right as
the stdlib.
"""

from __future__ import annotations

import email.feedparser
import re
from types import ModuleType
from typing import Any

# The fixed part of feedparser's pattern after re.escape(separator) (CPython 3.8-3.13).
_HEAD = "(?P<sep>"
_TAIL = r")(?P<end>--)?(?P<ws>[ \t]*)(?P<linesep>\r\n|\r|\n)?$"
_TAIL_RE = re.compile(_TAIL[1:])
_ESCAPED = re.compile(r"\\(.)", re.DOTALL)  # re.escape() puts a backslash before a character


class BoundaryMatcher:
    """`.match(line)` as the compiled boundary pattern: None, or a match with its groups."""

    __slots__ = ("_length", "separator")

    def __init__(self, separator: str) -> None:
        self.separator = separator
        self._length = len(separator)

    def match(self, line: str) -> re.Match[str] | None:
        if not line.startswith(self.separator):
            return None
        return _TAIL_RE.match(line, self._length)


class _FeedparserRe(ModuleType):
    """The `re` module, but for the boundary pattern's compile()."""

    def __init__(self) -> None:
        super().__init__("re")

    def __getattr__(self, name: str) -> Any:
        return getattr(re, name)

    @staticmethod
    def compile(pattern: Any, flags: int = 0) -> Any:
        if (
            not flags
            and isinstance(pattern, str)
            and pattern.startswith(_HEAD)
            and pattern.endswith(_TAIL)
        ):
            return BoundaryMatcher(_ESCAPED.sub(r"\1", pattern[len(_HEAD) : -len(_TAIL)]))
        return re.compile(pattern, flags)


def install() -> None:
    """From now on, email.feedparser finds boundaries with BoundaryMatcher."""
    email.feedparser.re = _FeedparserRe()  # type: ignore[attr-defined]


def uninstall() -> None:
    """Back to the stdlib's own regexes (tests compare the two)."""
    email.feedparser.re = re  # type: ignore[attr-defined]
