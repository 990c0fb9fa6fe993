"""Run a job's preprocessing rules, in order, over a message's text."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from deskmail.config.preprocessing import PreprocessRuleConfig
from deskmail.preprocess.builtins import BY_KEY, builtin_rules
from deskmail.preprocess.custom import user_rule


@dataclass(frozen=True, slots=True)
class PreprocessResult:
    original: str
    text: str  # the cleaned text
    fired: tuple[str, ...]  # names of the rules that changed something, in order
    # Rules that would have left nothing (a reply below the quote, say), so were not applied.
    held_back: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        return self.text != self.original


def effective_rules(rules: Sequence[PreprocessRuleConfig] | None) -> list[PreprocessRuleConfig]:
    """A job's list; none configured means every built-in rule, disabled (as in Alloy)."""
    return list(rules) if rules is not None else builtin_rules()


def preprocess(text: str, rules: Sequence[PreprocessRuleConfig] | None) -> PreprocessResult:
    current = text
    fired: list[str] = []
    held_back: list[str] = []
    for rule in effective_rules(rules):
        if not rule.enabled:
            continue
        result = _function(rule)(current)
        if result == current:
            continue
        if not result.strip() and current.strip():
            # A rule that would leave nothing has misread the mail (typically a reply
            # written below the quote): the text stays as it was.
            held_back.append(rule.name)
            continue
        current = result
        fired.append(rule.name)
    return PreprocessResult(text, current, tuple(fired), tuple(held_back))


def _function(rule: PreprocessRuleConfig) -> Callable[[str], str]:
    if rule.builtin is not None:
        return BY_KEY[rule.builtin].strip
    return user_rule(rule)
