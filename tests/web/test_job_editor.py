"""The job editor (web/pages/job_editor.py) as plain forms, without JavaScript: a database
job created, refused with the problem next to its field, changed, its preprocessing rules
reordered; a file job shown read-only; Test Connection and Load folders on the draft."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import func, select

from deskmail.jobs.catalog import JobCatalog
from deskmail.store.accounts import Role
from deskmail.store.models import Run, StoredJob
from deskmail.store.sealing import SECRET_KEY_ENV
from tests.support.dovecot import Dovecot
from tests.support.jobs import drop_mail
from tests.web.conftest import LiveWeb


@pytest.fixture(autouse=True)
def _secret_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SECRET_KEY_ENV, Fernet.generate_key().decode())


def maildir_form(mailbox: Path, name: str = "Drop", **extra: str) -> dict[str, str]:
    return {"name": name, "protocol": "maildir", "path": str(mailbox), "enabled": "true"} | extra


def imap_form(dovecot: Dovecot, user: str, password: str, **extra: str) -> dict[str, str]:
    assert dovecot.imaps_port is not None
    return {
        "name": "Helpdesk",
        "protocol": "imap",
        "server": "127.0.0.1",
        "port": str(dovecot.imaps_port),
        "security": "ssl",
        "ca_file": str(dovecot.ca_file),
        "user": user,
        "password": password,
        "timeouts.connect": "5",
        "timeouts.read": "10",
    } | extra


def new_mailbox(tmp_path: Path, name: str) -> Path:
    box = tmp_path / name
    for sub in ("new", "cur", "tmp"):
        (box / sub).mkdir(parents=True)
    return box


def field_error(page: str, field: str) -> str:
    """The problem shown next to a field (its id is e-<field with dots as dashes>)."""
    found = re.search(rf'id="e-{re.escape(field.replace(".", "-"))}">([^<]*)<', page)
    assert found, f"no problem shown next to {field}"
    return found.group(1)


def wait_for_run(web: LiveWeb, job: str) -> None:
    for _ in range(200):
        with web.store.session() as session:
            if session.scalar(
                select(func.count()).where(Run.job == job, Run.status.in_(["ok", "failed"]))
            ):
                return
        time.sleep(0.05)
    raise AssertionError(f"{job} did not run")


def test_a_job_made_in_the_editor_is_stored_listed_and_runs(web: LiveWeb, tmp_path: Path) -> None:
    client = web.browser_client(Role.ADMIN)
    assert client.get("/jobs/new").status_code == 200
    box = new_mailbox(tmp_path, "drop")
    drop_mail(box, "a", "ann@example.com", "Laptop broken")
    answer = client.post("/jobs/new", data=maildir_form(box, schedule="1h", do="save"))
    assert answer.status_code == 303, answer.text
    assert "saved" in answer.headers["location"]
    with web.store.session() as session:
        row = session.scalars(select(StoredJob).where(StoredJob.name == "Drop")).one()
        assert json.loads(row.settings)["schedule"] == "1h"
    overview = client.get("/jobs").text
    assert 'data-job="Drop"' in overview and "database, revision 1" in overview
    assert "from the configuration file" in overview  # the file's Support job
    assert client.post("/jobs/Drop/run").status_code == 303
    wait_for_run(web, "Drop")
    row_html = client.get("/jobs").text.split('data-job="Drop"')[1].split("</tr>")[0]
    assert "1 runs" in row_html and "1 created" in row_html


def test_a_bad_value_is_refused_next_to_its_field_and_nothing_changes(
    web: LiveWeb, tmp_path: Path
) -> None:
    client = web.browser_client(Role.ADMIN)
    box = new_mailbox(tmp_path, "drop")
    refused = client.post("/jobs/new", data=maildir_form(box, schedule="every tuesday"))
    assert refused.status_code == 422
    assert "schedule" in field_error(refused.text, "schedule") or field_error(
        refused.text, "schedule"
    )
    assert 'aria-invalid="true"' in refused.text
    # The form comes back with what was typed.
    assert 'value="every tuesday"' in refused.text
    with web.store.session() as session:
        assert session.scalar(select(func.count()).select_from(StoredJob)) == 0

    assert client.post("/jobs/new", data=maildir_form(box, schedule="5m")).status_code == 303
    changed = client.post(
        "/jobs/Drop/edit", data=maildir_form(box, schedule="5m", fetch_batch="0", revision="1")
    )
    assert changed.status_code == 422
    assert field_error(changed.text, "fetch_batch")
    catalog = JobCatalog(web.config, web.store)
    job = catalog.get("Drop")
    assert job.revision == 1 and job.settings is not None and job.settings.fetch_batch == 50

    saved = client.post(
        "/jobs/Drop/edit", data=maildir_form(box, schedule="10m", fetch_batch="7", revision="1")
    )
    assert saved.status_code == 303
    job = catalog.get("Drop")
    assert job.revision == 2 and job.settings is not None
    assert (job.settings.schedule, job.settings.fetch_batch) == ("10m", 7)
    # A stale revision (another browser saved meanwhile) is refused, not overwritten.
    stale = client.post("/jobs/Drop/edit", data=maildir_form(box, schedule="2m", revision="1"))
    assert stale.status_code == 409 and "revision" in stale.text
    # A name a file job has is refused on the name field.
    taken = client.post("/jobs/new", data=maildir_form(box, name="Support"))
    assert taken.status_code == 409 and "Support" in field_error(taken.text, "name")


def test_the_password_is_write_only_and_kept_when_left_empty(
    web: LiveWeb, dovecot: Dovecot
) -> None:
    client = web.browser_client(Role.ADMIN)
    user = dovecot.user("editor")
    assert client.post("/jobs/new", data=imap_form(dovecot, user, "secret")).status_code == 303
    page = client.get("/jobs/Helpdesk/edit").text
    assert 'value="secret"' not in page and ">secret<" not in page
    assert "(set; leave empty to keep it)" in page
    # Saved again without typing it: the stored password stays, and the job still logs in.
    form = imap_form(dovecot, user, "", revision="1", schedule="2m")
    assert client.post("/jobs/Helpdesk/edit", data=form).status_code == 303
    tested = client.post("/jobs/Helpdesk/test")
    assert "connection test passed" in tested.text


def test_test_connection_runs_on_the_unsaved_draft_and_names_the_failing_step(
    web: LiveWeb, dovecot: Dovecot
) -> None:
    client = web.browser_client(Role.ADMIN)
    user = dovecot.user("draft")
    wrong = client.post("/jobs/new", data=imap_form(dovecot, user, "wrong", do="test"))
    assert wrong.status_code == 200
    assert 'data-step="authentication"' in wrong.text and "Connection test failed" in wrong.text
    right = client.post("/jobs/new", data=imap_form(dovecot, user, "secret", do="test"))
    assert "Connection test passed" in right.text
    with web.store.session() as session:  # a draft is never saved
        assert session.scalar(select(func.count()).select_from(StoredJob)) == 0

    # On a saved job's editor the draft's changes count, the stored password fills in.
    assert client.post("/jobs/new", data=imap_form(dovecot, user, "secret")).status_code == 303
    dovecot.append(user, b"Subject: x\r\n\r\nx\r\n", folder="INBOX")
    with dovecot.imap(user, None) as imap:
        imap.create_folder("Support")
    bad_folder = imap_form(dovecot, user, "", folder="Nowhere", do="test")
    failed = client.post("/jobs/Helpdesk/edit", data=bad_folder)
    assert 'data-step="folder"' in failed.text
    listed = client.post("/jobs/Helpdesk/edit", data=bad_folder | {"do": "folders"})
    assert "<li>Support</li>" in listed.text and "<li>INBOX</li>" in listed.text


def test_preprocessing_rules_are_listed_off_and_reordered_without_javascript(
    web: LiveWeb, tmp_path: Path
) -> None:
    client = web.browser_client(Role.ADMIN)
    page = client.get("/jobs/new").text
    names = re.findall(r'name="pre\.\d+\.name" value="([^"]+)"', page)
    assert len(names) == 8
    assert not re.search(r'id="pre-\d+-enabled"[^>]*checked', page)
    box = new_mailbox(tmp_path, "drop")
    posted: dict[str, Any] = maildir_form(box)
    for index, name in enumerate(names):
        definition = re.search(rf'name="pre\.{index}\.definition" value="([^"]+)"', page)
        assert definition is not None
        posted |= {
            f"pre.{index}.name": name,
            f"pre.{index}.definition": definition.group(1).replace("&#34;", '"'),
        }
    posted["pre.1.enabled"] = "true"
    moved = client.post("/jobs/new", data=posted | {"do": "up-1"})
    assert re.findall(r'name="pre\.\d+\.name" value="([^"]+)"', moved.text)[:2] == [
        names[1],
        names[0],
    ]
    added = client.post(
        "/jobs/new",
        data=posted | {"do": "add-rule", "new_rule.name": "Footer", "new_rule.pattern": "^--$"},
    )
    assert "Footer" in added.text and "cut from: ^--$" in added.text
    posted |= {"pre.0.name": names[1], "pre.1.name": names[0]}
    first, second = posted["pre.0.definition"], posted["pre.1.definition"]
    posted |= {"pre.0.definition": second, "pre.1.definition": first}
    posted["pre.0.enabled"], posted["pre.1.enabled"] = "true", "false"
    assert client.post("/jobs/new", data=posted).status_code == 303
    job = JobCatalog(web.config, web.store).get("Drop")
    assert job.settings is not None and job.settings.preprocessing is not None
    rules = job.settings.preprocessing
    assert [rule.name for rule in rules[:2]] == [names[1], names[0]]
    assert [rule.enabled for rule in rules[:3]] == [True, False, False]


def test_a_file_job_is_read_only_and_cannot_be_deleted(web: LiveWeb) -> None:
    client = web.browser_client(Role.ADMIN)
    page = client.get("/jobs/Support/edit").text
    assert "read-only here" in page and "<fieldset" in page and " disabled>" in page
    assert client.post("/jobs/Support/edit", data={"name": "Support"}).status_code == 409
    refused = client.post("/jobs/Support/delete")
    assert refused.status_code == 409 and "change it in that file" in refused.text


def test_roles_on_the_editor_pages(web: LiveWeb, tmp_path: Path) -> None:
    viewer = web.browser_client(Role.VIEWER)
    assert viewer.get("/jobs/new").status_code == 403
    assert viewer.get("/jobs/Support/edit").status_code == 200  # viewable read-only
    box = new_mailbox(tmp_path, "drop")
    assert viewer.post("/jobs/new", data=maildir_form(box)).status_code == 403
    assert viewer.post("/jobs/Support/test").status_code == 403
    agent = web.browser_client(Role.AGENT)
    assert agent.post("/jobs/Support/delete").status_code == 403
    anonymous = web.client()
    assert anonymous.get("/jobs/new").status_code == 303  # to the login page
    # A form posted without the CSRF token is refused.
    no_csrf = web.browser_client(Role.ADMIN)
    del no_csrf.headers["X-CSRFToken"]
    assert no_csrf.post("/jobs/new", data=maildir_form(box)).status_code == 403
    with web.store.session() as session:
        assert session.scalar(select(func.count()).select_from(StoredJob)) == 0


def test_delete_and_disable_a_database_job(web: LiveWeb, tmp_path: Path) -> None:
    client = web.browser_client(Role.ADMIN)
    box = new_mailbox(tmp_path, "drop")
    assert client.post("/jobs/new", data=maildir_form(box)).status_code == 303
    assert client.post("/jobs/Drop/switch", data={"enabled": "false"}).status_code == 303
    job = JobCatalog(web.config, web.store).get("Drop")
    assert job.enabled is False and job.revision == 2
    assert "status-disabled" in client.get("/jobs").text.split('data-job="Drop"')[1]
    assert client.post("/jobs/Drop/delete").status_code == 303
    assert 'data-job="Drop"' not in client.get("/jobs").text
    assert client.post("/jobs/Drop/delete").status_code == 404


def test_a_plain_form_carries_the_csrf_token_in_a_hidden_field(
    web: LiveWeb, tmp_path: Path
) -> None:
    client = web.browser_client(Role.ADMIN)
    del client.headers["X-CSRFToken"]  # no JavaScript: no header
    page = client.get("/jobs/new").text
    found = re.search(r'name="csrftoken" value="([^"]+)"', page)
    assert found is not None and found.group(1) == client.cookies["csrftoken"]
    box = new_mailbox(tmp_path, "drop")
    forged = client.post("/jobs/new", data=maildir_form(box, csrftoken="forged"))
    assert forged.status_code == 403
    posted = client.post("/jobs/new", data=maildir_form(box, csrftoken=found.group(1)))
    assert posted.status_code == 303
    # A first page, before any cookie: its field holds the token the answer's cookie sets.
    fresh = web.client()
    from deskmail.web.security.sessions import COOKIE

    fresh.cookies.set(COOKIE, web.session_cookie(Role.ADMIN))
    first = fresh.get("/jobs")
    field = re.search(r'name="csrftoken" value="([^"]+)"', first.text)
    assert field is not None and first.cookies["csrftoken"] == field.group(1)
