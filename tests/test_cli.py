"""The command line as a user drives it: run-once, check, tickets, db upgrade, sample."""

from __future__ import annotations

import mailbox
import os
import pty
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from deskmail.cli import EXIT_CONFIG, EXIT_JOB_FAILED, EXIT_QUARANTINED, main
from deskmail.intake import process
from deskmail.store.migrate import head_revision, upgrade
from tests.support.dovecot import Dovecot
from tests.support.toml_config import job_table, write_config

MAILS = Path(__file__).parents[1] / "src" / "deskmail" / "sample" / "mails"


def _cli(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def _mail(subject: str) -> bytes:
    return (
        f"From: Alice <alice@example.com>\r\nTo: support@example.com\r\n"
        f"Subject: {subject}\r\nMessage-ID: <{subject.replace(' ', '.')}@example.com>\r\n\r\n"
        "body\r\n"
    ).encode()


def test_sample_run_then_a_dropped_mail_makes_one_more_ticket(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DESKMAIL_DATABASE_URL", database_url)
    target = tmp_path / "sample"
    assert "sample ready" in _cli("sample", "init", "--dir", str(target)).output
    config = str(target / "deskmail.toml")

    first = _cli("run-once", "--config", config, "--show")
    assert first.exit_code == 0, first.output
    n_mails = len(list(MAILS.glob("*.eml")))
    assert f"Sample mailbox: fetched {n_mails}, created 9, updated 4, quarantined 0, ignored 1" in (
        first.output
    )
    assert 'created IT-1: "Printer on 2nd floor keeps jamming"' in first.output

    listing = _cli("tickets", "list", "--config", config).output
    assert listing.count("\nIT-") == 9
    assert "Bob Chen" in listing  # a known sender, matched to the seeded person

    again = _cli("run-once", "--config", config)
    assert "fetched 0, created 0, updated 0" in again.output

    first_mail = sorted(MAILS.glob("*.eml"))[0].read_bytes()
    (target / "mailbox" / "new" / "dropped.eml").write_bytes(
        first_mail.replace(b"Subject: ", b"Subject: Again: ", 1)
    )
    dropped = _cli("run-once", "--config", config, "--show")
    assert "fetched 1, created 1, updated 0" in dropped.output
    assert "created IT-10" in dropped.output

    shown = _cli("tickets", "show", "5", "--config", config).output
    assert "\\\\fileserver01\\finance\\Q3" in shown
    assert "-- mail from Alice Martin" in shown


def test_run_once_on_imap_prints_a_summary_and_tickets_show(
    dovecot: Dovecot, tmp_path: Path, database_url: str
) -> None:
    user = dovecot.user("cli")
    dovecot.append(user, _mail("Printer broken"))
    dovecot.append(user, _mail("RE: [Incident] [IT] 1 Printer broken"))
    table = job_table(dovecot.job(user), name="Support", password_env="CLI_PW")
    config = str(write_config(tmp_path / "d.toml", database_url, [table]))
    result = _cli("run-once", "--config", config, env={"CLI_PW": dovecot.password})
    assert result.exit_code == 0, result.output
    assert "Support: fetched 2, created 1, updated 1, quarantined 0" in result.output
    assert " - ok" in result.output
    assert dovecot.count(user) == 2  # the default for IMAP is mark_seen: kept, flagged
    assert all("\\Seen" in flags for flags in dovecot.flags(user).values())
    shown = _cli("tickets", "show", "1", "--config", config)
    assert "IT-1  [incident] Printer broken" in shown.output
    assert "-- mail from alice@example.com" in shown.output


def test_a_failing_job_does_not_stop_the_others_and_sets_exit_1(
    dovecot: Dovecot, tmp_path: Path, database_url: str
) -> None:
    user = dovecot.user("cli")
    dovecot.append(user, _mail("Still processed"))
    good = job_table(dovecot.job(user), name="Good", password_env="CLI_PW")
    bad = job_table(dovecot.job(user), name="Bad", password_env="CLI_BAD_PW")
    config = str(write_config(tmp_path / "d.toml", database_url, [bad, good]))
    result = _cli("run-once", "--config", config, env={"CLI_PW": "secret", "CLI_BAD_PW": "nope"})
    assert result.exit_code == EXIT_JOB_FAILED
    assert "Bad: fetched 0" in result.output and "FAILED: authentication failed" in result.output
    assert "Good: fetched 1, created 1" in result.output


def test_bad_config_is_refused_before_anything_connects(
    dovecot: Dovecot, tmp_path: Path, database_url: str
) -> None:
    user = dovecot.user("cli")
    dovecot.append(user, _mail("Untouched"))
    good = job_table(
        dovecot.job(user), name="Good", password_env="CLI_PW", after_processing="delete"
    )
    bad = job_table(dovecot.job(user), name="Typo", password_env="CLI_PW", security="tls")
    path = write_config(tmp_path / "deskmail.toml", database_url, [good, bad])
    result = CliRunner().invoke(main, ["run-once", "--config", str(path)], env={"CLI_PW": "secret"})
    assert result.exit_code == EXIT_CONFIG
    assert 'deskmail.toml: jobs[1] ("Typo").security: must be one of' in result.output
    assert dovecot.count(user) == 1  # the good job did not run either


def test_quarantine_sets_exit_3_and_keeps_the_mail(
    dovecot: Dovecot, tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(*_args: object) -> None:
        raise ValueError("simulated")

    monkeypatch.setattr(process, "apply_plan", explode)
    user = dovecot.user("cli")
    dovecot.append(user, _mail("Cannot be stored"))
    table = job_table(dovecot.job(user), password_env="CLI_PW", after_processing="delete")
    config = str(write_config(tmp_path / "d.toml", database_url, [table]))
    result = _cli("run-once", "--config", config, "--show", env={"CLI_PW": "secret"})
    assert result.exit_code == EXIT_QUARANTINED
    assert "QUARANTINED apply: ValueError: simulated" in result.output
    assert dovecot.count(user) == 1

    # What `quarantine show` advises runs as printed, from any folder: it names the file.
    shown = _cli("quarantine", "show", "1", "--config", config)
    advice = [  # each line: the command, then what it is for after four spaces
        shlex.split(line.split("    ")[0].split(" > ")[0])
        for line in shown.output.splitlines()
        if line.startswith("deskmail ")
    ]
    assert len(advice) == 3
    assert all(words[-2:] == ["--config", config] for words in advice), advice
    monkeypatch.undo()  # the cause is fixed
    (retry,) = [words for words in advice if words[1:3] == ["quarantine", "retry"]]
    retried = _cli(*retry[1:])
    assert retried.exit_code == 0, retried.output
    assert "created" in retried.output


def test_an_old_database_is_refused_with_an_upgrade_command_that_works(
    tmp_path: Path, database_url: str
) -> None:
    config = str(write_config(tmp_path / "d.toml", database_url, []))
    upgrade(database_url, "0004")
    refused = _cli("tickets", "list", "--config", config)
    assert refused.exit_code == EXIT_CONFIG
    (advice,) = re.findall(r"run `([^`]*)`", refused.output)
    assert shlex.split(advice) == ["deskmail", "db", "upgrade", "--config", config]
    assert _cli(*shlex.split(advice)[1:]).exit_code == 0
    assert _cli("tickets", "list", "--config", config).exit_code == 0


def test_check_names_the_failed_step(dovecot: Dovecot, tmp_path: Path, database_url: str) -> None:
    user = dovecot.user("cli")
    dovecot.append(user, _mail("one"))
    ok = job_table(dovecot.job(user), name="Ok", password_env="CLI_PW")
    missing = job_table(
        dovecot.job(user), name="Missing", password_env="CLI_PW", folder="INBOX/Nope"
    )
    config = str(write_config(tmp_path / "d.toml", database_url, [ok, missing]))
    result = _cli("check", "--config", config, env={"CLI_PW": "secret"})
    assert result.exit_code == EXIT_JOB_FAILED
    assert "Ok: OK - imap 127.0.0.1:" in result.output
    assert "folder 'INBOX': 1 message (1 new)\n" in result.output
    assert "Missing: FAILED at folder" in result.output
    assert "'INBOX/Nope' does not exist" in result.output
    only = _cli("check", "--config", config, "--job", "Ok", env={"CLI_PW": "secret"})
    assert only.exit_code == 0 and "Missing" not in only.output


def test_db_upgrade_reports_revisions(tmp_path: Path, database_url: str) -> None:
    config = write_config(tmp_path / "d.toml", database_url, [])
    head = head_revision()
    first = _cli("db", "upgrade", "--config", str(config))
    assert first.exit_code == 0 and f"empty -> {head}" in first.output
    second = _cli("db", "upgrade", "--config", str(config))
    assert f"{head} -> {head}" in second.output


def test_unknown_job_name_is_a_usage_error(tmp_path: Path, database_url: str) -> None:
    config = write_config(tmp_path / "d.toml", database_url, [])
    result = _cli("run-once", "--config", str(config), "--job", "Nope")
    assert result.exit_code == EXIT_CONFIG
    assert "no job named 'Nope'" in result.output


@pytest.mark.parametrize("command", ["run-once", "check"])
def test_no_enabled_job_is_said_and_is_a_usage_error(
    tmp_path: Path, database_url: str, command: str
) -> None:
    box = mailbox.Maildir(tmp_path / "box", create=True)
    idle = {"name": "Idle", "protocol": "maildir", "path": box._path, "enabled": False}
    none_enabled = write_config(tmp_path / "off.toml", database_url, [idle])
    result = _cli(command, "--config", str(none_enabled))
    assert result.exit_code == EXIT_CONFIG
    assert f"{none_enabled}: no enabled job (1 configured, all with enabled = false)" in (
        result.output
    )
    empty = write_config(tmp_path / "empty.toml", database_url, [])
    result = _cli(command, "--config", str(empty))
    assert result.exit_code == EXIT_CONFIG
    assert f"{empty}: no job is configured; add a [[jobs]] table" in result.output
    # Naming the disabled job still runs it (or checks it): that is what --job is for.
    named = _cli(command, "--config", str(none_enabled), "--job", "Idle")
    assert named.exit_code == 0 and "Idle" in named.output, named.output


def test_run_once_parses_ahead_in_a_worker_when_asked(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from deskmail.intake import run

    seen: list[bool] = []

    class Recording(run.ParseAhead):
        def __init__(self, *, enabled: bool, **options: Any) -> None:
            seen.append(enabled)
            super().__init__(enabled=enabled, **options)

    monkeypatch.setattr(run, "ParseAhead", Recording)
    monkeypatch.setenv("DESKMAIL_DATABASE_URL", database_url)
    target = tmp_path / "sample"
    _cli("sample", "init", "--dir", str(target))
    config = target / "deskmail.toml"
    text = config.read_text()
    assert "# fetch_batch = 50" in text
    config.write_text(text.replace("# fetch_batch = 50", "fetch_batch = 2"))
    # 7 batches, several parsed ahead of the writes: the replies among them must
    # still find the tickets their requests made (taken in in order).
    first = _cli("run-once", "--config", str(config), "--parse-worker")
    assert "created 9, updated 4" in first.output, first.output
    (target / "mailbox" / "new" / "more.eml").write_bytes(_mail("more"))
    second = _cli("run-once", "--config", str(config), "--parse-worker")
    assert "fetched 1, created 1" in second.output, second.output
    assert seen == [True, False]  # 14 mails in batches of 2 are worth a worker; 1 is not


def _run_once_on_a_terminal(config: Path) -> str:
    """`deskmail run-once` with its standard output on a pseudo-terminal; what it drew there."""
    controller, terminal = pty.openpty()
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "deskmail", "run-once", "--config", str(config)],
            stdout=terminal,
            stderr=subprocess.DEVNULL,
        )
    finally:
        os.close(terminal)
    drawn = b""
    try:
        while chunk := os.read(controller, 65536):
            drawn += chunk
    except OSError:  # EIO: the process closed its end
        pass
    finally:
        os.close(controller)
    assert process.wait(120) == 0, drawn
    return drawn.decode()


def test_run_once_shows_progress_on_a_terminal_only(tmp_path: Path, database_url: str) -> None:
    box = mailbox.Maildir(tmp_path / "box", create=True)
    job = {"name": "Support", "protocol": "maildir", "path": box._path, "fetch_batch": 10}
    config = write_config(tmp_path / "d.toml", database_url, [job])
    with config.open("a") as toml:
        toml.write('\n[logging]\nfile = "all.log"\nlevel = "debug"\n')
    for n in range(40):
        box.add(_mail(f"Backlog {n}"))

    drawn = _run_once_on_a_terminal(config)
    # click's bar: the job, taken in of found, the rate; redrawn in place.
    assert "Support  [" in drawn and "\r" in drawn
    assert "10/40" in drawn and "40/40" in drawn and "mails/s" in drawn
    assert "Support: fetched 40," in drawn

    for n in range(40):
        box.add(_mail(f"Piped {n}"))
    piped = subprocess.run(
        [sys.executable, "-m", "deskmail", "run-once", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert piped.returncode == 0, piped.stderr
    assert piped.stdout.startswith("Support: fetched 40,")
    assert len(piped.stdout.splitlines()) == 1
    logged = (tmp_path / "all.log").read_text("utf-8")
    for text in (piped.stdout, piped.stderr, logged):
        assert "mails/s" not in text and "/40" not in text and "\r" not in text
