"""The EWS source against the EWS fake, with exchangelib on its real path."""

from __future__ import annotations

import base64
import logging
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from deskmail.config.models import JobConfig
from deskmail.config.secrets import resolve_password
from deskmail.sources.check import check_connection, describe_failure
from deskmail.sources.errors import SourceError, Step
from deskmail.sources.ews.connection import open_account, suggested_url
from deskmail.sources.ews.folders import resolve_folder
from deskmail.sources.ews.sync import read_changes
from deskmail.sources.factory import open_source
from tests.support.dns import DnsZone
from tests.support.ews import (
    ADDRESS,
    DOMAIN,
    PASSWORD,
    EwsFake,
    autodiscover_fake,
    ews_fake,
    ews_job,
)


class MemoryState:
    """sources.base.SyncState in a dict, as intake's table keeps it."""

    def __init__(self) -> None:
        self.saved: dict[str, str] = {}

    def load(self, scope: str) -> str | None:
        return self.saved.get(scope)

    def save(self, scope: str, value: str) -> None:
        self.saved[scope] = value


def _mail(n: int) -> bytes:
    return f"Subject: mail {n}\r\nMessage-ID: <m{n}@example.com>\r\n\r\nbody {n}\r\n".encode()


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[EwsFake]:
    with ews_fake(tmp_path / "ews") as running:
        running.mailbox.add_folder("Inbox/Support")
        yield running


def _job(fake: EwsFake, **settings: Any) -> JobConfig:
    return JobConfig.model_validate(ews_job(fake, **{"folder": "Inbox/Support", **settings}))


def test_a_pass_lists_fetches_marks_read_and_the_next_starts_after_the_checkpoint(
    fake: EwsFake,
) -> None:
    for n in range(5):
        fake.mailbox.deliver(_mail(n), "Inbox/Support")
    fake.mailbox.deliver(_mail(99), "Inbox")  # not in the job's folder
    state = MemoryState()
    job = _job(fake)
    with open_source(job, PASSWORD, state) as source:
        keys = source.list_keys()
        assert len(keys) == 5
        assert all(key.startswith("ews:support@example.com:") for key in keys)
        raws = [message.raw for message in source.fetch(keys)]
        assert raws == [_mail(n) for n in range(5)]
        source.acknowledge(keys[:3])
        assert state.saved == {}, "nothing is saved before the checkpoint"
        source.checkpoint()
    assert [item.is_read for item in fake.mailbox.in_folder("Inbox/Support")] == [True] * 3 + [
        False
    ] * 2
    assert fake.mailbox.hard_deletes == []
    fake.mailbox.deliver(_mail(5), "Inbox/Support")
    with open_source(job, PASSWORD, state) as source:
        again = source.list_keys()
    assert len(again) == 1
    with open_source(job, PASSWORD, state) as source:
        assert [m.raw for m in source.fetch(again)] == [_mail(5)]


def test_a_pass_cut_short_before_its_checkpoint_lists_the_same_mail_again(fake: EwsFake) -> None:
    for n in range(3):
        fake.mailbox.deliver(_mail(n), "Inbox/Support")
    state = MemoryState()
    job = _job(fake)
    with open_source(job, PASSWORD, state) as source:
        first = source.list_keys()
    with open_source(job, PASSWORD, state) as source:
        assert source.list_keys() == first


def test_changes_are_read_page_by_page_to_the_last(fake: EwsFake) -> None:
    for n in range(7):
        fake.mailbox.deliver(_mail(n), "Inbox/Support")
    account, url = open_account(_job(fake), PASSWORD)
    folder = resolve_folder(account, "Inbox/Support", url)
    fake.mailbox.requests.clear()
    changes = read_changes(account, folder, None, page_size=3)
    assert len(changes.created) == 7
    assert changes.pages == 3
    assert fake.mailbox.requests == ["SyncFolderItems"] * 3
    assert read_changes(account, folder, changes.sync_state, page_size=3).created == ()


def test_move_takes_the_mail_to_the_folder_path(fake: EwsFake) -> None:
    fake.mailbox.add_folder("Inbox/Support/Done")
    for n in range(2):
        fake.mailbox.deliver(_mail(n), "Inbox/Support")
    job = _job(fake, after_processing="move", move_to="Inbox/Support/Done")
    with open_source(job, PASSWORD, MemoryState()) as source:
        source.acknowledge(source.list_keys())
    assert fake.mailbox.in_folder("Inbox/Support") == []
    assert [item.mime for item in fake.mailbox.in_folder("Inbox/Support/Done")] == [
        _mail(0),
        _mail(1),
    ]


def test_delete_moves_to_deleted_items_never_a_hard_delete(fake: EwsFake) -> None:
    fake.mailbox.deliver(_mail(1), "Inbox/Support")
    job = _job(fake, after_processing="delete")
    with open_source(job, PASSWORD, MemoryState()) as source:
        keys = source.list_keys()
        source.acknowledge(keys)
        source.acknowledge(keys)  # already gone: ErrorItemNotFound is done, not an error
    assert fake.mailbox.in_folder("Inbox/Support") == []
    assert [item.folder for item in fake.mailbox.items.values()] == [fake.mailbox.deleted.id]
    assert fake.mailbox.hard_deletes == []


def test_a_mail_gone_before_its_fetch_is_skipped(fake: EwsFake) -> None:
    ids = [fake.mailbox.deliver(_mail(n), "Inbox/Support") for n in range(2)]
    with open_source(_job(fake), PASSWORD, MemoryState()) as source:
        keys = source.list_keys()
        del fake.mailbox.items[ids[0]]
        assert [m.raw for m in source.fetch(keys)] == [_mail(1)]


def test_a_sync_state_the_server_refuses_reads_the_folder_again(fake: EwsFake) -> None:
    for n in range(2):
        fake.mailbox.deliver(_mail(n), "Inbox/Support")
    state = MemoryState()
    job = _job(fake)
    with open_source(job, PASSWORD, state) as source:
        first = source.list_keys()
        source.checkpoint()
    fake.mailbox.invalidate_sync_states()
    fake.mailbox.deliver(_mail(2), "Inbox/Support")
    with open_source(job, PASSWORD, state) as source:
        again = source.list_keys()
    # The same keys for the same items: the journal recognizes them; one new mail.
    assert again[:2] == first
    assert len(again) == 3


def test_a_busy_server_is_waited_out_as_it_asks(fake: EwsFake) -> None:
    for n in range(2):
        fake.mailbox.deliver(_mail(n), "Inbox/Support")
    with open_source(_job(fake), PASSWORD, MemoryState()) as source:
        fake.mailbox.busy = 2
        keys = source.list_keys()
        assert [m.raw for m in source.fetch(keys)] == [_mail(0), _mail(1)]
    assert fake.mailbox.busy_answers == 2


def test_a_server_busy_for_longer_than_the_job_waits_is_named(fake: EwsFake) -> None:
    fake.mailbox.deliver(_mail(1), "Inbox/Support")
    job = _job(fake, timeouts={"connect": 30, "read": 1})
    with open_source(job, PASSWORD, MemoryState()) as source:
        fake.mailbox.busy = 1
        fake.mailbox.backoff_ms = 60_000
        with pytest.raises(SourceError) as failure:
            source.list_keys()
    assert failure.value.step is Step.PROTOCOL
    assert failure.value.detail.startswith("the server stays busy")
    assert "throttles" in describe_failure(failure.value)


def test_basic_authentication(tmp_path: Path) -> None:
    with ews_fake(tmp_path / "ews", auth="basic") as basic:
        basic.mailbox.deliver(_mail(1))
        job = JobConfig.model_validate(ews_job(basic, auth_mechanism="plain"))
        with open_source(job, PASSWORD, MemoryState()) as source:
            assert len(source.list_keys()) == 1
        with pytest.raises(SourceError) as failure:
            open_source(job, "wrong", MemoryState())
    assert failure.value.step is Step.AUTHENTICATION


def test_a_method_the_server_does_not_offer_is_named_not_taken_for_a_wrong_password(
    fake: EwsFake, tmp_path: Path
) -> None:
    with pytest.raises(SourceError) as failure:
        open_source(_job(fake, auth_mechanism="plain"), PASSWORD, MemoryState())
    assert failure.value.step is Step.AUTHENTICATION
    assert "does not accept basic logins" in failure.value.detail
    assert "auth_mechanism" in describe_failure(failure.value)
    # Offered but refused: a wrong password stays a wrong password.
    with ews_fake(tmp_path / "basic", auth="basic") as basic:
        job = JobConfig.model_validate(ews_job(basic, auth_mechanism="plain"))
        with pytest.raises(SourceError) as wrong:
            open_source(job, "wrong", MemoryState())
    assert "does not accept" not in wrong.value.detail


@pytest.mark.parametrize("mechanism", ["ntlm", "auto"])
def test_a_wrong_password_fails_at_authentication(fake: EwsFake, mechanism: str) -> None:
    with pytest.raises(SourceError) as failure:
        open_source(_job(fake, auth_mechanism=mechanism), "wrong", MemoryState())
    assert failure.value.step is Step.AUTHENTICATION
    assert "wrong" not in describe_failure(failure.value)


def test_a_missing_folder_is_named(fake: EwsFake) -> None:
    with pytest.raises(SourceError) as failure:
        open_source(_job(fake, folder="Inbox/Nope"), PASSWORD, MemoryState())
    assert failure.value.step is Step.FOLDER
    assert "no folder 'Nope' in Inbox" in failure.value.detail


def test_two_jobs_with_two_private_cas_both_work_in_one_process(tmp_path: Path) -> None:
    with ews_fake(tmp_path / "a") as first, ews_fake(tmp_path / "b") as second:
        assert first.ca_file.read_bytes() != second.ca_file.read_bytes()
        first.mailbox.deliver(_mail(1))
        second.mailbox.deliver(_mail(2))
        job_a = JobConfig.model_validate(ews_job(first))
        job_b = JobConfig.model_validate(ews_job(second))
        for job, mail in ((job_a, _mail(1)), (job_b, _mail(2)), (job_a, _mail(1))):
            with open_source(job, PASSWORD, MemoryState()) as source:
                assert [m.raw for m in source.fetch(source.list_keys())] == [mail]
        # Each CA trusts its own server only: a's CA for b's server is refused.
        crossed = JobConfig.model_validate(ews_job(second, ca_file=str(first.ca_file)))
        with pytest.raises(SourceError) as failure:
            open_source(crossed, PASSWORD, MemoryState())
        assert failure.value.step is Step.CERTIFICATE
        unverified = JobConfig.model_validate(
            ews_job(second, ca_file=None, reject_invalid_certificates=False)
        )
        with open_source(unverified, PASSWORD, MemoryState()) as source:
            assert len(source.list_keys()) == 1


def test_jobs_on_one_server_with_different_tls_settings_each_keep_their_own(
    fake: EwsFake, tmp_path: Path
) -> None:
    fake.mailbox.deliver(_mail(1), "Inbox/Support")
    with ews_fake(tmp_path / "other") as other:
        foreign_ca = str(other.ca_file)  # a CA that did not sign this server's certificate
    trusting = _job(fake)  # the server's CA as ca_file
    unverified = _job(fake, ca_file=None, reject_invalid_certificates=False)
    wrong_ca = _job(fake, ca_file=foreign_ca)
    with (
        open_source(trusting, PASSWORD, MemoryState()) as first,
        open_source(unverified, PASSWORD, MemoryState()) as second,
    ):
        # Same server, same login: still not the unverified job's sessions.
        with pytest.raises(SourceError) as failure:
            open_source(wrong_ca, PASSWORD, MemoryState())
        assert failure.value.step is Step.CERTIFICATE
        # The open jobs go on, each with its own rules, on new connections too.
        for source in (first, second, first):
            assert [m.raw for m in source.fetch(source.list_keys())] == [_mail(1)]
        thread_result: list[list[bytes]] = []
        worker = threading.Thread(
            target=lambda: thread_result.append([m.raw for m in first.fetch(first.list_keys())])
        )
        worker.start()
        worker.join()
        assert thread_result == [[_mail(1)]]
    with pytest.raises(SourceError) as again:
        open_source(wrong_ca, PASSWORD, MemoryState())
    assert again.value.step is Step.CERTIFICATE


def test_no_server_listening_fails_at_connect(fake: EwsFake) -> None:
    url = fake.service_url.replace(str(fake.server.port), "1")
    with pytest.raises(SourceError) as failure:
        open_source(_job(fake, service_url=url), PASSWORD, MemoryState())
    assert failure.value.step is Step.CONNECT


def test_autodiscover_that_finds_nothing_is_named(fake: EwsFake) -> None:
    job = _job(fake, service_url=None, user="support@example.invalid", mailbox=None)
    with pytest.raises(SourceError) as failure:
        open_source(job, PASSWORD, MemoryState())
    assert failure.value.step is Step.AUTODISCOVER


def test_autodiscover_finds_the_ews_url_through_the_domain_srv_record(tmp_path: Path) -> None:
    # example.com has no autodiscover host of its own: DNS names the server that answers.
    zone = DnsZone(
        a={"localhost": "127.0.0.1"},
        srv={"_autodiscover._tcp.example.com": ["0 0 443 localhost."]},
    )
    with autodiscover_fake(tmp_path / "ews", zone) as fake:
        fake.mailbox.add_folder("Inbox/Support")
        fake.mailbox.deliver(_mail(1), "Inbox/Support")
        job = _job(fake, service_url=None)
        assert job.mailbox == "support@example.com"
        account, url = open_account(job, PASSWORD)
        assert url == "https://localhost/EWS/Exchange.asmx"
        assert account.primary_smtp_address == "support@example.com"
        with open_source(job, PASSWORD, MemoryState()) as source:
            assert [m.raw for m in source.fetch(source.list_keys())] == [_mail(1)]
        # Steps 1 to 3 found no host in DNS; step 4's SRV record led to the fake.
        assert ("example.com", "A") in zone.questions
        assert ("autodiscover.example.com", "A") in zone.questions
        assert ("_autodiscover._tcp.example.com", "SRV") in zone.questions
        assert fake.mailbox.autodiscover_users[0] == "support@example.com"
        assert any(user.startswith(f"{DOMAIN}\\") for user in fake.mailbox.authenticated_users)
        # The job's ca_file is what trusts the host the SRV record names.
        stranger = _job(fake, service_url=None, ca_file=None)
        with pytest.raises(SourceError) as failure:
            open_account(stranger, PASSWORD)
        assert failure.value.step is Step.AUTODISCOVER


def test_autodiscover_finds_the_ews_url_at_the_autodiscover_host(tmp_path: Path) -> None:
    # Step 1 (https://example.com/...) has no host in DNS; step 2 is
    # https://autodiscover.example.com/autodiscover/autodiscover.svc, which answers.
    zone = DnsZone(a={"autodiscover.example.com": "127.0.0.1"})
    with autodiscover_fake(tmp_path / "ews", zone) as fake:
        fake.mailbox.add_folder("Inbox/Support")
        fake.mailbox.deliver(_mail(1), "Inbox/Support")
        job = _job(fake, service_url=None)
        account, url = open_account(job, PASSWORD)
        assert url == "https://localhost/EWS/Exchange.asmx"  # what GetUserSettings named
        assert account.primary_smtp_address == "support@example.com"
        with open_source(job, PASSWORD, MemoryState()) as source:
            assert [m.raw for m in source.fetch(source.list_keys())] == [_mail(1)]
        asked = [question for question in zone.questions if question != ("localhost", "A")]
        assert asked[:2] == [("example.com", "A"), ("autodiscover.example.com", "A")]
        assert not [kind for _name, kind in zone.questions if kind == "SRV"]  # no step 4
        assert set(fake.mailbox.autodiscover_hosts) == {"autodiscover.example.com"}
        assert fake.mailbox.autodiscover_users[0] == "support@example.com"
        # The job's ca_file is what trusts the autodiscover host's certificate.
        stranger = _job(fake, service_url=None, ca_file=None)
        with pytest.raises(SourceError) as failure:
            open_account(stranger, PASSWORD)
        assert failure.value.step is Step.AUTODISCOVER


def test_autodiscover_at_the_mail_domain_itself(tmp_path: Path) -> None:
    zone = DnsZone(a={"localhost": "127.0.0.1"})
    with autodiscover_fake(tmp_path / "ews", zone, address="support@localhost") as fake:
        fake.mailbox.deliver(_mail(1))
        job = JobConfig.model_validate(ews_job(fake, service_url=None, mailbox="support@localhost"))
        with open_source(job, PASSWORD, MemoryState()) as source:
            assert [m.raw for m in source.fetch(source.list_keys())] == [_mail(1)]
        assert zone.questions[0] == ("localhost", "A")  # step 1: https://localhost/autodiscover
        assert not [kind for _name, kind in zone.questions if kind == "SRV"]
        assert fake.mailbox.autodiscover_users == ["support@localhost"]
        # A mailbox autodiscover does not know is named at the autodiscover step.
        unknown = JobConfig.model_validate(
            ews_job(fake, service_url=None, mailbox="nobody@localhost")
        )
        with pytest.raises(SourceError) as failure:
            open_account(unknown, PASSWORD)
        assert failure.value.step is Step.MAILBOX, failure.value


def test_a_server_name_suggests_the_ews_url_as_alloy_does() -> None:
    assert suggested_url("mail.example.com") == "https://mail.example.com/EWS/Exchange.asmx"
    assert suggested_url("localhost", 8443) == "https://localhost:8443/EWS/Exchange.asmx"


def test_a_pinned_version_skips_the_version_probe(fake: EwsFake) -> None:
    fake.mailbox.deliver(_mail(1), "Inbox/Support")
    with open_source(_job(fake, exchange_version="2016"), PASSWORD, MemoryState()) as source:
        assert len(source.list_keys()) == 1
    assert "ConvertId" not in fake.mailbox.requests


def test_a_server_that_refuses_every_version_fails_at_the_exchange_version(
    fake: EwsFake,
) -> None:
    fake.mailbox.refuse_versions = True
    with pytest.raises(SourceError) as failure:
        open_source(_job(fake, exchange_version="2019"), PASSWORD, MemoryState())
    assert failure.value.step is Step.VERSION
    assert "exchange_version" in describe_failure(failure.value)


@pytest.mark.parametrize(
    ("after_processing", "denied", "problem"),
    [
        ("mark_seen", "Modify", "change the mail in Inbox/Support (mark it read)"),
        ("delete", "Delete", "remove mail from Inbox/Support"),
        ("move", "", "create items in Inbox/Done"),
    ],
)
def test_check_names_a_right_the_after_processing_action_lacks_and_changes_nothing(
    fake: EwsFake, after_processing: str, denied: str, problem: str
) -> None:
    fake.mailbox.deliver(_mail(1), "Inbox/Support")
    done = fake.mailbox.add_folder("Inbox/Done")
    move_to = "Inbox/Done" if after_processing == "move" else None
    job = _job(fake, after_processing=after_processing, move_to=move_to)
    assert check_connection(job, PASSWORD).message_count == 1  # every right granted
    if denied:
        fake.mailbox.item_rights[denied] = False
    else:
        fake.mailbox.read_only_folders.add(done.id)
    with pytest.raises(SourceError) as failure:
        check_connection(job, PASSWORD)
    assert failure.value.step is Step.MAILBOX
    assert failure.value.detail == (
        f"this login may not {problem}, which after_processing = {after_processing} needs"
    )
    assert [i.mime for i in fake.mailbox.in_folder("Inbox/Support")] == [_mail(1)]
    assert fake.mailbox.in_folder("Inbox/Support")[0].is_read is False
    assert "UpdateItem" not in fake.mailbox.requests
    keep = _job(fake, after_processing="keep")
    assert check_connection(keep, PASSWORD).message_count == 1


def test_a_run_once_on_another_job_never_imports_exchangelib(tmp_path: Path) -> None:
    from tests.support.toml_config import write_config

    (tmp_path / "Maildir" / "new").mkdir(parents=True)
    for sub in ("cur", "tmp"):
        (tmp_path / "Maildir" / sub).mkdir()
    job = {"name": "Local", "protocol": "maildir", "path": str(tmp_path / "Maildir")}
    config = write_config(tmp_path / "deskmail.toml", f"sqlite:///{tmp_path}/d.db", [job])
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "deskmail", "run-once", "--config", config],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "deskmail.intake" in done.stderr  # the run did import what a run imports
    assert "exchangelib" not in done.stderr


def test_only_an_ews_job_imports_exchangelib() -> None:
    probe = textwrap.dedent(
        """
        import sys
        import deskmail.cli, deskmail.intake.run, deskmail.sources.factory
        import deskmail.sources.imap, deskmail.sources.pop3, deskmail.sources.check
        print("exchangelib" in sys.modules)
        import deskmail.sources.ews.source
        print("exchangelib" in sys.modules)
        """
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "False"]


# ---- OAuth2: the job's tokens (auth/) spent on EWS ----------------------------------------


def _oauth2_job(fake: EwsFake, platform: Any, client_id: str, flow: str = "app") -> JobConfig:
    from deskmail.config.oauth2 import OAuth2Config

    oauth2 = OAuth2Config.model_validate(
        {
            "tenant": platform.tenant,
            "client_id": client_id,
            "authority": platform.url,
            "ca_file": platform.ca_file,
            "client_secret_env": "DESKMAIL_CLIENT_SECRET",
            "flow": flow,
        }
    )
    table = ews_job(fake, user=ADDRESS, mailbox=None, password_env=None, auth_mechanism="auto")
    return JobConfig.model_validate({**table, "oauth2": oauth2})


@pytest.fixture
def bearer_fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[EwsFake, Any]]:
    from cryptography.fernet import Fernet

    from deskmail.store.sealing import SECRET_KEY_ENV
    from tests.support.identity import identity_platform

    monkeypatch.setenv(SECRET_KEY_ENV, Fernet.generate_key().decode())
    monkeypatch.setenv("DESKMAIL_CLIENT_SECRET", "app-secret")
    (tmp_path / "identity").mkdir()
    with (
        identity_platform(tmp_path / "identity") as platform,
        ews_fake(tmp_path / "ews", auth="bearer") as fake,
    ):
        fake.mailbox.bearer_key = platform.key
        yield fake, platform


def test_an_app_only_token_reads_the_mailbox_it_was_granted_by_impersonation(
    bearer_fake: tuple[EwsFake, Any], store: Any
) -> None:
    from deskmail.auth.tokens import job_tokens

    fake, platform = bearer_fake
    fake.mailbox.deliver(_mail(1))
    app = platform.register(secret="app-secret")
    platform.grant_mailbox(app.client_id, ADDRESS)
    job = _oauth2_job(fake, platform, app.client_id)
    assert resolve_password(job) is None
    with open_source(job, None, MemoryState(), job_tokens(job, store)) as source:
        assert [m.raw for m in source.fetch(source.list_keys())] == [_mail(1)]
    # A token refused before its expiry is renewed once, and the pass goes on.
    fake.mailbox.refuse_tokens = 1
    with open_source(job, None, MemoryState(), job_tokens(job, store)) as source:
        assert len(source.list_keys()) == 1
    assert len(fake.mailbox.refused_tokens) == 1


def test_an_app_that_exchange_was_not_told_about_fails_at_the_mailbox(
    bearer_fake: tuple[EwsFake, Any], store: Any
) -> None:
    from deskmail.auth.tokens import job_tokens

    fake, platform = bearer_fake
    app = platform.register(secret="app-secret")  # no mailbox granted
    job = _oauth2_job(fake, platform, app.client_id)
    with pytest.raises(SourceError) as failure:
        open_source(job, None, MemoryState(), job_tokens(job, store))
    assert failure.value.step is Step.MAILBOX
    assert "ErrorImpersonateUserDenied" in failure.value.detail
    assert all(token not in describe_failure(failure.value) for token in platform.issued)


def test_a_person_signed_in_by_device_code_reads_the_mailbox_and_tokens_renew(
    bearer_fake: tuple[EwsFake, Any], store: Any, tmp_path: Path
) -> None:
    from deskmail.auth.tokens import job_tokens
    from deskmail.intake.run import run_job
    from tests.support.dovecot import make_mail
    from tests.support.identity import DEVICE_CODE, jwt_claims

    fake, platform = bearer_fake
    for n in range(2):
        fake.mailbox.deliver(make_mail(f"request {n}"))
    app = platform.register(public=True)
    # Under msal's five minutes: each run renews the access token with the refresh token.
    platform.access_lifetime = 240
    job = _oauth2_job(fake, platform, app.client_id, flow="delegated")
    job.set_origin(tmp_path / "deskmail.toml", 0)
    sign_in = job_tokens(job, store)
    assert sign_in is not None
    shown: list[str] = []
    sign_in.sign_in.device_sign_in(shown.append)  # type: ignore[attr-defined]
    assert "enter the code" in shown[0]
    assert platform.grant_types == [DEVICE_CODE, DEVICE_CODE]  # pending, then the tokens
    # agent@ has no FullAccess to support@ yet: Exchange refuses, the step is named.
    failed = run_job(store, job)
    assert failed.created == 0
    assert failed.failure is not None and "ErrorAccessDenied" in failed.failure, failed.failure
    fake.mailbox.full_access.add(platform.device_user)
    assert run_job(store, job).created == 2
    spent = [t for t in platform.issued if jwt_claims(t).get("scp")]
    assert {jwt_claims(t)["aud"] for t in spent} == {"https://outlook.office.com"}
    assert jwt_claims(spent[-1])["scp"] == "EWS.AccessAsUser.All"
    assert fake.mailbox.authenticated_users == {jwt_claims(spent[-1])["sub"]}
    # Every run so far renewed with the refresh token the one before had rotated and saved.
    assert platform.grant_types[2:] == ["refresh_token", "refresh_token"]
    # A token Exchange refuses before its expiry is renewed once, and the run goes on.
    fake.mailbox.deliver(make_mail("request 2"))
    fake.mailbox.refuse_tokens = 1
    assert run_job(store, job).created == 1
    assert len(fake.mailbox.refused_tokens) == 1
    assert platform.grant_types[4:] == ["refresh_token", "refresh_token"]


def test_no_mail_text_nor_password_reaches_the_log_even_at_debug(
    fake: EwsFake, caplog: pytest.LogCaptureFixture
) -> None:
    fake.mailbox.deliver(_mail(7), "Inbox/Support")
    job = _job(fake, auth_mechanism="auto")
    with caplog.at_level(logging.DEBUG), open_source(job, PASSWORD, MemoryState()) as source:
        assert [m.raw for m in source.fetch(source.list_keys())] == [_mail(7)]
    encoded = base64.b64encode(_mail(7)).decode()
    assert "body 7" not in caplog.text
    assert encoded not in caplog.text
    assert PASSWORD not in caplog.text
