"""Pop3Source against a real Dovecot: security modes, failures, UIDL keys, RETR, DELE + QUIT."""

from __future__ import annotations

import logging
import re
import subprocess
import sys
import textwrap

import pytest

from deskmail.sources import connection
from deskmail.sources.check import describe_failure
from deskmail.sources.errors import SourceError, Step
from deskmail.sources.pop3 import Pop3Source
from tests.support.dovecot import (
    NTLM_DOMAIN,
    NTLM_USER,
    PASSWORD,
    UNICODE_PASSWORD,
    UNICODE_USER,
    Dovecot,
    make_mail,
)
from tests.support.sasl import AnswerRecorder, leaked_answers


@pytest.mark.parametrize(
    ("security", "encrypted"),
    [("ssl", True), ("starttls", True), ("starttls-if-available", True), ("none", False)],
)
def test_security_modes(dovecot: Dovecot, security: str, encrypted: bool) -> None:
    user = dovecot.user()
    dovecot.append(user, make_mail())
    with Pop3Source(dovecot.job(user, "pop3", security), PASSWORD) as source:
        info = source.info()
    assert info.message_count == 1
    assert info.folder == "INBOX"
    if encrypted:
        assert info.tls is not None and info.tls.startswith("TLSv1.")
    else:
        assert info.tls is None


def test_starttls_if_available_continues_in_clear_with_a_warning(
    dovecot: Dovecot, caplog: pytest.LogCaptureFixture
) -> None:
    plain = dovecot.no_tls
    user = plain.user()
    plain.append(user, make_mail())
    with (
        caplog.at_level(logging.WARNING, "deskmail.sources.pop3"),
        Pop3Source(plain.job(user, "pop3", "starttls-if-available"), PASSWORD) as source,
    ):
        assert source.info().tls is None
        assert len(source.list_keys()) == 1
    assert any("does not offer STARTTLS" in r.getMessage() for r in caplog.records)


def test_starttls_required_but_not_offered_stops_before_user_and_pass(dovecot: Dovecot) -> None:
    plain = dovecot.no_tls
    user = plain.user()
    offset = plain.log_offset()
    with pytest.raises(SourceError) as failure:
        Pop3Source(plain.job(user, "pop3", "starttls"), PASSWORD)
    assert failure.value.step is Step.STARTTLS
    log = plain.wait_for_log(offset, "no auth attempts")
    assert "pop3-login" in log and "no auth attempts" in log
    assert user not in log  # USER was never sent


def test_untrusted_certificate_is_refused_by_default(dovecot: Dovecot) -> None:
    for security in ("ssl", "starttls"):
        job = dovecot.job(dovecot.user(), "pop3", security, ca_file=None)
        with pytest.raises(SourceError) as failure:
            Pop3Source(job, PASSWORD)
        assert failure.value.step is Step.CERTIFICATE, security


def test_untrusted_certificate_is_accepted_only_when_told(dovecot: Dovecot) -> None:
    job = dovecot.job(
        dovecot.user(), "pop3", "ssl", ca_file=None, reject_invalid_certificates=False
    )
    with Pop3Source(job, PASSWORD) as source:
        assert source.info().tls is not None


def test_wrong_password_fails_at_authentication(dovecot: Dovecot) -> None:
    with pytest.raises(SourceError) as failure:
        Pop3Source(dovecot.job(dovecot.user(), "pop3", "ssl"), "wrong")
    assert failure.value.step is Step.AUTHENTICATION
    assert "Authentication failed" in failure.value.detail


def test_non_ascii_password_logs_in(dovecot: Dovecot) -> None:
    with Pop3Source(dovecot.job(UNICODE_USER, "pop3", "ssl"), UNICODE_PASSWORD) as source:
        assert source.info().folder == "INBOX"


# ---- authentication mechanisms (auth_mechanism; NTLM is SPA) -------------------------


def _logged_in_with(server: Dovecot, offset: int, user: str) -> str:
    """The SASL method Dovecot logged for this user's login since offset (USER/PASS: PLAIN)."""
    text = server.wait_for_log(offset, f"Login: user=<{user}>, method=")
    found = re.search(rf"pop3-login: Info: Login: user=<{re.escape(user)}>, method=([\w-]+)", text)
    assert found, text[-2000:]
    return found.group(1)


@pytest.mark.parametrize("mechanism", ["plain", "login", "cram-md5", "ntlm"])
def test_every_mechanism_logs_in_with_the_right_password(dovecot: Dovecot, mechanism: str) -> None:
    spa = dovecot.spa
    user = NTLM_USER if mechanism == "ntlm" else spa.user()
    if mechanism != "ntlm":
        spa.append(user, make_mail())
    offset = spa.log_offset()
    job = spa.job(user, "pop3", "none", auth_mechanism=mechanism, after_processing="keep")
    with Pop3Source(job, PASSWORD) as source:
        keys = source.list_keys()
    assert mechanism == "ntlm" or len(keys) == 1
    assert _logged_in_with(spa, offset, user) == mechanism.upper()


@pytest.mark.parametrize("mechanism", ["plain", "login", "cram-md5", "ntlm"])
def test_every_mechanism_fails_at_authentication_with_a_wrong_password(
    dovecot: Dovecot, mechanism: str
) -> None:
    spa = dovecot.spa
    user = NTLM_USER if mechanism == "ntlm" else spa.user()
    with pytest.raises(SourceError) as failure:
        Pop3Source(spa.job(user, "pop3", "none", auth_mechanism=mechanism), "wrong")
    assert failure.value.step is Step.AUTHENTICATION
    assert "Authentication failed" in failure.value.detail
    assert "hint: check user and the password" in describe_failure(failure.value)


def test_mechanisms_are_read_again_after_stls(dovecot: Dovecot) -> None:
    spa = dovecot.spa_tls
    offset = spa.log_offset()
    job = spa.job(f"{NTLM_DOMAIN}\\{NTLM_USER}", "pop3", "starttls", auth_mechanism="ntlm")
    with Pop3Source(job, PASSWORD) as source:
        assert source.info().tls is not None
    assert _logged_in_with(spa, offset, f"{NTLM_USER}@{NTLM_DOMAIN.lower()}") == "NTLM"
    job = spa.job(UNICODE_USER, "pop3", "starttls", auth_mechanism="cram-md5")
    with Pop3Source(job, UNICODE_PASSWORD) as source:  # the HMAC key is the UTF-8 password
        assert source.info().tls is not None


@pytest.mark.parametrize("mechanism", ["cram-md5", "ntlm"])
def test_a_mechanism_the_server_does_not_offer_is_named_before_any_attempt(
    dovecot: Dovecot, mechanism: str
) -> None:
    user = dovecot.user()
    offset = dovecot.log_offset()
    with pytest.raises(SourceError) as failure:
        Pop3Source(dovecot.job(user, "pop3", "ssl", auth_mechanism=mechanism), PASSWORD)
    name = mechanism.upper()
    assert failure.value.step is Step.AUTHENTICATION
    assert failure.value.detail == f"the server does not offer {name} (it offers LOGIN, PLAIN)"
    assert describe_failure(failure.value).endswith(
        f'  hint: set auth_mechanism to one the server offers, or to "auto" (it is "{mechanism}")'
    )
    log = dovecot.wait_for_log(offset, "no auth attempts")
    assert "pop3-login" in log and "no auth attempts" in log
    assert user not in log  # neither USER nor AUTH was sent


def test_auto_uses_cram_md5_without_tls_and_user_pass_over_tls(dovecot: Dovecot) -> None:
    spa = dovecot.spa_tls
    user = spa.user()
    for security, method in (("none", "CRAM-MD5"), ("starttls", "PLAIN"), ("ssl", "PLAIN")):
        offset = spa.log_offset()
        with Pop3Source(spa.job(user, "pop3", security), PASSWORD):
            pass
        assert _logged_in_with(spa, offset, user) == method, security
    with pytest.raises(SourceError) as failure:
        Pop3Source(spa.job(user, "pop3", "none"), "wrong")
    assert 'auth_mechanism = "auto" used CRAM-MD5' in describe_failure(failure.value)


@pytest.mark.parametrize("mechanism", ["plain", "login", "cram-md5", "ntlm"])
def test_no_answer_reaches_a_log_even_at_debug_level(
    dovecot: Dovecot,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    mechanism: str,
) -> None:
    spa = dovecot.spa
    user = NTLM_USER if mechanism == "ntlm" else spa.user()
    recorder = AnswerRecorder()
    monkeypatch.setattr(connection, "sasl_client", recorder.wrap(connection.sasl_client))
    job = spa.job(user, "pop3", "none", auth_mechanism=mechanism)
    with caplog.at_level(logging.DEBUG):
        with Pop3Source(job, PASSWORD):
            pass
        with pytest.raises(SourceError):
            Pop3Source(job, "wrong-password")
    assert len(recorder.answers) >= 2
    printed = capsys.readouterr()
    for text in (caplog.text, printed.out, printed.err):
        assert leaked_answers(recorder, text) == []
        assert "wrong-password" not in text


def test_keys_are_uidls_stable_across_sessions(dovecot: Dovecot) -> None:
    user = dovecot.user()
    for i in range(3):
        dovecot.append(user, make_mail(f"n{i}"))
    job = dovecot.job(user, "pop3", "ssl", after_processing="keep")
    with Pop3Source(job, PASSWORD) as source:
        first = source.list_keys()
    with Pop3Source(job, PASSWORD) as source:
        second = source.list_keys()
    assert first == second
    assert len(set(first)) == 3
    assert all(key.startswith("pop3:") and len(key) > len("pop3:") for key in first)


def test_fetch_returns_exact_bytes_with_long_lines_and_dots(dovecot: Dovecot) -> None:
    user = dovecot.user()
    long_line = b"x" * 10_000  # poplib's own limit is 2048 bytes per line
    html_one_liner = b"<p>" + b"word " * 40_000 + b"</p>"  # ~200 kB in one line
    mails = [
        make_mail("long", long_line + b"\r\n"),
        make_mail("html", html_one_liner + b"\r\n"),
        make_mail("dots", b".\r\n..two dots\r\n.\r\nend\r\n"),  # dot-stuffing round trip
    ]
    for mail in mails:
        dovecot.append(user, mail)
    with Pop3Source(dovecot.job(user, "pop3", "ssl", after_processing="keep"), PASSWORD) as src:
        keys = src.list_keys()
        fetched = list(src.fetch(reversed(keys)))
    assert [f.key for f in fetched] == list(reversed(keys))
    assert [f.raw for f in fetched] == list(reversed(mails))
    assert dovecot.count(user) == 3  # RETR removed nothing


def test_delete_takes_effect_at_quit(dovecot: Dovecot) -> None:
    user = dovecot.user()
    dovecot.append(user, make_mail("acknowledged"))
    kept = dovecot.append(user, make_mail("not acknowledged"))
    with Pop3Source(dovecot.job(user, "pop3", "ssl"), PASSWORD) as source:
        keys = source.list_keys()
        source.acknowledge(keys[:1])
        source.acknowledge([*keys[:1], "pop3:no-such-uidl"])  # idempotent, unknown ignored
        assert source.list_keys() == keys[1:]
        assert dovecot.count(user) == 2  # only marked: the server removes it at QUIT
    assert dovecot.uids(user) == [kept]


def test_a_crash_before_quit_leaves_the_mail_on_the_server(dovecot: Dovecot) -> None:
    user = dovecot.user()
    dovecot.append(user, make_mail())
    job = dovecot.job(user, "pop3", "ssl")
    # A separate process that marks everything with DELE and dies without QUIT.
    script = textwrap.dedent(
        """
        import os, sys
        from deskmail.config.models import JobConfig
        from deskmail.sources.pop3 import Pop3Source
        source = Pop3Source(JobConfig.model_validate_json(sys.stdin.read()), "secret")
        source.acknowledge(source.list_keys())
        os._exit(0)
        """
    )
    dump = job.model_dump_json()
    subprocess.run([sys.executable, "-c", script], input=dump, text=True, check=True, timeout=30)
    assert dovecot.count(user) == 1
    with Pop3Source(job, PASSWORD) as source:  # the next run acknowledges it again
        source.acknowledge(source.list_keys())
    assert dovecot.count(user) == 0


def test_keep_deletes_nothing(dovecot: Dovecot) -> None:
    user = dovecot.user()
    dovecot.append(user, make_mail())
    with Pop3Source(dovecot.job(user, "pop3", "ssl", after_processing="keep"), PASSWORD) as src:
        src.acknowledge(src.list_keys())
    assert dovecot.count(user) == 1


def test_an_error_inside_the_session_still_commits_acknowledged_deletions(
    dovecot: Dovecot,
) -> None:
    user = dovecot.user()
    dovecot.append(user, make_mail())
    with (
        pytest.raises(RuntimeError),
        Pop3Source(dovecot.job(user, "pop3", "ssl"), PASSWORD) as source,
    ):
        source.acknowledge(source.list_keys())  # acknowledged = its ticket is committed
        raise RuntimeError("a later message failed")
    assert dovecot.count(user) == 0
