"""The README as written: its configuration examples load, its commands run."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import click
import pytest

from deskmail.cli import main
from deskmail.config.loader import load_config

README = Path(__file__).parents[1] / "README.md"
BLOCKS = re.findall(r"```toml\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


def test_readme_has_config_examples() -> None:
    assert len(BLOCKS) >= 2


@pytest.mark.parametrize("block", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_readme_config_example_loads(
    block: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DESKMAIL_SUPPORT_PASSWORD", "x")
    monkeypatch.delenv("DESKMAIL_DATABASE_URL", raising=False)
    path = tmp_path / "deskmail.toml"
    path.write_text(block, encoding="utf-8")
    config = load_config(path)
    assert config.jobs


WALKTHROUGH_HEADING = "### Every command, on the sample"
# Not on the sample: the daemon runs until stopped (tests/test_daemon.py), the
# Octopus command line reads a POP3 mailbox (tests/test_octopus.py runs the
# Octopus document's own examples), `sample init` is what makes the sample, and
# `auth login` waits for a person at a browser (tests/test_auth_cli.py signs in), and
# `web` serves until stopped (tests/test_cli_web.py); `webhooks test` posts to a receiver
# the sample has none of (tests/webhooks/ runs one).
NOT_ON_THE_SAMPLE = {"serve", "octopus", "sample init", "auth login", "web", "webhooks test"}


def _walkthrough() -> list[str]:
    text = README.read_text(encoding="utf-8")
    section = text[text.index(WALKTHROUGH_HEADING) :]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block is not None, f"no sh block under {WALKTHROUGH_HEADING!r}"
    return [line for line in block.group(1).splitlines() if line.strip()]


def _table_commands() -> dict[str, str]:
    """The Commands table: each row's command words (e.g. 'tickets list') and its synopsis."""
    text = README.read_text(encoding="utf-8")
    table = text[text.index("## Commands") : text.index("## Configuration")]
    rows: dict[str, str] = {}
    for cell in re.findall(r"^\| `(deskmail [^|]*?(?:\\\|[^|]*?)*)` \|", table, re.M):
        for synopsis in cell.split("` / `"):
            words = re.match(r"deskmail ((?:[a-z][a-z-]*)(?: [a-z][a-z-]+)?)", synopsis)
            assert words is not None, synopsis
            rows[words.group(1)] = synopsis
    return rows


def _click_command(words: str) -> click.Command:
    command: click.Command = main
    for word in words.split():
        assert isinstance(command, click.Group), words
        found = command.commands.get(word)
        if found is None:  # "tickets list" vs a group's first word only
            break
        command = found
    return command


def test_the_commands_table_shows_config_wherever_a_command_takes_it() -> None:
    rows = _table_commands()
    assert {"run-once", "history", "tickets list", "tickets show"} <= rows.keys()
    for words, synopsis in rows.items():
        params = {param.name for param in _click_command(words).params}
        if "config_path" in params:
            assert "--config FILE" in synopsis, f"{words}: the README leaves out --config"


def test_every_command_of_the_walkthrough_runs_as_written(tmp_path: Path) -> None:
    lines = _walkthrough()
    commands = " ".join(lines)
    for words in _table_commands().keys() - NOT_ON_THE_SAMPLE:
        assert f"deskmail {words}" in commands, f"the walkthrough leaves out {words!r}"

    # A checkout as `make run` leaves it: the virtualenv and var/sample/.
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    (checkout / ".venv").symlink_to(Path(sys.prefix))
    deskmail = str(Path(sys.prefix) / "bin" / "deskmail")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DESKMAIL_")}
    init = subprocess.run(
        [deskmail, "sample", "init", "--dir", "var/sample"], cwd=checkout, env=env
    )
    assert init.returncode == 0
    script = "set -euo pipefail\n" + "\n".join(
        # Each line announced, so that a failure says which line it was.
        f"echo {shlex.quote('>>> ' + line)}\n{line}"
        for line in lines
    )
    result = subprocess.run(
        ["bash", "-c", script], cwd=checkout, env=env, capture_output=True, text=True
    )
    output = result.stdout + result.stderr
    last = [line for line in result.stdout.splitlines() if line.startswith(">>> ")][-1:]
    assert result.returncode == 0, f"{last} failed:\n{output}"
    assert "Traceback" not in output
    assert last == [">>> " + lines[-1]]
