"""Footers of phone apps: "Sent from my iPhone", "Get Outlook for Android", "Von meinem
iPhone gesendet", "Envoyé de mon iPhone", ... (languages.py lists them).

Only a line that is nothing but the footer counts (an app may add a link), so
"Sent from my desk, which is easier than my phone." stays. Everything from the
footer on goes: the quoted mail follows it when the app top-posts.
"""

from __future__ import annotations

import re

from deskmail.preprocess.builtins.base import Builtin
from deskmail.preprocess.languages import every
from deskmail.preprocess.text import FLAGS, alternatives, cut_at_first

_LINK = r"(?:[ \t]*(?:<[^>\n]*>|\([^)\n]*\)|\[[^\]\n]*\]))?"
_PATTERN = re.compile(rf"^[ \t]*{alternatives(every('mobile'))}{_LINK}[ \t.!]*$", FLAGS)


def strip(text: str) -> str:
    return cut_at_first(_PATTERN, text)


RULE = Builtin("mobile", "Mobile app footers", strip)
