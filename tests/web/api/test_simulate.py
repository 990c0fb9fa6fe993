"""POST /api/v1/rules/simulate: the structured result of `deskmail explain`."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from deskmail.store.accounts import Role
from tests.web.conftest import LiveWeb
from tests.web.quarantined import quarantine

IGNORE_NEWSLETTERS = {
    "name": "Newsletters",
    "conditions": [{"field": "subject", "op": "contains", "value": "newsletter"}],
    "action": "ignore",
}
MAIL = (
    b"From: Ann <ann@example.com>\r\nTo: support@example.com\r\nSubject: Monthly newsletter\r\n"
    b"Message-ID: <n1@example.com>\r\n\r\nHello\r\n"
)


def test_an_uploaded_mail_is_explained_step_by_step(web_factory: Callable[..., LiveWeb]) -> None:
    web = web_factory(rules=[IGNORE_NEWSLETTERS])
    api = web.api(Role.ADMIN)
    answer = api.post("/api/v1/rules/simulate", files={"eml": ("n.eml", MAIL, "message/rfc822")})
    assert answer.status_code == 200, answer.text
    found = answer.json()
    assert found["job"] == "Support" and found["subject"] == "Monthly newsletter"
    assert found["sender"] == "Ann <ann@example.com>" and found["known_person"] is None
    assert found["rules_matched"] == ["Newsletters"]
    assert found["outcome"]["fate"] == "ignored"
    assert found["outcome"]["headline"] == "ignore: recorded in the journal, no ticket"
    assert [step["step"] for step in found["steps"]][:2] == ["duplicate", "thread and references"]
    assert found["changed"] is False
    assert found["text_after_preprocessing"] == ["Hello"]

    other = api.post(
        "/api/v1/rules/simulate",
        files={"eml": ("n.eml", MAIL.replace(b"newsletter", b"question"))},
    ).json()
    assert other["rules_matched"] == [] and other["outcome"]["fate"] == "created"
    assert other["outcome"]["headline"] == "create incident IT-1:"
    assert ["group", "Service Desk"] in [
        [f["name"], f["value"]] for f in other["outcome"]["fields"]
    ]


def test_a_quarantined_message_by_reference(web: LiveWeb, monkeypatch: pytest.MonkeyPatch) -> None:
    (record_id,) = quarantine(web, monkeypatch, "BOOM reference")
    api = web.api(Role.ADMIN)
    found = api.post(
        "/api/v1/rules/simulate", data={"message": f"quarantined:{record_id}", "job": "Support"}
    ).json()
    assert found["subject"] == "BOOM reference"


@pytest.mark.parametrize(
    ("data", "files", "field"),
    [
        ({}, None, "body.eml"),
        ({"message": "nonsense"}, None, "body.message"),
        ({"message": "quarantined:424242"}, None, "body.message"),
        ({"job": "Nope"}, {"eml": ("m.eml", MAIL)}, "body.job"),
        ({"message": "quarantined:1"}, {"eml": ("m.eml", MAIL)}, "body.eml"),
    ],
)
def test_bad_requests_name_the_field(
    web: LiveWeb, data: dict[str, str], files: dict[str, tuple[str, bytes]] | None, field: str
) -> None:
    answer = web.api(Role.ADMIN).post("/api/v1/rules/simulate", data=data, files=files)
    assert answer.status_code in (404, 422)
    assert answer.json()["errors"][0]["field"] == field


def test_only_admins_simulate(web: LiveWeb) -> None:
    answer = web.api(Role.AGENT).post("/api/v1/rules/simulate", files={"eml": ("m.eml", MAIL)})
    assert answer.status_code == 403
