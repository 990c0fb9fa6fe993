"""Small text helpers shared by the command-line views."""

from __future__ import annotations


def cut(text: str, width: int) -> str:
    """At most `width` characters, with an ellipsis when shortened."""
    return text if len(text) <= width else text[: width - 1] + "…"
