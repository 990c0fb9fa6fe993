"""The in-process intake tests' mailbox: a Maildir job with the usual fallbacks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from deskmail.config.models import JobConfig


def maildir_job(path: Path, **settings: Any) -> JobConfig:
    """Job "Support" on the Maildir at `path`: mail is deleted once taken in, unknown
    senders fall back to helpdesk at Head Office, tickets go to team IT."""
    defaults: dict[str, Any] = {
        "name": "Support",
        "after_processing": "delete",
        "fallback_user": "helpdesk",
        "fallback_site": "Head Office",
        "group": "Service Desk",
        "source": "Email",
        "team": "IT",
    }
    return JobConfig(protocol="maildir", path=path, **(defaults | settings))
