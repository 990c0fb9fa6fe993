"""Each EWS job's own certificate rules, although exchangelib's HTTP adapter is process-wide.

exchangelib builds every HTTP session with `BaseProtocol.HTTP_ADAPTER_CLS`, a
class shared by all jobs in the process, and shares one Protocol (its session
pool) between all accounts with the same URL and credentials. So:

- deskmail installs one adapter class, once, whose instances take the rules in
  force (`applying`) when exchangelib makes them: every session made while a job
  opens its account, autodiscover's included (whatever host an SRV record or a
  redirect leads to), trusts what that job trusts;
- the job's Protocol makes its later sessions (a larger pool, a renewal after a
  refused token) under the same rules (`bind`);
- the rules' key is part of the credentials, hence of exchangelib's Protocol and
  autodiscover cache keys: two jobs on one server with different CAs, or one
  that does not verify, never share a session.

Connection pools are keyed by the SSL context, so a pool made for one job's
rules is never reused under another's.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import requests.adapters


@dataclass(frozen=True, slots=True)
class JobTls:
    """How to trust a server: a context with the job's ca_file, and whether to verify at all."""

    key: tuple[str, bool]  # (ca_file, verify): equal keys, equal rules
    context: ssl.SSLContext = field(compare=False)
    verify: bool = field(compare=False)


_in_force: ContextVar[JobTls | None] = ContextVar("deskmail_ews_tls", default=None)


@contextmanager
def applying(rules: JobTls) -> Iterator[None]:
    """Sessions exchangelib makes in this block (in this thread) trust as `rules` say."""
    token = _in_force.set(rules)
    try:
        yield
    finally:
        _in_force.reset(token)


def bind(protocol: Any, rules: JobTls) -> None:
    """Every session `protocol` makes from now on, in any thread, trusts as `rules` say."""
    if getattr(protocol, "deskmail_tls", None) == rules:
        return  # exchangelib's cache gave back a Protocol this job's rules already bound
    make = type(protocol).create_session

    def create_session() -> Any:
        with applying(rules):
            return make(protocol)

    protocol.create_session = create_session
    protocol.deskmail_tls = rules


def keyed(credentials: Any, rules: JobTls) -> Any:
    """`credentials`, told apart by the rules: exchangelib hashes and compares every attribute
    of credentials into its Protocol and autodiscover cache keys."""
    credentials.trust = rules.key
    return credentials


class JobTlsAdapter(requests.adapters.HTTPAdapter):
    """An HTTPAdapter that applies the rules in force when it was made (none: requests' own)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.rules = _in_force.get()
        super().__init__(*args, **kwargs)

    def build_connection_pool_key_attributes(
        self, request: requests.PreparedRequest, verify: Any, cert: Any = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(
            request, verify, cert
        )
        if self.rules is not None:
            pool_kwargs.pop("ca_certs", None)
            pool_kwargs.pop("ca_cert_dir", None)
            pool_kwargs["ssl_context"] = self.rules.context
            pool_kwargs["cert_reqs"] = "CERT_REQUIRED" if self.rules.verify else "CERT_NONE"
        return host_params, pool_kwargs

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        if self.rules is None:
            super().cert_verify(conn, url, verify, cert)
            return
        # The job's context already trusts the system CAs and its ca_file; no bundle on top.
        conn.cert_reqs = "CERT_REQUIRED" if self.rules.verify else "CERT_NONE"
        conn.ca_certs = None
        conn.ca_cert_dir = None


def install() -> None:
    """Make exchangelib build its sessions with JobTlsAdapter (idempotent)."""
    from exchangelib.protocol import BaseProtocol

    BaseProtocol.HTTP_ADAPTER_CLS = JobTlsAdapter
