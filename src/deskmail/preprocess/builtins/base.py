"""What a built-in rule is: a key for the config, a default name, and a text function."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Builtin:
    key: str  # the value of `builtin` in the config, e.g. "outlook"
    title: str  # the rule's name when deskmail writes the list, e.g. in the sample config
    strip: Callable[[str], str]  # returns the text unchanged when the rule does not apply
