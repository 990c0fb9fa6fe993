"""Outlook desktop and web: the header block, "-----Original Message-----", the underscore line.

    ________________________________
    From: Ann <ann@example.com>
    Sent: Monday, 3 June 2024 10:00
    To: Support <support@example.com>
    Subject: Printer

The block is recognised by two header lines in a row (the first may wrap onto
a second line), in any language of languages.py, and by the timestamp every
client writes in it (a time of day, "10:02", or a date in figures, "2016-01-27"):
"From: the team" over "To: everyone", or a trip's "Date: 12 June 2024" over
"From: London", in the sender's own text is not a header. The underscore line
counts when header lines follow it, so a ruler the sender drew stays. A block
right under a forwarded-message separator is the forward's, left to the
forwarded rule.
"""

from __future__ import annotations

import re

from deskmail.preprocess.builtins.base import Builtin
from deskmail.preprocess.builtins.forwarded import PATTERN as FORWARD_SEPARATOR
from deskmail.preprocess.languages import every
from deskmail.preprocess.text import (
    FLAGS,
    QUOTE_PREFIX,
    alternatives,
    cut,
    dashed_line,
    first_match,
    line_start,
)


def _label(names: list[str]) -> str:
    # "From:", "*From:*" (plain-text view of bold labels), "Envoyé le :", "De :", "差出人："
    return rf"{QUOTE_PREFIX}\**{alternatives(names)}[ \t]*[:：]\**"


_FIRST = _label(every("header_from") + every("header_date"))
_ANY = _label(every("header_from") + every("header_date") + every("header_other"))
# A header line in a language the table does not know: "Feladó: Ann", "Kimden: Ann".
_SOME_LABEL = rf"{QUOTE_PREFIX}\**[^\W\d_][^\n:：]{{0,30}}[:：]\**[ \t]+\S"

HEADER_BLOCK = rf"^{_FIRST}[^\n]*\n(?:(?![ \t>]*\n)[^\n]*\n)?{_ANY}"
# Outlook writes 32; the known label or two lines that look like headers must follow.
UNDERSCORES = (
    rf"^{QUOTE_PREFIX}_{{20,}}[ \t]*\n(?:[ \t>]*\n){{0,2}}"
    rf"(?:{_ANY}|{_SOME_LABEL}[^\n]*\n(?:[ \t>]*\n)?{_SOME_LABEL})"
)
ORIGINAL_MESSAGE = dashed_line(every("original_message"))

_PATTERN = re.compile(f"(?P<block>{HEADER_BLOCK})|{UNDERSCORES}|{ORIGINAL_MESSAGE}", FLAGS)
_BLOCK_LINES = 8  # From, Sent, To, Cc, Subject, and a wrapped line or two


def _blank(line: str) -> bool:
    return not line.strip(" \t>")


_TIMESTAMP = re.compile(r"(?<!\d)(?:\d{1,2}[:.]\d{2}|\d{1,4}[-/.]\d{1,2}[-/.]\d{2,4})(?!\d)")


def _timed(text: str, start: int) -> bool:
    """A timestamp in the lines from `start` to the next blank line: when it was sent."""
    for line in text[start:].split("\n", _BLOCK_LINES)[:_BLOCK_LINES]:
        if _blank(line):
            return False
        if _TIMESTAMP.search(line):
            return True
    return False


def _under_forward(text: str, start: int) -> bool:
    """The paragraph holding `start` opens with, or sits right under, a forward separator."""
    above = text[:start].split("\n")[:-1]
    while above and _blank(above[-1]):
        above.pop()
    for line in reversed(above[-_BLOCK_LINES:]):
        if FORWARD_SEPARATOR.match(line):
            return True
        if _blank(line):
            return False
    return False


def _quotes_this_mail(text: str, match: re.Match[str]) -> bool:
    if match.group("block") is None:
        return True
    start = line_start(text, match.start())
    return _timed(text, start) and not _under_forward(text, start)


def strip(text: str) -> str:
    match = first_match(_PATTERN, text, lambda found: _quotes_this_mail(text, found))
    return text if match is None else cut(text, line_start(text, match.start()))


RULE = Builtin("outlook", "Outlook desktop and web", strip)
