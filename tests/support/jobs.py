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


def maildir_config(tmp_path: Path, database_url: str, **settings: Any) -> tuple[Path, Path]:
    """A configuration file with maildir_job on a new Maildir under tmp_path; and that Maildir."""
    from tests.support.toml_config import job_table, write_config

    mailbox = tmp_path / "mailbox"
    for sub in ("new", "cur", "tmp"):
        (mailbox / sub).mkdir(parents=True, exist_ok=True)
    table = job_table(maildir_job(mailbox), **settings)
    return write_config(tmp_path / "deskmail.toml", database_url, [table]), mailbox


def drop_mail(mailbox: Path, name: str, sender: str, subject: str, body: str = "body") -> Path:
    """A plain mail delivered to the Maildir's new/, Message-ID <name@client.example.com>."""
    raw = (
        f"From: {sender}\r\nTo: support@example.com\r\nSubject: {subject}\r\n"
        f"Message-ID: <{name}@client.example.com>\r\n\r\n{body}\r\n"
    )
    path = mailbox / "new" / f"{name}.eml"
    path.write_bytes(raw.encode())
    return path
