"""`deskmail serve` under systemd: READY, watchdog pings, RELOADING and STOPPING.

A real `deskmail serve` subprocess talks to a datagram socket bound here,
exactly as it would to systemd's $NOTIFY_SOCKET.
"""

from __future__ import annotations

import os
import signal
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from deskmail.daemon.notify import notify, watchdog_interval
from tests.support.toml_config import write_config
from tests.test_daemon import maildir, maildir_job, serving, sqlite_only

pytestmark = pytest.mark.slow


class NotifySocket:
    """The service manager's end: collects what the daemon says."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(20)
        self.said: list[str] = []

    def wait_for(self, state: str) -> list[str]:
        """Every datagram up to and including the first one holding `state`."""
        seen = []
        while True:
            try:
                datagram = self.sock.recv(4096).decode()
            except TimeoutError:
                raise AssertionError(f"no {state!r}; heard {self.said}") from None
            self.said.append(datagram)
            seen.append(datagram)
            if state in datagram.splitlines():
                return seen


@pytest.fixture
def manager(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[NotifySocket]:
    listener = NotifySocket(tmp_path / "notify.sock")
    monkeypatch.setenv("NOTIFY_SOCKET", str(listener.path))
    yield listener
    listener.sock.close()


@sqlite_only
def test_serve_says_ready_pings_the_watchdog_and_says_reloading_and_stopping(
    database_url: str, tmp_path: Path, manager: NotifySocket, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", "200000")  # a ping every 0.1 s
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    jobs = [maildir_job(maildir(tmp_path), "Drop box")]
    config = write_config(tmp_path / "deskmail.toml", database_url, jobs)
    with serving(config) as daemon:
        ready = manager.wait_for("READY=1")
        assert "STATUS=1 job(s) running" in ready[-1].splitlines()
        manager.wait_for("WATCHDOG=1")
        manager.wait_for("WATCHDOG=1")
        daemon.send(signal.SIGHUP)
        reloading = manager.wait_for("RELOADING=1")[-1].splitlines()
        assert any(line.startswith("MONOTONIC_USEC=") for line in reloading)
        manager.wait_for("READY=1")
        daemon.send(signal.SIGTERM)
        manager.wait_for("STOPPING=1")
        assert daemon.exit_code() == 0, daemon.log()


def test_notify_reaches_an_abstract_socket_and_is_silent_outside_systemd(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    name = f"deskmail-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
        assert notify("READY=1", "STATUS=ok")
        assert sock.recv(100) == b"READY=1\nSTATUS=ok"
    monkeypatch.delenv("NOTIFY_SOCKET")
    assert not notify("READY=1")


def test_the_watchdog_interval_is_half_of_watchdogsec_for_the_main_process_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", "60000000")
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    assert watchdog_interval() == 30.0
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid() + 1))  # meant for another process
    assert watchdog_interval() is None
    monkeypatch.delenv("WATCHDOG_USEC")
    assert watchdog_interval() is None


def test_a_dead_worker_stops_the_watchdog_pings(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from deskmail.config.files import load_configuration
    from deskmail.daemon.supervisor import Supervisor
    from deskmail.store.engine import open_store
    from deskmail.store.migrate import upgrade

    config_path = write_config(
        tmp_path / "deskmail.toml", database_url, [maildir_job(maildir(tmp_path), "Drop box")]
    )
    config = load_configuration(config_path)
    upgrade(database_url)  # on PostgreSQL a job is run only once its lease is taken
    store = open_store(config)
    supervisor = Supervisor(config_path, config, store)
    supervisor.apply(config)
    try:
        assert supervisor.all_alive()
        for worker, _fingerprint in supervisor._workers.values():
            worker.stop()
            assert worker.join(20)
        assert not supervisor.all_alive()
    finally:
        supervisor.shutdown()
