"""What the IMAP and POP3 adapters share around one connection.

Every call that talks to the server runs inside `translating`, so callers only
ever see a SourceError that names the step (DNS, TLS, authentication, ...).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager

from deskmail.sources.errors import SourceError, Step
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
