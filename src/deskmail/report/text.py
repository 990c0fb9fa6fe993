"""Small text helpers shared by the command-line views."""

from __future__ import annotations


def cut(text: str, width: int) -> str:
    """At most `width` characters, with an ellipsis when shortened."""
    return text if len(text) <= width else text[: width - 1] + "…"


def count(number: int, noun: str, plural: str | None = None) -> str:
    """'1 message', '2 messages', '0 messages': the noun agrees with the number."""
    return f"{number} {noun if number == 1 else (plural or noun + 's')}"
