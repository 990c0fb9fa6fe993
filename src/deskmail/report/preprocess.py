"""What `deskmail preprocess` prints: the job's rules in order, which fired, the text before
and after."""

from __future__ import annotations

from collections.abc import Sequence

from deskmail.config.models import JobConfig
from deskmail.config.preprocessing import PreprocessRuleConfig
from deskmail.parse.parser import parse_message
from deskmail.preprocess import PreprocessResult, effective_rules, preprocess

_SHOWN_REGEX = 40  # longer regexes are shortened in the rule list


def preview(raw: bytes, job: JobConfig, *, text_only: bool = False) -> str:
    """Parse one raw mail, run the job's rules over its text, and describe what happened."""
    result = preprocess(parse_message(raw).text, job.preprocessing)
    if text_only:
        return result.text
    return render(result, job)


def render(result: PreprocessResult, job: JobConfig) -> str:
    rules = effective_rules(job.preprocessing)
    lines = [f'Job "{job.name}": {_count(len(rules), "rule")}, {len(result.fired)} fired']
    if job.preprocessing is None:
        lines.append("  (no preprocessing list in the config: every built-in rule, disabled)")
    lines.append("")
    lines += _rule_table(rules, result)
    lines.append("")
    if not result.changed:
        lines += ["No rule changed the text.", ""]
        lines += _section("text", result.original)
        return "\n".join(lines)
    lines += [*_section("before", result.original), ""]
    lines += _section("after", result.text)
    return "\n".join(lines)


def _section(label: str, text: str) -> list[str]:
    size = f"{_count(len(text), 'character')}, {_count(len(text.splitlines()), 'line')}"
    # Trailing line ends are counted above, not printed: they would only push the rulers apart.
    return [f"----- {label} ({size}) -----", text.rstrip("\n")]


def _rule_table(rules: Sequence[PreprocessRuleConfig], result: PreprocessResult) -> list[str]:
    rows = [("#", "rule", "outcome", "does")]
    for number, rule in enumerate(rules, 1):
        rows.append((str(number), rule.name, _outcome(rule, result), _does(rule)))
    widths = [max(len(row[column]) for row in rows) for column in range(3)]
    return [
        f"  {n:>{widths[0]}}  {name:<{widths[1]}}  {outcome:<{widths[2]}}  {does}".rstrip()
        for n, name, outcome, does in rows
    ]


def _outcome(rule: PreprocessRuleConfig, result: PreprocessResult) -> str:
    if not rule.enabled:
        return "disabled"
    if rule.name in result.fired:
        return "FIRED"
    if rule.name in result.held_back:
        return "held back (would leave nothing)"
    return "no change"


def _does(rule: PreprocessRuleConfig) -> str:
    if rule.builtin is not None:
        return f"built-in {rule.builtin}"
    if rule.cut_from is not None:
        return f"cut from {_regex(rule.cut_from)}"
    if rule.remove_between is not None:
        start, end = rule.remove_between
        return f"remove from {_regex(start)} to {_regex(end)}"
    if rule.replace is not None:
        return f"replace {_regex(rule.replace)} with {rule.replacement!r}"
    return ""


def _regex(source: str) -> str:
    shown = source if len(source) <= _SHOWN_REGEX else source[: _SHOWN_REGEX - 3] + "..."
    return f"/{shown}/"


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"
