"""Shared fixtures live in tests/support/ as plugins, one module per real service."""

pytest_plugins = [
    "tests.support.database",
    "tests.support.dovecot",
    "tests.support.graph",
    "tests.support.smtp",
    "tests.support.webhook_receiver",
]
