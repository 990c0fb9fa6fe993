"""What the IMAP and POP3 adapters share around one connection.

Every call that talks to the server runs inside `translating`, so callers only
ever see a SourceError that names the step (DNS, TLS, authentication, ...).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from deskmail.config.models import AuthMechanism, JobConfig
from deskmail.sources.base import BearerTokens
from deskmail.sources.errors import SourceError, Step
from deskmail.sources.sasl import SaslClient, sasl_client, sasl_name
from deskmail.sources.tls import classify, explain

_BYTES_REPR = re.compile(r"""\bb(['"])(.*?)\1""")


def require_password(password: str | None, server: str) -> str:
    """The password, refused when missing or when it could break a command line."""
    if password is None:
        raise SourceError(Step.SECRET, "no password was given for this job", server=server)
    # A CR/LF would end the LOGIN/PASS line early and let the rest run as a command.
    if any(unicodedata.category(char) == "Cc" for char in password):
        raise SourceError(
            Step.SECRET, "the password contains control characters (line breaks?)", server=server
        )
    return password


# The token is valid (the identity provider issued it, a fresh one fails alike), so the
# mail server does not let this principal into this mailbox: say what Exchange lacks.
XOAUTH2_REFUSED_HINT = (
    "the identity provider issued the token but the mail server refused it: in Exchange"
    " Online, app-only access needs the app's service principal registered in Exchange"
    " (New-ServicePrincipal) and a mailbox permission for it (Add-MailboxPermission"
    " -AccessRights FullAccess), plus IMAP.AccessAsApp / POP.AccessAsApp with admin consent;"
    " a signed-in person needs FullAccess to a shared mailbox; IMAP or POP must be enabled"
    " for the mailbox (Set-CASMailbox)"
)


def login_mechanism(job: JobConfig) -> AuthMechanism:
    """The mechanism a job asks for: XOAUTH2 whenever it signs in with OAuth2."""
    return AuthMechanism.XOAUTH2 if job.oauth2 is not None else job.auth_mechanism


def login_secret(
    job: JobConfig, password: str | None, tokens: BearerTokens | None, server: str
) -> str:
    """The password, or for an OAuth2 job an access token (named SourceError if none)."""
    if job.oauth2 is None:
        return require_password(password, server)
    if tokens is None:
        raise SourceError(
            Step.SIGN_IN,
            "this job signs in with OAuth2 but no token source was given",
            server=server,
        )
    return tokens.token()


def renewing_refused_token(
    login: Callable[[str], None], token: str, tokens: BearerTokens | None, server: str
) -> None:
    """Log in with `token`; when refused, once more with a fresh one (revoked or rotated
    early); a fresh token refused too is a permission Exchange lacks, said in the hint."""
    try:
        login(token)
        return
    except SourceError as exc:
        if exc.step is not Step.AUTHENTICATION or tokens is None:
            raise
    try:
        login(tokens.refused(token))
    except SourceError as again:
        if again.step is Step.AUTHENTICATION and not again.hint:
            again.hint = XOAUTH2_REFUSED_HINT
        raise


def sasl_login(
    mechanism: AuthMechanism,
    wanted: AuthMechanism,
    user: str,
    secret: str,
    tokens: BearerTokens | None,
    server: str,
    exchange: Callable[[SaslClient], None],
) -> None:
    """One SASL login, the protocol's own exchange given as `exchange`: a refusal says
    what auto chose; an XOAUTH2 token the server refuses is renewed once."""

    def attempt(proof: str) -> None:
        with auto_chose(wanted, mechanism):
            exchange(sasl_client(mechanism, user, proof))

    if mechanism is AuthMechanism.XOAUTH2:
        renewing_refused_token(attempt, secret, tokens, server)
    else:
        attempt(secret)


def choose_mechanism(
    wanted: AuthMechanism, offered: Callable[[], frozenset[str]], encrypted: bool, server: str
) -> AuthMechanism | None:
    """The SASL mechanism to log in with; None for the protocol's own LOGIN or USER/PASS.

    `offered` gives the mechanism names the server announces (asked only when needed).
    A mechanism the job names must be offered: no silent fall-back to another one,
    which could send the password in clear where the job asked for NTLM or CRAM-MD5.
    auto keeps the plain login over TLS, where it works with every password store;
    without TLS it prefers CRAM-MD5 when offered, so no password crosses the network
    readable. auto never picks NTLM: it works only once the server's Windows domain does.
    """
    if wanted is AuthMechanism.AUTO:
        if not encrypted and sasl_name(AuthMechanism.CRAM_MD5) in offered():
            return AuthMechanism.CRAM_MD5
        return None
    names = offered()
    if sasl_name(wanted) not in names:
        offers = f"it offers {', '.join(sorted(names))}" if names else "it announces none"
        raise SourceError(
            Step.AUTHENTICATION,
            f"the server does not offer {sasl_name(wanted)} ({offers})",
            server=server,
            hint=f'set auth_mechanism to one the server offers, or to "auto" (it is "{wanted}")',
        )
    return wanted


@contextmanager
def auto_chose(wanted: AuthMechanism, mechanism: AuthMechanism) -> Iterator[None]:
    """A refusal of the mechanism auto picked says so: the password may be right all the same."""
    try:
        yield
    except SourceError as exc:
        if wanted is AuthMechanism.AUTO and exc.step is Step.AUTHENTICATION and not exc.hint:
            exc.hint = (
                f'auth_mechanism = "auto" used {sasl_name(mechanism)}, offered on this connection'
                " without TLS; if the password is right, the server may not keep it in a form"
                f" {sasl_name(mechanism)} can use: set security to ssl or starttls,"
                ' or auth_mechanism = "login" (the password then crosses the network readable)'
            )
        raise


def protocol_detail(exc: BaseException) -> str:
    """The server's words from a protocol exception, without Python's b'...' wrapping."""
    first = exc.args[0] if exc.args else ""
    text = first.decode("utf-8", "replace") if isinstance(first, bytes) else str(first)
    # imaplib and imapclient format server bytes with str(): "login failed: b'[AUTH...]'".
    text = _BYTES_REPR.sub(lambda match: match.group(2), text)
    return text.strip() or type(exc).__name__


@contextmanager
def translating(
    server: str, step: Step, protocol_errors: tuple[type[Exception], ...]
) -> Iterator[None]:
    """Turn failures into SourceError: refusals become `step`, network errors are classified."""
    try:
        yield
    except SourceError:
        raise
    except protocol_errors as exc:
        cause = exc.__context__
        if isinstance(cause, OSError):  # imaplib wraps a lost connection in IMAP4.abort
            raise SourceError(classify(cause), explain(cause), server=server) from exc
        raise SourceError(step, protocol_detail(exc), server=server) from exc
    except OSError as exc:  # also ssl.SSLError and TimeoutError
        raise SourceError(classify(exc), explain(exc), server=server) from exc
