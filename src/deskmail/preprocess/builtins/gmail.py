"""Gmail and Apple Mail: "On <date>, <name> wrote:" above the quoted mail, in any language.

The line may be wrapped over two or three lines ("... <\nann@example.com> wrote:"),
or be Gmail's date-first form ("2014-03-20 8:48 GMT+01:00 Ann <ann@x.org>:").
See attribution.py for the shapes. Answers written between the quoted lines
below it are left whole (the quoted rule drops what is quoted after the last one).
"""

from __future__ import annotations

from deskmail.preprocess.attribution import first_attribution
from deskmail.preprocess.builtins.base import Builtin
from deskmail.preprocess.text import answers_between_quotes, cut


def strip(text: str) -> str:
    start = first_attribution(text)
    if start is None or answers_between_quotes(text[start:]):
        return text
    return cut(text, start)


RULE = Builtin("gmail", "Gmail and Apple Mail", strip)
