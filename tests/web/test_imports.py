"""The web stack is imported by `serve` and `web` only: a run-once never loads it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support.jobs import maildir_config

WEB_ONLY = (
    "fastapi",
    "starlette",
    "uvicorn",
    "pwdlib",
    "argon2",
    "prometheus_client",
)


def is_web(module: str) -> bool:
    # deskmail.webhooks is not the web stack: a run writes its outbox in the mail's transaction.
    return (
        module.split(".")[0] in WEB_ONLY
        or module == "deskmail.web"
        or module.startswith("deskmail.web.")
        or module == "deskmail.store.accounts"  # the web's users, sessions and tokens
    )


def test_run_once_imports_nothing_of_the_web(tmp_path: Path) -> None:
    config, _ = maildir_config(tmp_path, f"sqlite:///{tmp_path}/d.db")
    # The first run creates the database, the whole schema (accounts too); the next is read.
    command = [sys.executable, "-m", "deskmail", "run-once", "--config", config]
    subprocess.run(command, capture_output=True, check=True)
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "deskmail", "run-once", "--config", config],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    imported = {line.split("|")[-1].strip() for line in done.stderr.splitlines() if "|" in line}
    assert "deskmail.intake.run" in imported  # the run did import what a run imports
    assert sorted(name for name in imported if is_web(name)) == []
    # jinja2 is the mail templates' too, but only when a mail is sent.
    assert "jinja2" not in imported


def test_the_command_line_loads_no_web_module_until_a_web_command_runs() -> None:
    probe = (
        "import sys, deskmail.cli, deskmail.cli.daemon, deskmail.daemon.supervisor;"
        " print('\\n'.join(sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    loaded = done.stdout.split()
    assert "deskmail.daemon.supervisor" in loaded
    assert sorted(name for name in loaded if is_web(name)) == []


def test_the_web_application_loads_no_http_client_until_a_webhook_is_posted() -> None:
    # Naming a delivery's result or error (webhooks/attempts.py) must not load httpx:
    # the web UI posts a webhook only on "send test" or "redeliver".
    probe = "import sys, deskmail.web.app; print('httpx' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False"]
