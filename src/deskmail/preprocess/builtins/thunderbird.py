"""Thunderbird: "On <date>, <name> wrote:" and "-------- Original Message --------".

Thunderbird's reply header is the same sentence as Gmail's, so it is found by the
same attribution patterns (only the "On <date>" shape); what is Thunderbird's
own is the dashed separator above an inline header table.
"""

from __future__ import annotations

import re

from deskmail.preprocess.attribution import first_attribution
from deskmail.preprocess.builtins.base import Builtin
from deskmail.preprocess.languages import every
from deskmail.preprocess.text import (
    FLAGS,
    answers_between_quotes,
    cut,
    cut_at_first,
    dashed_line,
)

_SEPARATOR = re.compile(dashed_line(every("original_message")), FLAGS)


def strip(text: str) -> str:
    # Each cut only drops a tail, so cutting twice keeps what is above the earlier one.
    text = cut_at_first(_SEPARATOR, text)
    start = first_attribution(text, lead_only=True)
    if start is None or answers_between_quotes(text[start:]):
        return text  # inline answers: see the gmail rule
    return cut(text, start)


RULE = Builtin("thunderbird", "Thunderbird", strip)
