"""The signature delimiter: everything from a line "-- " (dash dash space, RFC 3676) on.

"--" without the space counts too: many clients and editors strip trailing
spaces. A "--" inside a line, or in quoted text, does not.
"""

from __future__ import annotations

import re

from deskmail.preprocess.builtins.base import Builtin
from deskmail.preprocess.text import FLAGS, cut_at_first

_PATTERN = re.compile(r"^--[ \t]?$", FLAGS)


def strip(text: str) -> str:
    return cut_at_first(_PATTERN, text)


RULE = Builtin("signature", "Signature delimiter", strip)
