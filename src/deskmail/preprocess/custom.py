"""User-defined rules: cut from a regex, remove blocks between two regexes, replace a regex.

The config model has already refused invalid regexes and replacements; the
same compile function is used here, so what loads is what runs. The patterns
are RE2's (config/user_patterns.py): linear time, whatever the mail.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from deskmail.config.preprocessing import PreprocessRuleConfig, compile_user_regex
from deskmail.preprocess.text import cut


def cut_from(pattern: Any) -> Callable[[str], str]:
    def strip(text: str) -> str:
        match = pattern.search(text)
        return text if match is None else cut(text, match.start())

    return strip


def remove_between(start: Any, end: Any) -> Callable[[str], str]:
    """Remove each block from a match of start to the next match of end, both included.

    A start without an end after it is left alone: half a block is more likely
    a false start than something to hide.
    """

    def strip(text: str) -> str:
        kept: list[str] = []
        position = 0
        while (opening := start.search(text, position)) is not None:
            closing = end.search(text, opening.end())
            if closing is None:
                break
            kept.append(text[position : opening.start()])
            # An empty block (both regexes matching nothing) must still move on.
            position = max(closing.end(), opening.start() + 1)
        if not kept:
            return text
        return "".join(kept) + text[position:]

    return strip


def replace(pattern: Any, replacement: str) -> Callable[[str], str]:
    def strip(text: str) -> str:
        replaced: str = pattern.sub(replacement, text)
        return replaced

    return strip


def user_rule(rule: PreprocessRuleConfig) -> Callable[[str], str]:
    if rule.cut_from is not None:
        return cut_from(compile_user_regex(rule.cut_from))
    if rule.remove_between is not None:
        opening, closing = rule.remove_between
        return remove_between(compile_user_regex(opening), compile_user_regex(closing))
    if rule.replace is not None:
        return replace(compile_user_regex(rule.replace), rule.replacement)
    raise ValueError(f"rule {rule.name!r} is not user-defined")
