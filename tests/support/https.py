"""A local HTTPS server for the fakes of Microsoft's services (identity platform, Graph, EWS).

Real clients (msal, httpx, exchangelib) talk to it over TLS with the same
self-signed certificate for localhost and 127.0.0.1 that Dovecot's tests use;
a test trusts it through the job's ca_file (or SSL_CERT_FILE / REQUESTS_CA_BUNDLE
for a library that reads only those). Each fake is a request handler class.
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.support.dovecot import _write_certificate


class HttpsServer:
    """`handler` served over TLS on 127.0.0.1 at `port` (a free one by default), in a thread."""

    def __init__(
        self,
        handler: type[BaseHTTPRequestHandler],
        directory: Path,
        port: int = 0,
        names: tuple[str, ...] = (),
    ) -> None:
        """`names`: host names the certificate carries besides localhost."""
        self.ca_file, key_file = _write_certificate(directory, names)
        self._server = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self._server.daemon_threads = True
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.ca_file, key_file)
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """https://localhost:PORT, a name the certificate carries (no port when it is 443)."""
        return "https://localhost" if self.port == 443 else f"https://localhost:{self.port}"

    def start(self) -> HttpsServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@contextmanager
def https_server(handler: type[BaseHTTPRequestHandler], directory: Path) -> Iterator[HttpsServer]:
    server = HttpsServer(handler, directory).start()
    try:
        yield server
    finally:
        server.stop()
