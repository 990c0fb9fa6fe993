"""/api/v1/runs: list with cursor and updated_since, one run, its log by level."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from deskmail.intake.run import run_job
from deskmail.store.accounts import Role
from tests.support.jobs import drop_mail
from tests.web.conftest import LiveWeb


def test_runs_their_counts_failed_step_and_log(web: LiveWeb) -> None:
    before = datetime.now(UTC) - timedelta(seconds=1)
    drop_mail(web.mailbox, "a", "ann@example.com", "Laptop")
    run_job(web.store, web.config.jobs[0], config=web.config)
    web.mailbox.rename(web.mailbox.with_name("gone"))
    run_job(web.store, web.config.jobs[0], config=web.config)
    api = web.api(Role.VIEWER)

    first = api.get("/api/v1/runs", params={"limit": 1}).json()
    (good,) = first["items"]
    assert good["outcome"] == "ok" and good["failed_step"] is None
    assert good["counts"]["created"] == 1 and good["counts"]["fetched"] == 1
    assert good["seconds"] is not None and good["seconds"] >= 0
    second = api.get("/api/v1/runs", params={"limit": 1, "cursor": first["next_cursor"]}).json()
    (bad,) = second["items"]
    assert second["next_cursor"] is None
    assert bad["outcome"] == "failed" and bad["failed_step"] == "folder"
    assert "folder failed" in bad["error"]

    assert api.get(f"/api/v1/runs/{bad['id']}").json() == bad
    everything = api.get(f"/api/v1/runs/{bad['id']}/log").json()
    errors = api.get(f"/api/v1/runs/{bad['id']}/log", params={"level": "error"}).json()
    assert errors["level"] == "error"
    assert errors["lines"] and {line["level"] for line in errors["lines"]} == {"ERROR"}
    assert len(everything["lines"]) > len(errors["lines"])
    assert bad["log_lines"] == len(everything["lines"])

    later = datetime.now(UTC) + timedelta(minutes=1)
    assert api.get("/api/v1/runs", params={"updated_since": later.isoformat()}).json() == {
        "items": [],
        "next_cursor": None,
    }
    since = api.get("/api/v1/runs", params={"updated_since": before.isoformat()}).json()
    assert len(since["items"]) == 2
    failed = api.get("/api/v1/runs", params={"outcome": "failed", "job": "Support"}).json()
    assert [run["id"] for run in failed["items"]] == [bad["id"]]


def test_unknown_runs_and_bad_levels_are_problems_naming_the_field(web: LiveWeb) -> None:
    api = web.api(Role.VIEWER)
    missing = api.get("/api/v1/runs/424242")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert api.get("/api/v1/runs/424242/log").status_code == 404
    bad = api.get("/api/v1/runs/1/log", params={"level": "loud"})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "query.level"


def test_runs_need_a_token(web: LiveWeb) -> None:
    assert web.client().get("/api/v1/runs").status_code == 401


def test_an_id_too_large_for_the_database_is_a_problem_not_a_crash(web: LiveWeb) -> None:
    api = web.api(Role.AGENT)
    for path in ("/api/v1/runs/4294967296", "/api/v1/quarantine/4294967296"):
        answer = api.get(path)
        assert answer.status_code == 422, path
        assert answer.json()["errors"][0]["field"].startswith("path.")
    bulk = api.post("/api/v1/quarantine/bulk", json={"action": "discard", "ids": [2**40]})
    assert bulk.status_code == 422 and bulk.json()["errors"][0]["field"].startswith("body.ids")
