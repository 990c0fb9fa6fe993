"""/api/v1/jobs (web/api/jobs.py): database jobs created, replaced, changed, deleted, their
secrets write-only; file jobs refused as read-only; drafts tested and their folders
listed; a job run now; each role refused what it may not do; the daemon follows."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import func, select

from deskmail.daemon.stored_jobs import StoredJobs
from deskmail.store.accounts import Role
from deskmail.store.models import Run
from deskmail.store.sealing import SECRET_KEY_ENV
from tests.support.dovecot import Dovecot
from tests.support.jobs import drop_mail
from tests.web.conftest import LiveWeb

SECRET = "unseen-password-6f1c"  # never to appear in an answer


@pytest.fixture(autouse=True)
def _secret_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SECRET_KEY_ENV, Fernet.generate_key().decode())


def _mailbox(tmp_path: Path, name: str = "drop") -> Path:
    box = tmp_path / name
    for sub in ("new", "cur", "tmp"):
        (box / sub).mkdir(parents=True)
    return box


def _imap(dovecot: Dovecot, user: str, password: str | None, **extra: Any) -> dict[str, Any]:
    table = {
        "name": "Helpdesk",
        "protocol": "imap",
        "server": "127.0.0.1",
        "port": dovecot.imaps_port,
        "security": "ssl",
        "ca_file": str(dovecot.ca_file),
        "user": user,
        "timeouts": {"connect": 5, "read": 10},
    }
    if password is not None:
        table["password"] = password
    return table | extra


def test_create_read_replace_change_delete(web: LiveWeb, dovecot: Dovecot) -> None:
    api = web.api(Role.ADMIN)
    made = api.post("/api/v1/jobs", json=_imap(dovecot, "api-user", SECRET, schedule="1h"))
    assert made.status_code == 201, made.text
    assert SECRET not in made.text
    body = made.json()
    assert body["source"] == "database" and body["revision"] == 1
    assert body["secrets"] == {"password": "set"}
    assert body["settings"]["schedule"] == "1h" and "password" not in body["settings"]
    assert body["status"] == "never-run" and body["last_24h"]["runs"] == 0

    read = api.get("/api/v1/jobs/Helpdesk")
    assert read.status_code == 200 and read.headers["etag"] == '"1"' and SECRET not in read.text
    listed = {job["name"]: job for job in api.get("/api/v1/jobs").json()}
    assert listed["Support"]["source"] == "file" and listed["Helpdesk"]["source"] == "database"

    # PUT replaces: what it leaves out goes back to its default; the password is kept.
    put = api.put(
        "/api/v1/jobs/Helpdesk",
        json=_imap(dovecot, "api-user", None, fetch_batch=5),
        headers={"If-Match": '"1"'},
    )
    assert put.status_code == 200, put.text
    replaced = put.json()
    assert replaced["revision"] == 2 and replaced["settings"]["fetch_batch"] == 5
    assert "schedule" not in replaced["settings"]  # back to the default
    assert put.json()["secrets"] == {"password": "set"}
    stale = api.put(
        "/api/v1/jobs/Helpdesk", json=_imap(dovecot, "x", None), headers={"If-Match": '"1"'}
    )
    assert stale.status_code == 412 and "revision" in stale.json()["detail"]

    patched = api.patch("/api/v1/jobs/Helpdesk", json={"schedule": "30m", "fetch_batch": None})
    assert patched.status_code == 200
    assert patched.json()["settings"]["schedule"] == "30m"
    assert "fetch_batch" not in patched.json()["settings"]

    # The stored password is the one the test logs in with (Dovecot wants "secret")...
    tested = api.post("/api/v1/jobs/Helpdesk/test")
    assert tested.json()["step"] == "authentication"
    # ...and a new one replaces it, still never answered.
    changed = api.patch("/api/v1/jobs/Helpdesk", json={"password": dovecot.password})
    assert changed.json()["secrets"] == {"password": "set"}
    assert api.post("/api/v1/jobs/Helpdesk/test").json()["ok"] is True

    assert api.delete("/api/v1/jobs/Helpdesk").status_code == 204
    assert api.get("/api/v1/jobs/Helpdesk").status_code == 404
    assert api.delete("/api/v1/jobs/Helpdesk").status_code == 404


def test_bad_settings_are_refused_naming_the_field(web: LiveWeb, tmp_path: Path) -> None:
    api = web.api(Role.ADMIN)
    box = str(_mailbox(tmp_path))
    bad = api.post(
        "/api/v1/jobs", json={"name": "Drop", "protocol": "maildir", "path": box, "fetch_batch": 0}
    )
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")
    assert [error["field"] for error in bad.json()["errors"]] == ["body.fetch_batch"]
    nameless = api.post("/api/v1/jobs", json={"protocol": "maildir", "path": box})
    assert nameless.status_code == 422 and nameless.json()["errors"][0]["field"] == "body.name"
    unknown = api.post(
        "/api/v1/jobs", json={"name": "Drop", "protocol": "maildir", "path": box, "pasword": "x"}
    )
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "body.pasword"
    taken = api.post("/api/v1/jobs", json={"name": "Support", "protocol": "maildir", "path": box})
    assert taken.status_code == 409 and taken.json()["errors"][0]["field"] == "body.name"

    assert (
        api.post(
            "/api/v1/jobs", json={"name": "Drop", "protocol": "maildir", "path": box}
        ).status_code
        == 201
    )
    refused = api.patch("/api/v1/jobs/Drop", json={"schedule": "every tuesday"})
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "body.schedule"
    assert api.get("/api/v1/jobs/Drop").json()["revision"] == 1  # nothing changed
    bad_match = api.patch("/api/v1/jobs/Drop", json={}, headers={"If-Match": "yesterday"})
    assert bad_match.status_code == 400


def test_file_jobs_are_read_only(web: LiveWeb) -> None:
    api = web.api(Role.ADMIN)
    for answer in (
        api.delete("/api/v1/jobs/Support"),
        api.patch("/api/v1/jobs/Support", json={"schedule": "1m"}),
        api.put("/api/v1/jobs/Support", json={"protocol": "maildir"}),
    ):
        assert answer.status_code == 409
        assert "change it in that file" in answer.json()["detail"]
    support = api.get("/api/v1/jobs/Support").json()
    assert support["source"] == "file" and support["revision"] == 0


def test_a_draft_is_tested_and_its_folders_listed(web: LiveWeb, dovecot: Dovecot) -> None:
    api = web.api(Role.ADMIN)
    user = dovecot.user("api-draft")
    with dovecot.imap(user, None) as imap:
        imap.create_folder("Support")
    wrong = api.post("/api/v1/jobs/test", json={"settings": _imap(dovecot, user, "wrong")})
    assert wrong.status_code == 200
    assert wrong.json()["ok"] is False and wrong.json()["step"] == "authentication"
    assert wrong.json()["hint"]
    right = api.post("/api/v1/jobs/test", json={"settings": _imap(dovecot, user, "secret")})
    assert right.json()["ok"] is True and "imap 127.0.0.1" in right.json()["summary"]
    folders = api.post("/api/v1/jobs/folders", json={"settings": _imap(dovecot, user, "secret")})
    assert {"INBOX", "Support"} <= set(folders.json()["folders"])
    assert folders.json()["failure"] is None
    bad = api.post("/api/v1/jobs/test", json={"settings": _imap(dovecot, user, "x", port=0)})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "body.settings.port"
    assert api.get("/api/v1/jobs/Helpdesk").status_code == 404  # nothing was saved

    # A saved job's draft: its stored password fills in what the draft leaves out.
    api.post("/api/v1/jobs", json=_imap(dovecot, user, "secret"))
    draft = {"settings": _imap(dovecot, user, None, folder="Support"), "job": "Helpdesk"}
    assert api.post("/api/v1/jobs/test", json=draft).json()["ok"] is True
    nowhere = draft | {"settings": _imap(dovecot, user, None, folder="Nowhere")}
    assert api.post("/api/v1/jobs/test", json=nowhere).json()["step"] == "folder"


def test_run_now_runs_a_database_job(web: LiveWeb, tmp_path: Path) -> None:
    api = web.api(Role.ADMIN)
    box = _mailbox(tmp_path)
    drop_mail(box, "a", "ann@example.com", "Printer")
    api.post("/api/v1/jobs", json={"name": "Drop", "protocol": "maildir", "path": str(box)})
    ran = api.post("/api/v1/jobs/Drop/run")
    assert ran.status_code == 202 and ran.json() == {"name": "Drop", "outcome": "started"}
    for _ in range(200):
        with web.store.session() as session:
            if session.scalar(select(func.count()).where(Run.job == "Drop", Run.status == "ok")):
                break
        time.sleep(0.05)
    else:
        raise AssertionError("the run did not happen")
    counts = api.get("/api/v1/jobs/Drop").json()["last_24h"]
    assert counts["runs"] == 1 and counts["created"] == 1
    assert api.post("/api/v1/jobs/Nope/run").status_code == 404


def test_roles(web: LiveWeb, tmp_path: Path) -> None:
    box = str(_mailbox(tmp_path))
    table = {"name": "Drop", "protocol": "maildir", "path": box}
    viewer, agent = web.api(Role.VIEWER), web.api(Role.AGENT)
    assert viewer.get("/api/v1/jobs").status_code == 200
    for client in (viewer, agent):
        assert client.post("/api/v1/jobs", json=table).status_code == 403
        assert client.post("/api/v1/jobs/test", json={"settings": table}).status_code == 403
        assert client.post("/api/v1/jobs/folders", json={"settings": table}).status_code == 403
        assert client.post("/api/v1/jobs/Support/run").status_code == 403
        assert client.patch("/api/v1/jobs/Support", json={}).status_code == 403
        assert client.delete("/api/v1/jobs/Support").status_code == 403
    assert web.client().post("/api/v1/jobs", json=table).status_code == 401
    assert viewer.get("/api/v1/jobs/Drop").status_code == 404  # nothing was made


def test_the_daemon_follows_changes_made_through_the_api(web: LiveWeb, tmp_path: Path) -> None:
    api = web.api(Role.ADMIN)
    stored = StoredJobs(web.store)
    box = str(_mailbox(tmp_path))
    api.post("/api/v1/jobs", json={"name": "Drop", "protocol": "maildir", "path": box})
    assert stored.refresh(web.config) is True
    running = {job.name: job for job in stored.running(web.config).jobs}
    assert running["Drop"].schedule == "5m"
    api.patch("/api/v1/jobs/Drop", json={"schedule": "1h"})
    assert stored.refresh(web.config) is True
    assert {job.name: job for job in stored.running(web.config).jobs}["Drop"].schedule == "1h"
    # A refused change is not stored: the daemon keeps running the last good settings.
    assert api.patch("/api/v1/jobs/Drop", json={"schedule": "often"}).status_code == 422
    assert stored.refresh(web.config) is False
    api.delete("/api/v1/jobs/Drop")
    assert stored.refresh(web.config) is True
    assert [job.name for job in stored.running(web.config).jobs] == ["Support"]
