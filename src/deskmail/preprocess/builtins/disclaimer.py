"""Legal disclaimers: everything from a confidentiality notice on.

    CONFIDENTIALITY NOTICE: This e-mail and any attachments are confidential ...
    Diese E-Mail enthält vertrauliche und/oder rechtlich geschützte Informationen ...

A notice opens a paragraph (after a blank line or a line of symbols such as
"____"); the same words inside a sentence ("this is confidential, please ...")
are the sender's own and stay.
"""

from __future__ import annotations

import re

from deskmail.preprocess.builtins.base import Builtin
from deskmail.preprocess.languages import every
from deskmail.preprocess.text import FLAGS, alternatives, cut, line_start

_PATTERN = re.compile(rf"^[ \t]*(?:[*_=#-]+[ \t]*)?{alternatives(every('disclaimers'))}", FLAGS)


def _opens_paragraph(text: str, start: int) -> bool:
    if start == 0:
        return True
    previous = text[line_start(text, start - 1) : start - 1]
    return not previous.strip(" \t*_=#-~.")


def strip(text: str) -> str:
    for match in _PATTERN.finditer(text):
        start = line_start(text, match.start())
        if _opens_paragraph(text, start):
            return cut(text, start)
    return text


RULE = Builtin("disclaimer", "Legal disclaimers", strip)
