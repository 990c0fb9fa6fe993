"""sources/https.py against a local HTTPS server: kept-alive connections, a connection the
server dropped while idle, encoding, streaming, certificates."""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import ClassVar

import pytest

from deskmail.sources.https import HttpsClient
from tests.support.https import HttpsServer, https_server


class _Echo(BaseHTTPRequestHandler):
    """Answers what it was asked, and which connection asked it; HTTP/1.1, kept alive
    unless the path asks for "close"."""

    protocol_version = "HTTP/1.1"
    peers: ClassVar[list[int]] = []  # the client port of each request
    lock = threading.Lock()

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        with self.lock:
            self.peers.append(self.client_address[1])
        if "big" in self.path:
            data = b"x" * 300_000
        else:
            data = json.dumps(
                {
                    "method": self.command,
                    "path": self.path,
                    "body": body.decode(),
                    "type": self.headers.get("Content-Type"),
                }
            ).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        if "close" in self.path:
            self.send_header("Connection", "close")
            self.close_connection = True
        if "drop" in self.path:  # closed after the answer without saying so (an idle timeout)
            self.close_connection = True
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PATCH = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server(tmp_path: Path) -> Iterator[HttpsServer]:
    _Echo.peers = []
    with https_server(_Echo, tmp_path) as started:
        yield started


def _client(server: HttpsServer, **options: object) -> HttpsClient:
    return HttpsClient(
        server.ca_file,
        True,
        f"localhost:{server.port}",
        read_timeout=5,
        base_url=f"{server.url}/v1.0",
        **options,  # type: ignore[arg-type]
    )


def test_requests_share_a_kept_alive_connection_and_bodies_are_sent_as_asked(
    server: HttpsServer,
) -> None:
    with _client(server) as client:
        first = client.get("/users/a b@example.com/messages?$select=id&$filter=x eq 'Ü'").json()
        posted = client.request("POST", "users", json_body={"isRead": True}).json()
        form = client.post(f"{server.url}/token", {"grant_type": "client_credentials"}).json()
    # Spaces and non-ASCII percent-encoded; what is already allowed in a URL kept as it is.
    assert first["path"] == (
        "/v1.0/users/a%20b@example.com/messages?$select=id&$filter=x%20eq%20'%C3%9C'"
    )
    assert (posted["method"], posted["path"], posted["body"]) == (
        "POST",
        "/v1.0/users",
        '{"isRead":true}',
    )
    assert posted["type"] == "application/json"
    assert (form["body"], form["type"]) == (
        "grant_type=client_credentials",
        "application/x-www-form-urlencoded",
    )
    assert len(set(_Echo.peers)) == 1  # one connection for the three


@pytest.mark.parametrize("path", ["/close", "/drop"])
def test_a_connection_the_server_closed_is_not_used_again(server: HttpsServer, path: str) -> None:
    with _client(server) as client:
        assert client.get(path).json()["path"] == f"/v1.0{path}"
        for _ in range(2):
            assert client.request("POST", "/after", json_body={}).json()["path"] == "/v1.0/after"
    first, second, third = _Echo.peers
    assert first != second == third


def test_an_unread_body_closes_its_connection_and_a_streamed_one_comes_in_chunks(
    server: HttpsServer,
) -> None:
    with _client(server) as client:
        client.get("/big").close()  # not read: the connection is not handed on half-read
        chunks = list(client.get("/big").iter_bytes(65536))
        assert max(len(chunk) for chunk in chunks) <= 65536
        assert b"".join(chunks) == b"x" * 300_000
        assert client.get("/small").json()["path"] == "/v1.0/small"
    first, second, third = _Echo.peers
    assert first != second and second == third  # the streamed one's connection was reused


def test_an_untrusted_certificate_fails_the_handshake(server: HttpsServer, tmp_path: Path) -> None:
    stranger = HttpsClient(None, True, "localhost", read_timeout=5)
    with pytest.raises(ssl.SSLCertVerificationError):
        stranger.get(f"{server.url}/x")
    unchecked = HttpsClient(None, False, "localhost", read_timeout=5)
    assert unchecked.get(f"{server.url}/x").json()["path"] == "/x"
