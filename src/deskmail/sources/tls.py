"""TLS for mailboxes and outgoing SMTP, and naming the step a network error stopped at.

Python's mail clients only verify certificates and host names when given a
verifying context (what `ssl.create_default_context()` makes); every
connection here gets one.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import socket
import ssl
from pathlib import Path

from deskmail.config.models import JobConfig, Security
from deskmail.sources.errors import SourceError, Step

_SSL_LOCATION = re.compile(r"\s*\(_ssl\.c:\d+\)$")
_HASH_NAME = re.compile(r"[0-9a-f]{8}\.[0-9]+")  # a CA in a hashed directory: 5a8e7c1b.0
NO_STARTTLS = "the server does not offer STARTTLS; nothing was sent in clear text"


def endpoint(job: JobConfig) -> str:
    """ "host:port", as errors and connection checks name the server."""
    return f"{job.server}:{job.effective_port}"


def make_ssl_context(job: JobConfig) -> ssl.SSLContext:
    """A verifying context for a mailbox; see verifying_context."""
    return verifying_context(job.ca_file, job.reject_invalid_certificates, endpoint(job))


def verifying_context(
    ca_file: Path | None,
    reject_invalid_certificates: bool,
    server: str,
    error: type[SourceError] = SourceError,
) -> ssl.SSLContext:
    """A verifying context; ca_file is trusted on top of the system CAs.

    Shared by the mailbox sources and outgoing SMTP so both apply the same
    certificate rules; `error` is the exception type raised for a bad ca_file.
    Connections with the same trust settings share one context (never changed after
    it is made): a context costs some 19 KiB, and a daemon watching a thousand
    mailboxes had one per IDLE session. A ca_file that changes on disk (a renewed CA)
    gives a new context at the next connection.
    """
    paths = ssl.get_default_verify_paths()
    system = (os.environ.get(paths.openssl_cafile_env), os.environ.get(paths.openssl_capath_env))
    try:
        stamp = _stamp(ca_file)
        return _shared_context(ca_file, stamp, reject_invalid_certificates, system)
    except (OSError, ssl.SSLError) as exc:
        detail = f"cannot use ca_file {str(ca_file)!r}: {explain(exc)}"
        raise error(Step.CERTIFICATE, detail, server=server) from exc


def _stamp(ca_file: Path | None) -> tuple[int, int, int] | None:
    """What changes when ca_file is replaced or rewritten: inode, size, modification time."""
    if ca_file is None:
        return None
    found = os.stat(ca_file)
    return (found.st_ino, found.st_size, found.st_mtime_ns)


@functools.lru_cache(maxsize=32)
def _shared_context(
    ca_file: Path | None,
    stamp: tuple[int, int, int] | None,
    reject_invalid_certificates: bool,
    system: tuple[str | None, str | None],  # SSL_CERT_FILE, SSL_CERT_DIR: where system CAs are
) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies certificate and host name
    _trust_system_cas(context)
    if ca_file is not None:
        context.load_verify_locations(cafile=str(ca_file))
    if not reject_invalid_certificates:
        context.check_hostname = False  # must be switched off before CERT_NONE
        context.verify_mode = ssl.CERT_NONE
    return context


def _trust_system_cas(context: ssl.SSLContext) -> None:
    """The system's CAs, as ssl.create_default_context() trusts them, but read when a
    handshake needs one where the system keeps them by hash (Debian's /etc/ssl/certs):
    loading the whole bundle parses every certificate into every context, which
    shows in a Graph run's peak memory (README "Performance")."""
    paths = ssl.get_default_verify_paths()
    named = os.environ.get(paths.openssl_cafile_env)  # SSL_CERT_FILE
    # Some images name the system's own bundle there: that changes nothing.
    own_bundle = named is None or os.path.realpath(named) == os.path.realpath(paths.openssl_cafile)
    if own_bundle and _hashed_directory(paths.capath):
        context.load_verify_locations(capath=paths.capath)
    else:  # another bundle named, or no hashed directory: every CA loaded now
        context.load_default_certs()


@functools.cache
def _hashed_directory(path: str | None) -> bool:
    """OpenSSL can look a CA up in `path`: it holds subject-hash names (c_rehash's)."""
    if not path:
        return False
    try:
        names = os.listdir(path)
    except OSError:
        return False
    return any(_HASH_NAME.fullmatch(name) for name in names)


def classify(exc: BaseException) -> Step:
    """The step a network exception belongs to; order matters (subclasses first)."""
    if isinstance(exc, socket.gaierror):
        return Step.DNS
    if isinstance(exc, ssl.SSLCertVerificationError):
        return Step.CERTIFICATE
    if isinstance(exc, ssl.SSLError):
        return Step.TLS
    if isinstance(exc, TimeoutError):  # socket.timeout is an alias since 3.10
        return Step.TIMEOUT
    # ConnectionRefusedError, and unreachable networks or dropped connections.
    return Step.CONNECT


def explain(exc: BaseException) -> str:
    """A short human detail for a network exception, without the ssl.c noise."""
    if isinstance(exc, ssl.SSLCertVerificationError) and exc.verify_message:
        return f"certificate verify failed: {exc.verify_message}"
    if isinstance(exc, OSError) and exc.strerror:
        text = exc.strerror
    else:
        text = str(exc) or type(exc).__name__
    return _SSL_LOCATION.sub("", text)


def tls_version(sock: socket.socket | None) -> str | None:
    """ "TLSv1.3" for a TLS socket, None in clear text."""
    return sock.version() if isinstance(sock, ssl.SSLSocket) else None


def starttls_wanted(job: JobConfig, offered: bool, logger: logging.Logger) -> bool:
    """Whether to upgrade a clear connection, decided before any credential is sent.

    starttls without the capability stops here, so a downgrade by a network
    attacker (who strips STARTTLS from the greeting) never exposes the password.
    """
    if job.security not in (Security.STARTTLS, Security.STARTTLS_IF_AVAILABLE):
        return False
    if offered:
        return True
    if job.security is Security.STARTTLS:
        raise SourceError(Step.STARTTLS, NO_STARTTLS, server=endpoint(job))
    logger.warning(
        "%s does not offer STARTTLS: continuing WITHOUT encryption for job %r"
        " (security = starttls-if-available); the password crosses the network in clear",
        endpoint(job),
        job.name,
    )
    return False
