"""A record of a configured object type shows its type and custom fields on its page and
in the API, as `tickets show` does (tests/test_object_types_run.py makes them)."""

from __future__ import annotations

import mailbox
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from deskmail.cli import main
from deskmail.config.files import load_configuration
from deskmail.store.accounts import Role
from deskmail.store.engine import Store
from deskmail.store.models import Ticket
from tests.test_object_types_run import CONFIG, _mail
from tests.web.conftest import LiveWeb, _add_accounts


@pytest.fixture
def desk_web(tmp_path: Path, database_url: str) -> Iterator[LiveWeb]:
    from deskmail.web.app import create_app
    from deskmail.web.server import WebServer

    path = tmp_path / "deskmail.toml"
    path.write_text(CONFIG.format(url=database_url), encoding="utf-8")
    box = mailbox.Maildir(tmp_path / "box", create=True)
    nagios = "Nagios <nagios@nagios.example.com>"
    box.add(_mail(nagios, "PROBLEM web01.example.com/HTTP is CRITICAL", "Load: 7.5\n"))
    box.add(_mail("Ann <ann@example.com>", "Printer broken", "No load here\n"))
    run = CliRunner().invoke(main, ["run-once", "--config", str(path)], catch_exceptions=False)
    assert run.exit_code == 0, run.output

    config = load_configuration(path)
    store = Store(config.database.url, config.storage.attachments_dir, path)
    app = create_app(config, store)
    server = WebServer(app, app.state.deskmail.web, port=0)
    server.start()
    live = LiveWeb(server.url, config, store, tmp_path / "box", _add_accounts(store))
    yield live
    live.close()
    server.stop()
    store.dispose()


def _ticket_id(web: LiveWeb, subject_start: str) -> int:
    with web.store.session() as session:
        return next(t.id for t in session.query(Ticket) if t.subject.startswith(subject_start))


def test_a_records_page_and_api_show_its_type_and_fields(desk_web: LiveWeb) -> None:
    alert = _ticket_id(desk_web, "PROBLEM web01")
    page = desk_web.browser_client(Role.VIEWER).get(f"/tickets/{alert}")
    assert page.status_code == 200
    assert "Monitoring alert (alert, made as event), ALR-" in page.text
    for shown in ("<dt>Host</dt><dd>web01.example.com</dd>", "<dt>severity</dt><dd>CRITICAL</dd>"):
        assert shown in page.text
    assert "<dt>Load average</dt><dd>7.5</dd>" in page.text

    listed = desk_web.browser_client(Role.VIEWER).get("/tickets").text
    assert "<td>alert</td>" in listed  # the list names the record's type, as tickets list does

    detail = desk_web.api(Role.VIEWER).get(f"/api/v1/tickets/{alert}").json()
    assert detail["object_type"] == "alert"
    # Typed, as the webhooks give them (config/custom_fields.py FieldValue): one serialisation.
    assert detail["fields"] == [
        {"name": "host", "label": "Host", "type": "text", "value": "web01.example.com"},
        {"name": "severity", "label": "severity", "type": "choice", "value": "CRITICAL"},
        {"name": "load", "label": "Load average", "type": "number", "value": 7.5},
    ]

    plain = desk_web.api(Role.VIEWER).get(f"/api/v1/tickets/{_ticket_id(desk_web, 'Printer')}")
    assert plain.json()["object_type"] is None
    # Declared for all types, empty on this one.
    assert plain.json()["fields"] == [
        {"name": "host", "label": "Host", "type": "text", "value": None}
    ]
