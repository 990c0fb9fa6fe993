"""`deskmail users ...`, `deskmail web`, and `deskmail serve` with a [web] table."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from deskmail.cli import EXIT_CONFIG, main
from tests.support.jobs import drop_mail, maildir_config

DESKMAIL = [sys.executable, "-m", "deskmail"]
PASSWORD = "a long enough password"


def _invoke(config: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    done = CliRunner().invoke(main, ["users", *args, "--config", str(config)], env=env)
    return done.exit_code, done.output


def test_users_commands(tmp_path: Path, database_url: str) -> None:
    config, _ = maildir_config(tmp_path, database_url)
    secret = tmp_path / "password.txt"
    secret.write_text(PASSWORD + "\n", encoding="utf-8")
    assert _invoke(config, "add", "--admin", "alice", "--password-file", str(secret)) == (
        0,
        "user alice added (admin)\n",
    )
    code, output = _invoke(config, "add", "bob", env={"DESKMAIL_PASSWORD": PASSWORD})
    assert (code, output) == (0, "user bob added (agent)\n")
    code, output = _invoke(config, "add", "ALICE", env={"DESKMAIL_PASSWORD": PASSWORD})
    assert code == EXIT_CONFIG and "name: a user named 'ALICE' exists already" in output
    code, output = _invoke(config, "add", "carol", env={"DESKMAIL_PASSWORD": "short"})
    assert code == EXIT_CONFIG and "password: must be at least 10 characters long" in output
    code, output = _invoke(config, "add", "carol")  # no terminal, no file, no variable
    assert code == EXIT_CONFIG and "--password-file" in output

    code, output = _invoke(config, "list")
    assert [line.split()[:2] for line in output.splitlines()] == [
        ["alice", "admin"],
        ["bob", "agent"],
    ]
    assert _invoke(config, "set-role", "bob", "viewer")[0] == 0
    code, output = _invoke(config, "set-role", "alice", "agent")
    assert code == EXIT_CONFIG and "last administrator" in output
    code, output = _invoke(config, "remove", "alice")
    assert code == EXIT_CONFIG and "last administrator" in output
    new = {"DESKMAIL_PASSWORD": "another long password"}
    assert _invoke(config, "reset-password", "bob", env=new)[0] == 0
    assert _invoke(config, "remove", "bob") == (0, "user bob removed\n")
    code, output = _invoke(config, "remove", "nobody")
    assert code == EXIT_CONFIG and "no user named 'nobody'" in output


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Process:
    def __init__(self, *args: str, output: Path) -> None:
        self.output = output
        env = {k: v for k, v in os.environ.items() if k != "DESKMAIL_DATABASE_URL"}
        with open(output, "wb") as out:
            self.process = subprocess.Popen(
                [*DESKMAIL, *args], env=env, stdout=out, stderr=subprocess.STDOUT
            )

    def text(self) -> str:
        return self.output.read_text("utf-8", "replace")

    def wait_for(self, needle: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while needle not in self.text():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"no {needle!r} in:\n{self.text()}")
            time.sleep(0.05)

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(30)


@pytest.mark.slow
def test_deskmail_web_serves_until_stopped_and_refuses_a_taken_port(
    tmp_path: Path, database_url: str
) -> None:
    config, _ = maildir_config(tmp_path, database_url)
    port = _free_port()
    web = Process("web", "--config", str(config), "--port", str(port), output=tmp_path / "w.log")
    web.wait_for(f"serving the UI and API on http://127.0.0.1:{port}/")
    assert httpx.get(f"http://127.0.0.1:{port}/healthz").json() == {"status": "ok"}
    assert httpx.get(f"http://127.0.0.1:{port}/setup").status_code == 200

    second = subprocess.run(
        [*DESKMAIL, "web", "--config", str(config), "--port", str(port)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert second.returncode == EXIT_CONFIG
    assert f"cannot listen on 127.0.0.1:{port}" in second.stderr
    assert web.stop() == 0
    assert "deskmail web: stopped" in web.text()


@pytest.mark.slow
def test_serve_with_a_web_table_runs_jobs_and_serves(tmp_path: Path, database_url: str) -> None:
    config, mailbox = maildir_config(tmp_path, database_url, schedule="1h")
    port = _free_port()
    with config.open("a", encoding="utf-8") as file:
        file.write(f"\n[web]\nport = {port}\n")
    drop_mail(mailbox, "a", "ann@example.com", "Laptop")
    serve = Process("serve", "--config", str(config), output=tmp_path / "s.log")
    serve.wait_for("deskmail serve: started")
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while httpx.get(f"{url}/readyz").status_code != 200:
        assert time.monotonic() < deadline, httpx.get(f"{url}/readyz").text
        time.sleep(0.1)
    # Ready does not wait for the first run (a job not yet run is not overdue): the
    # metrics show its mail once the pool has run it.
    created = 'deskmail_messages_total{job="Support",outcome="created"} 1.0'
    while created not in (metrics := httpx.get(f"{url}/metrics").text):
        assert time.monotonic() < deadline, metrics
        time.sleep(0.1)
    assert serve.stop() == 0
    text = serve.text()
    assert f"serving the UI and API on {url}/" in text
    assert "deskmail serve: stopped" in text


def test_an_unreadable_tls_file_is_named_with_its_key(tmp_path: Path, database_url: str) -> None:
    config, _ = maildir_config(tmp_path, database_url)
    with config.open("a", encoding="utf-8") as file:
        file.write('\n[web]\nport = 1\ntls_certificate = "tls/c.pem"\ntls_key = "tls/k.pem"\n')
    done = CliRunner().invoke(main, ["web", "--config", str(config)])
    assert done.exit_code == EXIT_CONFIG
    assert f"{config}: web.tls_certificate: cannot read {tmp_path / 'tls' / 'c.pem'}" in (
        done.output
    )
