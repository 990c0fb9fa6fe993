"""httpx as deskmail's HTTPS clients use it (Microsoft Graph, the identity platform).

Certificates are verified as for every mailbox (tls.py); proxy variables of
the environment are not followed (a proxy would receive the bearer tokens and
the client secret); httpx's line per request (the mailbox is in the URL) and
httpcore's byte counts stay out of the logs unless asked for by name.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import httpx

from deskmail.sources.tls import verifying_context

for _name in ("httpx", "httpcore"):
    if logging.getLogger(_name).level == logging.NOTSET:
        logging.getLogger(_name).setLevel(logging.WARNING)


def https_client(
    ca_file: Path | None,
    reject_invalid_certificates: bool,
    server: str,
    timeout: httpx.Timeout | float,
    **options: Any,
) -> httpx.Client:
    """An httpx.Client for `server`; `options` go to httpx (base_url, limits)."""
    context = verifying_context(ca_file, reject_invalid_certificates, server)
    return httpx.Client(verify=context, timeout=timeout, trust_env=False, **options)
