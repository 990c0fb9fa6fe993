"""The deskmail command line. Each command parses its options and calls one function elsewhere.

One module per family of commands; importing them registers them on `main`.
"""

from deskmail.cli import (
    auth,
    daemon,
    denied,
    jobs,
    mail,
    octopus,
    operations,
    records,
    status,
    web,
    webhooks,
)
from deskmail.cli.app import main
from deskmail.cli.common import EXIT_CONFIG, EXIT_JOB_FAILED, EXIT_QUARANTINED

__all__ = [
    "EXIT_CONFIG",
    "EXIT_JOB_FAILED",
    "EXIT_QUARANTINED",
    "auth",
    "daemon",
    "denied",
    "jobs",
    "mail",
    "main",
    "octopus",
    "operations",
    "records",
    "status",
    "web",
    "webhooks",
]
