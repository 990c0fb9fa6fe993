"""The validated shape of a deskmail configuration file.

Every model forbids unknown keys so a typo ("pasword_env") is refused with
its location instead of being silently ignored.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Protocol(StrEnum):
    IMAP = "imap"
    POP3 = "pop3"
    MAILDIR = "maildir"


class Security(StrEnum):
    NONE = "none"
    STARTTLS_IF_AVAILABLE = "starttls-if-available"
    STARTTLS = "starttls"
    SSL = "ssl"


class AfterProcessing(StrEnum):
    """What the source does with a message once its ticket is committed."""

    DELETE = "delete"  # IMAP: \\Deleted + UID EXPUNGE of our UIDs; POP3: DELE; Maildir: unlink
    MOVE = "move"  # IMAP: MOVE (or COPY+delete); Maildir: into a sub-folder
    MARK_SEEN = "mark_seen"  # IMAP: +FLAGS \\Seen; Maildir: new/ -> cur/ with the S flag
    KEEP = "keep"  # leave untouched; the intake journal prevents re-processing


DEFAULT_PORTS: dict[tuple[Protocol, bool], int] = {
    (Protocol.IMAP, False): 143,
    (Protocol.IMAP, True): 993,
    (Protocol.POP3, False): 110,
    (Protocol.POP3, True): 995,
}


class Timeouts(Strict):
    connect: float = Field(default=30.0, gt=0, description="seconds to open the connection")
    read: float = Field(default=120.0, gt=0, description="seconds to wait for any server reply")


class JobConfig(Strict):
    """One mailbox watched by deskmail."""

    name: str = ""  # filled in by the loader: "Mail Connector", "Mail Connector (1)", ...
    enabled: bool = True
    protocol: Protocol
    server: str = ""
    port: int | None = Field(default=None, ge=1, le=65535)
    security: Security = Security.SSL
    reject_invalid_certificates: bool = True
    ca_file: Path | None = None  # extra trust anchor, e.g. an internal CA
    user: str = ""
    password_env: str | None = None
    password_file: Path | None = None
    password: str | None = None  # accepted with a warning; prefer password_env / password_file
    folder: str = "INBOX"  # IMAP folder; "INBOX/Support" or "INBOX.Support"
    path: Path | None = None  # Maildir folder for protocol = "maildir"
    after_processing: AfterProcessing | None = None  # default depends on the protocol
    move_to: str | None = None
    timeouts: Timeouts = Timeouts()
    fetch_batch: int = Field(default=50, ge=1, le=1000)
    fallback_user: str | None = None  # logon name of the person used for unknown senders
    fallback_site: str | None = None
    group: str | None = None
    source: str = "Email"
    team: str = "IT"

    @property
    def effective_port(self) -> int:
        if self.port is not None:
            return self.port
        return DEFAULT_PORTS[(self.protocol, self.security is Security.SSL)]

    @property
    def effective_after_processing(self) -> AfterProcessing:
        if self.after_processing is not None:
            return self.after_processing
        if self.protocol is Protocol.POP3:
            return AfterProcessing.DELETE
        return AfterProcessing.MARK_SEEN

    @model_validator(mode="after")
    def _check_protocol_fields(self) -> JobConfig:
        if self.protocol in (Protocol.IMAP, Protocol.POP3):
            if not self.server:
                raise ValueError(f"server is required for protocol {self.protocol.value}")
            if not self.user:
                raise ValueError(f"user is required for protocol {self.protocol.value}")
            secrets = [k for k in ("password_env", "password_file", "password") if getattr(self, k)]
            if len(secrets) > 1:
                raise ValueError(f"give only one of {', '.join(secrets)}")
        if self.protocol is Protocol.MAILDIR and self.path is None:
            raise ValueError("path is required for protocol maildir")
        after = self.effective_after_processing
        if after is AfterProcessing.MOVE:
            if self.protocol is Protocol.POP3:
                raise ValueError("after_processing = 'move' is not possible with POP3")
            if not self.move_to:
                raise ValueError("move_to is required when after_processing = 'move'")
        if after is AfterProcessing.MARK_SEEN and self.protocol is Protocol.POP3:
            raise ValueError("POP3 has no flags: use after_processing = 'delete' or 'keep'")
        return self


class DatabaseConfig(Strict):
    # Relative SQLite paths are resolved against the config file's folder.
    url: str = "sqlite:///deskmail.db"


class StorageConfig(Strict):
    attachments_dir: Path = Path("attachments")


class DeskmailConfig(Strict):
    source_file: Path | None = None  # the file this was loaded from, for messages
    database: DatabaseConfig = DatabaseConfig()
    storage: StorageConfig = StorageConfig()
    jobs: list[JobConfig] = Field(default_factory=list)

    def job(self, name: str) -> JobConfig:
        for job in self.jobs:
            if job.name == name:
                return job
        known = ", ".join(repr(j.name) for j in self.jobs) or "none"
        raise KeyError(f"no job named {name!r} (jobs: {known})")
