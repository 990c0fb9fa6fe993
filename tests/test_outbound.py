"""Outgoing mail: composing, templates, SMTP against real aiosmtpd, the outbox on both databases."""

from __future__ import annotations

import re
import socket
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from sqlalchemy import select

from deskmail.apply.recent_tickets import recent_ticket_for_sender
from deskmail.apply.threads import StoreLookup
from deskmail.classify.loops import is_own_message_id
from deskmail.classify.threading import find_thread
from deskmail.config.errors import ConfigError
from deskmail.config.fate import Fate
from deskmail.config.models import DeskmailConfig, JobConfig, SmtpConfig
from deskmail.config.secrets import REDACTED, redact, resolve_smtp_password
from deskmail.outbound import outbox
from deskmail.outbound.compose import (
    build_message,
    clean_message_id,
    header_text,
    mail_address,
    new_message_id,
    subject_line,
)
from deskmail.outbound.outbox import MailKind, deliver_pending, queue
from deskmail.outbound.smtp import SmtpError, send_message
from deskmail.outbound.templates import TemplateError, Templates
from deskmail.parse.message import ParsedMessage
from deskmail.parse.parser import parse_message
from deskmail.sources.errors import Step
from deskmail.store.engine import Store
from deskmail.store.models import (
    Activity,
    IntakeRecord,
    OutboxStatus,
    OutgoingMail,
    Team,
    Ticket,
    TicketKind,
    TicketMessage,
)
from tests.support.smtp import UNICODE_PASSWORD, UNICODE_USER, Security, SmtpServer

DESK = "support@desk.example.com"
REFERENCE = "[Incident] [IT] 12-abcdefgh"


def compose(
    *,
    subject: str = subject_line(REFERENCE, "Printer on fire"),
    from_name: str = "Service Desk",
    to: str = "alice@example.com",
    html: str | None = None,
    in_reply_to: str | None = "1234@example.com",
) -> bytes:
    return build_message(
        from_name=from_name,
        from_address=DESK,
        to=to,
        subject=subject,
        text="We have registered your request.\n",
        html=html,
        message_id="<deskmail.0123abcd@desk.example.com>",
        in_reply_to=in_reply_to,
    ).as_bytes()


def incoming(
    *headers: str, subject: str = "Printer on fire", sender: str = "alice@example.com"
) -> ParsedMessage:
    lines = [
        f"From: Alice Example <{sender}>",
        f"To: {DESK}",
        f"Subject: {subject}",
        "Message-ID: <1234@example.com>",
        *headers,
        "",
        "Please help.",
    ]
    return parse_message("\r\n".join(lines).encode())


# --- composing ----------------------------------------------------------------------------


def test_headers_of_an_automatic_mail() -> None:
    parsed = message_from_bytes(compose(), policy=policy.default)
    assert parsed["From"] == f"Service Desk <{DESK}>"
    assert parsed["To"] == "alice@example.com"
    assert parsed["Subject"] == f"{REFERENCE} Printer on fire"
    assert parsed["Message-ID"] == "<deskmail.0123abcd@desk.example.com>"
    assert parsed["In-Reply-To"] == parsed["References"] == "<1234@example.com>"
    assert parsed["Auto-Submitted"] == "auto-replied"
    assert parsed["X-Auto-Response-Suppress"] == "All"
    assert parsed["X-Loop"] == DESK
    assert parsed["Date"] is not None
    assert parsed.get_content_type() == "text/plain"


def test_html_alternative() -> None:
    parsed = message_from_bytes(compose(html="<p>Registered.</p>"), policy=policy.default)
    assert parsed.get_content_type() == "multipart/alternative"
    parts = [part.get_content_type() for part in parsed.iter_parts()]
    assert parts == ["text/plain", "text/html"]


def test_our_message_ids_are_unique_and_recognised() -> None:
    first, second = new_message_id(DESK), new_message_id("Support@Desk.Example.com")
    assert first != second
    assert re.fullmatch(r"<deskmail\.[0-9a-f]{24}@desk\.example\.com>", second)
    assert is_own_message_id(first, "desk.example.com")


@pytest.mark.parametrize(
    "hostile",
    [
        "Printer\r\nBcc: victim@example.org",
        "Printer\nBcc: victim@example.org",
        "Printer\rBcc: victim@example.org",
        "Printer\x00Bcc: victim@example.org",
        "Printer\u2028Bcc: victim@example.org",
    ],
)
def test_line_breaks_and_nul_in_mail_content_never_reach_a_header(hostile: str) -> None:
    raw = compose(subject=subject_line(REFERENCE, hostile), from_name=f"Desk {hostile}")
    head = raw.split(b"\r\n\r\n", 1)[0]
    names = [line.split(b":", 1)[0] for line in head.split(b"\r\n") if line[:1] not in b" \t"]
    assert b"Bcc" not in names
    assert b"\x00" not in head
    parsed = message_from_bytes(raw, policy=policy.default)
    assert parsed["Bcc"] is None
    assert parsed["Subject"].startswith(f"{REFERENCE} Printer")
    assert "victim@example.org" in parsed["Subject"]  # kept as text, on the one line


@pytest.mark.parametrize(
    "address",
    ["alice@example.com\r\nBcc: victim@example.org", "alice@example.com\x00", "Alice <a@b.c>",
     "no-at-sign", "a b@example.com", "@example.com", "alice@"],
)  # fmt: skip
def test_unusable_recipient_addresses_are_refused(address: str) -> None:
    with pytest.raises(ValueError, match="not a usable mail address"):
        mail_address(address)
    with pytest.raises(ValueError):
        compose(to=address)


def test_a_hostile_message_id_is_refused() -> None:
    assert clean_message_id("<abc@example.com>") == "abc@example.com"
    assert clean_message_id("abc@example.com>\r\nBcc: x@y") is None
    assert clean_message_id("a\x00b@example.com") is None
    assert clean_message_id(None) is None
    with pytest.raises(ValueError, match="not a usable Message-ID"):
        compose(in_reply_to="x@y\r\nBcc: victim@example.org")


def test_header_text_is_one_capped_line() -> None:
    assert header_text("a\r\n\tb\x00c") == "a b\ufffdc"
    long = header_text("x" * 5000)
    assert len(long) == 300
    assert long.endswith("…")


# --- templates ----------------------------------------------------------------------------


def variables(**extra: object) -> dict[str, object]:
    values: dict[str, object] = {
        "kind": "acknowledgement",
        "job": "Support",
        "desk": {"name": "Service Desk", "address": DESK},
        "reference": REFERENCE,
        "ticket": {"number": 12, "subject": "Printer <on> fire", "kind": "incident",
                   "team": "IT", "status": "new", "reference": REFERENCE},
        "message": {"subject": "Printer <on> fire", "sender_name": "Alice",
                    "sender_address": "alice@example.com", "date": None, "text": "Please help."},
    }  # fmt: skip
    values.update(extra)
    return values


@pytest.mark.parametrize("kind", list(MailKind))
def test_built_in_templates_render(kind: MailKind) -> None:
    rendered = Templates().render(kind.value, variables(kind=kind.value))
    assert rendered.subject and "\n" not in rendered.subject
    assert rendered.text.endswith("\n")
    assert "Service Desk" in rendered.text


def test_acknowledgement_says_how_to_reply_and_escapes_html() -> None:
    rendered = Templates().render("acknowledgement", variables())
    assert rendered.subject == "Printer <on> fire"
    assert "number 12" in rendered.text and REFERENCE in rendered.text
    assert "Printer <on> fire" in rendered.text  # plain text is not escaped
    assert rendered.html is not None
    assert "Printer &lt;on&gt; fire" in rendered.html


def test_denied_without_a_ticket() -> None:
    rendered = Templates().render("denied", variables(ticket=None, reference=None))
    assert rendered.subject == "Re: Printer <on> fire"
    assert "no request was" in rendered.text
    assert rendered.html is None


def test_override_replaces_a_part_and_text_brings_its_own_html(tmp_path: Path) -> None:
    (tmp_path / "acknowledgement.subject.j2").write_text("Got it: {{ ticket.subject }}\n")
    (tmp_path / "acknowledgement.text.j2").write_text("Ticket {{ ticket.number }}.")
    rendered = Templates(tmp_path).render("acknowledgement", variables())
    assert rendered.subject == "Got it: Printer <on> fire"
    assert rendered.text == "Ticket 12.\n"
    assert rendered.html is None  # not the built-in HTML next to a different text
    (tmp_path / "acknowledgement.html.j2").write_text("<b>{{ ticket.subject }}</b>")
    assert Templates(tmp_path).render("acknowledgement", variables()).html == (
        "<b>Printer &lt;on&gt; fire</b>"
    )


def test_broken_override_names_the_file(tmp_path: Path) -> None:
    broken = tmp_path / "denied.text.j2"
    broken.write_text("Hello\n{{ message.subject + }}\n")
    with pytest.raises(TemplateError, match=rf"^{re.escape(str(broken))}:2: "):
        Templates(tmp_path).render("denied", variables())
    broken.write_text("Hello {{ no_such_variable }}")
    with pytest.raises(TemplateError, match=rf"^{re.escape(str(broken))}: .*no_such_variable"):
        Templates(tmp_path).render("denied", variables())


def test_missing_templates_dir_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="is not a folder"):
        Templates(tmp_path / "missing").render("denied", variables())


# --- SMTP against aiosmtpd ----------------------------------------------------------------


def send(server: SmtpServer, settings: SmtpConfig | None = None) -> None:
    settings = settings or server.config()
    send_message(settings, settings.password, build_message(
        from_name="Service Desk", from_address=DESK, to="alice@example.com", subject="Hello",
        text="Body\n", message_id=new_message_id(DESK),
    ), ["alice@example.com"])  # fmt: skip


@pytest.mark.parametrize("security", ["none", "starttls", "ssl"])
def test_sends_with_an_empty_envelope_sender(smtp_server: SmtpServer, security: Security) -> None:
    server = smtp_server if security == "none" else smtp_server.variant(security)
    send(server)
    (received,) = server.received
    assert received.mail_from == "<>"
    assert received.rcpt_tos == ("alice@example.com",)
    assert received.tls is (security != "none")
    assert received.message["Subject"] == "Hello"
    assert received.message["Auto-Submitted"] == "auto-replied"


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_certificate_refused_by_default_and_accepted_when_told(
    smtp_server: SmtpServer, security: Security
) -> None:
    server = smtp_server.variant(security)
    with pytest.raises(SmtpError) as caught:
        send(server, server.config(ca_file=None))
    assert caught.value.step is Step.CERTIFICATE
    assert "certificate verify failed" in str(caught.value)
    assert server.received == []
    send(server, server.config(ca_file=None, reject_invalid_certificates=False))
    send(server)  # or trusted through ca_file
    assert len(server.received) == 2


def test_starttls_not_offered_stops_before_auth(smtp_server: SmtpServer) -> None:
    clear = smtp_server.variant("none", auth=True)  # offers AUTH in clear text, no STARTTLS
    with pytest.raises(SmtpError) as caught:
        send(clear, clear.config(security="starttls"))
    assert caught.value.step is Step.STARTTLS
    assert "nothing was sent in clear text" in str(caught.value)
    assert clear.auth_attempts == []
    assert clear.received == []


def test_login_when_a_user_is_set(smtp_server: SmtpServer) -> None:
    server = smtp_server.variant("starttls", auth=True)
    send(server)
    assert server.received[0].user == "desk"
    with pytest.raises(SmtpError) as caught:
        send(server, server.config(password="wrong"))
    assert caught.value.step is Step.AUTHENTICATION
    assert "535" in str(caught.value)
    with pytest.raises(SmtpError) as caught:
        send(server, server.config(user=""))  # AUTH required by the server
    assert not caught.value.refused  # our settings, not this mail: not given up at once
    assert "MAIL FROM:<> refused: 530" in str(caught.value)


def test_non_ascii_credentials_are_sent_as_utf8(smtp_server: SmtpServer) -> None:
    server = smtp_server.variant("starttls", auth=True)
    send(server, server.config(user=UNICODE_USER, password=UNICODE_PASSWORD))
    assert server.received[0].user == UNICODE_USER


def test_unreachable_server_names_the_step(smtp_server: SmtpServer) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # bound, not listening: refused
        with pytest.raises(SmtpError) as caught:
            send(smtp_server, smtp_server.config(port=port))
    assert caught.value.step is Step.CONNECT
    assert f"127.0.0.1:{port}" in str(caught.value)
    assert not caught.value.refused


def test_refused_mail_is_told_apart_from_a_broken_server(smtp_server: SmtpServer) -> None:
    smtp_server.refuse_data("550 5.7.1 message rejected")
    with pytest.raises(SmtpError) as caught:
        send(smtp_server)
    assert caught.value.refused and caught.value.permanent
    assert "DATA refused: 550 5.7.1 message rejected" in str(caught.value)
    smtp_server.refuse_data("451 4.3.0 try again later")
    with pytest.raises(SmtpError) as caught:
        send(smtp_server)
    assert caught.value.refused and not caught.value.permanent


# --- SMTP passwords and redaction ---------------------------------------------------------


def test_smtp_password_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    base = {"server": "smtp.example.com", "from_address": DESK, "user": "desk"}
    assert resolve_smtp_password(SmtpConfig(**{**base, "user": "", "password_env": "X"})) is None
    monkeypatch.setenv("DESKMAIL_SMTP_PASSWORD", "s3cr€t")
    assert resolve_smtp_password(SmtpConfig(**base, password_env="DESKMAIL_SMTP_PASSWORD")) == (
        "s3cr€t"
    )
    (tmp_path / "pw").write_text("from-file\nnext\n")
    assert resolve_smtp_password(SmtpConfig(**base, password_file=tmp_path / "pw")) == "from-file"
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    unset = SmtpConfig(**base, password_env="NOT_SET_ANYWHERE")
    with pytest.raises(ConfigError) as caught:
        resolve_smtp_password(unset, file=tmp_path / "deskmail.toml", key='jobs[0] ("S").smtp')
    assert str(caught.value) == (
        f'{tmp_path}/deskmail.toml: jobs[0] ("S").smtp.password_env:'
        " environment variable NOT_SET_ANYWHERE is not set"
    )


def test_redact_hides_a_jobs_smtp_password(tmp_path: Path) -> None:
    smtp = SmtpConfig(server="smtp.example.com", from_address=DESK, user="u", password="hunter2")
    job = JobConfig(name="S", protocol="maildir", path=tmp_path, smtp=smtp)
    settings = redact(job)
    assert settings["smtp"]["password"] == REDACTED
    assert settings["smtp"]["server"] == "smtp.example.com"
    assert "hunter2" not in repr(settings)


# --- the outbox, on SQLite and PostgreSQL -------------------------------------------------


@pytest.fixture
def job(tmp_path: Path) -> JobConfig:
    return JobConfig(name="Support", protocol="maildir", path=tmp_path, address=DESK)


def desk_config(
    server: SmtpServer, templates_dir: Path | None = None, **smtp: object
) -> DeskmailConfig:
    return DeskmailConfig(smtp=server.config(**smtp), templates_dir=templates_dir)


def new_ticket(store: Store, number: int = 12, sender: str = "alice@example.com") -> int:
    with store.transaction() as session:
        team = session.scalar(select(Team).where(Team.name == "IT")) or Team(name="IT")
        ticket = Ticket(
            team=team,
            number=number,
            kind=TicketKind.INCIDENT,
            subject="Printer on fire",
            token="abcdefgh",
            sender_address=sender,
        )
        session.add(ticket)
        session.flush()
        return ticket.id


def queue_one(
    store: Store,
    config: DeskmailConfig,
    job: JobConfig,
    ticket_id: int | None,
    kind: MailKind = MailKind.ACKNOWLEDGEMENT,
    to: str = "alice@example.com",
    answering: ParsedMessage | None = None,
) -> OutgoingMail:
    with store.transaction() as session:
        ticket = session.get(Ticket, ticket_id) if ticket_id is not None else None
        row = queue(session, config, job, kind, ticket, to, answering or incoming())
        assert row is not None
        return row


def rows(store: Store) -> list[OutgoingMail]:
    with store.session() as session:
        return list(session.scalars(select(OutgoingMail).order_by(OutgoingMail.id)))


def test_acknowledgement_is_sent_recorded_and_threads(
    store: Store, smtp_server: SmtpServer, job: JobConfig
) -> None:
    config = desk_config(smtp_server)
    ticket_id = new_ticket(store)
    queued = queue_one(store, config, job, ticket_id)
    assert queued.status is OutboxStatus.PENDING
    assert queued.subject == f"{REFERENCE} Printer on fire"
    assert queued.in_reply_to == "1234@example.com"
    assert smtp_server.received == []  # nothing is sent inside the transaction

    report = deliver_pending(store, config, job)
    assert (report.sent, report.retrying, report.failed) == (1, 0, 0)
    (row,) = rows(store)
    assert row.status is OutboxStatus.SENT
    assert row.sent_at is not None and row.attempts == 1
    (received,) = smtp_server.received
    assert received.mail_from == "<>"
    sent = received.message
    assert sent["Subject"] == f"{REFERENCE} Printer on fire"
    assert sent["Message-ID"] == f"<{row.message_id.strip('<>')}>"
    assert sent["In-Reply-To"] == "<1234@example.com>"
    with store.session() as session:
        activity = session.get(Activity, row.activity_id)
        assert activity is not None and activity.ticket_id == ticket_id
        assert activity.from_address == DESK
        assert activity.body == row.body_text
        (recorded,) = session.scalars(select(TicketMessage)).all()
        assert (recorded.direction, recorded.activity_id) == ("out", activity.id)
        # The requester's reply to the acknowledgement finds the ticket by its Message-ID.
        reply = incoming(f"In-Reply-To: {sent['Message-ID']}", subject="Re: thanks")
        match = find_thread(reply, StoreLookup(session), "IT")
        assert match is not None and match.ticket_id == ticket_id

    assert deliver_pending(store, config, job).sent == 0  # sent once only


def test_a_crash_between_sending_and_marking_resends_only_that_mail(
    store: Store, smtp_server: SmtpServer, job: JobConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = desk_config(smtp_server)
    ticket_id = new_ticket(store)
    queue_one(store, config, job, ticket_id)
    queue_one(store, config, job, ticket_id)

    def killed(*args: object) -> None:
        raise RuntimeError("killed after sending, before marking")

    monkeypatch.setattr(outbox, "_sent", killed)
    with pytest.raises(RuntimeError):
        deliver_pending(store, config, job)
    monkeypatch.undo()
    assert deliver_pending(store, config, job).sent == 2
    sent = [received.message["Message-ID"] for received in smtp_server.received]
    assert len(sent) == 3
    assert sent[0] == sent[1] != sent[2]  # the same mail again, with the same Message-ID


def test_denial_without_a_ticket_is_sent_without_an_activity(
    store: Store, smtp_server: SmtpServer, job: JobConfig
) -> None:
    config = desk_config(smtp_server)
    queue_one(store, config, job, None, MailKind.DENIED)
    assert deliver_pending(store, config, job).sent == 1
    assert smtp_server.received[0].message["Subject"] == "Re: Printer on fire"
    with store.session() as session:
        assert session.scalars(select(Activity)).all() == []


def test_the_eleventh_mail_to_a_recipient_in_a_day_is_suppressed(
    store: Store, smtp_server: SmtpServer, job: JobConfig
) -> None:
    config = desk_config(smtp_server)
    ticket_id = new_ticket(store)
    for _ in range(10):
        assert queue_one(store, config, job, ticket_id).status is OutboxStatus.PENDING
    eleventh = queue_one(store, config, job, ticket_id, to="Alice@Example.com")
    assert eleventh.status is OutboxStatus.SUPPRESSED
    assert eleventh.last_error is not None and "daily limit" in eleventh.last_error
    assert queue_one(store, config, job, ticket_id, to="bob@example.com").status is (
        OutboxStatus.PENDING
    )
    # Notices to our own group are not answers: not capped.
    notice = queue_one(store, config, job, ticket_id, MailKind.GROUP_NOTICE)
    assert notice.status is OutboxStatus.PENDING
    assert deliver_pending(store, config, job).sent == 12


def test_loop_rules_suppress_and_say_why(
    store: Store, smtp_server: SmtpServer, job: JobConfig
) -> None:
    config = desk_config(smtp_server)
    ticket_id = new_ticket(store)
    looped = queue_one(store, config, job, ticket_id, answering=incoming("Precedence: bulk"))
    assert looped.status is OutboxStatus.SUPPRESSED
    assert looped.last_error == "loop protection: Precedence: bulk"
    ours = queue_one(store, config, job, ticket_id, to=DESK.upper())
    assert ours.last_error == "the recipient is this desk's own address"
    bad = queue_one(store, config, job, ticket_id, to="alice@example.com\r\nBcc: x@example.org")
    assert bad.status is OutboxStatus.SUPPRESSED
    assert "\n" not in bad.recipient
    # A reply to our own mail is not acknowledged, but the group still hears of it.
    reply = incoming("In-Reply-To: <deskmail.0123abcd@desk.example.com>")
    assert queue_one(store, config, job, ticket_id, answering=reply).status is (
        OutboxStatus.SUPPRESSED
    )
    notice = queue_one(store, config, job, ticket_id, MailKind.GROUP_NOTICE, answering=reply)
    assert notice.status is OutboxStatus.PENDING
    assert deliver_pending(store, config, job).sent == 1


def test_broken_template_fails_the_mail_not_the_transaction(
    store: Store, smtp_server: SmtpServer, job: JobConfig, tmp_path: Path
) -> None:
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "acknowledgement.text.j2").write_text("{{ ticket.nope }}")
    config = desk_config(smtp_server, templates)
    row = queue_one(store, config, job, new_ticket(store))
    assert row.status is OutboxStatus.FAILED
    assert row.last_error is not None and "acknowledgement.text.j2" in row.last_error
    assert deliver_pending(store, config, job).sent == 0


def test_unreachable_server_leaves_the_mail_pending(
    store: Store, smtp_server: SmtpServer, job: JobConfig
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        down = desk_config(smtp_server, port=probe.getsockname()[1])
        ticket_id = new_ticket(store)
        queue_one(store, down, job, ticket_id)
        queue_one(store, down, job, ticket_id)
        report = deliver_pending(store, down, job, max_attempts=2)
        assert (report.sent, report.retrying, report.failed) == (0, 1, 0)
        first, second = rows(store)
        assert (first.status, first.attempts) == (OutboxStatus.PENDING, 1)
        assert first.last_error is not None and "connect failed" in first.last_error
        assert second.attempts == 0  # not tried while the server is down
        report = deliver_pending(store, down, job, max_attempts=2)
        assert (report.retrying, report.failed) == (0, 1)
        assert rows(store)[0].status is OutboxStatus.FAILED
    # The server is back: the rest goes out.
    assert deliver_pending(store, desk_config(smtp_server), job).sent == 1


def test_refused_mail_is_retried_or_given_up(
    store: Store, smtp_server: SmtpServer, job: JobConfig
) -> None:
    config = desk_config(smtp_server)
    ticket_id = new_ticket(store)
    queue_one(store, config, job, ticket_id)
    queue_one(store, config, job, ticket_id)
    smtp_server.refuse_data("451 4.3.0 try again later")
    report = deliver_pending(store, config, job)
    assert report.retrying == 2  # a refusal does not stop the others
    assert [(r.status, r.attempts) for r in rows(store)] == [(OutboxStatus.PENDING, 1)] * 2
    smtp_server.refuse_data("550 5.7.1 rejected")
    assert deliver_pending(store, config, job).failed == 2
    assert {r.status for r in rows(store)} == {OutboxStatus.FAILED}


def test_smtp_password_problem_is_reported_not_raised(
    store: Store, smtp_server: SmtpServer, job: JobConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    server = smtp_server.variant("starttls", auth=True)
    config = desk_config(server, password=None, password_env="NOT_SET_ANYWHERE")
    queue_one(store, config, job, new_ticket(store))
    report = deliver_pending(store, config, job)
    assert report.retrying == 1
    assert "smtp.password_env: environment variable NOT_SET_ANYWHERE" in report.errors[0]
    assert server.auth_attempts == []


# --- flood limit --------------------------------------------------------------------------


def test_new_tickets_per_sender_per_hour(store: Store, job: JobConfig) -> None:
    def created(number: int, sender: str = "alice@example.com", job_name: str = "Support") -> int:
        ticket_id = new_ticket(store, number, sender)
        with store.transaction() as session:
            record = IntakeRecord(
                job=job_name,
                source_key=f"k{number}",
                sha256="0" * 64,
                outcome=Fate.CREATED,
                ticket_id=ticket_id,
            )
            session.add(record)
        return ticket_id

    created(1)
    created(2, "bob@example.com")
    created(3, job_name="Other job")
    with store.session() as session:
        assert recent_ticket_for_sender(session, job, "Alice@Example.com", 2) is None
    last = created(4)
    with store.session() as session:
        found = recent_ticket_for_sender(session, job, " Alice@Example.com", 2)
        assert found is not None and found.id == last
        assert recent_ticket_for_sender(session, job, "alice@example.com") is None  # default 30
        assert recent_ticket_for_sender(session, job, "bob@example.com", 2) is None
