"""The folders a job's mailbox offers, for choosing one ("Load folders" in the job editor).

Logs in as a check does, then lists; nothing in the mailbox changes. Raises
SourceError naming the step that failed, as check_connection does.
"""

from __future__ import annotations

from pathlib import Path

from deskmail.config.models import JobConfig, Protocol
from deskmail.sources.base import BearerTokens
from deskmail.sources.errors import SourceError, Step


def list_folders(
    job: JobConfig, password: str | None, tokens: BearerTokens | None = None
) -> list[str]:
    """The folder names a job may set as `folder` (Maildir: the sub-folders of `path`)."""
    if job.protocol is Protocol.IMAP:
        return _imap_folders(job, password, tokens)
    if job.protocol is Protocol.MAILDIR:
        return _maildir_folders(job)
    if job.protocol is Protocol.POP3:
        return ["INBOX"]  # POP3 has one mailbox and no folders
    if job.protocol is Protocol.GRAPH:
        return _graph_folders(job, tokens)
    raise SourceError(
        Step.FOLDER,
        f"listing folders is not available for protocol {job.protocol.value}:"
        " type the folder's name",
    )


def _imap_folders(job: JobConfig, password: str | None, tokens: BearerTokens | None) -> list[str]:
    import imaplib

    from deskmail.sources.connection import translating
    from deskmail.sources.imap import ImapSource
    from deskmail.sources.tls import endpoint

    # Opened on INBOX, which every server has, so that a wrong folder still lists the rest.
    source = ImapSource(job.model_copy(update={"folder": "INBOX"}), password, tokens)
    try:
        with translating(endpoint(job), Step.FOLDER, (imaplib.IMAP4.error,)):
            listed = source.client.list_folders()
    finally:
        source.close()
    names = [
        str(name)
        for flags, _delimiter, name in listed
        if b"\\Noselect" not in flags and b"\\NonExistent" not in flags
    ]
    return sorted(names, key=lambda name: (name.upper() != "INBOX", name.casefold()))


def _graph_folders(job: JobConfig, tokens: BearerTokens | None) -> list[str]:
    from deskmail.sources.graph.client import GraphError
    from deskmail.sources.graph.folders import folder_paths, mailbox_path
    from deskmail.sources.graph.source import GraphSource

    # Opened on the inbox: the sign-in and the mailbox checked as a run checks them.
    source = GraphSource(job.model_copy(update={"folder": "Inbox"}), tokens)
    try:
        return folder_paths(source.client, mailbox_path(job.user))
    except GraphError as exc:
        server = source.client.server
        raise SourceError(Step.FOLDER, f"Graph answered {exc}", server=server) from None
    finally:
        source.close()


def _maildir_folders(job: JobConfig) -> list[str]:
    if job.path is None:
        raise SourceError(Step.FOLDER, "no path is configured for this Maildir job")
    root = Path(job.path)
    if not (root / "cur").is_dir():
        raise SourceError(Step.FOLDER, f"{root} is not a Maildir (it has no cur folder)")
    # Maildir++: sub-folders are ".Name" directories beside cur, new and tmp.
    try:
        return sorted(
            entry.name[1:]
            for entry in root.iterdir()
            if entry.name.startswith(".") and entry.is_dir()
        )
    except OSError as exc:
        raise SourceError(Step.FOLDER, f"{root}: {exc.strerror}") from None
