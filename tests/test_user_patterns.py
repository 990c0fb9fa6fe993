"""User-written patterns under RE2 (config/user_patterns.py): processing rules,
preprocessing rules and reference_pattern compile and run there, and what RE2
cannot run is refused when the file is loaded, with RE2's reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from deskmail.config.errors import ConfigError
from deskmail.config.loader import load_config
from deskmail.config.preprocessing import PreprocessRuleConfig
from deskmail.config.user_patterns import UserPatternError, compile_user_pattern, group_names
from deskmail.preprocess import preprocess

JOB = '[[jobs]]\nname = "Support"\nprotocol = "maildir"\npath = "mail"\n'


def refused(tmp_path: Path, settings: str) -> str:
    path = tmp_path / "deskmail.toml"
    path.write_text(JOB + settings, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    (issue,) = caught.value.issues
    return f"{issue.key}: {issue.problem}"


def test_case_and_lines_as_each_kind_of_rule_expects() -> None:
    assert compile_user_pattern("urgent").search("URGENT: disk") is not None
    assert compile_user_pattern("urgent", ignore_case=False).search("URGENT") is None
    lines = "first\n-- \nsignature"
    assert compile_user_pattern("^-- $", multiline=True).search(lines) is not None
    assert compile_user_pattern("^-- $").search(lines) is None
    assert group_names(r"(?P<host>\w+)/(\w+) is (?P<state>\w+)") == ("host", "state")


def test_a_nested_repetition_runs_in_linear_time() -> None:
    # Python's re takes about 2**n steps for (a+)+$ on n a's and a "!"; RE2 one pass.
    assert compile_user_pattern(r"(a+)+$").search("a" * 100_000 + "!") is None


def test_refused_patterns_say_why() -> None:
    with pytest.raises(UserPatternError) as caught:
        compile_user_pattern(r"(\w+) \1", multiline=True)
    assert str(caught.value) == (
        "invalid escape sequence: \\1 (backreferences need backtracking, which RE2 refuses"
        " so that no rule can hang a run)"
    )
    with pytest.raises(UserPatternError) as caught:
        compile_user_pattern("(unclosed", multiline=True)
    assert str(caught.value) == "missing ): (unclosed"  # the pattern as written, no (?m)


def test_a_preprocessing_rule_re2_cannot_run_is_refused(tmp_path: Path) -> None:
    settings = "[[jobs.preprocessing]]\nname = \"Footer\"\ncut_from = '^(?<!x)-- $'\n"
    assert refused(tmp_path, settings) == (
        "jobs[0] (\"Support\").preprocessing[0].cut_from: '^(?<!x)-- $' is not a valid"
        " regular expression: invalid perl operator: (?<! (lookahead and lookbehind need"
        " backtracking, which RE2 refuses so that no rule can hang a run)"
    )


def test_preprocessing_replacements_keep_their_templates() -> None:
    rule = PreprocessRuleConfig.model_validate(
        {"name": "Mask", "replace": r"PIN: (?P<pin>\d+)(\d{2})", "with": r"PIN: **\2 (\g<pin>)"}
    )
    assert preprocess("Your PIN: 123456\nthanks", [rule]).text.startswith("Your PIN: **56 (1234)")


def test_a_reference_pattern_re2_cannot_run_is_refused(tmp_path: Path) -> None:
    assert refused(tmp_path, r"reference_pattern = 'Case (?P<number>\d+)(?=\s)'" + "\n") == (
        'jobs[0] ("Support").reference_pattern: is not a valid regular expression (RE2'
        " syntax): invalid perl operator: (?= (lookahead and lookbehind need backtracking,"
        " which RE2 refuses so that no rule can hang a run)"
    )
