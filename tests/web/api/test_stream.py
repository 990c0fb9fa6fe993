"""GET /api/v1/stream: server-sent events of new tickets, runs and the quarantine, seen
across front ends on one database; no mail text in them."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable

import httpx
import pytest

from deskmail.intake.run import run_job
from deskmail.store.accounts import Role
from tests.support.jobs import drop_mail
from tests.web.conftest import LiveWeb
from tests.web.quarantined import apply_fails


def _events(text: str) -> list[tuple[str, dict[str, object]]]:
    found = []
    for block in text.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "event" in fields:
            found.append((fields["event"], json.loads(fields["data"])))
    return found


def test_a_second_front_end_streams_what_a_run_elsewhere_did(
    web_factory: Callable[..., LiveWeb], monkeypatch: pytest.MonkeyPatch
) -> None:
    first = web_factory()
    second = web_factory(users=False)  # the same database, another server and Store
    token = first.token(Role.VIEWER)
    received: list[str] = []
    connected = threading.Event()

    def listen() -> None:
        with httpx.stream(
            "GET",
            f"{second.url}/api/v1/stream",
            params={"max_seconds": 8},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        ) as answer:
            assert answer.headers["content-type"].startswith("text/event-stream")
            for chunk in answer.iter_text():
                received.append(chunk)
                connected.set()

    listener = threading.Thread(target=listen)
    listener.start()
    assert connected.wait(10)
    drop_mail(first.mailbox, "a", "ann@example.com", "Secret project Falcon")
    drop_mail(first.mailbox, "b", "bob@example.com", "BOOM")
    with apply_fails(monkeypatch):
        run_job(first.store, first.config.jobs[0], config=first.config)
    listener.join(20)
    assert not listener.is_alive()

    text = "".join(received)
    assert text.startswith("retry: ")
    events = _events(text)
    tickets = [data for name, data in events if name == "ticket.created"]
    # The new incident, and the event that reports the quarantined mail.
    assert {ticket["kind"] for ticket in tickets} == {"incident", "event"}
    assert all(str(ticket["reference"]).startswith("IT-") for ticket in tickets)
    runs = [data for name, data in events if name == "run"]
    assert runs and runs[-1]["outcome"] == "ok" and runs[-1]["job"] == "Support"
    assert ("quarantine", {"count": 1}) in events
    assert "Falcon" not in text and "ann@example.com" not in text  # no mail text


def test_the_stream_needs_a_token_and_checks_its_bound(web: LiveWeb) -> None:
    assert web.client().get("/api/v1/stream").status_code == 401
    bad = web.api(Role.VIEWER).get("/api/v1/stream", params={"max_seconds": 0})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "query.max_seconds"
