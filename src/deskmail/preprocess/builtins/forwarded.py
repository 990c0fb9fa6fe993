"""Forwarded-message headers: Gmail's "---------- Forwarded message ---------",
Thunderbird's "-------- Forwarded Message --------", Apple Mail's "Begin forwarded message:".

A separate rule because forwarding is not replying: a mail forwarded to the
service desk often *is* the request. Switch it off for mailboxes that receive
forwarded problem reports; the original stays in the raw message either way.
"""

from __future__ import annotations

import re

from deskmail.preprocess.builtins.base import Builtin
from deskmail.preprocess.languages import every
from deskmail.preprocess.text import FLAGS, QUOTE_PREFIX, alternatives, cut_at_first, dashed_line

_INTRO = rf"^{QUOTE_PREFIX}{alternatives(every('forwarded_intro'))}[ \t]*$"
_PATTERN = re.compile(f"{dashed_line(every('forwarded'))}|{_INTRO}", FLAGS)


def strip(text: str) -> str:
    return cut_at_first(_PATTERN, text)


RULE = Builtin("forwarded", "Forwarded messages", strip)
