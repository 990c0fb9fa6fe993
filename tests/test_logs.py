"""Log files: per job and global, text and JSON, secrets hidden; --debug raw dumps."""

from __future__ import annotations

import json
import logging
import mailbox
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from deskmail.cli import main
from deskmail.config.models import DeskmailConfig, JobConfig, LoggingConfig
from deskmail.intake.run import run_job
from deskmail.logs import configure_logging, debug_dump, job_logging
from deskmail.store.engine import Store
from tests.support.dovecot import Dovecot, make_mail
from tests.support.toml_config import job_table, write_config


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    level = root.level
    yield
    configure_logging(None)  # closes the files this test opened
    root.setLevel(level)


def _maildir_job(tmp_path: Path, name: str, **settings: object) -> JobConfig:
    box = mailbox.Maildir(tmp_path / f"box-{name}", create=True)
    box.add(make_mail(f"mail for {name}"))
    return JobConfig(name=name, protocol="maildir", path=Path(box._path), **settings)


def _lines(path: Path) -> list[str]:
    return path.read_text("utf-8").splitlines()


def test_each_job_file_gets_only_its_own_lines(store: Store, tmp_path: Path) -> None:
    alpha = _maildir_job(tmp_path, "Alpha", log_file=tmp_path / "alpha.log")
    beta = _maildir_job(tmp_path, "Beta", log_file=Path("logs/beta.log"))  # relative: config dir
    config = DeskmailConfig(
        source_file=tmp_path / "deskmail.toml",
        logging=LoggingConfig(file=tmp_path / "all.log"),
        jobs=[alpha, beta],
    )
    configure_logging(config)
    run_job(store, alpha)
    run_job(store, beta)
    logging.getLogger("deskmail.test").warning("outside any job")

    alpha_lines, beta_lines = _lines(tmp_path / "alpha.log"), _lines(tmp_path / "logs/beta.log")
    assert any(
        "[Alpha] deskmail.intake.run: job Alpha: fetched 1, created 1" in x for x in alpha_lines
    )
    assert all("[Alpha]" in line for line in alpha_lines)
    assert beta_lines and all("[Beta]" in line for line in beta_lines)
    everything = (tmp_path / "all.log").read_text("utf-8")
    assert "[Alpha]" in everything and "[Beta]" in everything
    assert "WARNING deskmail.test: outside any job" in everything


def test_json_format_is_one_object_per_line(store: Store, tmp_path: Path) -> None:
    job = _maildir_job(tmp_path, "Alpha")
    config = DeskmailConfig(
        logging=LoggingConfig(file=tmp_path / "all.jsonl", format="json", level="debug"),
        jobs=[job],
    )
    configure_logging(config)
    run_job(store, job)
    with job_logging("Alpha"):
        try:
            raise ValueError("broken on purpose")
        except ValueError:
            logging.getLogger("deskmail.test").exception("with a traceback")

    entries = [json.loads(line) for line in _lines(tmp_path / "all.jsonl")]
    assert entries
    for entry in entries:
        assert {"timestamp", "level", "logger", "job", "message"} <= entry.keys()
        assert entry["timestamp"].endswith("+00:00")
    assert any(e["logger"] == "deskmail.intake.run" and e["job"] == "Alpha" for e in entries)
    last = entries[-1]
    assert (last["level"], last["message"]) == ("ERROR", "with a traceback")
    assert "ValueError: broken on purpose" in last["exception"]


def test_password_never_reaches_a_log_even_at_debug(
    store: Store,
    dovecot: Dovecot,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    password = f"Wr0ng-pässwörd-{secrets.token_hex(4)}"
    monkeypatch.setenv("LOGS_TEST_PW", password)
    job = dovecot.job(
        dovecot.user("log"),
        name="Secretive",
        password_env="LOGS_TEST_PW",
        log_file=tmp_path / "job.log",
    )
    config = DeskmailConfig(logging=LoggingConfig(file=tmp_path / "all.log"), jobs=[job])
    configure_logging(config, verbose=2, debug=True)

    summary = run_job(store, job)
    assert "authentication" in (summary.failure or "")
    # Careless log calls: the value in the message, in arguments, in a traceback.
    careless = logging.getLogger("deskmail.test")
    with job_logging("Secretive"):
        careless.debug("password is %s", password)
        careless.info(f"literal {password!r} and bytes {password.encode()!r}")
        try:
            raise RuntimeError(f"login refused for {password}")
        except RuntimeError:
            careless.exception("failed")

    written = {p.name: p.read_text("utf-8") for p in tmp_path.glob("*.log")}
    assert set(written) == {"all.log", "job.log"}
    stderr = capsys.readouterr().err
    for text in (*written.values(), stderr):
        assert "Secretive" in text and "***" in text
        assert password not in text
        assert repr(password.encode())[2:-1] not in text


def test_debug_keeps_each_fetched_message_byte_for_byte(store: Store, tmp_path: Path) -> None:
    box = mailbox.Maildir(tmp_path / "box", create=True)
    raws = [make_mail("first"), make_mail("second", body=b"caf\xc3\xa9 \r\n\x00odd\r\n")]
    for raw in raws:
        box.add(raw)
    job = JobConfig(name="Help/Desk: 1", protocol="maildir", path=Path(box._path))
    run_job(store, job, debug_dir=tmp_path / "debug")

    files = sorted((tmp_path / "debug").iterdir())
    assert len(files) == 2
    assert sorted(f.read_bytes() for f in files) == sorted(raws)
    for file in files:
        assert file.name.startswith("Help_Desk_1_maildir_") and file.suffix == ".eml"
        assert stat.S_IMODE(file.stat().st_mode) == 0o600


def test_debug_dump_names_cannot_escape_the_folder(tmp_path: Path) -> None:
    one = debug_dump(tmp_path, "../../etc", "imap:INBOX/../x:1:2", b"a")
    two = debug_dump(tmp_path, "../../etc", "imap:INBOX/.._x:1:2", b"b")  # sanitises alike
    assert one.parent == two.parent == tmp_path
    assert one != two and (one.read_bytes(), two.read_bytes()) == (b"a", b"b")


def test_run_once_debug_option(tmp_path: Path, database_url: str) -> None:
    box = mailbox.Maildir(tmp_path / "box", create=True)
    box.add(make_mail("via the command line"))
    job = JobConfig(name="Cli", protocol="maildir", path=Path(box._path))
    config = write_config(tmp_path / "d.toml", database_url, [job_table(job)])
    result = CliRunner().invoke(
        main, ["run-once", "--config", str(config), "--debug"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    (dumped,) = (tmp_path / "debug").iterdir()  # next to the config file by default
    assert b"via the command line" in dumped.read_bytes()


def test_an_oauth2_client_secret_is_among_the_values_logs_hide(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from deskmail.config import load_config
    from deskmail.logs import secret_values

    monkeypatch.setenv("APP_SECRET", "the-client-secret-value")
    (tmp_path / "smtp-secret.txt").write_text("the-smtp-client-secret\n")
    path = tmp_path / "deskmail.toml"
    path.write_text(
        '[smtp]\nserver = "smtp.office365.com"\nuser = "desk@contoso.example"\n'
        'from_address = "desk@contoso.example"\n'
        '[smtp.oauth2]\ntenant = "t"\nclient_id = "c"\nclient_secret_file = "smtp-secret.txt"\n'
        '[[jobs]]\nprotocol = "imap"\nserver = "outlook.office365.com"\nuser = "desk"\n'
        'auth_mechanism = "xoauth2"\n'
        '[jobs.oauth2]\ntenant = "t"\nclient_id = "c"\nclient_secret_env = "APP_SECRET"\n'
    )
    found = secret_values(load_config(path))
    assert {"the-client-secret-value", "the-smtp-client-secret"} <= found
