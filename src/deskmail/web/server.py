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
import threading

import uvicorn
from fastapi import FastAPI

from deskmail.config.models import WebConfig

log = logging.getLogger("deskmail.web")
STOP_GRACE = 10.0


class WebServerError(RuntimeError):
    """The web server could not start (address in use, unreadable TLS file...)."""


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
        if self._socket is None:
            return self._port
        return int(self._socket.getsockname()[1])

    def start(self, timeout: float = 15.0) -> None:
        """Listen and serve; returns once requests are answered (WebServerError if not)."""
        family = socket.AF_INET6 if ":" in self._web.listen else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self._web.listen, self._port))
        except OSError as exc:
            sock.close()
            raise WebServerError(
                f"cannot listen on {self._web.listen}:{self._port}: {exc.strerror}"
                " (is another deskmail, or another program, using it? set [web] port)"
            ) from None
        self._socket = sock
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
            raise WebServerError(f"the web server on {self.url} did not start{reason}")

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
