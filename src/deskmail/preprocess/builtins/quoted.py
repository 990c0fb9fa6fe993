"""Quoted lines: the "> ..." block at the end of a reply, and, for bottom-posted
replies, the quoted block at the start.

    Thanks, that fixed it.              On 2 Jan 2024, Ann <ann@x.org> wrote:
                                        > Please restart the spooler.
    On 2 Jan 2024, Ann wrote:
    > Please restart the spooler.       Thanks, that fixed it.

Both become "Thanks, that fixed it."; the line that introduces the quote goes
with it. A reply written between quoted lines (inline answers) is left as it
is: its answers mean little without the questions.

Some clients quote with "| " instead; such a block counts only under an intro
line ("2013/7/20 Ann <ann@x.org>"), since a table the sender drew looks the same.
"""

from __future__ import annotations

from collections.abc import Callable

from deskmail.preprocess.attribution import first_attribution
from deskmail.preprocess.builtins.base import Builtin
from deskmail.preprocess.text import quoted as _quoted

_MAX_INTRO_LINES = 3


def _blank(line: str) -> bool:
    return not line.strip()


def _looks_like_intro(text: str) -> bool:
    """An address with a date or a colon: "2011/4/7 Ann <ann@x.org>" (old Gmail)."""
    dated = any(char.isdigit() for char in text)
    return "@" in text and (dated or text.rstrip().endswith(":"))


def _intro_start(lines: list[str], end: int) -> int:
    """Where the lines that introduce a quote starting at `end` begin; `end` if there are none."""
    start = end
    while start and end - start < _MAX_INTRO_LINES and not _blank(lines[start - 1]):
        start -= 1
    paragraph = "\n".join(lines[start:end])
    found = first_attribution(paragraph)
    if found is not None:
        return start + paragraph.count("\n", 0, found)
    if end > start and _looks_like_intro(lines[end - 1]):
        return end - 1
    return end


def _bar_quoted(line: str) -> bool:
    return line.lstrip(" \t").startswith("|")


def _trailing_block(lines: list[str], marked: Callable[[str], bool]) -> int | None:
    """Where the block of marked (and blank) lines ending the text begins; None without one."""
    end = len(lines)
    while end and (_blank(lines[end - 1]) or marked(lines[end - 1])):
        end -= 1
    return end if any(marked(line) for line in lines[end:]) else None


def _without_trailing_quote(lines: list[str]) -> list[str]:
    end = _trailing_block(lines, _quoted)
    return lines if end is None else lines[: _intro_start(lines, end)]


def _without_trailing_bar_quote(lines: list[str]) -> list[str]:
    end = _trailing_block(lines, _bar_quoted)
    if end is None:
        return lines
    start = _intro_start(lines, end)
    return lines if start == end else lines[:start]  # no intro: a table the sender drew


def _without_leading_quote(lines: list[str]) -> list[str]:
    first = next((i for i, line in enumerate(lines) if not _blank(line)), len(lines))
    block = first
    while block < len(lines) and not _blank(lines[block]) and not _quoted(lines[block]):
        block += 1
    if block > first and _intro_start(lines, block) != first:
        return lines  # the text opens with something other than a quote or its intro
    while block < len(lines) and _blank(lines[block]):
        block += 1
    if block == len(lines) or not _quoted(lines[block]):
        return lines
    rest = block
    while rest < len(lines) and (_quoted(lines[rest]) or _blank(lines[rest])):
        rest += 1
    if any(_quoted(line) for line in lines[rest:]):
        return lines  # answers between quotes
    return lines[rest:]


def strip(text: str) -> str:
    lines = text.split("\n")  # split and join on "\n" keep every character
    kept = _without_leading_quote(_without_trailing_quote(_without_trailing_bar_quote(lines)))
    return text if kept == lines else "\n".join(kept).rstrip()


RULE = Builtin("quoted", "Quoted lines", strip)
