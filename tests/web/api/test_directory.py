"""/api/v1/people, /groups, /sites, /teams: list, create, update, import CSV."""

from __future__ import annotations

from datetime import datetime

from deskmail.store.accounts import Role
from tests.web.conftest import LiveWeb


def test_people_are_created_changed_and_listed_a_page_at_a_time(web: LiveWeb) -> None:
    admin = web.api(Role.ADMIN)
    assert admin.post("/api/v1/sites", json={"name": "Lab"}).status_code == 201
    made = admin.post(
        "/api/v1/people",
        json={"name": "Ann", "logon": "ann", "emails": ["Ann@Example.com"], "site": "Lab"},
    )
    assert made.status_code == 201
    ann = made.json()
    assert ann["emails"] == ["ann@example.com"] and ann["site"] == "Lab"
    changed = admin.patch(f"/api/v1/people/{ann['id']}", json={"is_agent": True, "site": None})
    assert changed.json() | {"updated_at": ""} == ann | {
        "is_agent": True,
        "site": None,
        "updated_at": "",
    }
    assert datetime.fromisoformat(changed.json()["updated_at"]) > datetime.fromisoformat(
        ann["updated_at"]
    )
    for n in range(4):
        admin.post("/api/v1/people", json={"name": f"P{n}", "emails": [f"p{n}@example.com"]})

    viewer = web.api(Role.VIEWER)
    seen, cursor = [], None
    while True:
        body = viewer.get(
            "/api/v1/people", params={"limit": 2} | ({"cursor": cursor} if cursor else {})
        ).json()
        seen += [p["name"] for p in body["items"]]
        cursor = body.get("next_cursor")
        if not cursor:
            break
    assert seen == ["Ann", "P0", "P1", "P2", "P3"]
    assert [
        p["name"] for p in viewer.get("/api/v1/people", params={"q": "p2@"}).json()["items"]
    ] == ["P2"]


def test_bad_input_is_a_problem_naming_the_field(web: LiveWeb) -> None:
    admin = web.api(Role.ADMIN)
    admin.post("/api/v1/people", json={"name": "Ann", "emails": ["ann@example.com"]})
    taken = admin.post("/api/v1/people", json={"name": "Bob", "emails": ["ann@example.com"]})
    assert taken.status_code == 422
    assert taken.json()["errors"][0]["field"] == "body.email"
    assert "belongs to person" in taken.json()["errors"][0]["problem"]
    bad = admin.post("/api/v1/people", json={"name": "Cy", "emails": ["nope"]})
    assert bad.json()["errors"] == [
        {"field": "body.email", "problem": "'nope' is not an e-mail address"}
    ]
    site = admin.post("/api/v1/people", json={"name": "Cy", "site": "Mars"})
    assert site.json()["errors"][0]["field"] == "body.site"
    assert (
        admin.post("/api/v1/groups", json={"name": ""}).json()["errors"][0]["field"] == "body.name"
    )
    admin.post("/api/v1/teams", json={"name": "IT"})
    twice = admin.post("/api/v1/teams", json={"name": "IT"})
    assert twice.status_code == 422 and "exists" in twice.json()["detail"]
    assert admin.patch("/api/v1/teams/999", json={"name": "X"}).status_code == 404
    assert admin.patch("/api/v1/people/999", json={"name": "X"}).status_code == 404
    assert admin.get("/api/v1/people", params={"cursor": "garbage"}).status_code == 422


def test_an_import_is_all_rows_or_none(web: LiveWeb) -> None:
    admin = web.api(Role.ADMIN)
    headers = {"content-type": "text/csv"}
    bad = "name,email\nAnn,ann@example.com\nBob,bob\n"
    answer = admin.post("/api/v1/people/import", content=bad, headers=headers)
    assert answer.status_code == 422
    assert answer.json()["errors"] == [
        {"field": "body.line[3].email", "problem": "'bob' is not an e-mail address"}
    ]
    assert web.api(Role.VIEWER).get("/api/v1/people").json()["items"] == []
    unknown = admin.post("/api/v1/groups/import", content="name,colour\nA,red\n", headers=headers)
    assert unknown.json()["errors"][0]["field"] == "body.line[1].colour"
    good = admin.post(
        "/api/v1/people/import", content="name,email\nAnn,ann@example.com\n", headers=headers
    )
    assert good.json() == {"created": 1, "updated": 0, "unchanged": 0}
    sites = admin.post("/api/v1/sites/import", content="name\nLab\nAttic\n", headers=headers)
    assert sites.json() == {"created": 2, "updated": 0, "unchanged": 0}
    assert [s["name"] for s in admin.get("/api/v1/sites").json()["items"]] == ["Lab", "Attic"]


def test_only_admins_change_the_directory(web: LiveWeb) -> None:
    for role in (Role.VIEWER, Role.AGENT):
        client = web.api(role)
        assert client.get("/api/v1/people").status_code == 200
        assert client.post("/api/v1/people", json={"name": "Eve"}).status_code == 403
        assert client.patch("/api/v1/groups/1", json={"name": "Eve"}).status_code == 403
        refused = client.post(
            "/api/v1/sites/import", content="name\nX\n", headers={"content-type": "text/csv"}
        )
        assert refused.status_code == 403
    assert web.api(Role.VIEWER).get("/api/v1/sites").json()["items"] == []


def test_a_control_character_is_a_problem_naming_the_field(web: LiveWeb) -> None:
    # A NUL reached PostgreSQL as a 500 (found by the API fuzzing).
    admin = web.api(Role.ADMIN)
    for path, body, field in [
        ("/api/v1/groups", {"name": "Ops\x00"}, "name"),
        ("/api/v1/people", {"name": "Ann", "logon": "a\x00n"}, "logon"),
        ("/api/v1/people", {"name": "Ann", "site": "L\x00b"}, "site"),
    ]:
        answer = admin.post(path, json=body)
        assert answer.status_code == 422, (path, answer.text)
        assert answer.json()["errors"][0]["field"].endswith(field)


def test_a_file_the_csv_reader_refuses_is_a_problem_not_a_500(web: LiveWeb) -> None:
    admin = web.api(Role.ADMIN)
    headers = {"content-type": "text/csv"}
    huge_field = "name\n" + "a" * 140_000 + "\n"  # past the csv module's field limit
    answer = admin.post("/api/v1/groups/import", content=huge_field, headers=headers)
    assert answer.status_code == 422, answer.text
    assert "not readable as CSV" in answer.text
    # A lone carriage return ends a line, as in files from old Macs.
    old_mac = admin.post("/api/v1/groups/import", content="name\rOps\rLab\r", headers=headers)
    assert old_mac.status_code == 200, old_mac.text
    assert old_mac.json()["created"] == 2
