"""Shared fixtures live in tests/support/ as plugins, one module per real service; the
one fixture here keeps tests from leaking logging state into each other."""

import logging
from collections.abc import Iterator

import pytest

pytest_plugins = [
    "tests.support.database",
    "tests.support.dovecot",
    "tests.support.graph",
    "tests.support.smtp",
    "tests.support.webhook_receiver",
]


@pytest.fixture(autouse=True)
def _root_logging_restored() -> Iterator[None]:
    """A command run in the test's process (click's CliRunner) installs deskmail's
    handlers on the root logger, with a redactor of that test's secrets: left there,
    it rewrote a later test's log records in the same worker ("client_secret" came
    out as "client_***" once a test password "secret" had been redacted)."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in [h for h in root.handlers if h not in handlers]:
        root.removeHandler(handler)
        handler.close()
    root.setLevel(level)
