"""Choose the source adapter for a job's protocol.

Each adapter is imported with the first job that needs it: a run that reads
IMAP never loads poplib or mailbox, nor a Maildir run imapclient.
"""

from __future__ import annotations

from deskmail.config.models import JobConfig, Protocol
from deskmail.sources.base import BearerTokens, Source, SyncState


def open_source(
    job: JobConfig,
    password: str | None,
    state: SyncState | None = None,
    tokens: BearerTokens | None = None,
    spool_directory: str | None = None,
) -> Source:
    """A connected, logged-in source with its folder open; raises SourceError naming the step.

    Use it as a context manager so the session always ends (POP3 commits its
    deletions at QUIT). The password is ignored for Maildir. `state` is where
    a source that reads changes keeps its place (a check passes none: it
    saves nothing). `tokens` are the job's OAuth2 access tokens when it signs
    in with OAuth2 (auth.tokens.job_tokens builds them). `spool_directory`:
    where a large mail is streamed before it is read (Graph).
    """
    if job.protocol is Protocol.GRAPH:
        from deskmail.sources.graph.source import GraphSource

        return GraphSource(job, tokens, state, spool_directory=spool_directory)
    if job.protocol is Protocol.IMAP:
        from deskmail.sources.imap import ImapSource

        return ImapSource(job, password, tokens)
    if job.protocol is Protocol.POP3:
        from deskmail.sources.pop3 import Pop3Source

        return Pop3Source(job, password, tokens)
    if job.protocol is Protocol.EWS:
        from deskmail.sources.ews.source import EwsSource

        return EwsSource(job, password, state, tokens)
    from deskmail.sources.maildir import MaildirSource

    return MaildirSource(job)
