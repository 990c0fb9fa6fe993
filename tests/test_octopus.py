"""Octopus MailIntegration: its XML files and its command line, run unchanged.

The three XML files below are copied verbatim from the Octopus document
(shared/reference/octopus-mailintegration.txt), trailing spaces and the
mismatched <MailIntegration>...</mailIntegration> included.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select

from deskmail.apply.people import add_person
from deskmail.cli import EXIT_CONFIG, main
from deskmail.cli.octopus import OctopusArgs, parse_octopus_args
from deskmail.config import ConfigError, JobConfig, load_config
from deskmail.config.files import load_configuration
from deskmail.config.loader import DATABASE_URL_ENV
from deskmail.config.models import Processor, Protocol, Security
from deskmail.config.octopus import (
    password_variable,
    read_octopus_xml,
    smtp_password_variable,
    to_config,
    to_job,
)
from deskmail.config.secrets import resolve_password
from deskmail.config.shown import redact_octopus_xml
from deskmail.store.engine import Store
from deskmail.store.migrate import upgrade
from deskmail.store.models import Ticket, TicketKind
from tests.support.dovecot import Dovecot, make_mail
from tests.support.smtp import SmtpServer

DESKMAIL = [sys.executable, "-m", "deskmail"]

POP3_INCIDENT = """\
<?xml version="1.0" encoding="utf-8" ?> 
<MailIntegration>
  <messageProcessorTypeName>ESI.Octopus.MailIntegration.EndUserIncidentMailMessageProcessor, ESI.Octopus.MailIntegration</messageProcessorTypeName> 
  <server> 
    <gatewayTypeName>ESI.Octopus.MailIntegration.SidePopMailboxGateway, ESI.Octopus.MailIntegration</gatewayTypeName>
    <serverName>SERVER</serverName> 
    <port>110</port> 
    <useSsl>false</useSsl> 
    <userName>MAILBOX</userName> 
    <password>PASSWORD-CLEAR-TEXT</password> 
  </server> 
  <incidentFallbackSiteName>FALLBACK-SITE</incidentFallbackSiteName> 
  <incidentFallbackUserLogon>FALLBACK-USER</incidentFallbackUserLogon> 
  <incidentGroup>ASSIGNED_GROUP</incidentGroup> 
  <incidentSource>Courriel</incidentSource> 
  <ignoredAttachments></ignoredAttachments> 
</mailIntegration>
"""  # noqa: E501, W291 (verbatim, trailing spaces included)

POP3_SSL = """\
<?xml version="1.0" encoding="utf-8" ?>
<mailIntegration>
  <messageProcessorTypeName>ESI.Octopus.MailIntegration.EndUserIncidentMailMessageProcessor, ESI.Octopus.MailIntegration</messageProcessorTypeName> 
  <server> 
    <gatewayTypeName>ESI.Octopus.MailIntegration.SidePopMailboxGateway, ESI.Octopus.MailIntegration</gatewayTypeName>
    <serverName>SERVER</serverName> 
    <port>995</port> 
    <useSsl>true</useSsl> 
    <userName>MAILBOX</userName> 
    <password>PASSWORD-CLEAR-TEXT</password> 
  </server> 
  <incidentFallbackSiteName>FALLBACK-SITE</incidentFallbackSiteName> 
  <incidentFallbackUserLogon>FALLBACK-USER</incidentFallbackUserLogon> 
  <incidentGroup>ASSIGNED_GROUP</incidentGroup> 
  <incidentSource>Courriel</incidentSource> 
  <ignoredAttachments></ignoredAttachments> 
</mailIntegration>
"""  # noqa: E501, W291 (verbatim, trailing spaces included)

EVENTS = """\
<?xml version="1.0" encoding="utf-8" ?>
<mailIntegration>
  <messageProcessorTypeName>ESI.Octopus.MailIntegration.EventMailMessageProcessor, ESI.Octopus.MailIntegration</messageProcessorTypeName>
  <server>
    <gatewayTypeName>ESI.Octopus.MailIntegration.SidePopMailboxGateway, ESI.Octopus.MailIntegration</gatewayTypeName>
    <serverName>SERVER</serverName>
    <port>110</port>
    <useSsl>false</useSsl>
    <userName>MAILBOX</userName>
    <password>PASSWORD-CLEAR-TEXT</password>
  </server>
  <group>GROUP</group>
  <assignee>ASSIGNEE</assignee>
</mailIntegration>
"""  # noqa: E501 (verbatim)


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch) -> None:
    """No database override from outside (tests/conftest.py puts the root logger back)."""
    monkeypatch.delenv(DATABASE_URL_ENV, raising=False)


def _write(folder: Path, text: str, name: str = "email-integration.xml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def _job(folder: Path, text: str, team: str = "1") -> JobConfig:
    return to_job(read_octopus_xml(_write(folder, text)), team)


def _error(folder: Path, text: str) -> ConfigError:
    path = _write(folder, text, "broken.xml")
    with pytest.raises(ConfigError) as caught:
        to_job(read_octopus_xml(path), "1")
    assert caught.value.file == path
    return caught.value


def _cli(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


# --- the XML files ------------------------------------------------------------------


def test_the_pop3_incident_example_is_an_incident_job(tmp_path: Path) -> None:
    job = _job(tmp_path, POP3_INCIDENT)
    assert job.name == "email-integration"  # the file's name: the same job once imported
    assert (job.protocol, job.server, job.port) == (Protocol.POP3, "SERVER", 110)
    assert job.security is Security.NONE
    assert (job.user, job.password) == ("MAILBOX", "PASSWORD-CLEAR-TEXT")
    assert job.processor is Processor.INCIDENT
    assert (job.fallback_site, job.fallback_user) == ("FALLBACK-SITE", "FALLBACK-USER")
    assert (job.group, job.source, job.team) == ("ASSIGNED_GROUP", "Courriel", "1")
    assert job.ignored_attachments == ""
    assert job.create_new_requests and not job.include_raw_message  # deskmail's defaults
    assert "PASSWORD-CLEAR-TEXT" not in repr(job)


def test_the_ssl_example_uses_ssl_on_995(tmp_path: Path) -> None:
    job = _job(tmp_path, POP3_SSL)
    assert (job.protocol, job.port, job.security) == (Protocol.POP3, 995, Security.SSL)
    assert job.group == "ASSIGNED_GROUP"


def test_the_event_example_is_an_event_job_with_group_and_assignee(tmp_path: Path) -> None:
    job = _job(tmp_path, EVENTS, team="2")
    assert job.processor is Processor.EVENT
    assert (job.group, job.assignee, job.team) == ("GROUP", "ASSIGNEE", "2")
    assert job.fallback_user is None and job.source == "Email"


def test_clear_text_is_warned_about(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    _job(tmp_path, POP3_INCIDENT)
    assert "useSsl is false" in caplog.text and "clear text" in caplog.text
    caplog.clear()
    _job(tmp_path, POP3_SSL)
    assert "clear text" not in caplog.text


def test_tags_in_any_case_values_trimmed_every_tag_read(tmp_path: Path) -> None:
    xml = """<?xml version="1.0" encoding="utf-8"?>
<MAILINTEGRATION>
  <MessageProcessorTypeName>
    ESI.Octopus.MailIntegration.EventMailMessageProcessor, ESI.Octopus.MailIntegration
  </MESSAGEPROCESSORTYPENAME>
  <Server>
    <GatewayTypeName>ESI.Octopus.MailIntegration.SideImapMailboxGateway</GatewayTypeName>
    <ServerName> mail.example.com </ServerName>
    <UseSsl> True </USESSL>
    <UserName>events</UserName>
    <Password> s3cret </Password>
  </SERVER>
  <Group>Monitoring</Group>
  <Assignee></Assignee>
  <IgnoredAttachments>logo.png, banner*.gif</IgnoredAttachments>
  <createnewrequests>False</createnewrequests>
  <INCLUDERAWMESSAGEASATTACHMENT>true</INCLUDERAWMESSAGEASATTACHMENT>
</mailintegration>
"""
    job = _job(tmp_path, xml)
    assert (job.protocol, job.port, job.effective_port) == (Protocol.IMAP, None, 993)
    assert (job.server, job.security, job.password) == ("mail.example.com", Security.SSL, "s3cret")
    assert (job.processor, job.group, job.assignee) == (Processor.EVENT, "Monitoring", None)
    assert job.ignored_attachments == "logo.png, banner*.gif"
    assert job.create_new_requests is False and job.include_raw_message is True


DENYING = POP3_INCIDENT.replace(
    "<ignoredAttachments>", "<CreateNewRequests>False</CreateNewRequests>\n  <ignoredAttachments>"
)
SMTP_TAGS = """
  <smtpServer>smtp.example.com</smtpServer>
  <smtpPort>2525</smtpPort>
  <smtpSecurity>none</smtpSecurity>
  <smtpUserName>desk</smtpUserName>
  <smtpPassword>SMTP-CLEAR-TEXT</smtpPassword>
  <smtpFromAddress>support@example.com</smtpFromAddress>
"""


def _with_smtp(text: str, tags: str = SMTP_TAGS) -> str:
    return text.replace("</mailIntegration>", tags.lstrip("\n") + "</mailIntegration>")


def test_a_job_that_can_deny_requests_needs_an_smtp_server(tmp_path: Path) -> None:
    xml = _write(tmp_path, DENYING)
    expected = (
        f"{xml}:16: <CreateNewRequests>: False denies new requests, and each denied sender is"
        " owed an automatic reply: add <smtpServer> and <smtpFromAddress> (deskmail's tags for"
        " the SMTP server that Octopus keeps in its options) to send it"
    )
    run = CliRunner().invoke(main, ["octopus", "/Login:a", "/Password:b", f"/ConfigFilePath:{xml}"])
    assert run.exit_code == EXIT_CONFIG
    said = [line for line in run.output.splitlines() if "CreateNewRequests" in line]
    assert said == [f"deskmail: {expected}"]  # once, before any connection
    check = CliRunner().invoke(main, ["check", "--config", str(xml)])
    assert check.exit_code == EXIT_CONFIG
    assert [line for line in check.output.splitlines() if "CreateNewRequests" in line] == said


def test_the_smtp_tags_give_the_job_its_smtp_server(tmp_path: Path) -> None:
    config = to_config(read_octopus_xml(_write(tmp_path, _with_smtp(DENYING))), "1")
    (job,) = config.jobs
    assert job.create_new_requests is False
    assert job.smtp is not None
    assert (job.smtp.server, job.smtp.port, job.smtp.security) == ("smtp.example.com", 2525, "none")
    assert (job.smtp.user, job.smtp.password) == ("desk", "SMTP-CLEAR-TEXT")
    assert job.smtp.from_address == "support@example.com"


def test_smtp_tags_without_a_server_or_a_from_address_are_refused(tmp_path: Path) -> None:
    exc = _error(tmp_path, _with_smtp(POP3_INCIDENT, "  <smtpPort>25</smtpPort>\n"))
    assert [(issue.key, issue.problem) for issue in exc.issues] == [
        ("<smtpServer>", "is required when other <smtp...> tags are given"),
        ("<smtpFromAddress>", "is required when other <smtp...> tags are given"),
    ]
    exc = _error(tmp_path, _with_smtp(POP3_INCIDENT, SMTP_TAGS.replace(">none<", ">tls<")))
    assert exc.issues[0].key == "<smtpSecurity>" and exc.issues[0].line == 19
    assert exc.issues[0].problem == "must be one of 'none', 'starttls' or 'ssl' (got 'tls')"


def test_import_turns_the_smtp_tags_into_the_jobs_smtp_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    xml = _write(tmp_path, _with_smtp(DENYING))
    octopus = read_octopus_xml(xml)
    result = _cli("config", "import-octopus", str(xml))
    assert result.exit_code == 0, result.output
    assert "SMTP-CLEAR-TEXT" not in result.output
    toml = tmp_path / "deskmail.toml"
    toml.write_text(result.stdout, encoding="utf-8")
    monkeypatch.setenv(password_variable(octopus), "PASSWORD-CLEAR-TEXT")
    (imported,) = load_config(toml).jobs
    assert imported.smtp is not None
    assert imported.smtp.password_env == smtp_password_variable(octopus)
    (direct,) = to_config(octopus, "1").jobs
    assert direct.smtp is not None
    secrets = {"password", "password_env"}
    assert imported.smtp.model_dump(exclude=secrets) == direct.smtp.model_dump(exclude=secrets)
    assert imported.create_new_requests is False


@pytest.mark.parametrize(
    ("group", "site", "encoding"),
    [
        ("Équipe réseau", "Siège social", "utf-8"),
        ("&Eacute;quipe r&eacute;seau", "Si&egrave;ge social", "utf-8"),
        ("&#201;quipe r&#xe9;seau", "Si&#232;ge social", "utf-8"),  # XML's own references
        ("Équipe réseau", "Siège social", "windows-1252"),  # as declared
        ("Équipe réseau", "Siège social", "utf-16"),  # Notepad's "Unicode", with a BOM
    ],
)
def test_accented_names_work(tmp_path: Path, group: str, site: str, encoding: str) -> None:
    xml = POP3_INCIDENT.replace("ASSIGNED_GROUP", group).replace("FALLBACK-SITE", site)
    xml = xml.replace('encoding="utf-8"', f'encoding="{encoding}"')
    path = tmp_path / "accents.xml"
    path.write_bytes(xml.encode(encoding))
    job = to_job(read_octopus_xml(path), "1")
    assert (job.group, job.fallback_site) == ("Équipe réseau", "Siège social")


def test_an_ansi_file_declared_utf8_is_read_as_windows_1252(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "notepad.xml"
    path.write_bytes(POP3_INCIDENT.replace("ASSIGNED_GROUP", "Équipe").encode("cp1252"))
    assert to_job(read_octopus_xml(path), "1").group == "Équipe"
    assert "notepad.xml:14: not UTF-8 although declared so" in caplog.text


def test_a_missing_slash_names_the_file_the_line_and_the_tags(tmp_path: Path) -> None:
    # The document's warning: 'any "/" or "<" missing ... can render the file unusable'.
    error = _error(tmp_path, POP3_INCIDENT.replace("SERVER</serverName>", "SERVER<serverName>"))
    assert error.line == 11  # where the parser finds out: </server> closes nothing open
    assert error.problem == (
        "invalid XML: </server> does not close <serverName> opened on line 6"
        " (a '/' or '<' missing?)"
    )
    assert str(error).startswith(f"{tmp_path / 'broken.xml'}:11:")


@pytest.mark.parametrize(
    ("change", "line", "problem"),
    [
        (("Courriel", "Caf&eagrave;"), 15, "invalid XML: unknown entity &eagrave;"),
        (("FALLBACK-USER", "R&D"), 13, "invalid XML: not well-formed"),
        (("</mailIntegration>", ""), 18, "invalid XML: the file ends before <MailIntegration>"),
        (("<port>110</port>", "<port>110</port><port>995</port>"), 7, "is given twice"),
        (("<port>110", "<port>pop3"), 7, "must be a port number from 1 to 65535 (got 'pop3')"),
        (("<useSsl>false", "<useSsl>no"), 8, "must be true or false (got 'no')"),
        (("<serverName>SERVER", "<serverName>"), 6, "is required and must not be empty"),
        (("SERVER", "pop.example.com:110"), 6, "must be a host name only; put the port"),
        (("<incidentGroup>", "<server/><incidentGroup>"), 14, "is given twice"),
    ],
)
def test_problems_name_the_line(
    tmp_path: Path, change: tuple[str, str], line: int, problem: str
) -> None:
    error = _error(tmp_path, POP3_INCIDENT.replace(*change, 1))
    assert (error.line, problem in error.problem) == (line, True), str(error)


def test_every_value_problem_is_reported_at_once(tmp_path: Path) -> None:
    xml = POP3_INCIDENT.replace("<port>110", "<port>0").replace("<useSsl>false", "<useSsl>1")
    error = _error(tmp_path, xml.replace("<userName>MAILBOX", "<userName>"))
    assert [(issue.key, issue.line) for issue in error.issues] == [
        ("<userName>", 9),
        ("<port>", 7),
        ("<useSsl>", 8),
    ]


def test_an_unknown_processor_is_refused_clearly(tmp_path: Path) -> None:
    xml = POP3_INCIDENT.replace(
        "EndUserIncidentMailMessageProcessor", "ProblemMailMessageProcessor"
    )
    error = _error(tmp_path, xml)
    assert (error.key, error.line) == ("<messageProcessorTypeName>", 3)
    assert error.problem.startswith(
        "unknown message processor 'ESI.Octopus.MailIntegration.ProblemMailMessageProcessor,"
    )
    assert "EventMailMessageProcessor (events)" in error.problem


def test_an_unknown_gateway_a_wrong_root_and_a_misplaced_tag_are_refused(tmp_path: Path) -> None:
    gateway = _error(tmp_path, POP3_INCIDENT.replace("SidePop", "SideExchange"))
    assert gateway.key == "<gatewayTypeName>" and "unknown gateway" in gateway.problem
    root = _error(tmp_path, "<Octopus><server/></Octopus>")
    assert root.problem == "the root tag must be <MailIntegration>"
    moved = POP3_INCIDENT.replace("    <port>110</port> \n", "").replace(
        "<incidentSource>", "<port>110</port><incidentSource>"
    )
    assert _error(tmp_path, moved).problem == "belongs inside <server>"


def test_an_unknown_tag_is_a_warning_with_a_suggestion(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    job = _job(tmp_path, POP3_INCIDENT.replace("incidentGroup>", "incidentGroupe>"))
    assert job.group is None
    assert "email-integration.xml:14: unknown tag <incidentGroupe> ignored" in caplog.text
    assert "(did you mean <incidentGroup>?)" in caplog.text


def test_a_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="Octopus configuration file not found"):
        read_octopus_xml(tmp_path / "nope.xml")


# --- the command line ---------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["/Login:system", "/Password:octo", "/Team:1", "/ConfigFilePath:C:\\Octopus\\x.xml"],
        ["/configfilepath:C:\\Octopus\\x.xml", "/TEAM:1", "/password:octo", "/login:system"],
        ["/LOGIN: system ", "/PassWord:octo", "/ConfigFilePath:C:\\Octopus\\x.xml", "/team:1"],
    ],
)
def test_options_in_any_order_and_case(args: list[str]) -> None:
    assert parse_octopus_args(args) == OctopusArgs(
        login="system", password="octo", team="1", config_file=Path("C:\\Octopus\\x.xml")
    )


def test_values_with_colons_and_spaces() -> None:
    parsed = parse_octopus_args(
        [
            "/login:Mail Octopus",  # quoted by the shell
            "/password:a:b",
            # The document's own example is unquoted: its path arrives in two words.
            "/ConfigFilePath:C:\\Program",
            "Files\\Octopus\\email-integration.xml",
            "/LogFilePath:C:\\LogFiles\\MAILINTEGRATION.log",
            "/DEBUG",
        ]
    )
    assert (parsed.login, parsed.password, parsed.team) == ("Mail Octopus", "a:b", "1")
    assert parsed.config_file == Path("C:\\Program Files\\Octopus\\email-integration.xml")
    assert parsed.log_file == Path("C:\\LogFiles\\MAILINTEGRATION.log")
    assert parsed.debug
    assert "a:b" not in repr(parsed)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["/Login:a", "/Password:b"], "missing /ConfigFilePath"),
        (["/Password:b", "/ConfigFilePath:x.xml"], "missing /Login"),
        (["/Login:a", "/Password:b", "/ConfigFile:x.xml"], "unknown option '/ConfigFile'"),
        (["/Login:a", "/Login:b", "/Password:b", "/ConfigFilePath:x"], "/Login is given twice"),
        (["/Login:", "/Password:b", "/ConfigFilePath:x.xml"], "/Login needs a value"),
        (["/Login:a", "/Password:b", "/ConfigFilePath:x", "/Debug:yes"], "/Debug takes no value"),
        (["system", "/Login:a"], "unexpected argument 'system'"),
        (["-x", "/Login:a", "/Password:b", "/ConfigFilePath:x"], "unexpected argument '-x'"),
    ],
)
def test_usage_errors(args: list[str], message: str) -> None:
    with pytest.raises(click.UsageError, match=message):
        parse_octopus_args(args)
    result = CliRunner().invoke(main, ["octopus", *args])
    assert result.exit_code == EXIT_CONFIG
    assert message in result.output and "Traceback" not in result.output


def test_the_help_says_the_password_is_ignored() -> None:
    result = _cli("octopus", "--help")
    assert "/Password is accepted and ignored" in " ".join(result.output.split())
    assert _cli("octopus", "/?").output == result.output


def test_the_log_folder_must_exist(tmp_path: Path) -> None:
    xml = _write(tmp_path, POP3_INCIDENT)
    result = CliRunner().invoke(
        main,
        ["octopus", "/Login:a", "/Password:b", f"/ConfigFilePath:{xml}",
         f"/LogFilePath:{tmp_path / 'missing' / 'MailIntegration.log'}"],
    )  # fmt: skip
    assert result.exit_code == EXIT_CONFIG
    assert f"the folder {tmp_path / 'missing'} does not exist" in result.output


def test_a_bad_database_url_is_a_usage_error(tmp_path: Path) -> None:
    xml = _write(tmp_path, POP3_INCIDENT)
    result = CliRunner().invoke(
        main,
        [
            "octopus",
            "--database",
            "deskmail.db",
            "/Login:a",
            "/Password:b",
            f"/ConfigFilePath:{xml}",
        ],
    )
    assert result.exit_code == EXIT_CONFIG
    assert "--database: must be a database URL such as sqlite:///deskmail.db" in result.output


def test_a_broken_file_stops_with_the_line_and_opens_an_event(tmp_path: Path) -> None:
    xml = _write(tmp_path, POP3_INCIDENT.replace("</port>", "</prot>"))
    log = tmp_path / "MailIntegration.log"
    args = ["octopus", "/Login:a", "/Password:b", f"/ConfigFilePath:{xml}", f"/LogFilePath:{log}"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == EXIT_CONFIG, result.output
    expected = f"{xml}:7:14: invalid XML: </prot> does not close <port> opened on line 7"
    assert "Traceback" not in result.output
    said = [line for line in result.output.splitlines() if expected in line]
    assert said == [f"deskmail: {expected} (a '/' or '<' missing?)"]  # once
    assert expected in log.read_text("utf-8")
    # Nothing was given but the XML file: the database is the default one next to it.
    store = Store(f"sqlite:///{tmp_path / 'deskmail.db'}", tmp_path / "attachments")
    try:
        with store.session() as session:
            event = session.scalars(select(Ticket)).one()
            assert event.kind is TicketKind.EVENT and event.team.name == "1"
            assert "email-integration" in event.subject and expected in event.description
            # The broken file itself, its password hidden.
            (attached,) = event.attachments
            assert (attached.filename, attached.media_type) == (xml.name, "application/xml")
            with store.blobs.open(attached.sha256) as file:
                shown = file.read().decode()
            assert shown == xml.read_text("utf-8").replace("PASSWORD-CLEAR-TEXT", "***")
    finally:
        store.dispose()


def test_passwords_are_hidden_in_a_shown_xml_file_even_when_it_is_broken() -> None:
    text = (
        "<password>a</password> <SMTPPASSWORD>b<c</smtppassword>\n"
        "<password><![CDATA[d]]></password> <password></password>\n<Password>e f\n</x>"
    )
    assert redact_octopus_xml(text) == (
        "<password>***</password> <SMTPPASSWORD>***</smtppassword>\n"
        "<password>***</password> <password></password>\n<Password>***\n</x>"
    )


# --- config import-octopus ------------------------------------------------------------


@pytest.mark.parametrize("example", [POP3_INCIDENT, POP3_SSL, EVENTS])
def test_import_prints_toml_that_means_the_same_job(
    tmp_path: Path, example: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    xml = _write(tmp_path, example.replace("ASSIGNED_GROUP", "&Eacute;quipe"))
    octopus = read_octopus_xml(xml)
    result = _cli("config", "import-octopus", str(xml), "--team", "7")
    assert result.exit_code == 0, result.output
    assert "PASSWORD-CLEAR-TEXT" not in result.output
    variable = password_variable(octopus)
    assert variable == "DESKMAIL_EMAIL_INTEGRATION_PASSWORD"
    assert f'password_env = "{variable}"' in result.stdout
    assert "# The XML file holds the mailbox password in clear text" in result.stdout

    toml = tmp_path / "deskmail.toml"
    toml.write_text(result.stdout, encoding="utf-8")
    monkeypatch.setenv(variable, "PASSWORD-CLEAR-TEXT")
    (imported,) = load_config(toml).jobs
    direct = to_job(octopus, "7")
    secrets = {"password", "password_env"}
    assert imported.model_dump(exclude=secrets) == direct.model_dump(exclude=secrets)
    assert resolve_password(imported) == resolve_password(direct) == "PASSWORD-CLEAR-TEXT"


def test_import_of_a_broken_file_is_a_config_error(tmp_path: Path) -> None:
    xml = _write(tmp_path, POP3_INCIDENT.replace("<port>110", "<port>x"))
    result = CliRunner().invoke(main, ["config", "import-octopus", str(xml)])
    assert result.exit_code == EXIT_CONFIG
    assert f"{xml}:7: <port>: must be a port number" in result.output


# --- end to end: the document's files against a real mailbox, in a subprocess ----------


def _octopus(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*DESKMAIL, "octopus", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _pointed_at(example: str, dovecot: Dovecot, user: str, port: int | None) -> str:
    return (
        example.replace("<serverName>SERVER", "<serverName>localhost")
        .replace("<port>110", f"<port>{port}")
        .replace("<port>995", f"<port>{port}")
        .replace("MAILBOX", user)
        .replace("PASSWORD-CLEAR-TEXT", dovecot.password)
    )


@pytest.mark.slow
@pytest.mark.parametrize("ssl", [False, True], ids=["pop3", "pop3s"])
def test_the_pop3_examples_run_unchanged(
    dovecot: Dovecot, tmp_path: Path, database_url: str, ssl: bool
) -> None:
    user = dovecot.user("octopus")
    mails = [make_mail("Printer on fire"), make_mail("=?utf-8?q?=C3=89cran_noir?=")]
    for mail in mails:
        dovecot.append(user, mail)
    port = dovecot.pop3s_port if ssl else dovecot.pop3_port
    folder = tmp_path / "Program Files" / "Octopus"
    folder.mkdir(parents=True)
    xml = _write(folder, _pointed_at(POP3_SSL if ssl else POP3_INCIDENT, dovecot, user, port))
    log = folder / "MailIntegration.log"
    first, rest = str(xml).split(" ", 1)  # unquoted, as in the document's command line
    result = _octopus(
        "/login:system", "/password:octo", "/team:1", f"/ConfigFilePath:{first}", rest,
        f"/LogFilePath:{log}", "/Debug",
        **{DATABASE_URL_ENV: database_url},
        # useSsl: the private test CA must be trusted, as Octopus needs the server's CA installed.
        **({"SSL_CERT_FILE": str(dovecot.ca_file)} if ssl else {}),
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "email-integration: fetched 2, created 2, updated 0, quarantined 0" in result.stdout
    assert result.stdout.rstrip().endswith(" - ok")
    assert dovecot.count(user) == 0  # POP3: deleted once the tickets were committed
    assert ("clear text" in result.stderr) is not ssl

    logged = log.read_text("utf-8")
    assert "Octopus MailIntegration for user system, team 1" in logged
    assert dovecot.password not in logged
    kept = sorted(path.read_bytes() for path in (folder / "debug").glob("*.eml"))  # /Debug
    assert kept == sorted(mails)

    store = Store(database_url, tmp_path / "attachments")
    try:
        with store.session() as session:
            tickets = session.scalars(select(Ticket).order_by(Ticket.number)).all()
            assert [t.subject for t in tickets] == ["Printer on fire", "Écran noir"]
            for ticket in tickets:
                assert ticket.kind is TicketKind.INCIDENT and ticket.team.name == "1"
                assert ticket.group is not None and ticket.group.name == "ASSIGNED_GROUP"
                assert ticket.source is not None and ticket.source.name == "Courriel"
                assert ticket.requester is not None
                assert ticket.requester.logon == "FALLBACK-USER"  # alice is unknown
    finally:
        store.dispose()


@pytest.mark.slow
def test_the_event_example_makes_events(
    dovecot: Dovecot, tmp_path: Path, database_url: str
) -> None:
    upgrade(database_url)
    store = Store(database_url, tmp_path / "attachments")
    try:
        with store.transaction() as session:
            add_person(session, "Ann Agent", ["ann@example.com"], logon="ASSIGNEE", is_agent=True)
        user = dovecot.user("octopus")
        dovecot.append(user, make_mail("Disk C: 95% full on SRV01"))
        xml = _write(tmp_path, _pointed_at(EVENTS, dovecot, user, dovecot.pop3_port))
        result = _octopus(
            "--database", database_url,
            "/Login:system", "/Password:octo", "/Team:1", f"/ConfigFilePath:{xml}",
        )  # fmt: skip
        assert result.returncode == 0, result.stdout + result.stderr
        assert "fetched 1, created 1" in result.stdout
        with store.session() as session:
            event = session.scalars(select(Ticket)).one()
            assert (event.kind, event.subject) == (TicketKind.EVENT, "Disk C: 95% full on SRV01")
            assert event.group is not None and event.group.name == "GROUP"
            assert event.assignee is not None and event.assignee.logon == "ASSIGNEE"
    finally:
        store.dispose()


# --- what deskmail octopus made, looked at with the other commands --------------------


def _advised_check(description: str) -> list[str]:
    (line,) = [line for line in description.splitlines() if "deskmail check" in line]
    words = shlex.split(line.partition(": ")[2])
    assert words[:2] == ["deskmail", "check"]
    return words[1:]


@pytest.mark.slow
def test_an_infrastructure_event_of_an_xml_job_gives_advice_that_works(
    dovecot: Dovecot, tmp_path: Path
) -> None:
    user = dovecot.user("octopus")
    folder = tmp_path / "Program Files" / "Octopus"
    folder.mkdir(parents=True)
    right = _pointed_at(POP3_INCIDENT, dovecot, user, dovecot.pop3_port)
    xml = _write(folder, right.replace(dovecot.password, "wrong-password-7"))
    result = _octopus("/Login:a", "/Password:b", f"/ConfigFilePath:{xml}")
    assert result.returncode == 1, result.stdout + result.stderr

    # The other commands read the XML file too, and find what the octopus command made.
    listed = _cli("tickets", "list", "--config", str(xml))
    assert listed.exit_code == 0 and 'job "email-integration" cannot be used' in listed.output
    store = Store(f"sqlite:///{folder / 'deskmail.db'}", folder / "attachments")
    try:
        with store.session() as session:
            event = session.scalars(select(Ticket)).one()
            advice = _advised_check(event.description)
            assert "Check <userName> and <password>" in event.description
            (attached,) = event.attachments
            assert (attached.filename, attached.media_type) == (xml.name, "application/xml")
            with store.blobs.open(attached.sha256) as file:
                shown = file.read().decode()
    finally:
        store.dispose()
    assert shown == xml.read_text("utf-8").replace("wrong-password-7", "***")
    assert advice == ["check", "--job", "email-integration", "--config", str(xml.absolute())]

    # The advised command works for this job: it fails as the run did, then passes once fixed.
    failed = _cli(*advice)
    assert failed.exit_code == 1
    assert "email-integration: FAILED at authentication" in failed.output
    assert "hint: Check <userName> and <password>" in failed.output
    xml.write_text(right, encoding="utf-8")
    assert _cli(*advice).exit_code == 0


@pytest.mark.slow
def test_the_certificate_advice_of_an_xml_job_names_a_tag_it_can_set(
    dovecot: Dovecot, tmp_path: Path
) -> None:
    user = dovecot.user("octopus")
    xml = _write(tmp_path, _pointed_at(POP3_SSL, dovecot, user, dovecot.pop3s_port))
    env = {key: value for key, value in os.environ.items() if key != "SSL_CERT_FILE"}
    result = subprocess.run(
        [*DESKMAIL, "octopus", "/Login:a", "/Password:b", f"/ConfigFilePath:{xml}"],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    store = Store(f"sqlite:///{tmp_path / 'deskmail.db'}", tmp_path / "attachments")
    try:
        with store.session() as session:
            description = session.scalars(select(Ticket)).one().description
    finally:
        store.dispose()
    assert "certificate" in description and "<caFile>" in description
    assert "ca_file" not in description and "reject_invalid_certificates" not in description
    # Doing what it says: the CA named in <caFile>, next to the XML file.
    (tmp_path / "ca.pem").write_bytes(dovecot.ca_file.read_bytes())
    xml.write_text(
        xml.read_text("utf-8").replace(
            "</mailIntegration>", "<caFile>ca.pem</caFile>\n</mailIntegration>"
        ),
        encoding="utf-8",
    )
    check = _cli(*_advised_check(description))
    assert check.exit_code == 0, check.output


def test_any_config_option_takes_an_xml_file_by_its_name_or_its_content(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    by_content = _write(tmp_path, "\ufeff" + POP3_INCIDENT, "mailintegration.config")
    for path in (_write(tmp_path, POP3_INCIDENT), by_content):
        config = load_configuration(path)
        (job,) = config.jobs
        assert job.name == path.stem and job.team == "1" and job.from_octopus_xml
        # The octopus command's database: next to the file.
        assert config.database.url == f"sqlite:///{tmp_path / 'deskmail.db'}"
    monkeypatch.chdir(tmp_path)
    result = _cli("history", "--config", str(by_content.name))
    assert result.exit_code == 0, result.output
    assert "invalid TOML" not in result.output


@pytest.mark.slow
def test_a_denied_request_is_answered_kept_and_listed(
    dovecot: Dovecot, smtp_server: SmtpServer, tmp_path: Path
) -> None:
    user = dovecot.user("octopus")
    mail = make_mail("Please open a ticket")
    dovecot.append(user, mail)
    smtp = smtp_server.config()
    tags = (
        f"  <smtpServer>{smtp.server}</smtpServer>\n  <smtpPort>{smtp.port}</smtpPort>\n"
        "  <smtpSecurity>none</smtpSecurity>\n"
        "  <smtpFromAddress>support@example.com</smtpFromAddress>\n"
    )
    xml = _write(tmp_path, _with_smtp(_pointed_at(DENYING, dovecot, user, dovecot.pop3_port), tags))
    result = _octopus("/Login:a", "/Password:b", f"/ConfigFilePath:{xml}")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "denied 1" in result.stdout
    (reply,) = smtp_server.received  # the automatic reply the Octopus document promises
    assert reply.rcpt_tos == ("alice@example.com",)
    assert dovecot.count(user) == 0  # POP3: deleted once its reply was queued

    listed = _cli("denied", "list", "--config", str(xml))
    assert listed.exit_code == 0, listed.output
    (row,) = [line for line in listed.output.splitlines() if "Please open a ticket" in line]
    assert "email-integration" in row and " sent " in row
    raw = _cli("denied", "show", row.split()[0], "--raw", "--config", str(xml))
    assert raw.stdout_bytes.replace(b"\r\n", b"\n") == mail.replace(b"\r\n", b"\n")


@pytest.mark.slow
def test_a_job_worked_elsewhere_is_left_alone(
    dovecot: Dovecot, tmp_path: Path, database_url: str
) -> None:
    from deskmail.config.octopus import job_name_of
    from deskmail.daemon.locks import JobLocks

    user = dovecot.user("octopus")
    dovecot.append(user, make_mail("Printer on fire"))
    xml = _write(tmp_path, _pointed_at(POP3_INCIDENT, dovecot, user, dovecot.pop3_port))
    args = ("/Login:system", "/Password:octo", "/Team:1", f"/ConfigFilePath:{xml}")
    upgrade(database_url)
    store = Store(database_url, tmp_path / "attachments")
    locks = JobLocks(store)
    try:
        # This test's process works the job, as a deskmail serve or another run would.
        lock = locks.for_job(job_name_of(xml))
        assert lock.acquire()
        skipped = _octopus(*args, **{DATABASE_URL_ENV: database_url})
        assert skipped.returncode == 0, skipped.stdout + skipped.stderr
        assert skipped.stdout == (
            "email-integration: skipped, the job is being worked by another run (lock held)\n"
        )
        assert dovecot.count(user) == 1
        lock.release()
        done = _octopus(*args, **{DATABASE_URL_ENV: database_url})
        assert "email-integration: fetched 1, created 1" in done.stdout, done.stderr
        assert dovecot.count(user) == 0
    finally:
        locks.dispose()
        store.dispose()
