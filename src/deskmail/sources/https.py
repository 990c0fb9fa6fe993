"""HTTPS for deskmail's clients of Microsoft's services (Graph, the identity platform).

The standard library's http.client, with a few kept-alive connections per
server shared by the Graph source's threads. Not httpx: a Graph run needs
GET, POST and PATCH bodies of JSON, a streamed body and keep-alive, no
more, and httpx's import (with httpcore, h11, idna, cookiejar and part of
pygments) and its connection pool added about 3 MiB to the peak memory of a
1,000-mail Graph run, which is to stay within the IMAP run's (README,
"Performance"). Certificates are verified as for every mailbox (tls.py);
proxy variables of the environment are not followed (a proxy would receive
the bearer tokens and the client secret); nothing is logged (a request line
would name the mailbox).
"""

from __future__ import annotations

import http.client
import json
import select
import threading
import urllib.parse
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from deskmail.sources.tls import verifying_context

# What a connection dropped by the server while it sat idle raises on its next request.
_DROPPED = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)
# Characters left as they are in a path or a query; anything else is percent-encoded.
_SAFE = "/:@!$&'()*+,;=%-._~?"
USER_AGENT = "deskmail"


class HttpsError(Exception):
    """The server's answer broke HTTP (http.client.HTTPException, other than a drop)."""


class Answer:
    """One answer; its body is read by read(), json() or iter_bytes(), then the connection
    goes back to the pool (or is closed when the body was left unread)."""

    def __init__(
        self, response: http.client.HTTPResponse, url: str, release: Any, discard: Any
    ) -> None:
        self._response = response
        self.url = url
        self.status_code = response.status
        self.reason_phrase = response.reason
        self.headers = response.headers  # case-insensitive get()
        self._release = release  # the connection, reusable
        self._discard = discard  # the connection, closed
        self._body: bytes | None = None

    @property
    def path(self) -> str:
        return urllib.parse.urlsplit(self.url).path

    def read(self) -> bytes:
        if self._body is None:
            try:
                self._body = self._response.read()
            except http.client.HTTPException as exc:
                self._finish(False)
                raise HttpsError(str(exc) or type(exc).__name__) from exc
            except BaseException:
                self._finish(False)
                raise
            self._finish(True)
        return self._body

    def iter_bytes(self, size: int) -> Iterator[bytes]:
        """The body in chunks of at most `size` bytes, never all of it at once."""
        if self._body is not None:
            yield self._body
            return
        complete = False
        try:
            while chunk := self._response.read(size):
                yield chunk
            complete = True
        except http.client.HTTPException as exc:
            raise HttpsError(str(exc) or type(exc).__name__) from exc
        finally:
            self._body = b""
            self._finish(complete)

    def json(self) -> Any:
        return json.loads(self.read())

    def close(self) -> None:
        """Done with the answer: an unread body closes the connection rather than wait."""
        if self._body is None:
            self._body = b""
            self._finish(False)

    def _finish(self, complete: bool) -> None:
        if complete and not self._response.will_close:
            self._release()
        else:
            self._response.close()
            self._discard()


class HttpsClient:
    """Requests to `base_url` (or absolute https URLs), at most `max_connections` kept alive
    per server; thread-safe. `server` names the server in errors (tls.py)."""

    def __init__(
        self,
        ca_file: Path | None,
        reject_invalid_certificates: bool,
        server: str,
        *,
        read_timeout: float,
        connect_timeout: float | None = None,
        base_url: str = "",
        max_connections: int = 4,
    ) -> None:
        self._context = verifying_context(ca_file, reject_invalid_certificates, server)
        self._read_timeout = read_timeout
        self._connect_timeout = connect_timeout or read_timeout
        self._base = base_url.rstrip("/")
        self._max = max_connections
        self._idle: dict[tuple[str, int], list[http.client.HTTPSConnection]] = {}
        self._lock = threading.Lock()

    def __enter__(self) -> HttpsClient:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, {}
        for connections in idle.values():
            for connection in connections:
                connection.close()

    def get(self, url: str, headers: Mapping[str, str] | None = None) -> Answer:
        return self.request("GET", url, headers=headers)

    def post(self, url: str, data: Mapping[str, str]) -> Answer:
        """A form POST (application/x-www-form-urlencoded)."""
        return self.request("POST", url, form=data)

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        json_body: Any = None,
        form: Mapping[str, str] | None = None,
    ) -> Answer:
        """The answer with its body unread; raises OSError (socket, TLS, timeout) or
        HttpsError. No redirect is followed."""
        absolute = url if url.startswith("https://") else self._join(url)
        parts = urllib.parse.urlsplit(absolute)
        if parts.scheme != "https" or not parts.hostname:
            raise ValueError(f"not an https URL: {absolute}")
        target = urllib.parse.quote(parts.path or "/", safe=_SAFE)
        if parts.query:
            target += "?" + urllib.parse.quote(parts.query, safe=_SAFE)
        sent = {"User-Agent": USER_AGENT, "Accept": "application/json", **(headers or {})}
        body: bytes | None = None
        if json_body is not None:
            body = json.dumps(json_body, separators=(",", ":")).encode()
            sent["Content-Type"] = "application/json"
        elif form is not None:
            body = urllib.parse.urlencode(form).encode()
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        elif method in ("POST", "PATCH", "PUT"):
            body = b""
        origin = (parts.hostname, parts.port or 443)
        while True:
            connection, reused = self._connection(origin)
            try:
                connection.request(method, target, body=body, headers=sent)
                response = connection.getresponse()
            except _DROPPED:
                connection.close()
                if reused:  # closed by the server while idle: once more on a new one
                    continue
                raise
            except http.client.HTTPException as exc:
                connection.close()
                raise HttpsError(str(exc) or type(exc).__name__) from exc
            except BaseException:
                connection.close()
                raise
            return Answer(
                response,
                absolute,
                lambda c=connection: self._put_back(origin, c),
                connection.close,
            )

    # ---- the pool -----------------------------------------------------------

    def _join(self, url: str) -> str:
        if not self._base:
            raise ValueError(f"a relative URL without a base: {url}")
        return f"{self._base}{url if url.startswith('/') else '/' + url}"

    def _connection(self, origin: tuple[str, int]) -> tuple[http.client.HTTPSConnection, bool]:
        with self._lock:
            idle = self._idle.get(origin, [])
            while idle:
                connection = idle.pop()
                if not _dropped(connection):
                    return connection, True
                connection.close()
        host, port = origin
        connection = http.client.HTTPSConnection(
            host, port, timeout=self._connect_timeout, context=self._context
        )
        connection.connect()
        if connection.sock is not None:
            connection.sock.settimeout(self._read_timeout)
        return connection, False

    def _put_back(self, origin: tuple[str, int], connection: http.client.HTTPSConnection) -> None:
        with self._lock:
            idle = self._idle.setdefault(origin, [])
            if len(idle) < self._max:
                idle.append(connection)
                return
        connection.close()


def _dropped(connection: http.client.HTTPSConnection) -> bool:
    """An idle connection the server closed (readable with nothing owed is an EOF)."""
    sock = connection.sock
    if sock is None:
        return True
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)
