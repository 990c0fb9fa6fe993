"""ImapSource against a real Dovecot: security modes, failures by step, keys, fetch, acks."""

from __future__ import annotations

import logging
import re

import pytest

from deskmail.sources import connection
from deskmail.sources.check import describe_failure
from deskmail.sources.errors import SourceError, Step
from deskmail.sources.imap import ImapKey, ImapSource
from tests.support.dovecot import (
    BASIC_CAPABILITIES,
    NTLM_DOMAIN,
    NTLM_USER,
    PASSWORD,
    UNICODE_PASSWORD,
    UNICODE_USER,
    Dovecot,
    make_mail,
)
from tests.support.sasl import AnswerRecorder, leaked_answers


def _sent_commands(caplog: pytest.LogCaptureFixture) -> str:
    """What imapclient/imaplib wrote to the server, from their debug log."""
    return "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("imapclient"))


# ---- security modes -------------------------------------------------------------


@pytest.mark.parametrize(
    ("security", "encrypted"),
    [("ssl", True), ("starttls", True), ("starttls-if-available", True), ("none", False)],
)
def test_security_modes(dovecot: Dovecot, security: str, encrypted: bool) -> None:
    user = dovecot.user()
    dovecot.append(user, make_mail())
    with ImapSource(dovecot.job(user, "imap", security), PASSWORD) as source:
        info = source.info()
        assert len(source.list_keys()) == 1
    assert info.message_count == 1
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
        caplog.at_level(logging.WARNING, "deskmail.sources.imap"),
        ImapSource(plain.job(user, "imap", "starttls-if-available"), PASSWORD) as source,
    ):
        assert source.info().tls is None
        assert len(source.list_keys()) == 1
    assert any(
        "does not offer STARTTLS" in r.getMessage() and r.levelno == logging.WARNING
        for r in caplog.records
    )


def test_starttls_required_but_not_offered_stops_before_credentials(
    dovecot: Dovecot, caplog: pytest.LogCaptureFixture
) -> None:
    plain = dovecot.no_tls
    user = plain.user()
    offset = plain.log_offset()
    with caplog.at_level(logging.DEBUG, "imapclient"), pytest.raises(SourceError) as failure:
        ImapSource(plain.job(user, "imap", "starttls"), PASSWORD)
    assert failure.value.step is Step.STARTTLS
    # The client never wrote LOGIN or AUTHENTICATE...
    sent = _sent_commands(caplog)
    assert "CAPABILITY" in sent or "LOGOUT" in sent  # proof the debug log is captured
    assert "LOGIN" not in sent and "AUTHENTICATE" not in sent
    # ...and the server saw a connection without any authentication attempt.
    log = plain.wait_for_log(offset, "no auth attempts")
    assert "no auth attempts" in log
    assert user not in log


# ---- certificates -----------------------------------------------------------------


@pytest.mark.parametrize("security", ["ssl", "starttls"])
def test_untrusted_certificate_is_refused_by_default(dovecot: Dovecot, security: str) -> None:
    user = dovecot.user()
    offset = dovecot.log_offset()
    job = dovecot.job(user, "imap", security, ca_file=None)
    with pytest.raises(SourceError) as failure:
        ImapSource(job, PASSWORD)
    assert failure.value.step is Step.CERTIFICATE
    assert "self-signed" in failure.value.detail or "self signed" in failure.value.detail
    assert user not in dovecot.log_since(offset)  # no password went to an unverified server


@pytest.mark.parametrize("security", ["ssl", "starttls"])
def test_untrusted_certificate_is_accepted_only_when_told(dovecot: Dovecot, security: str) -> None:
    user = dovecot.user()
    job = dovecot.job(user, "imap", security, ca_file=None, reject_invalid_certificates=False)
    with ImapSource(job, PASSWORD) as source:
        assert source.info().tls is not None


def test_host_name_mismatch_is_refused(dovecot: Dovecot) -> None:
    if dovecot.alt_imaps_port is None:
        pytest.skip("127.0.0.2 is not on loopback here")
    # The certificate names localhost and 127.0.0.1, and the CA is trusted.
    job = dovecot.job(
        dovecot.user(), "imap", "ssl", server="127.0.0.2", port=dovecot.alt_imaps_port
    )
    with pytest.raises(SourceError) as failure:
        ImapSource(job, PASSWORD)
    assert failure.value.step is Step.CERTIFICATE
    assert "mismatch" in failure.value.detail.lower()
    assert failure.value.server == f"127.0.0.2:{dovecot.alt_imaps_port}"


def test_implicit_tls_against_a_clear_port_fails_at_tls(dovecot: Dovecot) -> None:
    job = dovecot.job(dovecot.user(), "imap", "ssl", port=dovecot.imap_port)
    with pytest.raises(SourceError) as failure:
        ImapSource(job, PASSWORD)
    assert failure.value.step is Step.TLS


# ---- login and folders ------------------------------------------------------------


def test_wrong_password_fails_at_authentication(dovecot: Dovecot) -> None:
    user = dovecot.user()
    offset = dovecot.log_offset()
    with pytest.raises(SourceError) as failure:
        ImapSource(dovecot.job(user, "imap", "ssl"), "not-the-password")
    assert failure.value.step is Step.AUTHENTICATION
    # The counterpart of the STARTTLS test: a real attempt does show in the log.
    assert user in dovecot.wait_for_log(offset, user)


def test_non_ascii_password_logs_in(dovecot: Dovecot) -> None:
    # imaplib's LOGIN is ASCII only; the source falls back to AUTHENTICATE PLAIN (UTF-8).
    with ImapSource(dovecot.job(UNICODE_USER, "imap", "ssl"), UNICODE_PASSWORD) as source:
        assert source.folder == "INBOX"


@pytest.mark.parametrize("password", [None, "secret\r\nA1 DELETE INBOX"])
def test_missing_or_multiline_password_is_refused_before_connecting(
    dovecot: Dovecot, password: str | None
) -> None:
    with pytest.raises(SourceError) as failure:
        ImapSource(dovecot.job(dovecot.user(), "imap", "ssl"), password)
    assert failure.value.step is Step.SECRET


# ---- authentication mechanisms (auth_mechanism; NTLM is SPA) -------------------------


def _logged_in_with(server: Dovecot, offset: int, user: str) -> str:
    """The SASL method Dovecot logged for this user's login since offset."""
    text = server.wait_for_log(offset, f"Login: user=<{user}>, method=")
    found = re.search(rf"Login: user=<{re.escape(user)}>, method=([\w-]+)", text)
    assert found, text[-2000:]
    return found.group(1)


@pytest.mark.parametrize("mechanism", ["plain", "login", "cram-md5", "ntlm"])
def test_every_mechanism_logs_in_with_the_right_password(dovecot: Dovecot, mechanism: str) -> None:
    spa = dovecot.spa
    user = NTLM_USER if mechanism == "ntlm" else spa.user()
    offset = spa.log_offset()
    job = spa.job(user, "imap", "none", auth_mechanism=mechanism)
    with ImapSource(job, PASSWORD) as source:
        assert source.info().folder == "INBOX"
    assert _logged_in_with(spa, offset, user) == mechanism.upper()


@pytest.mark.parametrize("mechanism", ["plain", "login", "cram-md5", "ntlm"])
def test_every_mechanism_fails_at_authentication_with_a_wrong_password(
    dovecot: Dovecot, mechanism: str
) -> None:
    spa = dovecot.spa
    user = NTLM_USER if mechanism == "ntlm" else spa.user()
    with pytest.raises(SourceError) as failure:
        ImapSource(spa.job(user, "imap", "none", auth_mechanism=mechanism), "wrong")
    assert failure.value.step is Step.AUTHENTICATION
    assert "Authentication failed" in failure.value.detail
    assert "hint: check user and the password" in describe_failure(failure.value)


def test_ntlm_with_a_domain_and_cram_md5_with_a_non_ascii_password_over_tls(
    dovecot: Dovecot,
) -> None:
    spa = dovecot.spa_tls
    offset = spa.log_offset()
    job = spa.job(f"{NTLM_DOMAIN}\\{NTLM_USER}", "imap", "starttls", auth_mechanism="ntlm")
    with ImapSource(job, PASSWORD) as source:
        assert source.info().tls is not None
    # Dovecot writes the helper's "DOMAIN\user" as user@domain.
    assert _logged_in_with(spa, offset, f"{NTLM_USER}@{NTLM_DOMAIN.lower()}") == "NTLM"
    job = spa.job(UNICODE_USER, "imap", "ssl", auth_mechanism="cram-md5")
    with ImapSource(job, UNICODE_PASSWORD) as source:  # the HMAC key is the UTF-8 password
        assert source.folder == "INBOX"


@pytest.mark.parametrize("mechanism", ["cram-md5", "ntlm"])
def test_a_mechanism_the_server_does_not_offer_is_named_before_any_attempt(
    dovecot: Dovecot, mechanism: str
) -> None:
    user = dovecot.user()
    offset = dovecot.log_offset()
    with pytest.raises(SourceError) as failure:
        ImapSource(dovecot.job(user, "imap", "ssl", auth_mechanism=mechanism), PASSWORD)
    name = mechanism.upper()
    assert failure.value.step is Step.AUTHENTICATION
    assert failure.value.detail == f"the server does not offer {name} (it offers LOGIN, PLAIN)"
    assert describe_failure(failure.value) == (
        f"FAILED at authentication (127.0.0.1:{dovecot.imaps_port}):"
        f" the server does not offer {name} (it offers LOGIN, PLAIN)\n"
        f'  hint: set auth_mechanism to one the server offers, or to "auto" (it is "{mechanism}")'
    )
    assert "no auth attempts" in dovecot.wait_for_log(offset, "no auth attempts")


def test_auto_uses_cram_md5_without_tls_when_offered(dovecot: Dovecot) -> None:
    spa = dovecot.spa
    user = spa.user()
    offset = spa.log_offset()
    with ImapSource(spa.job(user, "imap", "none"), PASSWORD):
        pass
    assert _logged_in_with(spa, offset, user) == "CRAM-MD5"
    # Refused, the hint says auto chose CRAM-MD5 and what to do if the password is right.
    with pytest.raises(SourceError) as failure:
        ImapSource(spa.job(user, "imap", "none"), "wrong")
    assert failure.value.step is Step.AUTHENTICATION
    assert 'auth_mechanism = "auto" used CRAM-MD5' in describe_failure(failure.value)


def test_auto_keeps_the_login_command_over_tls(
    dovecot: Dovecot, caplog: pytest.LogCaptureFixture
) -> None:
    spa = dovecot.spa_tls
    with caplog.at_level(logging.DEBUG, "imapclient"):
        with ImapSource(spa.job(spa.user(), "imap", "starttls"), PASSWORD):
            pass
        with ImapSource(dovecot.no_tls.job(dovecot.user(), "imap", "none"), PASSWORD):
            pass  # in clear too, when the server offers no challenge-response mechanism
    sent = _sent_commands(caplog)
    assert sent.count("LOGIN **REDACTED**") == 2
    assert "AUTHENTICATE" not in sent


@pytest.mark.parametrize("mechanism", ["plain", "login", "cram-md5", "ntlm"])
def test_no_answer_reaches_a_log_even_at_debug_level(
    dovecot: Dovecot,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    mechanism: str,
) -> None:
    spa = dovecot.spa
    user = NTLM_USER if mechanism == "ntlm" else spa.user()
    recorder = AnswerRecorder()
    monkeypatch.setattr(connection, "sasl_client", recorder.wrap(connection.sasl_client))
    job = spa.job(user, "imap", "none", auth_mechanism=mechanism)
    with caplog.at_level(logging.DEBUG), caplog.at_level(logging.DEBUG, "imapclient"):
        with ImapSource(job, PASSWORD):
            pass
        with pytest.raises(SourceError):
            ImapSource(job, "wrong-password")
    assert "AUTHENTICATE" in _sent_commands(caplog)  # the trace was on
    assert len(recorder.answers) >= 2
    assert leaked_answers(recorder, caplog.text) == []
    assert "wrong-password" not in caplog.text


def test_missing_folder_fails_at_folder_and_names_it(dovecot: Dovecot) -> None:
    with pytest.raises(SourceError) as failure:
        ImapSource(dovecot.job(dovecot.user(), "imap", "ssl", folder="INBOX.Nowhere"), PASSWORD)
    assert failure.value.step is Step.FOLDER
    assert "INBOX.Nowhere" in failure.value.detail


@pytest.mark.parametrize("written", ["INBOX/Support", "INBOX.Support"])
def test_subfolder_names_work_with_either_separator(dovecot: Dovecot, written: str) -> None:
    user = dovecot.user()
    dovecot.append(user, make_mail("inbox"))
    uid = dovecot.append(user, make_mail("support"), folder="INBOX/Support")  # server uses "/"
    with ImapSource(dovecot.job(user, "imap", "ssl", folder=written), PASSWORD) as source:
        assert source.folder == "INBOX/Support"
        keys = source.list_keys()
        assert keys == [f"imap:INBOX/Support:{source.uidvalidity}:{uid}"]
        assert b"Subject: support" in next(source.fetch(keys)).raw
        assert source.info().folder == "INBOX/Support"


# ---- keys and fetch ---------------------------------------------------------------


def test_keys_carry_folder_uidvalidity_and_uid_oldest_first(dovecot: Dovecot) -> None:
    user = dovecot.user()
    uids = [dovecot.append(user, make_mail(f"n{i}")) for i in range(3)]
    flagged = dovecot.append(user, make_mail("deleted elsewhere"), flags=("\\Deleted",))
    uidvalidity = dovecot.uidvalidity(user)
    with ImapSource(dovecot.job(user, "imap", "ssl"), PASSWORD) as source:
        keys = source.list_keys()
        assert source.uidvalidity == uidvalidity
        assert source.info().identity == str(uidvalidity)
    assert keys == [f"imap:INBOX:{uidvalidity}:{uid}" for uid in uids]
    assert not any(key.endswith(f":{flagged}") for key in keys)


def test_key_parsing_survives_colons_in_folder_names() -> None:
    key = ImapKey.parse("imap:Work:2024:17:42")
    assert key == ImapKey("Work:2024", 17, 42)
    assert str(key) == "imap:Work:2024:17:42"
    assert ImapKey.parse("pop3:abc") is None
    assert ImapKey.parse("imap:INBOX:x:1") is None


def test_fetch_returns_exact_bytes_in_order_given_and_leaves_mail_unseen(dovecot: Dovecot) -> None:
    user = dovecot.user()
    mails = [make_mail(f"m{i}", b"caf\xc3\xa9 8-bit body\r\n.leading dot\r\n") for i in range(5)]
    for mail in mails:
        dovecot.append(user, mail)
    job = dovecot.job(user, "imap", "ssl", fetch_batch=2)  # 3 batches
    with ImapSource(job, PASSWORD) as source:
        keys = source.list_keys()
        fetched = list(source.fetch(reversed(keys)))
    assert [f.key for f in fetched] == list(reversed(keys))
    assert [f.raw for f in fetched] == list(reversed(mails))
    assert all("\\Seen" not in flags for flags in dovecot.flags(user).values())


def test_fetched_mail_is_not_traced_unless_asked(dovecot: Dovecot) -> None:
    """imapclient switches imaplib's tracing on, and imaplib formats each fetched mail
    whole (its repr) for it before any log level is checked: a copy or two of every
    message, thrown away. With the wire log quiet, imaplib must not trace at all."""
    user = dovecot.user()
    big = make_mail("big", b"".join(b"%076d\r\n" % n for n in range(20_000)))
    dovecot.append(user, big)
    traced: list[str] = []
    with ImapSource(dovecot.job(user, "imap", "none"), PASSWORD) as source:
        imap = source.client._imap
        imap._mesg = traced.append
        fetched = list(source.fetch(source.list_keys()))
    assert fetched[0].raw == big
    assert traced == []


def test_imap_trace_kept_when_debug_logging(
    dovecot: Dovecot, caplog: pytest.LogCaptureFixture
) -> None:
    user = dovecot.user()
    dovecot.append(user, make_mail("traced"))
    job = dovecot.job(user, "imap", "none")
    with caplog.at_level(logging.DEBUG, "imapclient"), ImapSource(job, PASSWORD):
        pass
    assert "SELECT" in _sent_commands(caplog)
    caplog.clear()
    with caplog.at_level(logging.DEBUG), ImapSource(job, PASSWORD):  # the wire log stays at INFO
        pass
    assert _sent_commands(caplog) == ""


def test_fetch_skips_vanished_and_foreign_keys(dovecot: Dovecot) -> None:
    user = dovecot.user()
    first, second = dovecot.append(user, make_mail("a")), dovecot.append(user, make_mail("b"))
    with ImapSource(dovecot.job(user, "imap", "ssl"), PASSWORD) as source:
        keys = source.list_keys()
        with dovecot.imap(user) as other:  # another client removes the first meanwhile
            other.add_flags([first], [b"\\Deleted"])
            other.uid_expunge([first])
        stale = f"imap:INBOX:{source.uidvalidity + 1}:{second}"
        fetched = list(source.fetch([*keys, stale, "pop3:whatever", "imap:Other:1:1"]))
    assert [f.key for f in fetched] == [keys[1]]


# ---- acknowledge ------------------------------------------------------------------


def test_delete_expunges_only_our_uids(dovecot: Dovecot) -> None:
    user = dovecot.user()
    ours = [dovecot.append(user, make_mail(f"ours {i}")) for i in range(2)]
    theirs_deleted = dovecot.append(user, make_mail("flagged by someone else"))
    with dovecot.imap(user) as other:
        other.add_flags([theirs_deleted], [b"\\Deleted"])
    with ImapSource(
        dovecot.job(user, "imap", "ssl", after_processing="delete"), PASSWORD
    ) as source:
        keys = source.list_keys()
        late = dovecot.append(user, make_mail("arrived after list_keys"))
        source.acknowledge(keys)
        source.acknowledge(keys)  # idempotent: already gone is fine
        assert source._client is not None
        assert "EXPUNGE" not in source._client._imap.untagged_responses  # not piled up
    assert len(keys) == 2
    assert dovecot.uids(user) == [theirs_deleted, late]
    assert "\\Deleted" in dovecot.flags(user)[theirs_deleted]
    assert not set(ours) & set(dovecot.uids(user))


@pytest.mark.parametrize("pre_existing", [False, True])
def test_move_into_target_folder(dovecot: Dovecot, pre_existing: bool) -> None:
    user = dovecot.user()
    mail = make_mail("to move")
    dovecot.append(user, mail)
    stays = dovecot.append(user, make_mail("not acknowledged"))
    if pre_existing:
        dovecot.append(user, make_mail("already there"), folder="INBOX/Processed")
    job = dovecot.job(user, "imap", "ssl", after_processing="move", move_to="INBOX.Processed")
    with ImapSource(job, PASSWORD) as source:
        source.acknowledge(source.list_keys()[:1])
        assert source._client is not None
        assert "EXPUNGE" not in source._client._imap.untagged_responses  # not piled up
    assert dovecot.uids(user) == [stays]
    assert "INBOX.Processed" not in dovecot.folders(user)  # translated, not created literally
    with dovecot.imap(user, "INBOX/Processed") as client:
        bodies = [
            d[b"BODY[]"] for d in client.fetch(client.search("ALL"), ["BODY.PEEK[]"]).values()
        ]
    assert mail in bodies
    assert len(bodies) == (2 if pre_existing else 1)


def test_mark_seen_flags_and_keeps(dovecot: Dovecot) -> None:
    user = dovecot.user()
    acked, other = dovecot.append(user, make_mail("a")), dovecot.append(user, make_mail("b"))
    with ImapSource(dovecot.job(user, "imap", "ssl", after_processing="mark_seen"), PASSWORD) as s:
        s.acknowledge(s.list_keys()[:1])
        assert s.list_keys()[0].endswith(f":{acked}")  # still waiting: the journal decides
    flags = dovecot.flags(user)
    assert "\\Seen" in flags[acked]
    assert "\\Seen" not in flags[other]


def test_keep_changes_nothing(dovecot: Dovecot) -> None:
    user = dovecot.user()
    dovecot.append(user, make_mail())
    before = dovecot.flags(user)
    with ImapSource(dovecot.job(user, "imap", "ssl", after_processing="keep"), PASSWORD) as source:
        source.acknowledge(source.list_keys())
    assert dovecot.flags(user) == before


def test_acknowledge_ignores_keys_of_another_uidvalidity(dovecot: Dovecot) -> None:
    user = dovecot.user()
    uid = dovecot.append(user, make_mail())
    with ImapSource(
        dovecot.job(user, "imap", "ssl", after_processing="delete"), PASSWORD
    ) as source:
        # Same UID, but from an earlier life of the folder: it may be another message now.
        source.acknowledge([f"imap:INBOX:{source.uidvalidity - 1}:{uid}", f"imap:Other:1:{uid}"])
    assert dovecot.uids(user) == [uid]


def test_move_without_move_capability_copies_then_expunges_our_uids(
    dovecot: Dovecot, caplog: pytest.LogCaptureFixture
) -> None:
    server = dovecot.variant("nomove", imap_capability=f"{BASIC_CAPABILITIES} UIDPLUS")
    user = server.user()
    server.append(user, make_mail("to move"))
    other_deleted = server.append(user, make_mail("someone else's"), flags=("\\Deleted",))
    job = server.job(user, "imap", "none", after_processing="move", move_to="Done")
    with caplog.at_level(logging.DEBUG, "imapclient"), ImapSource(job, PASSWORD) as source:
        source.acknowledge(source.list_keys())
    sent = _sent_commands(caplog)
    assert "UID COPY" in sent and "UID MOVE" not in sent
    assert server.uids(user) == [other_deleted]
    assert server.count(user, "Done") == 1


def test_delete_without_uidplus_only_flags(
    dovecot: Dovecot, caplog: pytest.LogCaptureFixture
) -> None:
    server = dovecot.variant("basic", imap_capability=BASIC_CAPABILITIES)
    user = server.user()
    uid = server.append(user, make_mail())
    other_deleted = server.append(user, make_mail("someone else's"), flags=("\\Deleted",))
    job = server.job(user, "imap", "none", after_processing="delete")
    with caplog.at_level(logging.WARNING, "deskmail.sources.imap"), ImapSource(job, PASSWORD) as s:
        s.acknowledge(s.list_keys())
        assert s.list_keys() == []  # flagged \Deleted: no longer waiting
    assert server.uids(user) == [uid, other_deleted]  # a bare EXPUNGE would have removed both
    assert "\\Deleted" in server.flags(user)[uid]
    assert any("UIDPLUS" in r.getMessage() for r in caplog.records)


def test_folder_is_named_as_the_server_spells_it(dovecot: Dovecot) -> None:
    user = dovecot.user()
    uid = dovecot.append(user, make_mail())
    with ImapSource(dovecot.job(user, "imap", "ssl", folder="inbox"), PASSWORD) as source:
        assert source.list_keys() == [f"imap:INBOX:{source.uidvalidity}:{uid}"]


def test_moving_into_the_folder_being_read_is_refused(dovecot: Dovecot) -> None:
    user = dovecot.user()
    dovecot.append(user, make_mail(), folder="INBOX/Support")
    job = dovecot.job(
        user,
        "imap",
        "ssl",
        folder="INBOX/Support",
        after_processing="move",
        move_to="INBOX.Support",
    )
    with ImapSource(job, PASSWORD) as source, pytest.raises(SourceError) as failure:
        source.acknowledge(source.list_keys())
    assert failure.value.step is Step.FOLDER
    assert dovecot.count(user, "INBOX/Support") == 1
