"""/api/v1/webhooks and /api/v1/deliveries against a real receiver: the secret once, send
test and redeliver verified with the Standard Webhooks reference library, the delivery
log, edits, refusals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from standardwebhooks import Webhook

from deskmail.intake.run import run_job
from deskmail.store.accounts import Role
from tests.support.jobs import drop_mail
from tests.support.webhook_receiver import Receiver
from tests.web.conftest import LiveWeb


def _add(admin: httpx.Client, url: str, *events: str, **more: Any) -> dict[str, Any]:
    answer = admin.post(
        "/api/v1/webhooks", json={"url": url, "events": list(events) or ["ticket.created"], **more}
    )
    assert answer.status_code == 201, answer.text
    made: dict[str, Any] = answer.json()
    return made


def test_the_secret_is_in_the_creation_answer_only(web: LiveWeb, receiver: Receiver) -> None:
    admin = web.api(Role.ADMIN)
    answer = admin.post(
        "/api/v1/webhooks",
        json={
            "url": receiver.url,
            "events": ["run.failed", "ticket.created"],
            "description": "ops",
        },
    )
    assert answer.status_code == 201
    made = answer.json()
    assert made["secret"].startswith("whsec_")
    assert answer.headers["location"] == f"/api/v1/webhooks/{made['id']}"
    # In the order of the event kinds, whatever order they were asked in.
    assert made["events"] == ["ticket.created", "run.failed"]
    assert made["enabled"] is True and made["include_subject"] is False
    for later in (admin.get(f"/api/v1/webhooks/{made['id']}"), admin.get("/api/v1/webhooks")):
        assert later.status_code == 200
        assert made["secret"] not in later.text and "secret" not in later.text


def test_send_test_posts_a_signed_event_and_logs_the_attempt(
    web: LiveWeb, receiver: Receiver
) -> None:
    admin = web.api(Role.ADMIN)
    made = _add(admin, receiver.url)
    result = admin.post(f"/api/v1/webhooks/{made['id']}/test")
    assert result.status_code == 200, result.text
    tested = result.json()
    assert tested["delivered"] is True and tested["response_status"] == 200
    [request] = receiver.wait_for(1)
    document = Webhook(made["secret"]).verify(request.body, request.headers)
    assert document["type"] == "webhook.test"
    assert document["data"]["endpoint_id"] == made["id"]
    assert request.webhook_id == tested["webhook_id"]

    page = admin.get(f"/api/v1/webhooks/{made['id']}/deliveries").json()
    [delivery] = page["items"]
    assert page["next_cursor"] is None
    assert delivery["status"] == "delivered" and delivery["event"] == "webhook.test"
    assert delivery["last_attempt"]["response_status"] == 200
    assert delivery["last_attempt"]["duration_ms"] >= 0

    detail = admin.get(f"/api/v1/deliveries/{delivery['id']}").json()
    assert detail["request_body"] == request.body.decode()
    [attempt] = detail["log"]
    assert attempt["request_headers"]["webhook-signature"] == request.headers["webhook-signature"]
    assert attempt["response_body"] == '{"ok": true}'


def test_a_failing_receiver_is_logged_and_redelivered_under_the_same_id(
    web: LiveWeb, receiver: Receiver
) -> None:
    admin = web.api(Role.ADMIN)
    made = _add(admin, receiver.url, "ticket.created")
    # A real event: the run queues ticket.created; no scheduler runs here, so it waits.
    drop_mail(web.mailbox, "a", "ann@example.com", "Printer jammed")
    run_job(web.store, web.config.jobs[0], config=web.config)
    [queued] = admin.get(f"/api/v1/webhooks/{made['id']}/deliveries").json()["items"]
    assert queued["status"] == "pending" and queued["event"] == "ticket.created"
    assert queued["last_attempt"] is None

    receiver.answers.append(503)
    failed = admin.post(f"/api/v1/deliveries/{queued['id']}/redeliver").json()
    assert failed["delivered"] is False and failed["response_status"] == 503
    assert failed["error"].startswith("HTTP 503") and failed["next_attempt_at"] is not None
    again = admin.post(f"/api/v1/deliveries/{queued['id']}/redeliver").json()
    assert again["delivered"] is True

    first, second = receiver.wait_for(2)
    assert first.webhook_id == second.webhook_id == queued["webhook_id"]
    for request in (first, second):
        document = Webhook(made["secret"]).verify(request.body, request.headers)
        assert document["type"] == "ticket.created"
        assert "subject" not in document["data"]  # mail text only when asked for
    detail = admin.get(f"/api/v1/deliveries/{queued['id']}").json()
    assert [a["response_status"] for a in detail["log"]] == [503, 200]
    assert detail["log"][0]["response_body"] == "receiver says no"
    assert detail["status"] == "delivered"


def test_change_disable_and_remove(web: LiveWeb, receiver: Receiver) -> None:
    admin = web.api(Role.ADMIN)
    made = _add(admin, receiver.url)
    path = f"/api/v1/webhooks/{made['id']}"
    changed = admin.patch(
        path, json={"events": ["event.opened", "event.closed"], "include_subject": True}
    ).json()
    assert changed["events"] == ["event.opened", "event.closed"]
    assert changed["include_subject"] is True and changed["url"] == receiver.url

    delivery = admin.post(f"{path}/test").json()["delivery_id"]
    off = admin.patch(path, json={"enabled": False}).json()
    assert off["enabled"] is False and off["disabled_reason"] == "disabled by hand"
    refused = admin.post(f"/api/v1/deliveries/{delivery}/redeliver")
    assert refused.status_code == 409 and "enable it first" in refused.json()["detail"]
    assert admin.patch(path, json={"enabled": True}).json()["disabled_reason"] is None

    assert admin.delete(path).status_code == 204
    assert admin.get(path).status_code == 404
    assert admin.get(f"{path}/deliveries").status_code == 404
    assert admin.get(f"/api/v1/deliveries/{delivery}").status_code == 404
    assert admin.delete(path).status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "ftp://example.org/x", "events": ["ticket.created"]}, "body.url"),
        ({"url": "https://exa mple.org/", "events": ["ticket.created"]}, "body.url"),
        ({"url": "https://u:p@example.org/", "events": ["ticket.created"]}, "body.url"),
        ({"url": "https://example.org/", "events": ["webhook.test"]}, "body.events"),
        ({"url": "https://example.org/", "events": []}, "body.events"),
        ({"url": "https://example.org/", "events": ["ticket.eaten"]}, "body.events.0"),
        (
            {"url": "https://example.org/", "events": ["run.failed"], "description": "a\x00b"},
            "body.description",
        ),
    ],
)
def test_bad_input_is_a_problem_naming_the_field(
    web: LiveWeb, body: dict[str, Any], field: str
) -> None:
    answer = web.api(Role.ADMIN).post("/api/v1/webhooks", json=body)
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["errors"][0]["field"] == field


def test_lists_are_paged_by_cursor(web: LiveWeb, receiver: Receiver) -> None:
    admin = web.api(Role.ADMIN)
    ids = [_add(admin, f"{receiver.url}/{n}")["id"] for n in range(3)]
    first = admin.get("/api/v1/webhooks", params={"limit": 2}).json()
    assert [e["id"] for e in first["items"]] == ids[:2] and first["next_cursor"]
    rest = admin.get("/api/v1/webhooks", params={"limit": 2, "cursor": first["next_cursor"]})
    assert [e["id"] for e in rest.json()["items"]] == ids[2:]
    assert rest.json()["next_cursor"] is None
    bad = admin.get("/api/v1/webhooks", params={"cursor": "nonsense"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "query.cursor"

    for _ in range(3):
        admin.post(f"/api/v1/webhooks/{ids[0]}/test")
    deliveries = f"/api/v1/webhooks/{ids[0]}/deliveries"
    page = admin.get(deliveries, params={"limit": 2}).json()
    more = admin.get(deliveries, params={"limit": 2, "cursor": page["next_cursor"]}).json()
    assert len(page["items"]) == 2 and len(more["items"]) == 1
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert admin.get(deliveries, params={"updated_since": later}).json()["items"] == []
    assert admin.get(deliveries, params={"status": "failed"}).json()["items"] == []


@pytest.mark.parametrize("role", [Role.AGENT, Role.VIEWER])
def test_only_admins_reach_webhooks(web: LiveWeb, role: Role, receiver: Receiver) -> None:
    made = _add(web.api(Role.ADMIN), receiver.url)
    client = web.api(role)
    for method, path in [
        ("GET", "/api/v1/webhooks"),
        ("POST", "/api/v1/webhooks"),
        ("GET", f"/api/v1/webhooks/{made['id']}"),
        ("PATCH", f"/api/v1/webhooks/{made['id']}"),
        ("DELETE", f"/api/v1/webhooks/{made['id']}"),
        ("GET", f"/api/v1/webhooks/{made['id']}/deliveries"),
        ("POST", f"/api/v1/webhooks/{made['id']}/test"),
        ("POST", "/api/v1/deliveries/1/redeliver"),
        ("GET", "/api/v1/deliveries/1"),
    ]:
        answer = client.request(method, path, json={"url": receiver.url, "events": ["*"]})
        assert answer.status_code == 403, (method, path)
    assert receiver.received == []
