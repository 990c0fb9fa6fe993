"""`deskmail check`: connect, TLS, log in, open the folder, count, and say where it failed."""

from __future__ import annotations

from deskmail.config.models import AfterProcessing, JobConfig
from deskmail.sources.base import BearerTokens, MailboxInfo
from deskmail.sources.errors import SourceError, Step
from deskmail.sources.factory import open_source
from deskmail.sources.hints import OCTOPUS_HINTS

_HINTS: dict[Step, str] = {
    Step.DNS: "check the server name: it does not resolve from this machine",
    Step.CONNECT: "check server and port; is the service running, does a firewall block it?",
    Step.TIMEOUT: "the server did not answer in time: check port and firewall, or raise timeouts",
    Step.TLS: "check security: ssl for implicit-TLS ports (993, 995), starttls for 143 and 110",
    Step.CERTIFICATE: (
        "set ca_file to the CA that signed the server's certificate to trust it,"
        " or reject_invalid_certificates = false (not recommended)"
    ),
    Step.STARTTLS: (
        "the server offers no STARTTLS: use security = ssl with the implicit-TLS port,"
        " or starttls-if-available to allow clear text (not recommended)"
    ),
    Step.AUTHENTICATION: "check user and the password (password_env / password_file)",
    Step.FOLDER: 'check folder (IMAP: "INBOX/Support" and "INBOX.Support" both work) or path',
    Step.PROTOCOL: "the server's answer was not understood: check protocol and port",
    Step.SECRET: "check password_env / password_file: the password could not be read",
    Step.AUTODISCOVER: (
        "autodiscover found nothing for this address: set service_url"
        " (https://SERVER/EWS/Exchange.asmx) or server"
    ),
    Step.VERSION: 'set exchange_version to the server\'s (2013, 2016, 2019) or to "auto"',
    Step.MAILBOX: (
        "check the mailbox's address (mailbox, or user) and that this login (EWS) or the app"
        " (Graph) may open that mailbox"
    ),
    Step.IDENTITY: "check oauth2.tenant and oauth2.authority, and that this host reaches it",
    Step.CLIENT: "check oauth2.client_id and the client secret or certificate it names",
    Step.CONSENT: "grant (admin consent) the permissions the job's scopes need to the app",
    Step.SIGN_IN: "sign in again with deskmail auth login --job NAME",
}
_HOSTNAME_HINT = (
    "the certificate is not issued for this server name: use the name it was issued for"
)


def check_connection(
    job: JobConfig, password: str | None, tokens: BearerTokens | None = None
) -> MailboxInfo:
    """Every step a real run takes before reading mail; raises SourceError naming the step."""
    with open_source(job, password, tokens=tokens) as source:
        info = source.info()
    if info.read_only and job.effective_after_processing is not AfterProcessing.KEEP:
        raise SourceError(
            Step.FOLDER,
            f"{', '.join(info.read_only)} not writable by this user, and after_processing ="
            f" {job.effective_after_processing.value} renames or deletes the files there",
            server=info.server,
        )
    return info


def describe_failure(err: SourceError, job: JobConfig | None = None) -> str:
    """One line saying where and why it failed, then a hint on the next line, in the
    settings of the job's own file (TOML keys, or an Octopus XML file's tags)."""
    where = f" ({err.server})" if err.server else ""
    hints = OCTOPUS_HINTS if job is not None and job.from_octopus_xml else _HINTS
    hint = err.hint or hints[err.step]
    if err.step is Step.CERTIFICATE and "mismatch" in err.detail:  # "Hostname/IP address mismatch"
        hint = _HOSTNAME_HINT
    return f"FAILED at {err.step.value}{where}: {err.detail}\n  hint: {hint}"
