"""Serving the application with uvicorn in a thread of its own.

`deskmail serve` keeps its main thread for signals (sigwait) and a thread per
job; uvicorn gets one more thread with its own asyncio loop. A thread rather
than sharing a loop: the jobs' stack (imapclient, poplib, SQLAlchemy) is
blocking, so there is no daemon loop to share, and a stuck job cannot stall
the UI. The socket is bound before the thread starts, so an address in use is
reported at once, by the command, in plain words.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
import threading

import uvicorn
from fastapi import FastAPI

from deskmail.config.models import WebConfig

log = logging.getLogger("deskmail.web")
STOP_GRACE = 10.0


class WebServerError(RuntimeError):
    """The web server could not start (address in use, unreadable TLS file...)."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{key}: {problem}")
        self.key = key  # the [web] setting to look at
        self.problem = problem


class WebServer:
    def __init__(self, app: FastAPI, web: WebConfig, *, port: int | None = None) -> None:
        self._web = web
        self._port = web.port if port is None else port  # 0: any free port (tests)
        self._app = app
        self._socket: socket.socket | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._failure: BaseException | None = None

    @property
    def url(self) -> str:
        host = self._web.listen
        if ":" in host:
            host = f"[{host}]"
        scheme = "https" if self._web.uses_tls else "http"
        return f"{scheme}://{host}:{self.port}"

    @property
    def port(self) -> int:
        return self._port  # the one bound once started (port 0 asks for any free one)

    def _check_tls(self) -> None:
        """Load the certificate and key once here, so that a bad one is named in plain words."""
        certificate, key = self._web.tls_certificate, self._web.tls_key
        if certificate is None or key is None:
            return
        try:
            ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(certificate, key)
        except OSError as exc:  # ssl.SSLError is an OSError too
            missing = next((path for path in (certificate, key) if not path.is_file()), None)
            if missing is not None:
                which = "tls_certificate" if missing == certificate else "tls_key"
                raise WebServerError(which, f"cannot read {missing}") from None
            reason = getattr(exc, "reason", None) or exc.strerror or exc
            raise WebServerError(
                "tls_certificate",
                f"{certificate} and tls_key {key} are not a PEM certificate and its private key"
                f" ({reason})",
            ) from None

    def start(self, timeout: float = 15.0) -> None:
        """Listen and serve; returns once requests are answered (WebServerError if not)."""
        self._check_tls()
        family = socket.AF_INET6 if ":" in self._web.listen else socket.AF_INET
        # IPPROTO_TCP named: asyncio turns Nagle off only on sockets that say TCP, and an
        # accepted socket says what the listening one does. With proto 0, every answer on
        # a kept-alive connection waited for the client's delayed ACK.
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self._web.listen, self._port))
        except OSError as exc:
            sock.close()
            raise WebServerError(
                "port",
                f"cannot listen on {self._web.listen}:{self._port}: {exc.strerror}"
                " (is another deskmail, or another program, using it?)",
            ) from None
        self._socket = sock
        self._port = int(sock.getsockname()[1])
        config = uvicorn.Config(
            self._app,
            log_config=None,  # deskmail's logging, not uvicorn's
            access_log=False,
            lifespan="off",
            ssl_certfile=self._web.tls_certificate,
            ssl_keyfile=self._web.tls_key,
            proxy_headers=bool(self._web.trusted_proxies),
            forwarded_allow_ips=list(self._web.trusted_proxies) or None,
            server_header=False,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._serve, name="web", daemon=True)
        self._thread.start()
        waited = 0.0
        while not self._server.started and self._thread.is_alive() and waited < timeout:
            self._thread.join(0.02)
            waited += 0.02
        if not self._server.started:
            self.stop()
            reason = f": {self._failure}" if self._failure else ""
            raise WebServerError("listen", f"the web server on {self.url} did not start{reason}")

    def _serve(self) -> None:
        assert self._server is not None and self._socket is not None
        try:
            asyncio.run(self._server.serve(sockets=[self._socket]))
        except BaseException as exc:  # SystemExit from uvicorn on a bad TLS file, ...
            self._failure = exc
            log.error("web server stopped: %s", exc)

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(STOP_GRACE)
        if self._socket is not None:
            self._socket.close()
