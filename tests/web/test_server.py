"""The web server's own sockets (server.py)."""

from __future__ import annotations

import socket

import httpx
from fastapi import FastAPI

from deskmail.config.models import WebConfig
from deskmail.web.server import WebServer


def test_answers_are_sent_without_waiting_for_the_clients_ack() -> None:
    """Nagle off on served connections: with it on, an answer on a kept-alive connection
    waited for the client's delayed ACK (some 40 ms on Linux) before its body went out."""
    app = FastAPI()

    @app.get("/ping")
    def ping() -> str:
        return "pong"

    server = WebServer(app, WebConfig(), port=0)
    server.start()
    try:
        with httpx.Client(base_url=server.url) as client:
            assert client.get("/ping").json() == "pong"
            assert server._server is not None
            connections = list(server._server.server_state.connections)
            assert len(connections) == 1  # the client's, kept alive
            served = connections[0].transport.get_extra_info("socket")  # type: ignore[attr-defined]
            assert served.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    finally:
        server.stop()
