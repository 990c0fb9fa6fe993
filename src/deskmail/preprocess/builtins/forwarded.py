"""Forwarded-message headers: Gmail's "---------- Forwarded message ---------",
Thunderbird's "-------- Forwarded Message --------", Apple Mail's "Begin forwarded message:".

A separate rule because forwarding is not replying: a mail forwarded to the
service desk often *is* the request. Below a note of the sender's own, the
forward goes; a forward with nothing above it keeps the forwarded text and loses
only the separator and its header lines. Switch the rule off for mailboxes that
receive forwarded problem reports; the original stays in the raw message either way.
"""

from __future__ import annotations

import re

from deskmail.preprocess.builtins.base import Builtin
from deskmail.preprocess.languages import every
from deskmail.preprocess.text import FLAGS, QUOTE_PREFIX, alternatives, cut_at_first, dashed_line

_INTRO = rf"^{QUOTE_PREFIX}{alternatives(every('forwarded_intro'))}[ \t]*$"
PATTERN = re.compile(f"{dashed_line(every('forwarded'))}|{_INTRO}", FLAGS)


def _forwarded_text(text: str) -> str:
    """What a forward with nothing above it carries: the text below its header lines."""
    lines = text.strip().split("\n")[1:]  # the separator
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and lines[0].strip():  # the header lines: From, Date, Subject, To
        lines.pop(0)
    return "\n".join(lines).strip()


def strip(text: str) -> str:
    if PATTERN.match(text.lstrip()):
        return _forwarded_text(text) or text
    return cut_at_first(PATTERN, text)


RULE = Builtin("forwarded", "Forwarded messages", strip)
