"""Outlook desktop and web: the header block, "-----Original Message-----", the underscore line.

    ________________________________
    From: Ann <ann@example.com>
    Sent: Monday, 3 June 2024 10:00
    To: Support <support@example.com>
    Subject: Printer

The block is recognised by two header lines in a row (the first may wrap onto
a second line), in any language of languages.py; a lone "From:" line in a
sentence is not enough.
"""

from __future__ import annotations

import re

from deskmail.preprocess.builtins.base import Builtin
from deskmail.preprocess.languages import every
from deskmail.preprocess.text import FLAGS, QUOTE_PREFIX, alternatives, cut_at_first, dashed_line


def _label(names: list[str]) -> str:
    # "From:", "*From:*" (plain-text view of bold labels), "Envoyé le :", "De :"
    return rf"{QUOTE_PREFIX}\**{alternatives(names)}[ \t]*:\**"


_FIRST = _label(every("header_from") + every("header_date"))
_ANY = _label(every("header_from") + every("header_date") + every("header_other"))

HEADER_BLOCK = rf"^{_FIRST}[^\n]*\n(?:(?![ \t>]*\n)[^\n]*\n)?{_ANY}"
UNDERSCORES = rf"^{QUOTE_PREFIX}_{{30,}}[ \t]*$"  # Outlook writes 32
ORIGINAL_MESSAGE = dashed_line(every("original_message"))

_PATTERN = re.compile(f"{HEADER_BLOCK}|{UNDERSCORES}|{ORIGINAL_MESSAGE}", FLAGS)


def strip(text: str) -> str:
    return cut_at_first(_PATTERN, text)


RULE = Builtin("outlook", "Outlook desktop and web", strip)
