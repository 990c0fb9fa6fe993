"""`deskmail preprocess FILE.eml`: the rules that fired and the text before and after, or with
--text only the cleaned text."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from deskmail.cli import EXIT_CONFIG, main
from tests.support.toml_config import write_config

BODY = "Still broken, see C:\\Users\\alice\\log.txt\r\nTracking ID: 42\r\n"
QUOTE = (
    "\r\nOn Tue, 2 Jan 2024 at 10:00, Support <support@example.com> wrote:\r\n> Please restart.\r\n"
)
MAIL = (
    "From: Ann Lee <ann@example.com>\r\nTo: support@example.com\r\nSubject: RE: printer\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n\r\n" + BODY + QUOTE
).encode()
CLEANED = "Still broken, see C:\\Users\\alice\\log.txt\ntracking #42"

RULES: list[dict[str, Any]] = [
    {"name": "Outlook", "builtin": "outlook"},
    {"name": "Gmail", "builtin": "gmail"},
    {"name": "Thunderbird", "builtin": "thunderbird", "enabled": False},
    {"name": "Tracking", "replace": r"(?i)^tracking id: (\d+)$", "with": r"tracking #\1"},
]


def _config(tmp_path: Path, *jobs: dict[str, Any]) -> str:
    path = write_config(tmp_path / "deskmail.toml", f"sqlite:///{tmp_path / 'd.db'}", list(jobs))
    return str(path)


def _job(tmp_path: Path, name: str = "Support", **settings: Any) -> dict[str, Any]:
    return {"name": name, "protocol": "maildir", "path": str(tmp_path / "mail"), **settings}


def _run(tmp_path: Path, config: str, *options: str) -> Result:
    eml = tmp_path / "reply.eml"
    eml.write_bytes(MAIL)
    args = ["preprocess", str(eml), "--config", config, *options]
    return CliRunner().invoke(main, args, catch_exceptions=False)


@pytest.fixture
def config(tmp_path: Path) -> str:
    return _config(tmp_path, _job(tmp_path, preprocessing=RULES))


def test_shows_the_rules_that_fired_and_the_text_before_and_after(
    tmp_path: Path, config: str
) -> None:
    result = _run(tmp_path, config)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == 'Job "Support": 4 rules, 2 fired'
    assert "  1  Outlook      no change  built-in outlook" in lines
    assert "  2  Gmail        FIRED      built-in gmail" in lines
    assert "  3  Thunderbird  disabled   built-in thunderbird" in lines
    assert any(
        line.startswith("  4  Tracking     FIRED      replace /(?i)^tracking") for line in lines
    )
    before = lines.index("----- before (142 characters, 5 lines) -----")
    after = lines.index("----- after (53 characters, 2 lines) -----")
    assert "> Please restart." in lines[before:after]
    assert "\n".join(lines[after + 1 :]) == CLEANED


def test_text_prints_only_the_cleaned_text(tmp_path: Path, config: str) -> None:
    result = _run(tmp_path, config, "--text")
    assert result.exit_code == 0
    assert result.output == CLEANED + "\n"


def test_a_job_without_rules_changes_nothing(tmp_path: Path) -> None:
    config = _config(
        tmp_path, _job(tmp_path, "Plain"), _job(tmp_path, "Clean", preprocessing=RULES)
    )
    plain = _run(tmp_path, config, "--job", "Plain")
    assert "every built-in rule, disabled" in plain.output
    assert "No rule changed the text." in plain.output
    assert "----- text (142 characters, 5 lines) -----" in plain.output
    assert _run(tmp_path, config, "--job", "Clean", "--text").output == CLEANED + "\n"


def test_the_first_enabled_job_is_used_without_job(tmp_path: Path) -> None:
    config = _config(
        tmp_path,
        _job(tmp_path, "Off", enabled=False),
        _job(tmp_path, "On", preprocessing=RULES),
    )
    assert _run(tmp_path, config).output.startswith('Job "On"')


def test_an_unknown_job_or_a_bad_rule_is_a_config_error(tmp_path: Path) -> None:
    good = _config(tmp_path, _job(tmp_path, preprocessing=RULES))
    unknown = _run(tmp_path, good, "--job", "Nope")
    assert unknown.exit_code == EXIT_CONFIG
    assert "no job named 'Nope'" in unknown.output

    bad = _config(tmp_path, _job(tmp_path, preprocessing=[{"name": "X", "cut_from": "(oops"}]))
    refused = _run(tmp_path, bad)
    assert refused.exit_code == EXIT_CONFIG
    assert 'jobs[0] ("Support").preprocessing[0].cut_from:' in refused.output
    assert "is not a valid regular expression" in refused.output
