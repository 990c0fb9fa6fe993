"""Outgoing mail and loop protection end to end: `deskmail run-once`, a real Dovecot
mailbox and a real aiosmtpd SMTP server."""

from __future__ import annotations

import re
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select

from deskmail.cli import main
from deskmail.store.engine import Store
from deskmail.store.models import Activity, OutboxStatus, OutgoingMail, Ticket
from tests.support.dovecot import Dovecot
from tests.support.smtp import SmtpServer
from tests.support.toml_config import job_table, write_config

ENV = {"OPS_PW": Dovecot.password}


def _mail(subject: str, sender: str = "Alice <alice@example.com>", **headers: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "support@example.com"
    msg["Subject"] = subject
    msg["Message-ID"] = make_msgid(domain="client.example.com")
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content("Hello, my printer is broken.\n")
    return msg.as_bytes()


class Desk:
    def __init__(
        self, dovecot: Dovecot, smtp: SmtpServer, tmp_path: Path, database_url: str, **job: Any
    ) -> None:
        self.dovecot, self.smtp = dovecot, smtp
        self.user = dovecot.user("ops")
        smtp_table = smtp.config().model_dump(mode="json", exclude_none=True)
        settings: dict[str, Any] = {"address": "support@example.com", **job}
        table = job_table(
            dovecot.job(self.user),
            name="Support",
            password_env="OPS_PW",
            after_processing="delete",
            smtp=smtp_table,
            **settings,
        )
        self.config = write_config(tmp_path / "deskmail.toml", database_url, [table])
        self.store = Store(database_url, tmp_path / "blobs")

    def deliver(self, raw: bytes) -> None:
        self.dovecot.append(self.user, raw)

    def run(self) -> Result:
        result = CliRunner().invoke(
            main, ["run-once", "--config", str(self.config)], env=ENV, catch_exceptions=False
        )
        assert result.exit_code == 0, result.output
        return result

    def acknowledged_request(self) -> EmailMessage:
        """A new ticket from an address that will bounce, and our acknowledgement of it."""
        self.deliver(_mail("Printer broken", sender="gone@example.net"))
        self.run()
        (sent,) = self.smtp.received
        return sent.message

    def outbox(self) -> list[OutgoingMail]:
        with self.store.session() as s:
            return list(s.scalars(select(OutgoingMail).order_by(OutgoingMail.id)))


def test_acknowledgement_is_sent_recorded_and_threads_back(
    dovecot: Dovecot, smtp_server: SmtpServer, tmp_path: Path, database_url: str
) -> None:
    desk = Desk(dovecot, smtp_server, tmp_path, database_url, send_acknowledgement=True)
    desk.deliver(_mail("Printer broken"))
    desk.run()
    (sent,) = smtp_server.received
    ack = sent.message
    with desk.store.session() as s:
        ticket = s.scalars(select(Ticket)).one()
        token = ticket.token
    assert sent.mail_from in ("", "<>")  # empty envelope sender: bounces never come back
    assert sent.rcpt_tos == ("alice@example.com",)
    assert ack["Auto-Submitted"] == "auto-replied"
    assert str(ack["Subject"]).startswith(f"[Incident] [IT] 1-{token}")
    # The reply to our acknowledgement joins the ticket by its In-Reply-To.
    desk.deliver(_mail("Re: thanks", In_Reply_To=ack["Message-ID"]))
    desk.run()
    with desk.store.session() as s:
        bodies = [a.body for a in s.scalars(select(Activity).order_by(Activity.id))]
    assert len(bodies) == 2  # our acknowledgement, recorded, then the reply
    assert "Hello, my printer is broken." in bodies[1]
    assert len(smtp_server.received) == 1  # no acknowledgement for a reply


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("Auto-Submitted", "auto-generated"),
        ("Precedence", "bulk"),
        ("Precedence", "junk"),
        ("Precedence", "list"),
        ("List-Id", "<news.example.com>"),
        ("List-Unsubscribe", "<mailto:unsubscribe@example.com>"),
        ("X-Auto-Response-Suppress", "All"),
        ("X-Auto-Response-Suppress", "OOF, AutoReply"),
        ("X-Loop", "support@example.com"),
    ],
)
def test_each_loop_header_suppresses_the_automatic_reply(
    dovecot: Dovecot,
    smtp_server: SmtpServer,
    tmp_path: Path,
    database_url: str,
    header: str,
    value: str,
) -> None:
    desk = Desk(dovecot, smtp_server, tmp_path, database_url, send_acknowledgement=True)
    desk.deliver(_mail("Printer broken", **{header.replace("-", "_"): value}))
    desk.run()
    assert smtp_server.received == []
    with desk.store.session() as s:
        assert s.scalars(select(Ticket)).one()  # the ticket is still made


@pytest.mark.parametrize("sender", ["MAILER-DAEMON@mx.example.com", "postmaster@example.org"])
def test_mailer_daemon_and_postmaster_get_no_reply(
    dovecot: Dovecot, smtp_server: SmtpServer, tmp_path: Path, database_url: str, sender: str
) -> None:
    desk = Desk(dovecot, smtp_server, tmp_path, database_url, send_acknowledgement=True)
    desk.deliver(_mail("Warning: could not deliver", sender=sender))
    desk.run()
    assert smtp_server.received == []


def test_an_auto_reply_storm_stops_by_itself(
    dovecot: Dovecot, smtp_server: SmtpServer, tmp_path: Path, database_url: str
) -> None:
    """A naive autoresponder answers every mail with a fresh subject and no loop headers."""
    desk = Desk(
        dovecot,
        smtp_server,
        tmp_path,
        database_url,
        send_acknowledgement=True,
        auto_reply_limit_per_day=5,
    )
    desk.deliver(_mail("Hello", sender="robot@partner.example"))
    answered = 0
    for _round in range(20):
        desk.run()
        mails = smtp_server.received
        if len(mails) == answered:
            break
        for _ in mails[answered:]:
            desk.deliver(_mail("Thank you for your message", sender="robot@partner.example"))
        answered = len(mails)
    else:
        pytest.fail("the storm did not stop")
    assert answered == 5  # the per-recipient daily cap
    suppressed = [m for m in desk.outbox() if m.status is OutboxStatus.SUPPRESSED]
    assert suppressed and "limit" in (suppressed[0].last_error or "")


def test_denied_request_gets_the_denial_reply(
    dovecot: Dovecot, smtp_server: SmtpServer, tmp_path: Path, database_url: str
) -> None:
    desk = Desk(dovecot, smtp_server, tmp_path, database_url, create_new_requests=False)
    mail = _mail("Please open a ticket")
    desk.deliver(mail)
    out = desk.run().output
    assert "denied 1" in out
    (sent,) = smtp_server.received
    assert sent.rcpt_tos == ("alice@example.com",)
    with desk.store.session() as s:
        assert s.scalars(select(Ticket)).first() is None
    assert dovecot.count(desk.user) == 0  # acknowledged once its reply was queued
    # Kept as received, and listed with its reply.
    listed = _cli("denied", "list", "--config", str(desk.config))
    assert listed.exit_code == 0, listed.output
    (row,) = listed.output.splitlines()[1:]
    record_id = row.split()[0]
    assert "Alice <alice@example.com>" in row and "Please open a ticket" in row
    assert " sent 20" in row
    shown = _cli("denied", "show", record_id, "--config", str(desk.config))
    assert "Subject:    Please open a ticket" in shown.output
    # Its advice names the file, so that it runs as printed from any folder.
    (again,) = [line for line in shown.output.splitlines() if line.startswith("deskmail ")]
    assert again.startswith(f"deskmail denied show {record_id} --raw --config {desk.config} >")
    assert "Hello, my printer" not in shown.output  # headers only, never the text
    raw = _cli("denied", "show", record_id, "--raw", "--config", str(desk.config))
    assert raw.stdout_bytes.replace(b"\r\n", b"\n") == mail  # as the server gave it (CRLF)


def test_a_denial_that_cannot_be_queued_keeps_the_mail_in_the_mailbox(
    dovecot: Dovecot, smtp_server: SmtpServer, tmp_path: Path, database_url: str
) -> None:
    # An address without a domain: no Message-ID can be made for the reply.
    desk = Desk(
        dovecot, smtp_server, tmp_path, database_url, create_new_requests=False, address="desk"
    )
    desk.deliver(_mail("Please open a ticket"))
    result = CliRunner().invoke(main, ["run-once", "--config", str(desk.config)], env=ENV)
    assert result.exit_code == 3, result.output  # quarantined, not denied and deleted
    assert "denied" not in result.output.split("\n")[-2]
    assert dovecot.count(desk.user) == 1
    assert smtp_server.received == []


def _cli(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), env=ENV, catch_exceptions=False)


def test_bounce_of_our_mail_lands_on_its_ticket_and_opens_nothing(
    dovecot: Dovecot, smtp_server: SmtpServer, tmp_path: Path, database_url: str
) -> None:
    desk = Desk(dovecot, smtp_server, tmp_path, database_url, send_acknowledgement=True)
    ack_id = desk.acknowledged_request()["Message-ID"]
    report = (
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.net>\r\n"
        "To: support@example.com\r\nSubject: Undelivered Mail Returned to Sender\r\n"
        f"Message-ID: {make_msgid(domain='mx.example.net')}\r\nAuto-Submitted: auto-replied\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        "--B\r\nContent-Type: text/plain\r\n\r\nThe mail could not be delivered.\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.net\r\n"
        "\r\nFinal-Recipient: rfc822; gone@example.net\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        "--B\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"Message-ID: {ack_id}\r\nSubject: ack\r\n--B--\r\n"
    ).encode()
    desk.deliver(report)
    desk.run()
    with desk.store.session() as s:
        tickets = list(s.scalars(select(Ticket)))
        assert len(tickets) == 1
        bodies = [a.body for a in tickets[0].activities]
    assert any("could not be delivered" in body for body in bodies)
    assert len(smtp_server.received) == 1  # nothing answers a bounce


BOUNCES = Path(__file__).parent / "corpus" / "bounces"


@pytest.mark.parametrize(
    ("name", "original", "said"),
    [
        # Japanese, ISO-2022-JP, from an address that is not a mailer daemon's
        ("hand-japanese-isp-ndr.eml", "deskmail.6f7e8d9c0b1a", "配信できませんでした"),
        # JSON from Amazon SES through SNS
        ("hand-ses-sns-bounce-notification.eml", "deskmail.fe98dc76ba54", "bouncedRecipients"),
        # Apache James: multipart/mixed, "[BOUNCE]", the returned mail attached
        ("hand-apache-james-bounce.eml", "deskmail.a0b1c2d3e4f5", "wasn't able to deliver"),
    ],
)
def test_bounces_as_other_mtas_write_them_land_on_their_ticket(
    name: str,
    original: str,
    said: str,
    dovecot: Dovecot,
    smtp_server: SmtpServer,
    tmp_path: Path,
    database_url: str,
) -> None:
    desk = Desk(dovecot, smtp_server, tmp_path, database_url, send_acknowledgement=True)
    ack_id = desk.acknowledged_request()["Message-ID"].strip("<>")
    report = (BOUNCES / name).read_bytes()
    desk.deliver(report.replace(f"{original}@desk.example.com".encode(), ack_id.encode()))
    desk.run()
    with desk.store.session() as s:
        (ticket,) = s.scalars(select(Ticket))
        bodies = [a.body for a in ticket.activities]
    assert any(said in body for body in bodies), bodies
    assert len(smtp_server.received) == 1  # nothing answers a bounce


def test_reports_open_no_ticket_and_look_alikes_do(
    dovecot: Dovecot, smtp_server: SmtpServer, tmp_path: Path, database_url: str
) -> None:
    desk = Desk(dovecot, smtp_server, tmp_path, database_url, send_acknowledgement=True)
    reports = [
        "hand-arf-rfc5965-abuse.eml",
        "hand-mimecast-rejection.eml",
        "hand-fml-not-member.eml",
        "generated-exim-rcpt-rejected.eml",
        "hand-trendmicro-imss.eml",
    ]
    look_alikes = [
        "hand-ordinary-forwarded-bounce-attached.eml",
        "hand-ordinary-postmaster-unblock-request.eml",
    ]
    for name in reports + look_alikes:
        desk.deliver((BOUNCES / name).read_bytes())
    out = desk.run().output
    assert "ignored 5" in out
    with desk.store.session() as s:
        subjects = sorted(t.subject for t in s.scalars(select(Ticket)))
    assert subjects == [
        "Fwd: Undelivered Mail Returned to Sender",
        "Your server rejects our mail (550 5.7.1)",
    ]
    # The person is acknowledged; a postmaster never is (test_mailer_daemon_and_postmaster_...).
    assert [str(m.message["To"]) for m in smtp_server.received] == ["maria.lopez@client.example"]


def test_a_bounce_quoting_only_the_subject_lands_by_the_token_reference(
    dovecot: Dovecot, smtp_server: SmtpServer, tmp_path: Path, database_url: str
) -> None:
    desk = Desk(dovecot, smtp_server, tmp_path, database_url, send_acknowledgement=True)
    subject = str(desk.acknowledged_request()["Subject"])
    number, token = re.search(r"\] (\d+)-([a-z0-9]+)", subject).groups()  # type: ignore[union-attr]

    def exchange_2003(quoted: str) -> bytes:
        return (
            "From: System Administrator <postmaster@mx.example.net>\r\n"
            f"To: support@example.com\r\nSubject: Undeliverable: {quoted}\r\n"
            f"Message-ID: {make_msgid(domain='mx.example.net')}\r\n\r\n"
            f"Your message\r\n\r\n  Subject: {quoted}\r\n\r\n"
            "did not reach the following recipient(s):\r\n\r\ngone@example.net\r\n"
            "    The e-mail account does not exist.\r\n    <mx.example.net #5.1.1>\r\n"
        ).encode()

    desk.deliver(exchange_2003(subject))
    desk.deliver(exchange_2003(subject.replace(f"{number}-{token}", f"{number}-zzzzzzzz")))
    out = desk.run().output
    assert "updated 1" in out and "ignored 1" in out
    with desk.store.session() as s:
        (ticket,) = s.scalars(select(Ticket))
        bodies = [a.body for a in ticket.activities]
    assert sum("did not reach" in body for body in bodies) == 1
    assert len(smtp_server.received) == 1


def test_out_of_office_is_recorded_not_ticketed(
    dovecot: Dovecot, smtp_server: SmtpServer, tmp_path: Path, database_url: str
) -> None:
    desk = Desk(dovecot, smtp_server, tmp_path, database_url, send_acknowledgement=True)
    desk.deliver(_mail("Automatic reply: Printer broken", Auto_Submitted="auto-replied"))
    out = desk.run().output
    assert "ignored 1" in out
    with desk.store.session() as s:
        assert s.scalars(select(Ticket)).first() is None
    assert smtp_server.received == []
    history = CliRunner().invoke(main, ["history", "--config", str(desk.config)], env=ENV)
    # fetched, created, updated, ignored, denied, duplicates, quarantined, acknowledged, sent
    assert history.output.splitlines()[1].split()[5:14] == [
        "1",
        "0",
        "0",
        "1",
        "0",
        "0",
        "0",
        "1",
        "0",
    ]
