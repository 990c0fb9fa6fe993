"""Choose the source adapter for a job's protocol."""

from __future__ import annotations

from deskmail.config.models import JobConfig, Protocol
from deskmail.sources.base import Source
from deskmail.sources.imap import ImapSource
from deskmail.sources.maildir import MaildirSource
from deskmail.sources.pop3 import Pop3Source


def open_source(job: JobConfig, password: str | None) -> Source:
    """A connected, logged-in source with its folder open; raises SourceError naming the step.

    Use it as a context manager so the session always ends (POP3 commits its
    deletions at QUIT). The password is ignored for Maildir.
    """
    if job.protocol is Protocol.IMAP:
        return ImapSource(job, password)
    if job.protocol is Protocol.POP3:
        return Pop3Source(job, password)
    return MaildirSource(job)
