"""Loading deskmail.toml: every problem names the file, the key and what is wrong.

The messages are asserted word for word where it matters: they are the
interface a person fixing a configuration file reads.
"""

from __future__ import annotations

import email
import json
import logging
import pickle
import re
import unicodedata
from email import policy
from email.message import EmailMessage
from pathlib import Path
from textwrap import dedent

import pytest

import deskmail
from deskmail.config import ConfigError, JobConfig, load_config
from deskmail.config.errors import Issue
from deskmail.config.loader import DATABASE_URL_ENV
from deskmail.config.models import AfterProcessing, AuthMechanism, Protocol
from deskmail.config.secrets import REDACTED, redact, resolve_password

SAMPLE = Path(deskmail.__file__).parent / "sample"

IMAP_JOB = """
[[jobs]]
name = "Support"
protocol = "imap"
server = "imap.example.com"
user = "support"
password_env = "DESKMAIL_SUPPORT_PASSWORD"
"""


@pytest.fixture(autouse=True)
def _no_database_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DATABASE_URL_ENV, raising=False)


def write(folder: Path, text: str, name: str = "deskmail.toml") -> Path:
    path = folder / name
    path.write_text(dedent(text), encoding="utf-8")
    return path


def load(folder: Path, text: str) -> list[JobConfig]:
    return load_config(write(folder, text)).jobs


def error(folder: Path, text: str) -> ConfigError:
    path = write(folder, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.file == path
    return caught.value


def lines(exc: ConfigError) -> list[str]:
    return str(exc).splitlines()


# --- the sample configuration --------------------------------------------------------


def test_sample_config_loads(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="deskmail.config"):
        config = load_config(SAMPLE / "deskmail.toml")
    assert caplog.records == []
    assert config.source_file == SAMPLE / "deskmail.toml"
    assert config.database.url == f"sqlite:///{SAMPLE}/deskmail.db"
    assert config.storage.attachments_dir == SAMPLE / "attachments"
    (job,) = config.jobs
    assert job.name == "Sample mailbox"
    assert job.protocol is Protocol.MAILDIR
    assert job.path == SAMPLE / "mailbox"
    assert job.after_processing is AfterProcessing.MARK_SEEN
    assert (job.fallback_user, job.fallback_site, job.group) == (
        "helpdesk",
        "Head Office",
        "Service Desk",
    )
    assert (job.source, job.team) == ("Email", "IT")
    assert resolve_password(job) is None


def test_sample_examples_are_valid_and_show_every_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = (SAMPLE / "deskmail.toml").read_text(encoding="utf-8")
    examples = text[text.index("# --- example") :]
    uncommented = [
        line if line.startswith("# ---") else line.removeprefix("# ")
        for line in examples.splitlines()
    ]
    monkeypatch.setenv("DESKMAIL_SUPPORT_PASSWORD", "s3cret")
    jobs = load(tmp_path, "\n".join(uncommented))
    assert [(job.name, job.protocol) for job in jobs] == [
        ("Support", Protocol.IMAP),
        ("Facilities", Protocol.POP3),
        ("Exchange", Protocol.EWS),
        ("Microsoft 365", Protocol.GRAPH),
    ]
    assert jobs[0].folder == "INBOX/Support"
    assert jobs[1].password_file == tmp_path / "secrets" / "facilities.txt"
    assert jobs[1].group == "Bâtiments et Logistique"
    shown = set(re.findall(r"^(?:# )*(\w+) =", text, re.MULTILINE))
    shown |= set(re.findall(r"^(?:# )*\[\[jobs\.(\w+)\]\]", text, re.MULTILINE))
    assert set(JobConfig.model_fields) <= shown


# --- reading the file ----------------------------------------------------------------


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "deskmail.toml")
    assert str(caught.value) == (
        f"{tmp_path}/deskmail.toml: configuration file not found"
        f" (looked for {tmp_path}/deskmail.toml)"
    )


def test_folder_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a folder, not a configuration file"):
        load_config(tmp_path)


def test_toml_syntax_error_gives_line_and_column(tmp_path: Path) -> None:
    exc = error(tmp_path, '[database]\nurl = "sqlite:///x.db"\n\n[[jobs]\nname = "Support"\n')
    assert (exc.line, exc.column) == (4, 7)
    assert str(exc) == (
        f"{tmp_path}/deskmail.toml:4:7: invalid TOML:"
        " Expected ']]' at the end of an array declaration"
    )


def test_file_not_in_utf8_is_pointed_at(tmp_path: Path) -> None:
    path = tmp_path / "deskmail.toml"
    path.write_bytes(b'[[jobs]]\nname = "\xc9tage 3"\n')  # Latin-1, as old editors save
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert (caught.value.line, caught.value.column) == (2, 9)
    assert "is not UTF-8 text; save it as UTF-8" in str(caught.value)


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "deskmail.toml"
    path.write_bytes("\ufeff".encode() + b'[database]\nurl = "sqlite:///x.db"\n')
    assert load_config(path).database.url == f"sqlite:///{tmp_path}/x.db"


# --- validation messages ---------------------------------------------------------------


def test_wrong_enum_lists_the_allowed_values(tmp_path: Path) -> None:
    maildir = '[[jobs]]\nprotocol = "maildir"\npath = "m"\n'
    exc = error(tmp_path, maildir * 2 + IMAP_JOB + 'security = "tls"\n')
    assert exc.key == 'jobs[2] ("Support").security'
    assert exc.problem == "must be one of none, starttls-if-available, starttls, ssl (got 'tls')"
    assert str(exc) == (
        f'{tmp_path}/deskmail.toml: jobs[2] ("Support").security:'
        " must be one of none, starttls-if-available, starttls, ssl (got 'tls')"
    )


def test_wrong_enum_suggests_a_close_value(tmp_path: Path) -> None:
    exc = error(tmp_path, IMAP_JOB + 'after_processing = "mark-seen"\n')
    assert exc.problem == (
        "must be one of delete, move, mark_seen, keep (got 'mark-seen'); did you mean 'mark_seen'?"
    )


@pytest.mark.parametrize(
    ("key", "suggestion"),
    [("pasword_env", "password_env"), ("host", "server"), ("Folder", "folder")],
)
def test_unknown_key_suggests_the_right_one(tmp_path: Path, key: str, suggestion: str) -> None:
    exc = error(tmp_path, IMAP_JOB + f'{key} = "x"\n')
    assert str(exc) == (
        f'{tmp_path}/deskmail.toml: jobs[0] ("Support").{key}:'
        f" unknown key (did you mean '{suggestion}'?)"
    )


def test_unknown_key_without_a_close_match_lists_the_keys(tmp_path: Path) -> None:
    exc = error(tmp_path, "[storage]\nzzz = 1\n")
    assert (
        str(exc)
        == f"{tmp_path}/deskmail.toml: storage.zzz: unknown key (known keys: attachments_dir)"
    )


def test_unknown_top_level_table_and_source_file_are_refused(tmp_path: Path) -> None:
    exc = error(tmp_path, 'source_file = "x"\n[databse]\nurl = "sqlite:///x.db"\n')
    assert [(issue.key, issue.problem) for issue in exc.issues] == [
        (
            "source_file",
            "unknown key (known keys: database, storage, smtp, logging, templates_dir, web,"
            " cluster, object_types, custom_fields, jobs)",
        ),
        ("databse", "unknown key (did you mean 'database'?)"),
    ]


def test_single_brackets_for_jobs_are_explained(tmp_path: Path) -> None:
    exc = error(tmp_path, '[jobs]\nprotocol = "maildir"\n')
    assert exc.key == "jobs"
    assert "write each job as a [[jobs]] table (double brackets)" in exc.problem


def test_missing_protocol_lists_the_choices(tmp_path: Path) -> None:
    exc = error(tmp_path, '[[jobs]]\nname = "Support"\n')
    assert (exc.key, exc.problem) == (
        'jobs[0] ("Support").protocol',
        "is required (one of imap, pop3, maildir, ews, graph)",
    )


GRAPH_JOB = """
[[jobs]]
name = "Graph"
protocol = "graph"
user = "support@contoso.com"
"""
GRAPH_OAUTH2 = """
[jobs.oauth2]
tenant = "contoso.com"
client_id = "00000000-0000-0000-0000-000000000000"
client_secret_env = "DESKMAIL_GRAPH_SECRET"
"""


def test_graph_job_defaults_to_microsofts_server(tmp_path: Path) -> None:
    (job,) = load(tmp_path, GRAPH_JOB + GRAPH_OAUTH2)
    assert (job.effective_server, job.effective_port, job.folder) == (
        "graph.microsoft.com",
        443,
        "INBOX",
    )
    assert job.oauth2 is not None and job.oauth2.scopes_for("graph") == [
        "https://graph.microsoft.com/.default"
    ]


@pytest.mark.parametrize(
    ("text", "key", "problem"),
    [
        (GRAPH_JOB, "oauth2", "is required for protocol graph: add a [jobs.oauth2] table"),
        (
            GRAPH_JOB.replace('user = "support@contoso.com"\n', "") + GRAPH_OAUTH2,
            "user",
            "is required for protocol graph: the mailbox's address",
        ),
        (
            GRAPH_JOB
            + GRAPH_OAUTH2.replace('tenant = "contoso.com"', 'provider = "generic"')
            + 'token_endpoint = "https://login.example/token"\n',
            "oauth2.provider",
            "must be 'microsoft' for protocol graph",
        ),
        (
            GRAPH_JOB + 'password_env = "X"\n' + GRAPH_OAUTH2,
            "password_env",
            "is not used with protocol graph: it signs in through [jobs.oauth2]",
        ),
    ],
)
def test_graph_job_problems_name_the_key(tmp_path: Path, text: str, key: str, problem: str) -> None:
    exc = error(tmp_path, text)
    assert f'jobs[0] ("Graph").{key}: {problem}' in str(exc)


def test_missing_server_for_imap(tmp_path: Path) -> None:
    exc = error(tmp_path, IMAP_JOB.replace('server = "imap.example.com"\n', ""))
    assert (
        str(exc)
        == f'{tmp_path}/deskmail.toml: jobs[0] ("Support").server: is required for protocol imap'
    )


def test_imap_without_any_password_source(tmp_path: Path) -> None:
    exc = error(tmp_path, IMAP_JOB.replace('password_env = "DESKMAIL_SUPPORT_PASSWORD"\n', ""))
    assert (exc.key, exc.problem) == (
        'jobs[0] ("Support")',
        "needs a password: set password_env (recommended), password_file or password",
    )


@pytest.mark.parametrize(
    ("setting", "problem"),
    [
        ("port = 70000", "port: must be between 1 and 65535 (got 70000)"),
        ("port = 0", "port: must be between 1 and 65535 (got 0)"),
        ("fetch_batch = 5000", "fetch_batch: must be between 1 and 1000 (got 5000)"),
        ("timeouts = { connect = -1 }", "timeouts.connect: must be more than 0 (got -1)"),
        ('port = "imaps"', "port: must be a whole number (got 'imaps')"),
        ('enabled = "sometimes"', "enabled: must be true or false (got 'sometimes')"),
        ('folder = ""', "folder: must not be empty (got '')"),
    ],
)
def test_values_out_of_range_or_of_the_wrong_type(
    tmp_path: Path, setting: str, problem: str
) -> None:
    exc = error(tmp_path, IMAP_JOB + setting + "\n")
    assert str(exc) == f'{tmp_path}/deskmail.toml: jobs[0] ("Support").{problem}'


@pytest.mark.parametrize(
    ("server", "problem"),
    [
        ("imaps://imap.example.com", "must be a host name or address such as mail.example.com"),
        ("imap.example.com:993", "must be a host name only; put the port number in port"),
        ("imap.example.com\r\nA1 LOGOUT", "must not contain control characters"),
    ],
)
def test_server_must_be_a_bare_host_name(tmp_path: Path, server: str, problem: str) -> None:
    text = IMAP_JOB.replace('"imap.example.com"', json.dumps(server))
    exc = error(tmp_path, text)
    assert exc.key == 'jobs[0] ("Support").server'
    assert exc.problem.startswith(problem)


def test_two_secrets_at_once(tmp_path: Path) -> None:
    exc = error(tmp_path, IMAP_JOB + 'password_file = "pw.txt"\n')
    assert str(exc) == (
        f'{tmp_path}/deskmail.toml: jobs[0] ("Support"):'
        " password_env and password_file are both set; keep only one"
    )


def test_password_pasted_into_password_env_is_not_echoed(tmp_path: Path) -> None:
    exc = error(tmp_path, IMAP_JOB.replace('"DESKMAIL_SUPPORT_PASSWORD"', '"Tr0ub4dor&3"'))
    assert exc.key == 'jobs[0] ("Support").password_env'
    assert "not the password itself" in exc.problem
    assert "Tr0ub4dor" not in str(exc)


def test_literal_password_of_the_wrong_type_is_not_echoed(tmp_path: Path) -> None:
    exc = error(tmp_path, IMAP_JOB.replace("password_env = ", "#") + "password = 20251231\n")
    assert (exc.key, exc.problem) == ('jobs[0] ("Support").password', "must be text in quotes")


def test_move_without_move_to(tmp_path: Path) -> None:
    exc = error(tmp_path, IMAP_JOB + 'after_processing = "move"\n')
    assert str(exc) == (
        f'{tmp_path}/deskmail.toml: jobs[0] ("Support").move_to:'
        " is required when after_processing = 'move'"
    )


def test_move_to_without_move_is_not_silently_ignored(tmp_path: Path) -> None:
    exc = error(tmp_path, IMAP_JOB + 'move_to = "Done"\n')
    assert (exc.key, exc.problem) == (
        'jobs[0] ("Support").move_to',
        "is only used with after_processing = 'move' (it is 'mark_seen')",
    )


@pytest.mark.parametrize("after", ["mark_seen", "move"])
def test_pop3_cannot_mark_seen_or_move(tmp_path: Path, after: str) -> None:
    text = IMAP_JOB.replace('"imap"', '"pop3"') + f'after_processing = "{after}"\n'
    if after == "move":
        text += 'move_to = "Done"\n'
    exc = error(tmp_path, text)
    assert str(exc) == (
        f'{tmp_path}/deskmail.toml: jobs[0] ("Support").after_processing:'
        f" '{after}' is not possible with POP3 (it has no folders or flags); use 'delete' or 'keep'"
    )


def test_maildir_needs_a_path(tmp_path: Path) -> None:
    exc = error(tmp_path, '[[jobs]]\nprotocol = "maildir"\n')
    assert (exc.key, exc.problem) == (
        'jobs[0] ("Mail Connector").path',
        "is required for protocol maildir",
    )


def test_auth_mechanism_is_auto_unless_told_and_lists_the_choices(tmp_path: Path) -> None:
    assert load(tmp_path, IMAP_JOB)[0].auth_mechanism is AuthMechanism.AUTO
    job = load(tmp_path, IMAP_JOB + 'auth_mechanism = "ntlm"\n')[0]
    assert job.auth_mechanism is AuthMechanism.NTLM
    exc = error(tmp_path, IMAP_JOB + 'auth_mechanism = "spa"\n')
    assert str(exc) == (
        f'{tmp_path}/deskmail.toml: jobs[0] ("Support").auth_mechanism:'
        " must be one of auto, plain, login, cram-md5, ntlm, xoauth2 (got 'spa')"
    )


def test_auth_mechanism_is_refused_for_a_maildir(tmp_path: Path) -> None:
    exc = error(tmp_path, '[[jobs]]\nprotocol = "maildir"\npath = "m"\nauth_mechanism = "ntlm"\n')
    assert (exc.key, exc.problem) == (
        'jobs[0] ("Mail Connector").auth_mechanism',
        "is only used with imap and pop3: a Maildir is read from disk, without logging in",
    )


def test_database_url_must_be_a_url(tmp_path: Path) -> None:
    exc = error(tmp_path, '[database]\nurl = "deskmail.db"\n')
    assert exc.key == "database.url"
    assert exc.problem.startswith("must be a database URL such as sqlite:///deskmail.db")


def test_every_problem_is_reported_at_once_one_per_line(tmp_path: Path) -> None:
    exc = error(
        tmp_path,
        IMAP_JOB
        + 'port = 99999\nsecurity = "tls"\n'
        + '[[jobs]]\nprotocol = "pop3"\nserver = "pop.example.com"\nuser = "u"\n'
        + 'password = "p"\npassword_env = "P"\nafter_processing = "mark_seen"\n',
    )
    assert lines(exc) == [
        f'{tmp_path}/deskmail.toml: jobs[0] ("Support").port: must be between 1 and 65535'
        " (got 99999)",
        f'{tmp_path}/deskmail.toml: jobs[0] ("Support").security: must be one of none,'
        " starttls-if-available, starttls, ssl (got 'tls')",
        f'{tmp_path}/deskmail.toml: jobs[1] ("Mail Connector"): password_env and password'
        " are both set; keep only one",
        f"{tmp_path}/deskmail.toml: jobs[1] (\"Mail Connector\").after_processing: 'mark_seen'"
        " is not possible with POP3 (it has no folders or flags); use 'delete' or 'keep'",
    ]
    assert len(exc.issues) == 4
    assert exc.key == 'jobs[0] ("Support").port'  # the first problem


def test_config_error_formats() -> None:
    assert str(ConfigError(None, "", "something")) == "something"
    assert str(ConfigError(Path("d.toml"), "", "bad", line=3)) == "d.toml:3: bad"
    many = ConfigError.many(Path("d.toml"), [Issue("a", "x"), Issue("b.c", "y", line=2, column=5)])
    assert str(many) == "d.toml: a: x\nd.toml:2:5: b.c: y"
    assert (many.key, many.problem, many.line) == ("a", "x", None)
    copy = pickle.loads(pickle.dumps(many))  # errors may cross process boundaries
    assert (str(copy), copy.issues) == (str(many), many.issues)


# --- job names -------------------------------------------------------------------------


def test_unnamed_jobs_get_default_names_skipping_taken_ones(tmp_path: Path) -> None:
    unnamed = '[[jobs]]\nprotocol = "maildir"\npath = "m"\n'
    named = '[[jobs]]\nname = "{}"\nprotocol = "maildir"\npath = "m"\n'
    jobs = load(
        tmp_path,
        unnamed + named.format("Mail Connector (1)") + unnamed + named.format("Support") + unnamed,
    )
    assert [job.name for job in jobs] == [
        "Mail Connector",
        "Mail Connector (1)",
        "Mail Connector (2)",
        "Support",
        "Mail Connector (3)",
    ]
    assert [job.key() for job in jobs][:2] == [
        'jobs[0] ("Mail Connector")',
        'jobs[1] ("Mail Connector (1)")',
    ]


def test_a_taken_default_name_is_skipped_whatever_its_case(tmp_path: Path) -> None:
    text = '[[jobs]]\nprotocol = "maildir"\npath = "m"\n'
    text += text.replace("[[jobs]]", '[[jobs]]\nname = "mail connector"')
    assert [job.name for job in load(tmp_path, text)] == ["Mail Connector (1)", "mail connector"]


def test_duplicate_names_are_refused_naming_both_jobs(tmp_path: Path) -> None:
    exc = error(tmp_path, IMAP_JOB + '[[jobs]]\nprotocol = "maildir"\npath = "m"\n' + IMAP_JOB)
    assert str(exc) == (
        f'{tmp_path}/deskmail.toml: jobs[2] ("Support").name:'
        ' jobs[0] ("Support") has the same name; job names must be unique'
    )


def test_duplicate_names_ignore_case_and_unicode_normal_form(tmp_path: Path) -> None:
    composed, decomposed = "Überweisung", unicodedata.normalize("NFD", "überweisung")
    job = '[[jobs]]\nname = "{}"\nprotocol = "maildir"\npath = "m"\n'
    exc = error(tmp_path, job.format(composed) + job.format(decomposed))
    assert exc.key == f'jobs[1] ("{decomposed}").name'
    assert exc.problem == 'jobs[0] ("Überweisung") has the same name; job names must be unique'


def test_control_characters_in_a_name_are_refused(tmp_path: Path) -> None:
    exc = error(tmp_path, IMAP_JOB.replace('"Support"', '"Support\\nFAKE LOG LINE"'))
    assert exc.problem == "must not contain control characters (tabs, line breaks, ...)"


# --- paths and the database URL ----------------------------------------------------------


def test_relative_paths_are_resolved_against_the_config_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "etc"
    folder.mkdir()
    monkeypatch.chdir(tmp_path)  # elsewhere, to show the working folder does not count
    config = load_config(
        write(
            folder,
            """
            [database]
            url = "sqlite:///data/deskmail.db?timeout=30"
            [storage]
            attachments_dir = "../blobs"
            [[jobs]]
            protocol = "maildir"
            path = "mailbox"
            [[jobs]]
            name = "Support"
            protocol = "imap"
            server = "imap.example.com"
            user = "support"
            password_file = "secrets/support.txt"
            ca_file = "/etc/ssl/internal-ca.pem"
            """,
        ).relative_to(tmp_path)
    )
    assert config.source_file == folder / "deskmail.toml"
    assert config.database.url == f"sqlite:///{folder}/data/deskmail.db?timeout=30"
    assert config.storage.attachments_dir == folder / "../blobs"
    assert config.jobs[0].path == folder / "mailbox"
    assert config.jobs[1].password_file == folder / "secrets" / "support.txt"
    assert config.jobs[1].ca_file == Path("/etc/ssl/internal-ca.pem")


def test_smtp_templates_and_log_paths_are_resolved_against_the_config_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "etc"
    folder.mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    config = load_config(
        write(
            folder,
            """
            templates_dir = "templates"
            [logging]
            file = "../log/deskmail.log"
            [smtp]
            server = "smtp.example.com"
            from_address = "support@example.com"
            password_file = "secrets/smtp.txt"
            ca_file = "~/ca.pem"
            [[jobs]]
            name = "Support"
            protocol = "maildir"
            path = "/srv/mail/support"
            log_file = "support.log"
            [jobs.smtp]
            server = "smtp.example.com"
            from_address = "a@example.com"
            password_file = "job-smtp.txt"
            ca_file = "/etc/ssl/ca.pem"
            """,
        ).relative_to(tmp_path)
    )
    assert config.templates_dir == folder / "templates"
    assert config.logging.file == folder / "../log/deskmail.log"
    assert config.smtp is not None
    assert config.smtp.password_file == folder / "secrets" / "smtp.txt"
    assert config.smtp.ca_file == tmp_path / "home" / "ca.pem"
    (job,) = config.jobs
    assert job.log_file == folder / "support.log"
    assert job.smtp is not None
    assert job.smtp.password_file == folder / "job-smtp.txt"
    assert job.smtp.ca_file == Path("/etc/ssl/ca.pem")


def test_unset_smtp_templates_and_log_paths_stay_unset(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, '[[jobs]]\nprotocol = "maildir"\npath = "m"\n'))
    assert (config.smtp, config.templates_dir, config.logging.file) == (None, None, None)
    assert (config.jobs[0].smtp, config.jobs[0].log_file) == (None, None)


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:////var/lib/deskmail/deskmail.db",
        "sqlite://",
        "sqlite:///:memory:",
        "postgresql+psycopg://deskmail@db.example.com/deskmail",
    ],
)
def test_absolute_memory_and_server_urls_are_kept(tmp_path: Path, url: str) -> None:
    assert load_config(write(tmp_path, f'[database]\nurl = "{url}"\n')).database.url == url


def test_home_folder_is_expanded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    jobs = load(tmp_path, '[[jobs]]\nprotocol = "maildir"\npath = "~/Maildir"\n')
    assert jobs[0].path == tmp_path / "home" / "Maildir"


def test_environment_overrides_the_database_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, '[database]\nurl = "sqlite:///deskmail.db"\n')
    monkeypatch.setenv(DATABASE_URL_ENV, "postgresql+psycopg://deskmail@db.example.com/deskmail")
    assert load_config(path).database.url == "postgresql+psycopg://deskmail@db.example.com/deskmail"


def test_relative_sqlite_in_the_environment_is_taken_from_the_working_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "etc").mkdir()
    path = write(tmp_path / "etc", "")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(DATABASE_URL_ENV, "sqlite:///test.db")
    assert load_config(path).database.url == f"sqlite:///{tmp_path}/test.db"


def test_bad_database_url_in_the_environment_names_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(DATABASE_URL_ENV, "deskmail.db")
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, ""))
    assert str(caught.value).startswith(
        f"environment variable {DATABASE_URL_ENV}: must be a database URL"
    )


# --- secrets -----------------------------------------------------------------------------


def test_password_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (job,) = load(tmp_path, IMAP_JOB)
    monkeypatch.setenv("DESKMAIL_SUPPORT_PASSWORD", "pa ss\\wörd")
    assert resolve_password(job) == "pa ss\\wörd"


def test_missing_environment_variable_names_job_key_and_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (job,) = load(tmp_path, IMAP_JOB)
    monkeypatch.delenv("DESKMAIL_SUPPORT_PASSWORD", raising=False)
    with pytest.raises(ConfigError) as caught:
        resolve_password(job)
    assert str(caught.value) == (
        f'{tmp_path}/deskmail.toml: jobs[0] ("Support").password_env:'
        " environment variable DESKMAIL_SUPPORT_PASSWORD is not set"
    )
    monkeypatch.setenv("DESKMAIL_SUPPORT_PASSWORD", "")
    with pytest.raises(ConfigError, match="DESKMAIL_SUPPORT_PASSWORD is empty"):
        resolve_password(job)


def test_password_from_a_file_is_its_first_line(tmp_path: Path) -> None:
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "pw.txt").write_bytes("  s3cr€t \r\nsecond line\n".encode())
    text = IMAP_JOB.replace("password_env = ", "password_file = ").replace(
        '"DESKMAIL_SUPPORT_PASSWORD"', '"secrets/pw.txt"'
    )
    (job,) = load(tmp_path, text)
    assert resolve_password(job) == "  s3cr€t "  # only the line break is removed


def test_unreadable_password_file_is_named(tmp_path: Path) -> None:
    text = IMAP_JOB.replace("password_env = ", "password_file = ").replace(
        '"DESKMAIL_SUPPORT_PASSWORD"', '"missing.txt"'
    )
    (job,) = load(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        resolve_password(job)
    assert str(caught.value) == (
        f'{tmp_path}/deskmail.toml: jobs[0] ("Support").password_file:'
        f" cannot read {tmp_path}/missing.txt: No such file or directory"
    )
    (tmp_path / "missing.txt").write_text("\n")
    with pytest.raises(ConfigError, match=r"the first line of .*missing\.txt is empty"):
        resolve_password(job)


def test_literal_password_works_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    text = IMAP_JOB.replace('password_env = "DESKMAIL_SUPPORT_PASSWORD"', 'password = "hunter2"')
    with caplog.at_level(logging.WARNING, logger="deskmail.config"):
        (job,) = load(tmp_path, text)
    assert resolve_password(job) == "hunter2"
    assert [record.getMessage() for record in caplog.records] == [
        f'job "Support": password is written in clear text in {tmp_path}/deskmail.toml;'
        " use password_env or password_file"
    ]
    assert all(record.name == "deskmail.config" for record in caplog.records)


def test_literal_client_secret_works_with_a_warning_and_is_redacted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from deskmail.config.secrets import resolve_client_secret

    text = dedent(
        """
        [[jobs]]
        name = "Graph"
        protocol = "graph"
        user = "support@example.com"
        [jobs.oauth2]
        tenant = "contoso.example"
        client_id = "app"
        client_secret = "s3cr3t-app-value"
        """
    )
    with caplog.at_level(logging.WARNING, logger="deskmail.config"):
        (job,) = load(tmp_path, text)
    assert job.oauth2 is not None
    fail = lambda key, problem: ConfigError(None, key, problem)  # noqa: E731
    assert resolve_client_secret(job.oauth2, fail) == "s3cr3t-app-value"
    assert [record.getMessage() for record in caplog.records] == [
        f'job "Graph": oauth2.client_secret is written in clear text in {tmp_path}/deskmail.toml;'
        " use client_secret_env or client_secret_file"
    ]
    assert redact(job)["oauth2"]["client_secret"] == REDACTED
    assert "s3cr3t-app-value" not in repr(job)
    with pytest.raises(ConfigError, match="client_secret_env and client_secret are set"):
        load(tmp_path, text + 'client_secret_env = "APP_SECRET"\n')


def test_weak_transport_settings_are_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    text = IMAP_JOB + 'security = "starttls-if-available"\nreject_invalid_certificates = false\n'
    text += IMAP_JOB.replace('"Support"', '"Plain"') + 'security = "none"\n'
    text += IMAP_JOB.replace('"Support"', '"Local"').replace("imap.example.com", "127.0.0.1")
    text += 'security = "none"\n'
    with caplog.at_level(logging.WARNING, logger="deskmail.config"):
        load(tmp_path, text)
    assert [record.getMessage() for record in caplog.records] == [
        'job "Support": security = "starttls-if-available": a network attacker can strip'
        " STARTTLS and read the password; use starttls or ssl",
        'job "Support": reject_invalid_certificates = false: anyone on the network path can'
        " pose as imap.example.com and read the password; to trust a private CA,"
        " set ca_file instead",
        'job "Plain": security = "none": the password and the mail cross the network'
        " unencrypted; use ssl or starttls",
    ]


SMTP = """
[smtp]
server = "smtp.example.com"
from_address = "support@example.com"
"""
MAILDIR_JOB = """
[[jobs]]
name = "Support"
protocol = "maildir"
path = "m"
"""


def _warnings(caplog: pytest.LogCaptureFixture, folder: Path, text: str) -> list[str]:
    with caplog.at_level(logging.WARNING, logger="deskmail.config"):
        load(folder, text)
    assert all(record.name == "deskmail.config" for record in caplog.records)
    return [record.getMessage() for record in caplog.records]


def test_literal_smtp_password_is_warned_about_without_showing_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    text = SMTP + 'password = "hunter2"\n' + MAILDIR_JOB
    text += 'smtp = { server = "smtp.example.com", from_address = "a@example.com", '
    text += 'password = "sw0rdfish" }\n'
    messages = _warnings(caplog, tmp_path, text)
    assert messages == [
        f"[smtp]: password is written in clear text in {tmp_path}/deskmail.toml;"
        " use password_env or password_file",
        f'job "Support": smtp.password is written in clear text in {tmp_path}/deskmail.toml;'
        " use password_env or password_file",
    ]
    assert not any("hunter2" in m or "sw0rdfish" in m for m in messages)


def test_weak_smtp_transport_settings_are_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    text = SMTP + 'security = "none"\n'
    text += MAILDIR_JOB + 'smtp = { server = "smtp.example.com", from_address = "a@example.com",'
    text += " reject_invalid_certificates = false }\n"
    text += MAILDIR_JOB.replace('"Support"', '"Local"')
    text += 'smtp = { server = "LocalHost", from_address = "a@example.com", security = "none" }\n'
    assert _warnings(caplog, tmp_path, text) == [
        '[smtp]: security = "none": the password and the mail cross the network unencrypted;'
        " use starttls or ssl",
        'job "Support": smtp.reject_invalid_certificates = false: anyone on the network path'
        " can pose as smtp.example.com and read the password; to trust a private CA,"
        " set ca_file instead",
    ]


def test_safe_smtp_settings_are_not_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    text = SMTP + 'password_env = "DESKMAIL_SMTP_PASSWORD"\n' + MAILDIR_JOB
    text += "send_acknowledgement = true\ncreate_new_requests = false\n"
    assert _warnings(caplog, tmp_path, text) == []


ANY_SMTP = "needs [smtp] settings (or smtp on the job) to send mail"


@pytest.mark.parametrize(
    "setting", ["send_acknowledgement = true", 'notify_group_address = "it@example.com"']
)
def test_mail_settings_without_any_smtp_are_refused(tmp_path: Path, setting: str) -> None:
    exc = error(tmp_path, MAILDIR_JOB + setting + "\n")
    key = setting.split(" = ")[0]
    assert lines(exc) == [f'{tmp_path}/deskmail.toml: jobs[0] ("Support").{key}: {ANY_SMTP}']


def test_every_job_needing_smtp_is_reported_at_once(tmp_path: Path) -> None:
    text = MAILDIR_JOB + "send_acknowledgement = true\n"
    text += MAILDIR_JOB.replace('"Support"', '"IT"')
    text += 'send_acknowledgement = true\nnotify_group_address = "it@example.com"\n'
    assert [(issue.key, issue.problem) for issue in error(tmp_path, text).issues] == [
        ('jobs[0] ("Support").send_acknowledgement', ANY_SMTP),
        ('jobs[1] ("IT").send_acknowledgement', ANY_SMTP),
        ('jobs[1] ("IT").notify_group_address', ANY_SMTP),
    ]


@pytest.mark.parametrize("where", ["global", "job"])
def test_mail_settings_with_smtp_load(tmp_path: Path, where: str) -> None:
    settings = 'send_acknowledgement = true\nnotify_group_address = "it@example.com"\n'
    if where == "global":
        text = SMTP + MAILDIR_JOB + settings
    else:
        text = MAILDIR_JOB + settings
        text += 'smtp = { server = "smtp.example.com", from_address = "a@example.com" }\n'
    (job,) = load(tmp_path, text)
    assert job.send_acknowledgement and job.notify_group_address == "it@example.com"


def test_create_new_requests_false_without_smtp_is_refused(tmp_path: Path) -> None:
    exc = error(tmp_path, MAILDIR_JOB + "create_new_requests = false\n")
    assert lines(exc) == [
        f'{tmp_path}/deskmail.toml: jobs[0] ("Support").create_new_requests: false denies new'
        " requests, and each denied sender is owed an automatic reply: it needs [smtp]"
        " settings (or smtp on the job) to send it"
    ]


@pytest.mark.parametrize("where", ["global", "job"])
def test_create_new_requests_false_with_smtp_loads(tmp_path: Path, where: str) -> None:
    job_smtp = 'smtp = { server = "smtp.example.com", from_address = "a@example.com" }\n'
    text = (SMTP if where == "global" else "") + MAILDIR_JOB + "create_new_requests = false\n"
    (job,) = load(tmp_path, text + (job_smtp if where == "job" else ""))
    assert job.create_new_requests is False


def test_maildir_needs_no_password(tmp_path: Path) -> None:
    (job,) = load(tmp_path, '[[jobs]]\nprotocol = "maildir"\npath = "m"\n')
    assert resolve_password(job) is None


def test_a_job_built_in_code_still_gets_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    job = JobConfig(
        name="Adhoc", protocol="imap", server="h", user="u", password_env="NOT_SET_ANYWHERE"
    )
    with pytest.raises(ConfigError) as caught:
        resolve_password(job)
    assert str(caught.value) == (
        'jobs ("Adhoc").password_env: environment variable NOT_SET_ANYWHERE is not set'
    )


def test_redact_hides_every_secret(tmp_path: Path) -> None:
    text = IMAP_JOB.replace('password_env = "DESKMAIL_SUPPORT_PASSWORD"', 'password = "hunter2"')
    (job,) = load(tmp_path, text)
    settings = redact(job)
    assert settings["password"] == REDACTED
    assert settings["server"] == "imap.example.com"
    assert settings["timeouts"] == {"connect": 30.0, "read": 120.0}
    assert "hunter2" not in json.dumps(settings)
    assert "hunter2" not in repr(job)
    assert "hunter2" not in str(job)
    # Every secret field is covered, including any added to the model later.
    secret_fields = {name for name, field in JobConfig.model_fields.items() if not field.repr}
    assert secret_fields == {"password"}


def test_redact_keeps_where_a_secret_comes_from(tmp_path: Path) -> None:
    (job,) = load(tmp_path, IMAP_JOB)
    settings = redact(job)
    assert settings["password_env"] == "DESKMAIL_SUPPORT_PASSWORD"
    assert settings["password"] is None


# --- non-ASCII ---------------------------------------------------------------------------


def test_non_ascii_names_folders_and_paths(tmp_path: Path) -> None:
    jobs = load(
        tmp_path,
        """
        [[jobs]]
        name = "Überweisung – Comptabilité"
        protocol = "imap"
        server = "imap.example.com"
        user = "büro"
        password_env = "DESKMAIL_PASSWORD"
        folder = "INBOX/Überweisung"
        after_processing = "move"
        move_to = "INBOX/Erledigt – traité"
        group = "Bâtiments et Logistique"
        fallback_site = "Siège Montréal"

        [[jobs]]
        protocol = "maildir"
        path = "boîte aux lettres"
        """,
    )
    assert jobs[0].name == "Überweisung – Comptabilité"
    assert jobs[0].folder == "INBOX/Überweisung"
    assert jobs[0].move_to == "INBOX/Erledigt – traité"
    assert (jobs[0].group, jobs[0].fallback_site) == ("Bâtiments et Logistique", "Siège Montréal")
    assert jobs[1].path == tmp_path / "boîte aux lettres"


def test_non_ascii_job_name_in_an_error(tmp_path: Path) -> None:
    exc = error(tmp_path, IMAP_JOB.replace('"Support"', '"Sécurité"') + 'security = "tls"\n')
    assert exc.key == 'jobs[0] ("Sécurité").security'


# --- the sample mailbox that `make run` ingests --------------------------------------------


def _sample_mails() -> list[tuple[str, EmailMessage]]:
    mails = []
    for path in sorted((SAMPLE / "mails").glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        assert isinstance(message, EmailMessage)
        mails.append((path.name, message))
    return mails


_REFERENCE = re.compile(r"\[Incident\] \[IT\] (\d+)|\[#(\d+)\]")


def test_sample_mails_are_well_formed() -> None:
    mails = _sample_mails()
    assert 12 <= len(mails) <= 14
    for name, message in mails:
        for header in ("Message-ID", "Date", "From", "To", "MIME-Version", "Content-Type"):
            assert message[header], f"{name}: no {header}"
        assert "support@example.com" in str(message["To"]), name
        assert re.search(r"[@.]example\.(com|org)>$", str(message["From"])), name
        defects = [d for part in message.walk() for d in part.defects]
        assert defects == [], f"{name}: {defects}"
        assert message.get_body(("plain", "html")) is not None, name


def test_sample_replies_refer_to_tickets_created_earlier_in_the_folder() -> None:
    created = 0
    references = []
    for name, message in _sample_mails():
        found = _REFERENCE.search(str(message["Subject"]))
        if found is None:
            created += 1  # a new ticket, numbered in file order on a fresh database
            continue
        number = int(found[1] or found[2])
        assert number <= created, f"{name} refers to ticket {number} before it exists"
        references.append(found[0])
    assert "[#2]" in references
    assert len(references) >= 4


def test_sample_mails_keep_backslashes_accents_and_attachments() -> None:
    mails = dict(_sample_mails())
    share = mails["06-finance-share-access.eml"].get_body(("plain",))
    assert share is not None
    text = share.get_content()
    assert "\\\\fileserver01\\finance\\Q3" in text
    assert "C:\\Users\\alice\\Documents" in text
    french = mails["09-probleme-imprimante-3eme-etage.eml"]
    assert str(french["Subject"]) == "Problème d'imprimante au 3ème étage"
    assert "Hélène" in str(french["From"])
    attachments = {
        part.get_filename(): part.get_content()
        for part in mails["08-expense-tool-error-attachments.eml"].iter_attachments()
    }
    pdf, png = attachments["ER-2025-0117.pdf"], attachments["Screenshot 2025-01-14 at 13.12.08.png"]
    assert pdf.startswith(b"%PDF-1.4") and pdf.rstrip().endswith(b"%%EOF")
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    html_only = mails["05-new-laptop-for-new-starter.eml"]
    assert html_only.get_content_type() == "text/html"
    assert "<table" in html_only.get_content() and "<ul" in html_only.get_content()
    assert mails["02-vpn-disconnects.eml"].get_content_type() == "multipart/alternative"
    assert mails["10-zabbix-disk-space-alert.eml"]["Auto-Submitted"] == "auto-generated"


# --- EWS jobs (Exchange Server on premises) -------------------------------------------

EWS_JOB = """
[[jobs]]
name = "Exchange"
protocol = "ews"
user = 'EXAMPLE\\support'
mailbox = "support@example.com"
password_env = "DESKMAIL_EWS_PASSWORD"
"""


def test_an_ews_job_with_a_server_name_or_a_service_url_loads(tmp_path: Path) -> None:
    job = load(tmp_path, EWS_JOB + 'server = "mail.example.com"\nexchange_version = "2016"\n')[0]
    assert job.protocol is Protocol.EWS
    assert job.effective_after_processing is AfterProcessing.MARK_SEEN
    url = 'service_url = "https://mail.example.com/EWS/Exchange.asmx"\nauth_mechanism = "ntlm"\n'
    assert load(tmp_path, EWS_JOB + url)[0].service_url == (
        "https://mail.example.com/EWS/Exchange.asmx"
    )


def test_an_ews_job_needs_where_to_find_the_service(tmp_path: Path) -> None:
    without_address = EWS_JOB.replace('mailbox = "support@example.com"\n', "")
    exc = error(tmp_path, without_address)
    assert (exc.key, exc.problem) == (
        'jobs[0] ("Exchange")',
        "needs service_url, server, or an e-mail address (mailbox, or user)"
        " to find the service by autodiscover",
    )
    # An e-mail address is enough: autodiscover finds the URL.
    auto = without_address.replace("'EXAMPLE\\support'", '"support@example.com"')
    assert load(tmp_path, auto)[0].service_url is None
    assert load(tmp_path, EWS_JOB)[0].mailbox == "support@example.com"


@pytest.mark.parametrize(
    ("setting", "key", "problem"),
    [
        (
            'auth_mechanism = "cram-md5"',
            "auth_mechanism",
            "'cram-md5' is not possible with EWS; use 'ntlm', 'plain' (HTTP Basic) or 'auto'",
        ),
        ('service_url = "mail.example.com"', "service_url", "must be a URL such as"),
        ('exchange_version = "2007"', "exchange_version", "must be one of auto, 2010_sp2, 2013"),
        ('security = "starttls"', "security", "EWS is always read over HTTPS"),
    ],
)
def test_ews_settings_are_checked(tmp_path: Path, setting: str, key: str, problem: str) -> None:
    text = EWS_JOB + ("" if "service_url" in setting else 'server = "mail.example.com"\n')
    exc = error(tmp_path, text + setting + "\n")
    assert exc.key == f'jobs[0] ("Exchange").{key}'
    assert exc.problem.startswith(problem)


def test_ews_settings_are_refused_on_other_protocols(tmp_path: Path) -> None:
    exc = error(tmp_path, IMAP_JOB + 'exchange_version = "2016"\n')
    assert (exc.key, exc.problem) == (
        'jobs[0] ("Support").exchange_version',
        "is only used with protocol ews",
    )


def test_an_ews_job_reads_its_password(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DESKMAIL_EWS_PASSWORD", "secret")
    job = load(tmp_path, EWS_JOB + 'server = "mail.example.com"\n')[0]
    assert resolve_password(job) == "secret"


# --- OAuth2 --------------------------------------------------------------------------

XOAUTH2_JOB = """
[[jobs]]
name = "Support"
protocol = "imap"
server = "outlook.office365.com"
user = "support@contoso.example"
auth_mechanism = "xoauth2"
[jobs.oauth2]
tenant = "contoso.example"
client_id = "11111111-2222-3333-4444-555555555555"
"""


def test_an_oauth2_job_needs_no_password_and_reads_its_secret_file_beside_the_config(
    tmp_path: Path,
) -> None:
    job = load(tmp_path, XOAUTH2_JOB + 'client_secret_file = "secrets/client.txt"\n')[0]
    assert job.oauth2 is not None
    assert job.oauth2.client_secret_file == tmp_path / "secrets" / "client.txt"
    assert job.oauth2.authority_url == "https://login.microsoftonline.com/contoso.example"
    assert job.oauth2.scopes_for("imap") == ["https://outlook.office365.com/.default"]
    assert resolve_password(job) is None


def test_xoauth2_without_an_oauth2_table_is_refused(tmp_path: Path) -> None:
    exc = error(tmp_path, IMAP_JOB + 'auth_mechanism = "xoauth2"\n')
    assert lines(exc) == [
        f'{tmp_path}/deskmail.toml: jobs[0] ("Support").oauth2: is required with'
        ' auth_mechanism = "xoauth2": add an [jobs.oauth2] table with provider, tenant'
        " and client_id",
    ]


def test_oauth2_table_problems_are_named_each_with_its_key(tmp_path: Path) -> None:
    text = XOAUTH2_JOB.replace('tenant = "contoso.example"\n', "") + (
        'client_secret_env = "not a variable name"\n'
        + 'authority = "http://login.example"\n'
        + 'scopes = ["two words"]\n'
    )
    exc = error(tmp_path, text)
    prefix = f'{tmp_path}/deskmail.toml: jobs[0] ("Support").oauth2.'
    assert lines(exc) == [
        prefix + "client_secret_env: must be the name of an environment variable (letters,"
        " digits and _), such as DESKMAIL_CLIENT_SECRET, not the secret itself",
        prefix + "authority: must be an https:// URL (identity providers are only spoken to"
        " over TLS)",
        prefix + "scopes[0]: each scope must be one word without spaces",
    ]
    assert "not a variable name" not in str(exc)


def test_oauth2_credentials_are_checked_together(tmp_path: Path) -> None:
    exc = error(
        tmp_path,
        XOAUTH2_JOB.replace('tenant = "contoso.example"', 'tenant = "common"'),
    )
    prefix = f'{tmp_path}/deskmail.toml: jobs[0] ("Support").oauth2'
    assert lines(exc) == [
        prefix + ".tenant: 'common' is not a tenant: name the directory id or domain",
        prefix + ': flow = "app" needs a credential: set client_secret_env,'
        " client_secret_file or certificate_file",
    ]


def test_an_oauth2_job_with_a_password_or_another_mechanism_is_refused(tmp_path: Path) -> None:
    text = (
        IMAP_JOB
        + 'auth_mechanism = "ntlm"\n'
        + '[jobs.oauth2]\ntenant = "t"\nclient_id = "c"\nclient_secret_env = "S"\n'
    )
    exc = error(tmp_path, text)
    prefix = f'{tmp_path}/deskmail.toml: jobs[0] ("Support").'
    assert lines(exc) == [
        prefix + "password_env: is not used: this job signs in with oauth2 (an access token)",
        prefix + 'auth_mechanism: must be "xoauth2" (or "auto") with an oauth2 table'
        ' (it is "ntlm")',
    ]


def test_google_and_generic_providers_name_what_they_need(tmp_path: Path) -> None:
    text = dedent(XOAUTH2_JOB).replace(
        'tenant = "contoso.example"\n', 'provider = "google"\n'
    ) + dedent(XOAUTH2_JOB).replace('name = "Support"', 'name = "Other"').replace(
        'tenant = "contoso.example"\n', 'provider = "generic"\nflow = "delegated"\n'
    )
    exc = error(tmp_path, text)
    assert [line.split(": ", 1)[1] for line in lines(exc)] == [
        "jobs[0] (\"Support\").oauth2.flow: must be 'delegated' with Google: Gmail is read"
        " by a signed-in account",
        'jobs[0] ("Support").oauth2: Google needs the OAuth client\'s secret (a desktop'
        " app's too): set client_secret_env or client_secret_file",
        "jobs[1] (\"Other\").oauth2.token_endpoint: is required with provider = 'generic'"
        " (or issuer, whose metadata names it)",
        'jobs[1] ("Other").oauth2.authorization_endpoint: is required for a person\'s sign-in'
        " with provider = 'generic' (or issuer, whose metadata names it)",
    ]
    issuer_elsewhere = dedent(XOAUTH2_JOB).replace(
        'tenant = "contoso.example"\n',
        'tenant = "contoso.example"\nissuer = "https://id.example"\n',
    )
    assert "jobs[0] (\"Support\").oauth2.issuer: is only used with provider = 'generic'" in [
        line.split(": ", 1)[1] for line in lines(error(tmp_path, issuer_elsewhere))
    ]


def test_smtp_with_oauth2_needs_the_sending_user_and_no_password(tmp_path: Path) -> None:
    text = (
        '[smtp]\nserver = "smtp.office365.com"\nfrom_address = "support@contoso.example"\n'
        'password_env = "P"\n'
        '[smtp.oauth2]\ntenant = "t"\nclient_id = "c"\nclient_secret_env = "S"\n'
    )
    exc = error(tmp_path, text)
    assert lines(exc) == [
        f"{tmp_path}/deskmail.toml: smtp.password_env: is not used: this server is signed in"
        " to with oauth2",
        f"{tmp_path}/deskmail.toml: smtp.user: is required with oauth2: the mailbox that sends",
    ]


def test_cluster_settings_have_defaults_and_are_checked(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, ""))
    assert (config.cluster.lease_seconds, config.cluster.renew_seconds) == (15.0, 5.0)
    exc = error(tmp_path, "[cluster]\nlease_seconds = 10\nrenew_seconds = 6\n")
    assert (exc.key, exc.problem) == (
        "cluster.renew_seconds",
        "must be at most half of lease_seconds (10); got 6",
    )
    exc = error(tmp_path, "[cluster]\nlease_seconds = 1\n")
    assert (exc.key, exc.problem) == ("cluster.lease_seconds", "must be between 3 and 600 (got 1)")
