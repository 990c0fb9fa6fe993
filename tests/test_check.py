"""check_connection names the step that failed; describe_failure says it in one line plus a hint."""

from __future__ import annotations

import mailbox
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from deskmail.cli import main
from deskmail.config.models import JobConfig, Timeouts
from deskmail.sources.check import check_connection, describe_failure
from deskmail.sources.errors import SourceError, Step
from tests.support.dovecot import NTLM_USER, PASSWORD, Dovecot, make_mail
from tests.support.graph import CLIENT_SECRET, Microsoft365, graph_job_settings
from tests.support.toml_config import job_table, write_config


def _failure(job: JobConfig, password: str | None = PASSWORD) -> SourceError:
    with pytest.raises(SourceError) as failure:
        check_connection(job, password)
    return failure.value


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as probe:  # bound then closed: nothing listens there
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never says a word."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(5)
        yield int(listener.getsockname()[1])


@pytest.mark.parametrize("protocol", ["imap", "pop3"])
def test_check_reports_the_open_mailbox(dovecot: Dovecot, protocol: str) -> None:
    user = dovecot.user()
    for _ in range(2):
        dovecot.append(user, make_mail())
    info = check_connection(dovecot.job(user, protocol, "ssl"), PASSWORD)
    port = dovecot.imaps_port if protocol == "imap" else dovecot.pop3s_port
    assert (info.protocol, info.server, info.folder) == (protocol, f"127.0.0.1:{port}", "INBOX")
    assert info.message_count == 2
    assert info.tls is not None and info.tls.startswith("TLSv1.")
    if protocol == "imap":
        assert info.identity == str(dovecot.uidvalidity(user))


def test_check_a_maildir(tmp_path: Path) -> None:
    box = mailbox.Maildir(tmp_path / "Maildir", create=True)
    box.add(b"Subject: x\n\nbody\n")
    info = check_connection(JobConfig(protocol="maildir", path=tmp_path / "Maildir"), None)
    assert (info.protocol, info.message_count, info.tls) == ("maildir", 1, None)
    assert info.read_only == ()


def _check_output(config: Path, env: dict[str, str] | None = None) -> str:
    result = CliRunner().invoke(main, ["check", "--config", str(config)], env=env)
    assert result.exit_code == 0, result.output
    return result.output


def test_check_says_what_a_maildir_holds_against_the_journal(
    tmp_path: Path, database_url: str
) -> None:
    box = mailbox.Maildir(tmp_path / "Maildir", create=True)
    for subject in ("one", "two"):
        box.add(f"From: a@example.com\nSubject: {subject}\n\nbody\n".encode())
    job = job_table(JobConfig(name="Box", protocol="maildir", path=tmp_path / "Maildir"))
    config = write_config(tmp_path / "d.toml", database_url, [job])
    sqlite_file = tmp_path / "deskmail.db"

    before = _check_output(config)
    # No TLS and no folder: neither means anything for a local Maildir.
    assert before == (
        f"Box: OK - Maildir {tmp_path / 'Maildir'}, readable and writable: 2 messages (2 new)\n"
    )
    if database_url.startswith("sqlite"):
        assert not sqlite_file.exists()  # a check creates no database

    assert CliRunner().invoke(main, ["run-once", "--config", str(config)]).exit_code == 0
    # Kept (mark_seen moves them to cur/), so still there: but nothing is left to take in.
    assert _check_output(config).endswith(": 2 messages (none new, 2 already taken in)\n")

    box.add(b"From: a@example.com\nSubject: three\n\nbody\n")
    assert _check_output(config).endswith(": 3 messages (1 new, 2 already taken in)\n")


def test_check_of_pop3_names_no_folder_and_counts_in_the_singular(
    dovecot: Dovecot, tmp_path: Path, database_url: str
) -> None:
    user = dovecot.user()
    dovecot.append(user, make_mail())
    job = job_table(dovecot.job(user, "pop3", "ssl"), name="Pop", password_env="CHECK_PW")
    config = write_config(tmp_path / "d.toml", database_url, [job])
    output = _check_output(config, env={"CHECK_PW": PASSWORD})
    assert output.startswith(f"Pop: OK - pop3 127.0.0.1:{dovecot.pop3s_port}, TLSv1.")
    assert output.endswith(": 1 message (1 new)\n")
    assert "folder" not in output


@pytest.mark.parametrize("protocol", ["imap", "pop3"])
def test_dns_failure(dovecot: Dovecot, protocol: str) -> None:
    job = dovecot.job(dovecot.user(), protocol, "ssl", server="no-such-host.invalid")
    err = _failure(job)
    assert err.step is Step.DNS
    assert describe_failure(err).startswith(f"FAILED at DNS (no-such-host.invalid:{job.port}): ")


@pytest.mark.parametrize("protocol", ["imap", "pop3"])
def test_connection_refused(dovecot: Dovecot, protocol: str, closed_port: int) -> None:
    err = _failure(dovecot.job(dovecot.user(), protocol, "ssl", port=closed_port))
    assert err.step is Step.CONNECT
    assert err.server == f"127.0.0.1:{closed_port}"
    assert "refused" in err.detail.lower()


@pytest.mark.parametrize("protocol", ["imap", "pop3"])
def test_timeout_when_the_server_never_greets(
    dovecot: Dovecot, protocol: str, silent_port: int
) -> None:
    timeouts = Timeouts(connect=0.3, read=0.3)
    job = dovecot.job(dovecot.user(), protocol, "none", port=silent_port, timeouts=timeouts)
    started = time.monotonic()
    err = _failure(job)
    assert err.step is Step.TIMEOUT
    assert time.monotonic() - started < 5


def test_certificate_failure_is_described_with_a_hint(dovecot: Dovecot) -> None:
    err = _failure(dovecot.job(dovecot.user(), "imap", "ssl", ca_file=None))
    text = describe_failure(err)
    first, hint = text.split("\n")
    assert first == (
        f"FAILED at certificate (127.0.0.1:{dovecot.imaps_port}):"
        " certificate verify failed: self-signed certificate"
    )
    assert "ca_file" in hint and "reject_invalid_certificates = false" in hint


def test_host_name_mismatch_hint(dovecot: Dovecot) -> None:
    if dovecot.alt_imaps_port is None:
        pytest.skip("127.0.0.2 is not on loopback here")
    job = dovecot.job(
        dovecot.user(), "imap", "ssl", server="127.0.0.2", port=dovecot.alt_imaps_port
    )
    text = describe_failure(_failure(job))
    assert "IP address mismatch" in text
    assert "name it was issued for" in text


def test_starttls_missing_is_described(dovecot: Dovecot) -> None:
    plain = dovecot.no_tls
    err = _failure(plain.job(plain.user(), "imap", "starttls"))
    text = describe_failure(err)
    assert text.startswith(f"FAILED at STARTTLS not offered (127.0.0.1:{plain.imap_port}): ")
    assert "security = ssl" in text


def test_wrong_password_and_missing_folder(dovecot: Dovecot) -> None:
    user = dovecot.user()
    assert _failure(dovecot.job(user, "imap", "ssl"), "wrong").step is Step.AUTHENTICATION
    err = _failure(dovecot.job(user, "imap", "ssl", folder="INBOX/Tickets"))
    assert err.step is Step.FOLDER
    assert "'INBOX/Tickets'" in describe_failure(err)


def test_check_names_a_mechanism_the_server_does_not_offer_and_logs_in_with_ntlm(
    dovecot: Dovecot, tmp_path: Path, database_url: str
) -> None:
    spa = dovecot.spa
    refused = job_table(
        dovecot.job(dovecot.user(), "imap", "ssl", auth_mechanism="ntlm"),
        name="Exchange",
        password_env="CHECK_PW",
    )
    accepted = job_table(
        spa.job(NTLM_USER, "pop3", "none", auth_mechanism="ntlm", after_processing="keep"),
        name="SPA",
        password_env="CHECK_PW",
    )
    config = write_config(tmp_path / "d.toml", database_url, [refused, accepted])
    result = CliRunner().invoke(
        main, ["check", "--config", str(config)], env={"CHECK_PW": PASSWORD}
    )
    assert result.exit_code != 0
    lines = result.output.splitlines()
    assert lines[:2] == [
        f"Exchange: FAILED at authentication (127.0.0.1:{dovecot.imaps_port}):"
        " the server does not offer NTLM (it offers LOGIN, PLAIN)",
        '  hint: set auth_mechanism to one the server offers, or to "auto" (it is "ntlm")',
    ]
    assert lines[2].startswith(f"SPA: OK - pop3 127.0.0.1:{spa.pop3_port}")
    assert PASSWORD not in result.output


@pytest.mark.parametrize("step", list(Step))
def test_every_step_has_a_hint(step: Step) -> None:
    text = describe_failure(SourceError(step, "detail"))
    assert text.startswith(f"FAILED at {step.value}: detail\n  hint: ")


def test_check_of_ews_jobs_names_each_failed_step_in_one_line(tmp_path: Path) -> None:
    from tests.support.ews import PASSWORD as EWS_PASSWORD
    from tests.support.ews import ews_fake, ews_job

    with ews_fake(tmp_path / "ews") as fake:
        fake.mailbox.add_folder("Inbox/Support")
        fake.mailbox.deliver(make_mail(), "Inbox/Support")
        jobs = [
            ews_job(fake, name="Exchange", folder="Inbox/Support"),
            ews_job(fake, name="No folder", folder="Inbox/Nope"),
            ews_job(fake, name="Wrong password", password_env="DESKMAIL_EWS_WRONG"),
            ews_job(fake, name="Basic refused", auth_mechanism="plain"),
            ews_job(fake, name="No mailbox", mailbox="nobody@example.com"),
            ews_job(fake, name="Untrusted", ca_file=None),
            ews_job(fake, name="Nothing found", service_url=None, mailbox="a@example.invalid"),
        ]
        config = write_config(tmp_path / "deskmail.toml", f"sqlite:///{tmp_path}/d.db", jobs)
        env = {"DESKMAIL_EWS_PASSWORD": EWS_PASSWORD, "DESKMAIL_EWS_WRONG": "wrong"}
        result = CliRunner().invoke(main, ["check", "--config", str(config)], env=env)
    url = fake.service_url
    lines = result.output.splitlines()
    assert lines[0] == (
        f"Exchange: OK - ews {url}, HTTPS, folder 'Inbox/Support': 1 message (1 new)"
    )
    failed = [line for line in lines[1:] if not line.startswith("  hint: ")]
    assert failed == [
        f"No folder: FAILED at folder ({url}): no folder 'Nope' in Inbox (folder 'Inbox/Nope')",
        f"Wrong password: FAILED at authentication ({url}): Invalid credentials for {url}",
        f"Basic refused: FAILED at authentication ({url}): the server does not accept basic"
        " logins (it offers NTLM)",
        f"No mailbox: FAILED at mailbox ({url}): ErrorNonExistentMailbox:"
        " The SMTP address has no mailbox associated with it.",
        f"Untrusted: FAILED at certificate ({url}): certificate verify failed:"
        " self-signed certificate",
        "Nothing found: FAILED at autodiscover (autodiscover for a@example.invalid):"
        " no EWS service found (the domain's autodiscover URLs and its DNS SRV record"
        " were tried)",
    ]
    assert result.exit_code != 0
    assert EWS_PASSWORD not in result.output


# ---- Microsoft Graph ---------------------------------------------------------------


@pytest.fixture
def graph_config(microsoft365: Microsoft365, tmp_path: Path, database_url: str) -> Path:
    state = microsoft365.state
    state.add_mailbox("support@contoso.example")
    state.add_folder("support@contoso.example", "Inbox/Support")
    for _ in range(2):
        state.deliver("support@contoso.example", "Inbox/Support", make_mail())
    job = graph_job_settings(microsoft365, name="M365", after_processing="mark_seen")
    return write_config(tmp_path / "graph.toml", database_url, [job])


def _graph_check(config: Path, secret: str = CLIENT_SECRET) -> tuple[int, str]:
    env = {"DESKMAIL_TEST_CLIENT_SECRET": secret}
    result = CliRunner().invoke(main, ["check", "--config", str(config)], env=env)
    return result.exit_code, result.output


def test_check_a_graph_mailbox_changes_nothing(
    microsoft365: Microsoft365, graph_config: Path
) -> None:
    code, output = _graph_check(graph_config)
    assert code == 0, output
    assert output.splitlines()[0] == (
        f"M365: OK - graph localhost:{microsoft365.port}, HTTPS, folder 'Inbox/Support':"
        " 2 messages (2 new)"
    )
    messages = microsoft365.state.in_folder("support@contoso.example", "Inbox/Support")
    assert not any(m.is_read for m in messages)


@pytest.mark.parametrize(
    ("spoil", "expected"),
    [
        (
            "secret",
            "FAILED at client credentials ({identity}): invalid_client: AADSTS7000215:"
            " Invalid client secret provided.",
        ),
        (
            "mailbox",
            "FAILED at mailbox ({server}): mailbox support@contoso.example not found"
            " (ErrorInvalidUser)",
        ),
        (
            "forbidden",
            "FAILED at mailbox ({server}): the app may not open mailbox"
            " support@contoso.example (ErrorAccessDenied)",
        ),
        (
            "folder",
            "FAILED at folder ({server}): folder 'Inbox/Support': no folder 'Support'"
            " under 'Inbox'",
        ),
        (
            "move_to",
            "FAILED at folder ({server}): folder 'Inbox/Done': no folder 'Done' under 'Inbox'",
        ),
    ],
)
def test_check_names_the_graph_step_that_failed(
    microsoft365: Microsoft365, graph_config: Path, spoil: str, expected: str
) -> None:
    state = microsoft365.state
    box = state.mailboxes["support@contoso.example"]
    secret = "not-the-secret" if spoil == "secret" else CLIENT_SECRET
    if spoil == "mailbox":
        state.mailboxes = {}
    elif spoil == "forbidden":
        state.forbidden.add("support@contoso.example")
    elif spoil == "folder":
        box.folders = {i: f for i, f in box.folders.items() if f.name != "Support"}
    if spoil == "move_to":
        text = graph_config.read_text().replace('"mark_seen"', '"move"')
        graph_config.write_text(
            text.replace("[jobs.oauth2]", 'move_to = "Inbox/Done"\n[jobs.oauth2]')
        )
    code, output = _graph_check(graph_config, secret)
    assert code != 0
    first, hint = output.splitlines()[:2]
    identity = microsoft365.identity.url.removeprefix("https://")
    server = f"localhost:{microsoft365.port}"
    assert first.startswith("M365: " + expected.format(server=server, identity=identity))
    assert hint.startswith("  hint: ")
    assert secret not in output
