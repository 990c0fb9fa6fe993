"""Names in the configuration that match nobody: warned by `check` and at the start of
`run-once`, and said on the ticket (a system activity) when a run meets one."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner, Result
from sqlalchemy import select

from deskmail.cli import main
from deskmail.store.engine import Store
from deskmail.store.models import Activity, ActivityKind, Group, Ticket
from tests.support.jobs import drop_mail, maildir_config

PRINTERS = {
    "name": "Printers",
    "conditions": [{"field": "subject", "op": "contains", "value": "printer"}],
    "set": {"assignee": "carol", "group": "Opertions", "site": "Lyon"},
}


def _cli(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def _warnings(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("Support: warning: ")]


def test_check_warns_of_every_name_that_matches_nobody_and_creates_no_database(
    tmp_path: Path, database_url: str
) -> None:
    config, _ = maildir_config(
        tmp_path, database_url, assignee="bob", error_group="Mail errors", rules=[PRINTERS]
    )
    job = 'Support: warning: jobs[0] ("Support")'
    rule = f'{job}.rules[0] ("Printers").set'
    first = _cli("check", "--config", str(config))
    assert first.exit_code == 0, first.output
    assert _warnings(first.output) == [
        f"{job}.fallback_user: 'helpdesk' matches no person's logon;"
        " the run creates a person with this logon for unknown senders",
        f"{job}.assignee: 'bob' matches no person's logon; events are left unassigned",
        f"{rule}.assignee: 'carol' matches no person's logon; the rule's tickets are left"
        " unassigned",
        f"{job}.group: 'Service Desk' matches no group; the run creates it",
        f"{job}.error_group: 'Mail errors' matches no group; the first error event creates it",
        f"{rule}.group: 'Opertions' matches no group; the rule's first ticket creates it",
        f"{job}.fallback_site: 'Head Office' matches no site; the run creates it",
        f"{rule}.site: 'Lyon' matches no site; the rule's first ticket creates it",
    ]
    if database_url.startswith("sqlite"):
        assert not (tmp_path / "deskmail.db").exists()

    added = _cli(
        "people", "add", "--config", str(config), "--name", "Bob Chen",
        "--email", "bob@example.com", "--logon", "bob", "--site", "Lyon",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    assert _cli("run-once", "--config", str(config)).exit_code == 0  # makes the job's names
    second = _cli("check", "--config", str(config))
    assert _warnings(second.output) == [
        f"{rule}.assignee: 'carol' matches no person's logon; the rule's tickets are left"
        " unassigned",
        f"{job}.error_group: 'Mail errors' matches no group; the first error event creates it",
        f"{rule}.group: 'Opertions' matches no group; the rule's first ticket creates it",
    ]


def test_a_run_warns_at_its_start_and_notes_on_the_ticket_what_matched_nobody(
    tmp_path: Path, database_url: str
) -> None:
    config, mailbox = maildir_config(tmp_path, database_url, rules=[PRINTERS])
    drop_mail(mailbox, "m1", "Alice <alice@example.com>", "Printer jams")
    drop_mail(mailbox, "m2", "Alice <alice@example.com>", "Printer jams again")
    drop_mail(mailbox, "m3", "Alice <alice@example.com>", "Monitor flickers")
    run = _cli("run-once", "--config", str(config))
    assert run.exit_code == 0, run.output
    assert (
        f"""{config}: jobs[0] ("Support").rules[0] ("Printers").set.assignee: 'carol' matches"""
        " no person's logon; the rule's tickets are left unassigned"
    ) in run.output
    assert "job settings for IT-1: assignee 'carol' matches no person's logon" in run.output
    shown = _cli("tickets", "show", "1", "--config", str(config)).output
    assert "\n-- system, " in shown and "    Settings that matched nothing:" in shown

    store = Store(database_url, tmp_path / "blobs")
    try:
        with store.session() as session:
            notes = {
                ticket.number: [a.body for a in ticket.activities if a.kind is ActivityKind.SYSTEM]
                for ticket in session.scalars(select(Ticket))
            }
            opertions = session.scalars(select(Group).where(Group.name == "Opertions")).one()
            tickets_of_group = session.scalars(
                select(Ticket.number).where(Ticket.group_id == opertions.id)
            ).all()
            assignees = set(session.scalars(select(Ticket.assignee_id)))
            system_activities = session.scalars(
                select(Activity).where(Activity.kind == ActivityKind.SYSTEM)
            ).all()
    finally:
        store.dispose()
    assert notes == {
        1: [
            "Settings that matched nothing:\n"
            "- assignee 'carol' matches no person's logon; unassigned\n"
            "- group 'Opertions' matched no group; it was created\n"
            "- site 'Lyon' matched no site; it was created"
        ],
        # The group and site now exist; the assignee still matches nobody.
        2: ["Settings that matched nothing:\n- assignee 'carol' matches no person's logon;"
            " unassigned"],
        3: [],  # the rule did not match: nothing to say
    }  # fmt: skip
    assert sorted(tickets_of_group) == [1, 2]
    assert assignees == {None}
    assert len(system_activities) == 2
