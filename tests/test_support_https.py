"""The HTTPS server the fakes run on: a real TLS handshake, trusted through its CA file."""

from __future__ import annotations

import ssl
import urllib.request
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from tests.support.https import https_server


class _Hello(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = f"hello {self.path}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # quiet in test output
        pass


def test_served_over_tls_to_a_client_that_trusts_its_ca(tmp_path: Path) -> None:
    with https_server(_Hello, tmp_path) as server:
        trusting = ssl.create_default_context(cafile=str(server.ca_file))
        with urllib.request.urlopen(f"{server.url}/x", context=trusting, timeout=5) as answer:
            assert answer.read() == b"hello /x"
        with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):
            urllib.request.urlopen(server.url, context=ssl.create_default_context(), timeout=5)
