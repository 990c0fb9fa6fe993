"""The validated shape of a deskmail configuration file.

Every model forbids unknown keys so a typo ("pasword_env") is refused with
its location instead of being silently ignored. The loader (loader.py) turns
validation errors into file + key + plain-words messages.
"""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    model_validator,
)

from deskmail.config.custom_fields import CustomFieldConfig
from deskmail.config.errors import job_key
from deskmail.config.oauth2 import OAuth2Config, OAuth2Provider
from deskmail.config.object_types import ObjectTypeConfig, Records
from deskmail.config.preprocessing import PreprocessRuleConfig
from deskmail.config.reference_pattern import compile_reference_pattern
from deskmail.config.rules import RuleConfig
from deskmail.config.schedule import parse_schedule
from deskmail.config.values import printable, setting_errors


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Protocol(StrEnum):
    IMAP = "imap"
    POP3 = "pop3"
    MAILDIR = "maildir"
    EWS = "ews"  # Exchange Web Services: Exchange Server on premises
    GRAPH = "graph"  # Microsoft Graph (Microsoft 365), signed in through [jobs.oauth2]


class Security(StrEnum):
    NONE = "none"
    STARTTLS_IF_AVAILABLE = "starttls-if-available"
    STARTTLS = "starttls"
    SSL = "ssl"


class AuthMechanism(StrEnum):
    """How an IMAP or POP3 job proves its password: a SASL mechanism, by its lower-case name."""

    AUTO = "auto"  # over TLS: IMAP LOGIN / POP3 USER+PASS; in clear: CRAM-MD5 when offered
    PLAIN = "plain"
    LOGIN = "login"
    CRAM_MD5 = "cram-md5"
    NTLM = "ntlm"  # Microsoft's "Secure Password Authentication" (SPA)
    XOAUTH2 = "xoauth2"  # an OAuth2 access token instead of a password: needs [jobs.oauth2]


class ExchangeVersion(StrEnum):
    """The Exchange Server an EWS job talks to: detected from the server's answer, or pinned."""

    AUTO = "auto"
    EXCHANGE_2010_SP2 = "2010_sp2"
    EXCHANGE_2013 = "2013"
    EXCHANGE_2016 = "2016"
    EXCHANGE_2019 = "2019"  # also Exchange Server Subscription Edition


# What EWS accepts of AuthMechanism: HTTP NTLM, HTTP Basic ("plain"), or asked of the server.
EWS_AUTH_MECHANISMS = frozenset({AuthMechanism.AUTO, AuthMechanism.NTLM, AuthMechanism.PLAIN})


class Processor(StrEnum):
    INCIDENT = "incident"  # Octopus EndUserIncidentMailMessageProcessor
    EVENT = "event"  # Octopus EventMailMessageProcessor


class StrangerReplies(StrEnum):
    NEW_TICKET = "new_ticket"  # open a new ticket that links to the referenced one
    ADD_ACTIVITY = "add_activity"  # trust the reference (as most help desks do; not advised)


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
    (Protocol.EWS, True): 443,
    (Protocol.GRAPH, False): 443,  # HTTPS whatever security says
    (Protocol.GRAPH, True): 443,
}
GRAPH_SERVER = "graph.microsoft.com"

NETWORK_PROTOCOLS = frozenset({Protocol.IMAP, Protocol.POP3})
# Jobs that log in with a password of their own (password_env, password_file, password).
PASSWORD_PROTOCOLS = NETWORK_PROTOCOLS | {Protocol.EWS}
SECRET_KEYS = ("password_env", "password_file", "password")


def _host(value: str) -> str:
    if "://" in value or "/" in value:
        raise ValueError("must be a host name or address such as mail.example.com, not a URL")
    if value.count(":") == 1:  # one colon: "host:port"; IPv6 literals have several
        raise ValueError("must be a host name only; put the port number in port")
    return printable(value)


_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _env_name(value: str) -> str:
    # A common slip is pasting the password itself here; the message must not echo it.
    if not _ENV_NAME.fullmatch(value):
        raise ValueError(
            "must be the name of an environment variable (letters, digits and _),"
            " such as DESKMAIL_SUPPORT_PASSWORD, not the password itself"
        )
    return value


def _database_url(value: str) -> str:
    if "://" not in value:
        raise ValueError(
            "must be a database URL such as sqlite:///deskmail.db"
            " or postgresql+psycopg://deskmail@db.example.com/deskmail"
        )
    return value


def _reference_pattern(value: str) -> str:
    compile_reference_pattern(value)  # raises ValueError in plain words
    return value


def _schedule(value: str) -> str:
    parse_schedule(value)  # raises ValueError in plain words
    return value


Line = Annotated[str, AfterValidator(printable)]
NonEmptyLine = Annotated[str, Field(min_length=1), AfterValidator(printable)]
ReferencePattern = Annotated[str, AfterValidator(_reference_pattern)]


class Timeouts(Strict):
    connect: float = Field(default=30.0, gt=0, description="seconds to open the connection")
    read: float = Field(default=120.0, gt=0, description="seconds to wait for any server reply")


class SmtpSecurity(StrEnum):
    NONE = "none"
    STARTTLS = "starttls"
    SSL = "ssl"


class SmtpConfig(Strict):
    """Outgoing mail: global under [smtp], or per job."""

    server: NonEmptyLine
    port: int | None = Field(default=None, ge=1, le=65535, description="default: 465 ssl, else 587")
    security: SmtpSecurity = SmtpSecurity.STARTTLS
    reject_invalid_certificates: bool = True
    ca_file: Path | None = None
    user: Line = ""
    password_env: Annotated[str, AfterValidator(_env_name)] | None = None
    password_file: Path | None = None
    password: str | None = Field(default=None, repr=False)
    oauth2: OAuth2Config | None = Field(
        default=None, description="sign in with XOAUTH2 instead of a password (user is required)"
    )
    from_address: NonEmptyLine = Field(description="the desk's address, e.g. support@example.com")
    from_name: Line = "Service Desk"
    timeout: float = Field(default=30.0, gt=0)

    @model_validator(mode="after")
    def _check_oauth2(self) -> SmtpConfig:
        if self.oauth2 is None:
            return self
        problems = [
            (key, "is not used: this server is signed in to with oauth2")
            for key in SECRET_KEYS
            if getattr(self, key) is not None
        ]
        if not self.user:
            problems.append(("user", "is required with oauth2: the mailbox that sends"))
        if problems:
            raise setting_errors(self, problems)
        return self


class JobConfig(Strict):
    """One mailbox watched by deskmail."""

    name: Line = Field(
        default="",
        description='shown in logs and events; the loader names unnamed jobs "Mail Connector",'
        ' "Mail Connector (1)", ...',
    )
    enabled: bool = True
    protocol: Protocol
    server: Annotated[str, AfterValidator(_host)] = ""
    port: int | None = Field(
        default=None, ge=1, le=65535, description="default: 993/995 with ssl, else 143/110"
    )
    security: Security = Security.SSL
    reject_invalid_certificates: bool = True
    ca_file: Path | None = Field(
        default=None, description="extra trust anchor in PEM, e.g. an internal CA"
    )
    user: Line = ""
    password_env: Annotated[str, AfterValidator(_env_name)] | None = Field(
        default=None, description="name of the environment variable holding the password"
    )
    password_file: Path | None = Field(
        default=None, description="file whose first line is the password"
    )
    # repr=False keeps the value out of logs and tracebacks; secrets.redact() treats
    # every field hidden from repr as a secret.
    password: str | None = Field(
        default=None, repr=False, description="accepted with a warning; prefer password_env"
    )
    auth_mechanism: AuthMechanism = Field(
        default=AuthMechanism.AUTO,
        description='"ntlm" is SPA; auto: the plain login over TLS, CRAM-MD5 in clear if offered;'
        ' "xoauth2" with an oauth2 table',
    )
    oauth2: OAuth2Config | None = Field(
        default=None,
        description="sign in with OAuth2 (an access token) instead of a password;"
        " required for protocol graph",
    )
    folder: NonEmptyLine = Field(
        default="INBOX", description='IMAP folder: "INBOX/Support" or "INBOX.Support"'
    )
    path: Path | None = Field(default=None, description='Maildir folder for protocol "maildir"')
    service_url: Line | None = Field(
        default=None,
        description="EWS: https://mail.example.com/EWS/Exchange.asmx; default: from server,"
        " or autodiscover from user",
    )
    mailbox: Line | None = Field(
        default=None,
        description="EWS: the mailbox's e-mail address when user is a logon name (DOMAIN\\name)",
    )
    exchange_version: ExchangeVersion = Field(
        default=ExchangeVersion.AUTO, description="EWS: detected, or pinned (2013, 2016, 2019)"
    )
    after_processing: AfterProcessing | None = Field(
        default=None, description="default: delete for POP3, mark_seen otherwise"
    )
    move_to: NonEmptyLine | None = Field(
        default=None, description='folder for after_processing = "move"'
    )
    timeouts: Timeouts = Timeouts()
    fetch_batch: int = Field(default=50, ge=1, le=1000)
    fallback_user: Line | None = Field(
        default=None, description="logon name of the person used for unknown senders"
    )
    fallback_site: Line | None = None
    group: Line | None = Field(default=None, description="group assigned to new tickets")
    source: NonEmptyLine = "Email"
    team: NonEmptyLine = "IT"

    # What a new mail becomes by default (Octopus messageProcessorTypeName):
    # an incident for the sender, or an event for the job's group and assignee.
    processor: Processor = Processor.INCIDENT
    assignee: Line | None = Field(default=None, description="logon name; events are assigned to")
    create_new_requests: bool = Field(
        default=True,
        description="false: an unmatched mail makes no ticket; an automatic reply is due",
    )
    stranger_replies: StrangerReplies = Field(
        default=StrangerReplies.NEW_TICKET,
        description="a reply from someone not on the ticket, without the ticket's token",
    )
    reference_pattern: ReferencePattern | None = Field(
        default=None,
        description="extra subject regex with a named group 'number' (optional 'team', 'token')",
    )
    preprocessing: list[PreprocessRuleConfig] | None = Field(
        default=None, description="ordered; omitted: every built-in rule, disabled"
    )
    rules: list[RuleConfig] = Field(default_factory=list, description="processing rules, in order")
    ignored_attachments: str = Field(
        default="", description='comma-separated names, "*" wildcards, case-insensitive'
    )
    drop_signature_images: bool = Field(
        default=False, description="drop small inline images repeated in a sender's mails"
    )
    max_attachment_size: int | None = Field(default=None, ge=1, description="bytes, per file")
    include_raw_message: bool = Field(default=False, description="attach the original .eml")
    message_budget_seconds: float = Field(
        default=30,
        gt=0,
        le=3600,
        description="time one mail may take from raw bytes to a plan (parse, preprocess,"
        " classify); a mail over it is quarantined and the batch goes on",
    )

    # Operations: the daemon, outgoing mail, errors as events, logs.
    schedule: Annotated[NonEmptyLine, AfterValidator(_schedule)] = Field(
        default="5m",
        description='poll interval ("30s", "5m", "1h") or a 5-field cron expression',
    )
    idle: bool = Field(default=True, description="IMAP IDLE: woken by the server on new mail")
    address: Line | None = Field(
        default=None, description="this mailbox's own address: From of replies, loop detection"
    )
    smtp: SmtpConfig | None = Field(default=None, description="outgoing mail; default: [smtp]")
    send_acknowledgement: bool = Field(
        default=False, description="mail the requester when a ticket is created"
    )
    notify_group_address: Line | None = Field(
        default=None, description="address told when a ticket gets a new mail activity"
    )
    error_group: Line | None = Field(
        default=None, description="group of error and infrastructure events (default: group)"
    )
    failure_note_minutes: int = Field(
        default=60,
        ge=0,
        description="while the mailbox keeps failing, a note on its event at most this often;"
        " 0: on every failed run, as Octopus",
    )
    auto_reply_limit_per_day: int = Field(default=10, ge=0, description="per recipient")
    new_tickets_per_sender_per_hour: int = Field(
        default=30, ge=1, description="past it, mail is grouped on the sender's last ticket"
    )
    log_file: Path | None = Field(default=None, description="this job's own log (rotated)")

    # Where the job was written (set by the loader), so that errors found later,
    # e.g. an unset password variable, still point at the file and the job.
    _file: Path | None = PrivateAttr(default=None)
    _index: int | None = PrivateAttr(default=None)

    _octopus_xml: bool = PrivateAttr(default=False)
    # The file's [[object_types]] and [[custom_fields]], handed to each job by the loader.
    _records: Records = PrivateAttr(default_factory=Records)

    def set_records(self, records: Records) -> None:
        self._records = records

    @property
    def records(self) -> Records:
        """The object types and custom fields its rules may create and set."""
        return self._records

    def set_origin(
        self, file: Path | None, index: int | None, *, octopus_xml: bool = False
    ) -> None:
        self._file = file
        self._index = index
        self._octopus_xml = octopus_xml

    @property
    def from_octopus_xml(self) -> bool:
        """Written in an Octopus MailIntegration XML file: advice names its tags, not keys."""
        return self._octopus_xml

    @property
    def origin_file(self) -> Path | None:
        return self._file

    def key(self, setting: str = "") -> str:
        """Where a setting of this job lives in its file: 'jobs[2] ("Support").password_env'."""
        return job_key(self._index, self.name, setting)

    @property
    def effective_port(self) -> int:
        if self.port is not None:
            return self.port
        return DEFAULT_PORTS[(self.protocol, self.security is Security.SSL)]

    @property
    def effective_server(self) -> str:
        """The server name; a Graph job without one reads Microsoft's."""
        if self.protocol is Protocol.GRAPH and not self.server:
            return GRAPH_SERVER
        return self.server

    @property
    def effective_after_processing(self) -> AfterProcessing:
        if self.after_processing is not None:
            return self.after_processing
        if self.protocol is Protocol.POP3:
            return AfterProcessing.DELETE
        return AfterProcessing.MARK_SEEN

    @model_validator(mode="after")
    def _check_protocol_fields(self) -> JobConfig:
        # Collected rather than raised one by one, so a file is fixed in one round.
        problems = self._protocol_problems()
        if problems:
            raise setting_errors(self, problems)
        return self

    def _protocol_problems(self) -> list[tuple[str, str]]:
        """(key, problem) pairs; an empty key is about the job as a whole."""
        problems: list[tuple[str, str]] = []
        protocol = self.protocol.value
        if self.protocol is not Protocol.EWS:
            problems += self._ews_keys_unused()
        if self.protocol is Protocol.EWS:
            problems += self._ews_problems()
            given = [key for key in SECRET_KEYS if getattr(self, key) is not None]
            if self.oauth2 is not None or self.auth_mechanism is AuthMechanism.XOAUTH2:
                problems += self._oauth2_problems(given)
                given = []
        elif self.protocol in NETWORK_PROTOCOLS:
            if not self.server:
                problems.append(("server", f"is required for protocol {protocol}"))
            if not self.user:
                problems.append(("user", f"is required for protocol {protocol}"))
            given = [key for key in SECRET_KEYS if getattr(self, key) is not None]
            if self.oauth2 is not None or self.auth_mechanism is AuthMechanism.XOAUTH2:
                problems += self._oauth2_problems(given)
                given = []
            elif not given:
                problems.append(
                    (
                        "",
                        "needs a password: set password_env (recommended),"
                        " password_file or password",
                    )
                )
        elif self.protocol is Protocol.GRAPH:
            problems += self._graph_problems()
            given = []
        else:
            if self.path is None:
                problems.append(("path", f"is required for protocol {protocol}"))
            if self.oauth2 is not None and self.protocol is Protocol.MAILDIR:
                problems.append(("oauth2", "is not used with maildir: no sign-in to a folder"))
            # "auto", the default, passes: a dumped and reloaded Maildir job must still load.
            if self.auth_mechanism is not AuthMechanism.AUTO:
                problems.append(
                    (
                        "auth_mechanism",
                        "is only used with imap and pop3: a Maildir is read from disk,"
                        " without logging in",
                    )
                )
            given = []
        if len(given) > 1:
            both = "both" if len(given) == 2 else "all"
            problems.append(("", f"{' and '.join(given)} are {both} set; keep only one"))
        after = self.effective_after_processing
        if self.protocol is Protocol.POP3 and after in (
            AfterProcessing.MOVE,
            AfterProcessing.MARK_SEEN,
        ):
            problems.append(
                (
                    "after_processing",
                    f"'{after.value}' is not possible with POP3 (it has no folders or flags);"
                    " use 'delete' or 'keep'",
                )
            )
        elif after is AfterProcessing.MOVE and not self.move_to:
            problems.append(("move_to", "is required when after_processing = 'move'"))
        if self.move_to is not None and after is not AfterProcessing.MOVE:
            problems.append(
                ("move_to", f"is only used with after_processing = 'move' (it is '{after.value}')")
            )
        return problems

    def _ews_problems(self) -> list[tuple[str, str]]:
        problems: list[tuple[str, str]] = []
        if not self.user:
            problems.append(("user", "is required for protocol ews"))
        if self.server and self.service_url:
            problems.append(("service_url", "and server are both set; keep only one"))
        elif not self.server and not self.service_url and "@" not in f"{self.user}{self.mailbox}":
            problems.append(
                (
                    "",
                    "needs service_url, server, or an e-mail address (mailbox, or user)"
                    " to find the service by autodiscover",
                )
            )
        if self.service_url and not self.service_url.lower().startswith(("https://", "http://")):
            problems.append(
                ("service_url", "must be a URL such as https://mail.example.com/EWS/Exchange.asmx")
            )
        if self.security is not Security.SSL:
            problems.append(("security", "EWS is always read over HTTPS; leave security unset"))
        if self.oauth2 is not None or self.auth_mechanism is AuthMechanism.XOAUTH2:
            return problems  # the rest is checked as every OAuth2 job's (_oauth2_problems)
        if not any(getattr(self, key) is not None for key in SECRET_KEYS):
            problems.append(
                ("", "needs a password: set password_env (recommended), password_file or password")
            )
        if self.auth_mechanism not in EWS_AUTH_MECHANISMS:
            problems.append(
                (
                    "auth_mechanism",
                    f"'{self.auth_mechanism.value}' is not possible with EWS;"
                    " use 'ntlm', 'plain' (HTTP Basic) or 'auto'",
                )
            )
        return problems

    def _ews_keys_unused(self) -> list[tuple[str, str]]:
        unused = [key for key in ("service_url", "mailbox") if getattr(self, key) is not None]
        if self.exchange_version is not ExchangeVersion.AUTO:
            unused.append("exchange_version")
        return [(key, "is only used with protocol ews") for key in unused]

    def _graph_problems(self) -> list[tuple[str, str]]:
        problems: list[tuple[str, str]] = []
        if not self.user:
            problems.append(("user", "is required for protocol graph: the mailbox's address"))
        if self.oauth2 is None:
            problems.append(("oauth2", "is required for protocol graph: add a [jobs.oauth2] table"))
        elif self.oauth2.provider is not OAuth2Provider.MICROSOFT:
            problems.append(("oauth2.provider", "must be 'microsoft' for protocol graph"))
        problems += [
            (key, "is not used with protocol graph: it signs in through [jobs.oauth2]")
            for key in SECRET_KEYS
            if getattr(self, key) is not None
        ]
        if self.auth_mechanism is not AuthMechanism.AUTO:
            problems.append(("auth_mechanism", "is only used with imap and pop3"))
        if self.security is not Security.SSL:
            problems.append(("security", "must be ssl for protocol graph (HTTPS)"))
        return problems

    def _oauth2_problems(self, passwords: list[str]) -> list[tuple[str, str]]:
        """An IMAP or POP3 job that signs in with an OAuth2 token (XOAUTH2)."""
        if self.oauth2 is None:
            return [
                (
                    "oauth2",
                    'is required with auth_mechanism = "xoauth2": add an [jobs.oauth2] table'
                    " with provider, tenant and client_id",
                )
            ]
        problems = [
            (key, "is not used: this job signs in with oauth2 (an access token)")
            for key in passwords
        ]
        if self.auth_mechanism not in (AuthMechanism.AUTO, AuthMechanism.XOAUTH2):
            problems.append(
                (
                    "auth_mechanism",
                    f'must be "xoauth2" (or "auto") with an oauth2 table'
                    f' (it is "{self.auth_mechanism.value}")',
                )
            )
        return problems


class DatabaseConfig(Strict):
    # Relative SQLite paths are resolved against the config file's folder.
    url: Annotated[str, AfterValidator(_database_url)] = "sqlite:///deskmail.db"


class StorageConfig(Strict):
    attachments_dir: Path = Path("attachments")


class LogFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


class LoggingConfig(Strict):
    file: Path | None = Field(default=None, description="log file (rotated); default: stderr only")
    format: LogFormat = LogFormat.TEXT
    level: Literal["debug", "info", "warning", "error"] = "info"
    max_bytes: int = Field(default=10 * 1024 * 1024, ge=10_000)
    backups: int = Field(default=5, ge=0)


def _address(value: str) -> str:
    import ipaddress

    try:
        ipaddress.ip_address(value)
    except ValueError:
        raise ValueError(
            "must be an IP address such as 127.0.0.1, 0.0.0.0 (every IPv4 address) or ::1"
        ) from None
    return value


def _network(value: str) -> str:
    import ipaddress

    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise ValueError(
            "must be an IP address or network such as 10.0.0.5 or 10.0.0.0/8"
        ) from None
    return value


DEFAULT_WEB_PORT = 8642


class WebConfig(Strict):
    """The web UI and REST API ([web]): served by `deskmail web`, and by `deskmail serve`
    beside the jobs when the table is present and enabled."""

    enabled: bool = Field(default=True, description="serve the UI and API in `deskmail serve`")
    listen: Annotated[str, AfterValidator(_address)] = Field(
        default="127.0.0.1", description="address to listen on; loopback only by default"
    )
    port: int = Field(default=DEFAULT_WEB_PORT, ge=1, le=65535)
    tls_certificate: Path | None = Field(default=None, description="PEM certificate chain")
    tls_key: Path | None = Field(default=None, description="PEM private key of tls_certificate")
    trusted_proxies: list[Annotated[str, AfterValidator(_network)]] = Field(
        default_factory=list,
        description="reverse proxies whose X-Forwarded-For/-Proto are believed (addresses or"
        " networks); none by default",
    )
    session_idle_minutes: int = Field(
        default=120, ge=1, le=60 * 24 * 30, description="a session unused this long is ended"
    )
    login_attempts_per_user: int = Field(
        default=5, ge=1, description="failed logins per user name within login_window_minutes"
    )
    login_attempts_per_address: int = Field(
        default=20, ge=1, description="failed logins per client address within the window"
    )
    login_window_minutes: int = Field(default=15, ge=1, le=24 * 60)
    unready_after_minutes: int = Field(
        default=120,
        ge=1,
        description="/readyz fails when an enabled job has not succeeded for this long",
    )
    scheduler_stale_seconds: int = Field(
        default=120, ge=10, description="/readyz fails when the scheduler has not beaten this long"
    )

    @property
    def uses_tls(self) -> bool:
        return self.tls_certificate is not None

    @model_validator(mode="after")
    def _check_tls(self) -> WebConfig:
        if (self.tls_certificate is None) != (self.tls_key is None):
            missing = "tls_key" if self.tls_key is None else "tls_certificate"
            raise setting_errors(self, [(missing, "is required when the other TLS file is set")])
        return self


class ClusterConfig(Strict):
    """How instances of `deskmail serve` on one PostgreSQL database share the jobs ([cluster]).

    A job is held through a lease of lease_seconds, renewed every renew_seconds:
    an instance that dies loses its jobs at most lease_seconds after its last
    renewal. SQLite (one host) holds every job and ignores these."""

    lease_seconds: float = Field(
        default=15.0, ge=3, le=600, description="a lease not renewed for this long is free"
    )
    renew_seconds: float = Field(
        default=5.0, gt=0, description="how often the leases and the heartbeat are renewed"
    )
    settle_rounds: int = Field(
        default=2,
        ge=1,
        le=100,
        description="renewals an instance must see itself above its share before giving"
        " jobs up (hysteresis: jobs do not flap when an instance blinks)",
    )

    @model_validator(mode="after")
    def _check_renewal(self) -> ClusterConfig:
        # Two renewals may fail in a row (a slow database) before the lease lapses.
        if self.renew_seconds > self.lease_seconds / 2:
            raise setting_errors(
                self,
                [
                    (
                        "renew_seconds",
                        f"must be at most half of lease_seconds ({self.lease_seconds:g});"
                        f" got {self.renew_seconds:g}",
                    )
                ],
            )
        return self


class DeskmailConfig(Strict):
    source_file: Path | None = None  # the file this was loaded from, for messages
    database: DatabaseConfig = DatabaseConfig()
    storage: StorageConfig = StorageConfig()
    smtp: SmtpConfig | None = None
    logging: LoggingConfig = LoggingConfig()
    templates_dir: Path | None = Field(
        default=None, description="overrides of the built-in mail templates (Jinja2)"
    )
    web: WebConfig | None = Field(
        default=None, description="the web UI and API; absent: `deskmail serve` runs jobs only"
    )
    cluster: ClusterConfig = Field(
        default_factory=ClusterConfig,
        description="how several `deskmail serve` on one PostgreSQL database share the jobs",
    )
    object_types: list[ObjectTypeConfig] = Field(
        default_factory=list, description="kinds of record beyond incident and event"
    )
    custom_fields: list[CustomFieldConfig] = Field(
        default_factory=list, description="fields tickets carry beyond the built-in ones"
    )
    jobs: list[JobConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check_records(self) -> DeskmailConfig:
        problems = self.records.problems()
        if problems:
            raise setting_errors(self, problems)
        return self

    @property
    def records(self) -> Records:
        return Records(tuple(self.object_types), tuple(self.custom_fields))

    def job(self, name: str) -> JobConfig:
        for job in self.jobs:
            if job.name == name:
                return job
        known = ", ".join(repr(j.name) for j in self.jobs) or "none"
        raise KeyError(f"no job named {name!r} (jobs: {known})")
