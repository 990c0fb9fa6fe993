"""`deskmail webhooks ...` as an administrator drives it, and `deskmail serve` posting by itself."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.fernet import Fernet

from deskmail.cli import EXIT_CONFIG, EXIT_JOB_FAILED, main
from tests.support.jobs import drop_mail, maildir_config
from tests.support.webhook_receiver import Receiver
from tests.webhooks.helpers import verified


class _Cli:
    def __init__(self, config: Path) -> None:
        self.config = str(config)
        self.env = {"DESKMAIL_SECRET_KEY": Fernet.generate_key().decode()}

    def __call__(self, *args: str, code: int = 0) -> str:
        result = CliRunner().invoke(
            main, [*args, "--config", self.config], env=self.env, catch_exceptions=False
        )
        assert result.exit_code == code, result.output
        return result.output


@pytest.fixture
def cli(tmp_path: Path, database_url: str) -> _Cli:
    config, _mailbox = maildir_config(tmp_path, database_url)
    return _Cli(config)


def _secret(output: str) -> str:
    return next(line.split()[-1] for line in output.splitlines() if "secret:" in line)


def test_add_list_test_deliveries_redeliver_disable_remove(
    cli: _Cli, receiver: Receiver, closed_url: str
) -> None:
    added = cli("webhooks", "add", receiver.url, "--event", "ticket.created,run.failed")
    secret = _secret(added)
    assert "webhook endpoint 1:" in added and "events: ticket.created run.failed" in added
    listed = cli("webhooks", "list")
    assert receiver.url in listed and "(enabled)" in listed and secret not in listed

    tested = cli("webhooks", "test", "1")
    assert "delivered" in tested
    assert verified(receiver.received[0], secret)["type"] == "webhook.test"

    log = cli("webhooks", "deliveries")
    assert "webhook.test" in log and "delivered" in log and "HTTP 200" in log
    shown = cli("webhooks", "deliveries", "1")
    assert f"POST {receiver.url}" in shown
    assert f"webhook-id: {receiver.received[0].webhook_id}" in shown
    assert "webhook-signature: v1," in shown and secret not in shown
    assert '{"ok": true}' in shown

    again = cli("webhooks", "redeliver", "1")
    assert "delivered" in again
    assert receiver.wait_for(2)[1].webhook_id == receiver.received[0].webhook_id

    cli("webhooks", "add", closed_url, "--event", "*", "--description", "gone")
    failed = cli("webhooks", "test", "2", code=EXIT_JOB_FAILED)
    assert "failed: ConnectError" in failed
    assert "gone" in cli("webhooks", "list")

    assert "disabled" in cli("webhooks", "disable", "1")
    assert "(disabled)" in cli("webhooks", "list")
    refused = cli("webhooks", "redeliver", "1", code=EXIT_JOB_FAILED)
    assert "endpoint 1 is disabled; enable it first" in refused
    assert "enabled" in cli("webhooks", "enable", "1")
    assert "endpoint 1 removed" in cli("webhooks", "remove", "1")
    assert "no webhook endpoint 1" in cli("webhooks", "remove", "1", code=EXIT_JOB_FAILED)
    assert "0 deliveries made, 0 attempts failed" in cli("webhooks", "deliver")


def test_bad_input_names_the_field(cli: _Cli) -> None:
    bad_url = cli("webhooks", "add", "hooks.example.com", "--event", "*", code=EXIT_CONFIG)
    assert "webhooks add: url: must start with https:// or http://" in bad_url
    bad_kind = cli("webhooks", "add", "https://h.example", "--event", "ticket", code=EXIT_CONFIG)
    assert "webhooks add: events: unknown event kind 'ticket'" in bad_kind
    cli.env["DESKMAIL_SECRET_KEY"] = "not-a-key"
    bad_key = cli("webhooks", "add", "https://h.example", "--event", "*", code=EXIT_CONFIG)
    assert "environment variable DESKMAIL_SECRET_KEY: key 1 is not a Fernet key" in bad_key
    assert "not-a-key" not in bad_key


@pytest.mark.slow
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_serve_posts_a_new_ticket_within_seconds(
    tmp_path: Path, database_url: str, receiver: Receiver
) -> None:
    config, mailbox = maildir_config(tmp_path, database_url, schedule="1s")
    cli = _Cli(config)
    secret = _secret(cli("webhooks", "add", receiver.url, "--event", "ticket.created"))
    output = tmp_path / "serve.log"
    env = {**os.environ, **cli.env}
    env.pop("DESKMAIL_DATABASE_URL", None)
    with open(output, "wb") as out:
        serve = subprocess.Popen(
            [sys.executable, "-m", "deskmail", "-v", "serve", "--config", str(config)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        time.sleep(0.5)
        drop_mail(mailbox, "served", "alice@example.com", "Printer on fire")
        [request] = receiver.wait_for(1, timeout=30) or [None]
        assert request is not None, output.read_text()
        document = verified(request, secret)
        assert (document["type"], document["data"]["reference"]) == ("ticket.created", "IT-1")
        serve.send_signal(signal.SIGTERM)
        assert serve.wait(30) == 0, output.read_text()
    finally:
        if serve.poll() is None:
            serve.kill()
            serve.wait(10)
    assert "webhooks: 1 delivered, 0 failed" in output.read_text()
    assert len(receiver.received) == 1
