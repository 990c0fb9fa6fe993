"""`deskmail history`: every run of every job, with its counts."""

from __future__ import annotations

import mailbox
from pathlib import Path

from click.testing import CliRunner, Result

from deskmail.cli import main
from deskmail.config.models import JobConfig
from tests.support.dovecot import make_mail
from tests.support.toml_config import job_table, write_config


def _cli(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_history_lists_runs_with_counts_by_job(tmp_path: Path, database_url: str) -> None:
    box = mailbox.Maildir(tmp_path / "box", create=True)
    box.add(make_mail("first"))
    box.add(make_mail("second"))
    good = JobConfig(name="Support", protocol="maildir", path=Path(box._path))
    broken = JobConfig(name="Gone", protocol="maildir", path=tmp_path / "missing")
    tables = [job_table(good), job_table(broken)]
    config = str(write_config(tmp_path / "d.toml", database_url, tables))

    assert _cli("history", "--config", config).output.strip() == "no runs yet"
    assert _cli("run-once", "--config", config).exit_code == 1  # "Gone" fails
    _cli("run-once", "--config", config, "--job", "Support")

    lines = _cli("history", "--config", config).output.splitlines()
    assert lines[0].split()[:4] == ["started", "(UTC)", "job", "status"]
    runs = [line.split() for line in lines[1:]]
    assert [(r[2], r[3]) for r in runs] == [
        ("Support", "ok"),
        ("Gone", "failed"),
        ("Support", "ok"),
    ]
    # fetched, created, updated, ignored, denied, duplicates, quarantined, acknowledged, sent
    assert runs[0][5:14] == ["2", "2", "0", "0", "0", "0", "0", "2", "0"]
    assert runs[2][5:14] == ["0", "0", "0", "0", "0", "0", "0", "0", "0"]
    assert "folder failed" in lines[2]

    only = _cli("history", "--config", config, "--job", "Support", "--limit", "1").output
    assert len(only.splitlines()) == 2 and "Gone" not in only
    none = _cli("history", "--config", config, "--job", "Nobody").output
    assert none.strip() == 'no runs of job "Nobody" yet'
