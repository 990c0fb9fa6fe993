"""Mail understanding end to end: `deskmail run-once` on a real Dovecot mailbox.

One test per item of the feature: bodies, preprocessing, attachments,
threading, processing rules, and the `explain` simulator.
"""

from __future__ import annotations

import re
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result
from sqlalchemy import func, select

from deskmail.cli import main
from deskmail.config.fate import Fate
from deskmail.store.engine import Store
from deskmail.store.models import (
    Activity,
    ActivityKind,
    Attachment,
    IntakeRecord,
    Ticket,
    TicketKind,
)
from tests.support.dovecot import Dovecot
from tests.support.smtp import SmtpServer
from tests.support.toml_config import job_table, write_config

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)
ENV = {"UND_PW": Dovecot.password}


def _mail(
    subject: str,
    body: str = "Hello\n",
    sender: str = "Alice Martin <alice@example.com>",
    **headers: str,
) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "support@example.com"
    msg["Subject"] = subject
    msg["Message-ID"] = make_msgid(domain="client.example.com")
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(body)
    return msg


class Desk:
    """A mailbox, a config with one job, and the store, for one test."""

    def __init__(self, dovecot: Dovecot, tmp_path: Path, database_url: str, **job: Any) -> None:
        self.dovecot = dovecot
        self.user = dovecot.user("und")
        table = job_table(
            dovecot.job(self.user),
            name="Support",
            password_env="UND_PW",
            after_processing="delete",
            fallback_user="helpdesk",
            **job,
        )
        self.config = write_config(tmp_path / "deskmail.toml", database_url, [table])
        self.store = Store(database_url, tmp_path / "blobs")

    def deliver(self, *mails: EmailMessage | bytes) -> None:
        for mail in mails:
            self.dovecot.append(self.user, mail if isinstance(mail, bytes) else mail.as_bytes())

    def run(self) -> Result:
        result = CliRunner().invoke(
            main,
            ["run-once", "--config", str(self.config), "--show"],
            env=ENV,
            catch_exceptions=False,
        )
        assert result.exit_code in (0, 3), result.output
        return result

    def ticket(self, number: int) -> Ticket:
        with self.store.session() as s:
            ticket = s.scalars(select(Ticket).where(Ticket.number == number)).one()
            # Load what the assertions read before the session closes.
            _ = (ticket.activities, ticket.attachments, ticket.group, ticket.assignee)
            return ticket

    def count(self, model: type[Any]) -> int:
        with self.store.session() as s:
            return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_html_body_becomes_text_and_a_safe_copy_with_inline_images(
    dovecot: Dovecot, tmp_path: Path, database_url: str
) -> None:
    desk = Desk(dovecot, tmp_path, database_url)
    msg = _mail("Screen", "plain")
    msg.set_content(
        '<p>Steps:</p><ul><li>open the app</li></ul><img src="cid:shot@x">'
        '<script>alert(1)</script><a href="https://kb.example.com" onclick="x()">KB</a>',
        subtype="html",
    )
    msg.add_related(PNG, maintype="image", subtype="png", cid="<shot@x>", filename="shot.png")
    desk.deliver(msg)
    desk.run()
    ticket = desk.ticket(1)
    assert "* open the app" in ticket.description
    assert ticket.description_html is not None
    assert "<script" not in ticket.description_html and "onclick" not in ticket.description_html
    (image,) = ticket.attachments
    assert image.inline and f"/attachments/{image.sha256}" in ticket.description_html


def test_preprocessing_strips_the_quoted_reply_of_an_activity(
    dovecot: Dovecot, tmp_path: Path, database_url: str
) -> None:
    from deskmail.preprocess import enabled_builtin_rules

    rules = [r.model_dump(by_alias=True, exclude_defaults=True) for r in enabled_builtin_rules()]
    desk = Desk(dovecot, tmp_path, database_url, preprocessing=rules)
    desk.deliver(_mail("Printer jams"))
    desk.run()
    desk.deliver(
        _mail(
            "RE: [Incident] [IT] 1 Printer jams",
            "It jams again in C:\\Users\\alice.\n\n"
            "From: Service Desk <support@example.com>\nSent: Monday, 2 November 2026 09:00\n"
            "To: Alice Martin <alice@example.com>\nSubject: [Incident] [IT] 1 Printer jams\n\n"
            "We registered your request.\n",
        )
    )
    desk.run()
    (activity,) = desk.ticket(1).activities
    assert activity.body.strip() == "It jams again in C:\\Users\\alice."


def test_attachment_policy_raw_message_and_size_limit(
    dovecot: Dovecot, tmp_path: Path, database_url: str
) -> None:
    desk = Desk(
        dovecot,
        tmp_path,
        database_url,
        ignored_attachments="logo*.png, *.VCF",
        max_attachment_size=50_000,
        include_raw_message=True,
    )
    msg = _mail("Files")
    msg.add_attachment(
        b"%PDF-1.4 report", maintype="application", subtype="pdf", filename="report.pdf"
    )
    msg.add_attachment(PNG, maintype="image", subtype="png", filename="Logo-Small.PNG")
    msg.add_attachment(b"BEGIN:VCARD", maintype="text", subtype="vcard", filename="alice.vcf")
    msg.add_attachment(
        b"x" * 60_000, maintype="application", subtype="octet-stream", filename="dump.bin"
    )
    desk.deliver(msg)
    desk.run()
    ticket = desk.ticket(1)
    names = sorted(a.filename for a in ticket.attachments)
    assert names[0].endswith(".eml") and names[1:] == ["report.pdf"]
    raw = next(a for a in ticket.attachments if a.filename.endswith(".eml"))
    assert desk.store.blobs.path(raw.sha256).read_bytes().startswith(b"From: Alice Martin")
    notes = [a for a in ticket.activities if a.kind is ActivityKind.SYSTEM]
    assert len(notes) == 1 and "dump.bin" in notes[0].body and "50" in notes[0].body


def test_threading_by_in_reply_to_and_stranger_protection(
    dovecot: Dovecot, tmp_path: Path, database_url: str
) -> None:
    desk = Desk(dovecot, tmp_path, database_url)
    first = _mail("VPN down")
    desk.deliver(first)
    desk.run()
    token = desk.ticket(1).token
    # No reference in the subject: joins by In-Reply-To.
    desk.deliver(_mail("Re: VPN down", "more info", In_Reply_To=first["Message-ID"]))
    # A stranger quoting the bare number: a new ticket that links to IT-1.
    desk.deliver(_mail("RE: [Incident] [IT] 1", "me too", sender="mallory@evil.example"))
    # The same stranger with the ticket's token: trusted.
    desk.deliver(_mail(f"RE: [Incident] [IT] 1-{token}", "forwarded", sender="bob@example.org"))
    desk.run()
    bodies = [a.body.strip() for a in desk.ticket(1).activities]
    assert bodies == ["more info", "forwarded"]
    stranger = desk.ticket(2)
    assert stranger.linked_ticket_id == desk.ticket(1).id
    assert stranger.sender_address == "mallory@evil.example"


def test_processing_rules_events_ignore_and_denied_requests(
    dovecot: Dovecot, smtp_server: SmtpServer, tmp_path: Path, database_url: str
) -> None:
    rules = [
        {
            "name": "Monitoring",
            "conditions": [{"field": "from", "op": "domain", "value": "monitoring.example.com"}],
            "action": "create_event",
            "set": {"group": "Operations", "priority": "high"},
            "stop": True,
        },
        {
            "name": "Newsletters",
            "conditions": [{"field": "header:List-Id", "op": "exists"}],
            "action": "ignore",
        },
    ]
    # A job that can deny requests needs a way to send the denial.
    smtp = smtp_server.config().model_dump(mode="json", exclude_none=True)
    desk = Desk(dovecot, tmp_path, database_url, rules=rules, create_new_requests=False, smtp=smtp)
    desk.deliver(_mail("Disk full on db01", sender="Zabbix <zabbix@monitoring.example.com>"))
    desk.deliver(_mail("Weekly digest", List_Id="<news.example.com>"))
    desk.deliver(_mail("Please create an account"))
    out = desk.run().output
    assert re.search(r"fetched 3, created 1, updated 0, quarantined 0, ignored 1, denied 1", out)
    event = desk.ticket(1)
    assert event.kind is TicketKind.EVENT and event.priority == "high"
    assert event.group is not None and event.group.name == "Operations"
    with desk.store.session() as s:
        outcomes = {r.outcome: r for r in s.scalars(select(IntakeRecord))}
    assert outcomes[Fate.DENIED].auto_reply_due
    assert outcomes[Fate.IGNORED].rules == "Newsletters"
    assert dovecot.count(desk.user) == 0  # all three were taken care of and acknowledged
    (denial,) = smtp_server.received
    assert denial.rcpt_tos == ("alice@example.com",)


def test_explain_says_what_would_happen_and_changes_nothing(
    dovecot: Dovecot, tmp_path: Path, database_url: str
) -> None:
    desk = Desk(dovecot, tmp_path, database_url, group="Service Desk")
    desk.deliver(_mail("Printer jams"))
    desk.run()
    eml = tmp_path / "reply.eml"
    msg = _mail("RE: [Incident] [IT] 1 Printer jams", "thanks")
    msg.add_attachment(b"log", maintype="text", subtype="plain", filename="trace.log")
    eml.write_bytes(msg.as_bytes())
    before = (desk.count(Ticket), desk.count(Activity), desk.count(Attachment))
    result = CliRunner().invoke(main, ["explain", str(eml), "--config", str(desk.config)], env=ENV)
    assert result.exit_code == 0, result.output
    assert "IT-1 by subject" in result.output
    assert "add a mail activity to IT-1" in result.output
    assert "keep  trace.log" in result.output
    assert (desk.count(Ticket), desk.count(Activity), desk.count(Attachment)) == before
    new = tmp_path / "new.eml"
    new.write_bytes(_mail("Monitor flickers", sender="nobody@example.net").as_bytes())
    result = CliRunner().invoke(main, ["explain", str(new), "--config", str(desk.config)], env=ENV)
    assert "create incident IT-2" in result.output
    assert "helpdesk (fallback user)" in result.output and "Service Desk" in result.output


def test_tnef_attached_mail_and_repeated_signature_images(
    dovecot: Dovecot, tmp_path: Path, database_url: str
) -> None:
    desk = Desk(dovecot, tmp_path, database_url, drop_signature_images=True)
    corpus = Path(__file__).parent / "corpus" / "malformed"
    desk.deliver((corpus / "42-tnef-winmail.eml").read_bytes())
    inner = _mail("The original problem", "inner body")
    for subject in ("First with logo", "RE: [Incident] [IT] 2 second with logo"):
        msg = _mail(subject, "see logo")
        msg.add_alternative('<p>see logo</p><img src="cid:logo@sig">', subtype="html")
        msg.get_payload()[1].add_related(
            PNG, maintype="image", subtype="png", cid="<logo@sig>", filename="logo.png"
        )
        if subject.startswith("First"):
            msg.add_attachment(inner)
        desk.deliver(msg)
    desk.run()

    tnef = desk.ticket(1)
    assert tnef.description.strip() == "Body from Outlook: C:\\Temp"
    assert sorted(a.filename for a in tnef.attachments) == ["logo.png", "notes.txt"]

    first = desk.ticket(2)
    assert {a.filename for a in first.attachments} == {"logo.png", "The original problem.eml"}
    eml = next(a for a in first.attachments if a.filename.endswith(".eml"))
    assert b"Subject: The original problem" in desk.store.blobs.path(eml.sha256).read_bytes()
    # The same logo inline again from the same sender: a signature image, dropped.
    (reply,) = first.activities
    assert [a.activity_id for a in first.attachments if a.activity_id == reply.id] == []
