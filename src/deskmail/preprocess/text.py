"""Small text operations shared by the rules; none of them alters the characters kept."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

# Lines quoted by a reply ("> ", ">> ", "> > ") may carry a client's header too.
# Atomic: what follows it never starts with ">" or a blank, so giving back quote marks
# cannot make a match, and trying every count of them before a [^\n]* made a line of
# 100,000 ">" take seconds per pattern (tests/test_linear_time.py).
QUOTE_PREFIX = r"(?>[ \t]*(?:>[ \t]?)*)"

# The rules' own patterns: ^ and $ per line; case does not matter in mail clients' phrases.
FLAGS = re.MULTILINE | re.IGNORECASE


def alternatives(fragments: Iterable[str]) -> str:
    """One non-capturing group matching any of the regex fragments, longest first.

    Longest first so that "Envoyé le" is tried before "Envoyé".
    """
    unique = sorted(set(fragments), key=lambda fragment: (-len(fragment), fragment))
    return "(?:" + "|".join(unique) + ")"


# A line of nothing but separator characters ("====", "____", "-----"), left dangling
# above the cut, belongs to what was cut.
_SEPARATOR_LINE = re.compile(r"[ \t]*[-_=*~#]{2,}[ \t]*")


def cut(text: str, index: int) -> str:
    """Everything before index, less the blank lines and separator lines left at the cut."""
    kept = text[:index].rstrip()
    # Line by line from the end: one pattern anchored at the end (\Z) was tried from
    # every line of a text of separator lines, in quadratic time. Never the first line.
    while (start := kept.rfind("\n")) >= 0 and _SEPARATOR_LINE.fullmatch(kept, start + 1):
        kept = kept[:start]
    return kept.rstrip()


def quoted(line: str) -> bool:
    return line.lstrip(" \t").startswith(">")


def answers_between_quotes(text: str) -> bool:
    """Lines of the sender's own with quoted lines after them: answers written inline.

    A line right under a quoted one, with no blank line between, is that line
    wrapped by a client that did not repeat the ">", not an answer.
    """
    seen_quote = seen_answer = False
    previous = ""
    for line in text.split("\n"):
        if quoted(line):
            if seen_answer:
                return True
            seen_quote = True
        elif line.strip() and seen_quote and not quoted(previous):
            seen_answer = True
        previous = line
    return False


def line_start(text: str, index: int) -> int:
    return text.rfind("\n", 0, index) + 1


def first_match(
    pattern: re.Pattern[str], text: str, accept: Callable[[re.Match[str]], bool] | None = None
) -> re.Match[str] | None:
    """The first match that `accept` agrees with (a cheap regex, then a closer look)."""
    for match in pattern.finditer(text):
        if accept is None or accept(match):
            return match
    return None


def cut_at_first(
    pattern: re.Pattern[str], text: str, accept: Callable[[re.Match[str]], bool] | None = None
) -> str:
    """Drop everything from the line of the first accepted match on."""
    match = first_match(pattern, text, accept)
    if match is None:
        return text
    return cut(text, line_start(text, match.start()))


def dashed_line(phrases: Iterable[str]) -> str:
    """A separator line: "-----Original Message-----", "-------- Forwarded Message --------"."""
    dashes = r"-{2,}[ \t]*"
    return rf"^{QUOTE_PREFIX}{dashes}{alternatives(phrases)}[ \t]*:?[ \t]*-{{2,}}[ \t]*$"
