"""sources/tls.py: the system's CAs are trusted as ssl.create_default_context() trusts
them, read by hash when a handshake needs one rather than all loaded up front; one context
for every connection with the same trust settings."""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from deskmail.sources.errors import SourceError, Step
from deskmail.sources.tls import verifying_context
from tests.support.dovecot import _write_certificate
from tests.support.https import HttpsServer, https_server


@pytest.fixture
def server(tmp_path: Path) -> Iterator[HttpsServer]:
    directory = tmp_path / "server"
    directory.mkdir()
    with https_server(BaseHTTPRequestHandler, directory) as running:
        yield running


def _hashed(directory: Path, certificate: Path) -> Path:
    """`directory` as c_rehash leaves it: the certificate under its subject hash."""
    directory.mkdir()
    done = subprocess.run(
        ["openssl", "x509", "-hash", "-noout", "-in", str(certificate)],
        capture_output=True,
        text=True,
        check=True,
    )
    shutil.copy(certificate, directory / f"{done.stdout.strip()}.0")
    return directory


def _handshake(context: ssl.SSLContext, server: HttpsServer) -> None:
    with (
        socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname="localhost"),
    ):
        pass


def test_system_cas_are_read_by_hash_when_a_handshake_needs_one(
    server: HttpsServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.setenv("SSL_CERT_DIR", str(_hashed(tmp_path / "certs", server.ca_file)))
    context = verifying_context(None, True, "localhost")
    assert context.cert_store_stats()["x509_ca"] == 0  # nothing parsed up front
    _handshake(context, server)
    assert context.cert_store_stats()["x509_ca"] == 1  # the one CA the handshake needed
    # Another certificate under the same name (the same hash) is not the server's CA.
    (tmp_path / "other-key").mkdir()
    other, _ = _write_certificate(tmp_path / "other-key")
    monkeypatch.setenv("SSL_CERT_DIR", str(_hashed(tmp_path / "other", other)))
    with pytest.raises(ssl.SSLCertVerificationError):
        _handshake(verifying_context(None, True, "localhost"), server)


def test_a_bundle_named_by_ssl_cert_file_is_trusted_whole(
    server: HttpsServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("SSL_CERT_DIR", str(empty))
    monkeypatch.setenv("SSL_CERT_FILE", str(server.ca_file))
    context = verifying_context(None, True, "localhost")
    assert context.cert_store_stats()["x509_ca"] == 1
    _handshake(context, server)


def test_connections_with_the_same_trust_share_one_context(
    server: HttpsServer, tmp_path: Path
) -> None:
    ca_file = tmp_path / "ca.pem"
    shutil.copy(server.ca_file, ca_file)
    first = verifying_context(ca_file, True, "localhost")
    assert verifying_context(ca_file, True, "localhost") is first
    assert verifying_context(ca_file, False, "localhost") is not first
    assert verifying_context(None, True, "localhost") is not first
    _handshake(first, server)


def test_a_renewed_ca_file_is_read_again(server: HttpsServer, tmp_path: Path) -> None:
    (tmp_path / "other-key").mkdir()
    other, _ = _write_certificate(tmp_path / "other-key")
    ca_file = tmp_path / "ca.pem"
    shutil.copy(other, ca_file)
    stale = verifying_context(ca_file, True, "localhost")
    with pytest.raises(ssl.SSLCertVerificationError):
        _handshake(stale, server)
    shutil.copy(server.ca_file, tmp_path / "renewed.pem")
    (tmp_path / "renewed.pem").replace(ca_file)  # as a renewal writes it: a new file
    renewed = verifying_context(ca_file, True, "localhost")
    assert renewed is not stale
    _handshake(renewed, server)


def test_a_bad_ca_file_is_refused_every_time(tmp_path: Path) -> None:
    bad = tmp_path / "ca.pem"
    bad.write_text("not a certificate\n")
    for _ in range(2):  # a failure is not remembered as a context
        with pytest.raises(SourceError, match="cannot use ca_file") as refused:
            verifying_context(bad, True, "mail.example:993")
        assert refused.value.step is Step.CERTIFICATE
    with pytest.raises(SourceError, match="cannot use ca_file"):
        verifying_context(tmp_path / "missing.pem", True, "mail.example:993")
