"""The commands of where jobs live: config import / export, jobs list / enable / disable /
delete / rotate-key, and the everyday commands running database jobs."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from cryptography.fernet import Fernet

from deskmail.cli import EXIT_CONFIG, main
from deskmail.store.sealing import SECRET_KEY_ENV
from tests.support.dovecot import UNICODE_PASSWORD, UNICODE_USER, Dovecot, make_mail
from tests.support.toml_config import job_table, write_config


def _cli(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def _jobs_file(path: Path, jobs: list[dict[str, Any]]) -> Path:
    """A file of [[jobs]] tables only, as `config import` takes."""
    written = write_config(path, "sqlite://", jobs)
    path.write_text("[[jobs]]" + written.read_text("utf-8").split("[[jobs]]", 1)[1], "utf-8")
    return path


def _maildir(tmp_path: Path, name: str) -> dict[str, Any]:
    root = tmp_path / name
    for sub in ("new", "cur", "tmp"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    return {"name": name, "protocol": "maildir", "path": str(root)}


@pytest.fixture
def config(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """deskmail.toml with one file job, "Filed"; a secret key in the environment."""
    monkeypatch.setenv(SECRET_KEY_ENV, Fernet.generate_key().decode())
    monkeypatch.delenv("DESKMAIL_DATABASE_URL", raising=False)
    return write_config(tmp_path / "deskmail.toml", database_url, [_maildir(tmp_path, "Filed")])


def test_a_bad_import_names_file_key_and_problem_and_stores_nothing(
    config: Path, tmp_path: Path
) -> None:
    good = _maildir(tmp_path, "Good")
    bad = {**_maildir(tmp_path, "Bad"), "schedule": "every tuesday"}
    file = _jobs_file(tmp_path / "in.toml", [good, bad])
    refused = _cli("config", "import", str(file), "--config", str(config))
    assert refused.exit_code == EXIT_CONFIG
    assert refused.output.startswith(f'deskmail: {file}: jobs[1] ("Bad").schedule: ')
    listing = _cli("jobs", "list", "--config", str(config)).output
    assert "Good" not in listing, "nothing partial is stored"

    clash = _jobs_file(tmp_path / "clash.toml", [good, _maildir(tmp_path, "filed")])
    refused = _cli("config", "import", str(clash), "--config", str(config))
    assert refused.exit_code == EXIT_CONFIG
    assert f'jobs[1] ("filed").name: is the name of a job written in {config}' in refused.output
    assert "Good" not in _cli("jobs", "list", "--config", str(config)).output


def test_jobs_list_shows_each_jobs_source_and_a_file_job_is_changed_in_its_file(
    config: Path, tmp_path: Path
) -> None:
    file = _jobs_file(tmp_path / "in.toml", [_maildir(tmp_path, "Stored")])
    assert _cli("config", "import", str(file), "--config", str(config)).exit_code == 0
    listing = _cli("jobs", "list", "--config", str(config)).output.splitlines()
    assert listing[0].split() == ["NAME", "SOURCE", "PROTOCOL", "STATE", "REVISION", "SECRETS"]
    assert listing[1].split() == ["Filed", "file", "maildir", "enabled", "-"]
    assert listing[2].split() == ["Stored", "database", "maildir", "enabled", "1"]

    refused = _cli("jobs", "delete", "Filed", "--config", str(config))
    assert refused.exit_code == EXIT_CONFIG
    assert refused.output == (
        f'deskmail: job "Filed" is written in {config} (provisioned) and cannot be deleted'
        " here: change it in that file\n"
    )
    assert _cli("jobs", "disable", "Stored", "--config", str(config)).output == (
        "Stored: disabled (revision 2)\n"
    )
    assert _cli("jobs", "delete", "Stored", "--config", str(config)).exit_code == 0
    assert "Stored" not in _cli("jobs", "list", "--config", str(config)).output


def test_export_and_import_with_replace_round_trip(config: Path, tmp_path: Path) -> None:
    stored = {**_maildir(tmp_path, "Stored"), "schedule": "10m", "team": "Facilities"}
    file = _jobs_file(tmp_path / "in.toml", [stored])
    assert _cli("config", "import", str(file), "--config", str(config)).exit_code == 0

    exported = tmp_path / "out.toml"
    done = _cli(
        "config", "export", "--job", "Stored", "--output", str(exported), "--config", str(config)
    )
    assert done.exit_code == 0, done.output
    text = exported.read_text("utf-8")
    assert "Filed" not in text and 'team = "Facilities"' in text
    exported.write_text(text.replace('schedule = "10m"', 'schedule = "1h"'), "utf-8")
    again = _cli("config", "import", str(exported), "--config", str(config))
    assert again.exit_code == EXIT_CONFIG and "--replace" in again.output
    replaced = _cli("config", "import", str(exported), "--replace", "--config", str(config))
    assert replaced.output == f"1 job(s) imported from {exported} into the database\n"
    listing = _cli("jobs", "list", "--config", str(config)).output
    assert [line.split()[:5] for line in listing.splitlines()][2] == [
        "Stored",
        "database",
        "maildir",
        "enabled",
        "2",
    ]
    # Every job, the file's too, by default; the whole export loads as a deskmail.toml.
    everything = _cli("config", "export", "--config", str(config)).output
    assert everything.count("[[jobs]]") == 2
    back = tmp_path / "back.toml"
    back.write_text(everything, "utf-8")
    assert _cli("jobs", "list", "--config", str(back)).exit_code == 0


def test_run_once_and_check_work_a_database_job_and_never_show_its_password(
    dovecot: Dovecot, config: Path, tmp_path: Path
) -> None:
    job = job_table(dovecot.job(UNICODE_USER), name="Stored", after_processing="keep")
    job["password"] = UNICODE_PASSWORD  # in clear in the imported file: stored sealed
    file = _jobs_file(tmp_path / "in.toml", [job])
    imported = _cli("config", "import", str(file), "--config", str(config))
    assert imported.exit_code == 0, imported.output
    file.unlink()
    dovecot.append(UNICODE_USER, make_mail("Through the catalog"))

    outputs = []
    for args in (
        ["-vv", "run-once", "--job", "Stored", "--show"],
        ["check", "--job", "Stored"],
        ["jobs", "list"],
        ["config", "export"],
    ):
        done = subprocess.run(
            [sys.executable, "-m", "deskmail", *args, "--config", str(config)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        outputs.append(done.stdout + done.stderr)
    run, check, listing, exported = outputs
    # The user's mailbox is shared with other tests: only this mail is known to be there.
    assert re.search(r'created IT-\d+: "Through the catalog"', run), run
    assert check.startswith("Stored: OK"), check
    assert "password set" in listing
    assert 'password_env = "DESKMAIL_STORED_PASSWORD"' in exported
    for output in outputs:
        assert UNICODE_PASSWORD not in output


def test_a_run_of_a_database_job_without_secrets_never_imports_cryptography(
    config: Path, tmp_path: Path
) -> None:
    file = _jobs_file(tmp_path / "in.toml", [_maildir(tmp_path, "Stored")])
    assert _cli("config", "import", str(file), "--config", str(config)).exit_code == 0
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "deskmail", "run-once", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Stored: fetched 0" in done.stdout
    assert "deskmail.jobs.catalog" in done.stderr  # the catalog was read...
    assert "cryptography" not in done.stderr  # ...and nothing was to be opened


def test_rotate_key_seals_again_with_the_new_key(
    config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    monkeypatch.setenv(SECRET_KEY_ENV, old)
    job = {
        "name": "Stored",
        "protocol": "imap",
        "server": "h.invalid",
        "user": "u",
        "password": "pw-9",
    }
    file = _jobs_file(tmp_path / "in.toml", [job])
    assert _cli("config", "import", str(file), "--config", str(config)).exit_code == 0

    monkeypatch.setenv(SECRET_KEY_ENV, new)
    unreadable = _cli("check", "--job", "Stored", "--config", str(config))
    assert "sealed with another key" in unreadable.output

    monkeypatch.setenv(SECRET_KEY_ENV, f"{new},{old}")
    rotated = _cli("jobs", "rotate-key", "--config", str(config))
    assert rotated.output == "sealed again with the first key: 1 job(s), 0 token cache(s)\n"
    monkeypatch.setenv(SECRET_KEY_ENV, new)
    checked = _cli("check", "--job", "Stored", "--config", str(config))
    assert "sealed with another key" not in checked.output
    assert checked.output.startswith("Stored: FAILED at DNS"), checked.output
