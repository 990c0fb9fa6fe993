"""Each EWS job's own certificate rules, although exchangelib's HTTP adapter is process-wide.

exchangelib builds every HTTP session with `BaseProtocol.HTTP_ADAPTER_CLS`, a
class shared by all jobs in the process. deskmail installs one adapter class,
once, that looks up the TLS rules of the server a request goes to (its origin,
scheme://host:port) in a registry each job fills when it opens: two jobs on
two servers with two private CAs each get their own. Connection pools are
keyed by the SSL context, so a pool made for one job's rules is never reused
under another's.
"""

from __future__ import annotations

import ssl
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests.adapters

_lock = threading.Lock()
_rules: dict[str, JobTls] = {}


@dataclass(frozen=True, slots=True)
class JobTls:
    """How to trust one server: a context with the job's ca_file, and whether to verify at all."""

    context: ssl.SSLContext
    verify: bool


def origin(url: str) -> str:
    """scheme://host:port of a URL, lower-cased, with the scheme's port filled in."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    port = parts.port or (443 if scheme == "https" else 80)
    return f"{scheme}://{(parts.hostname or '').lower()}:{port}"


def register(url: str, rules: JobTls) -> None:
    """The rules for every request to `url`'s server, from now on (the latest job's win)."""
    with _lock:
        _rules[origin(url)] = rules


def rules_for(url: str) -> JobTls | None:
    with _lock:
        return _rules.get(origin(url))


class JobTlsAdapter(requests.adapters.HTTPAdapter):
    """An HTTPAdapter that applies the registered rules of the request's server."""

    def build_connection_pool_key_attributes(
        self, request: requests.PreparedRequest, verify: Any, cert: Any = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(
            request, verify, cert
        )
        rules = rules_for(request.url or "")
        if rules is not None:
            pool_kwargs.pop("ca_certs", None)
            pool_kwargs.pop("ca_cert_dir", None)
            pool_kwargs["ssl_context"] = rules.context
            pool_kwargs["cert_reqs"] = "CERT_REQUIRED" if rules.verify else "CERT_NONE"
        return host_params, pool_kwargs

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        rules = rules_for(url)
        if rules is None:
            super().cert_verify(conn, url, verify, cert)
            return
        # The job's context already trusts the system CAs and its ca_file; no bundle on top.
        conn.cert_reqs = "CERT_REQUIRED" if rules.verify else "CERT_NONE"
        conn.ca_certs = None
        conn.ca_cert_dir = None


def install() -> None:
    """Make exchangelib build its sessions with JobTlsAdapter (idempotent)."""
    from exchangelib.protocol import BaseProtocol

    BaseProtocol.HTTP_ADAPTER_CLS = JobTlsAdapter
