"""OAuth2 sign-in against the identity-platform fake, with msal on its real path.

A delegated sign-in's token cache is sealed in the database (both databases),
saved after every token call that changed it; an application's tokens stay in
the process; failures are named by their step.
"""

from __future__ import annotations

import base64
import datetime
import json
import logging
import re
import ssl
import subprocess
import sys
import textwrap
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from deskmail.auth.cache import CacheUnreadable, StoredTokenCache
from deskmail.auth.tokens import job_tokens, tokens_for
from deskmail.config.models import JobConfig, Protocol, Security
from deskmail.config.oauth2 import OAuth2Config
from deskmail.intake.run import run_job
from deskmail.outbound.smtp import SmtpError, SmtpSession
from deskmail.sources.check import check_connection, describe_failure
from deskmail.sources.errors import SourceError, Step
from deskmail.sources.factory import open_source
from deskmail.store.engine import Store
from deskmail.store.models import OAuthTokenCache, Ticket, TicketKind
from deskmail.store.sealing import SECRET_KEY_ENV, sealing_keys
from tests.support.dovecot import Dovecot, make_mail
from tests.support.identity import (
    DEVICE_CODE,
    IdentityPlatform,
    identity_platform,
    jwt_claims,
    make_certificate,
)
from tests.support.smtp import SmtpServer

SECRET = "app-secret-value-1234"


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[IdentityPlatform]:
    directory = tmp_path / "identity"
    directory.mkdir()
    with identity_platform(directory) as running:
        yield running


@pytest.fixture(autouse=True)
def _secret_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SECRET_KEY_ENV, Fernet.generate_key().decode())
    monkeypatch.setenv("DESKMAIL_CLIENT_SECRET", SECRET)


def oauth2_job(
    platform: IdentityPlatform, client_id: str, protocol: str = "imap", **oauth2: object
) -> JobConfig:
    """An IMAP job signing in with XOAUTH2 (its token calls through requests), or a Graph
    job (through httpx, as its own requests)."""
    table = {
        "tenant": platform.tenant,
        "client_id": client_id,
        "authority": platform.url,
        "ca_file": platform.ca_file,
        **oauth2,
    }
    mechanism = {"auth_mechanism": "xoauth2"} if protocol == "imap" else {}
    return JobConfig(
        name="Support",
        protocol=protocol,
        server="127.0.0.1",
        user="support@contoso.example",
        oauth2=OAuth2Config.model_validate(table),
        **mechanism,
    )


def tokens(job: JobConfig, store: Store):  # type: ignore[no-untyped-def]
    found = job_tokens(job, store)
    assert found is not None
    return found


def test_app_only_with_a_secret_gets_a_token_for_the_outlook_resource_kept_in_memory(
    platform: IdentityPlatform, store: Store
) -> None:
    app = platform.register(secret=SECRET)
    platform.grant_mailbox(app.client_id, "support@contoso.example")
    job = oauth2_job(platform, app.client_id, client_secret_env="DESKMAIL_CLIENT_SECRET")
    token = tokens(job, store).token()
    claims = jwt_claims(token)
    assert claims["aud"] == "https://outlook.office365.com"
    assert claims["email"] == "support@contoso.example"
    # msal read the tenant's OpenID configuration from the configured authority.
    assert ("GET", f"/{platform.tenant}/v2.0/.well-known/openid-configuration") in (
        platform.requests
    )
    # A second source for the same job in this process finds the token: no new request.
    assert tokens(job, store).token() == token
    assert platform.grant_types == ["client_credentials"]
    # No refresh token to keep: nothing is written to the database.
    with store.session() as session:
        assert session.get(OAuthTokenCache, "Support") is None


def test_app_only_renews_a_token_near_its_end_and_when_the_server_refused_it(
    platform: IdentityPlatform, store: Store
) -> None:
    app = platform.register(secret=SECRET)
    job = oauth2_job(platform, app.client_id, client_secret_env="DESKMAIL_CLIENT_SECRET")
    platform.access_lifetime = 200  # within the five minutes a token is renewed before its end
    source = tokens(job, store)
    first = source.token()
    second = source.token()
    assert second != first
    platform.access_lifetime = 3599
    third = source.token()
    assert source.token() == third  # kept while it has time left
    assert source.refused(third) not in (first, second, third)
    assert platform.grant_types == ["client_credentials"] * 4


def test_app_only_with_a_certificate_signs_an_assertion_the_platform_verifies(
    platform: IdentityPlatform, store: Store, tmp_path: Path
) -> None:
    pem, certificate = make_certificate(tmp_path)
    app = platform.register(certificate=certificate)
    job = oauth2_job(platform, app.client_id, certificate_file=pem)
    assert jwt_claims(tokens(job, store).token())["appid"] == app.client_id
    # Another key with the same client id is refused by its signature.
    other, _ = make_certificate(tmp_path, "other")
    forged = oauth2_job(platform, app.client_id, certificate_file=other)
    store_key = forged.model_copy(update={"name": "Forged"})
    with pytest.raises(SourceError) as caught:
        tokens(store_key, store).token()
    assert caught.value.step is Step.CLIENT
    assert "AADSTS700027" in caught.value.detail


def test_a_wrong_secret_and_an_unknown_client_are_client_failures(
    platform: IdentityPlatform, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = platform.register(secret=SECRET)
    monkeypatch.setenv("WRONG_SECRET", "not-the-secret")
    job = oauth2_job(platform, app.client_id, client_secret_env="WRONG_SECRET")
    with pytest.raises(SourceError) as caught:
        tokens(job, store).token()
    assert caught.value.step is Step.CLIENT
    assert caught.value.detail.startswith("invalid_client: AADSTS7000215: Invalid client secret")
    assert "not-the-secret" not in str(caught.value)
    unknown = oauth2_job(
        platform, "00000000-0000-0000-0000-000000000000", client_secret_env="DESKMAIL_CLIENT_SECRET"
    )
    with pytest.raises(SourceError) as caught:
        tokens(unknown.model_copy(update={"name": "Unknown"}), store).token()
    assert caught.value.step is Step.CLIENT and "AADSTS700016" in caught.value.detail


@pytest.mark.parametrize(
    ("protocol", "client"), [("imap", "python-requests/"), ("graph", "python-httpx/")]
)
def test_a_graph_job_asks_for_tokens_over_its_own_http_client(
    platform: IdentityPlatform, store: Store, protocol: str, client: str
) -> None:
    """Graph's requests already go through httpx: its token calls do too (one TLS context,
    no second CA bundle); other jobs keep requests, which msal imports anyway."""
    app = platform.register(secret=SECRET)
    job = oauth2_job(platform, app.client_id, protocol, client_secret_env="DESKMAIL_CLIENT_SECRET")
    assert tokens(job, store).token()
    assert platform.user_agents and all(agent.startswith(client) for agent in platform.user_agents)


@pytest.mark.parametrize("protocol", ["imap", "graph"])
def test_an_unknown_tenant_and_an_unreachable_authority_are_identity_failures(
    platform: IdentityPlatform, store: Store, protocol: str
) -> None:
    app = platform.register(secret=SECRET)
    job = oauth2_job(
        platform,
        app.client_id,
        protocol,
        client_secret_env="DESKMAIL_CLIENT_SECRET",
        tenant="fabrikam.example",
    )
    with pytest.raises(SourceError) as caught:
        tokens(job, store).token()
    assert caught.value.step is Step.IDENTITY and "fabrikam.example" in caught.value.detail
    gone = oauth2_job(
        platform,
        app.client_id,
        protocol,
        client_secret_env="DESKMAIL_CLIENT_SECRET",
        authority="https://127.0.0.1:9",
    )
    with pytest.raises(SourceError) as caught:
        tokens(gone, store).token()
    assert caught.value.step is Step.IDENTITY
    assert caught.value.detail.startswith("the identity provider cannot be reached")


@pytest.mark.parametrize("protocol", ["imap", "graph"])
def test_an_untrusted_identity_certificate_is_a_certificate_failure(
    platform: IdentityPlatform, store: Store, protocol: str
) -> None:
    app = platform.register(secret=SECRET)
    job = oauth2_job(platform, app.client_id, protocol, client_secret_env="DESKMAIL_CLIENT_SECRET")
    job = job.model_copy(
        update={"oauth2": job.oauth2.model_copy(update={"ca_file": None})}  # type: ignore[union-attr]
    )
    with pytest.raises(SourceError) as caught:
        tokens(job, store).token()
    assert caught.value.step is Step.CERTIFICATE


def test_delegated_device_sign_in_then_refresh_rotates_and_the_cache_keeps_the_new_token(
    platform: IdentityPlatform, store: Store
) -> None:
    app = platform.register(public=True)
    platform.device_pending = 1
    job = oauth2_job(platform, app.client_id, flow="delegated")
    signing_in = tokens(job, store)
    shown: list[str] = []
    claims = signing_in.sign_in.device_sign_in(shown.append)  # type: ignore[attr-defined]
    assert "enter the code" in shown[0]
    assert claims["preferred_username"] == "agent@contoso.example"
    assert platform.grant_types == [DEVICE_CODE, DEVICE_CODE]  # pending, then the token
    first_refresh = set(platform.refresh_tokens)
    # Later, in another process: the access token is forced stale, a refresh rotates.
    later = tokens(job, store)
    token = later.refused("expired")
    assert jwt_claims(token)["email"] == "agent@contoso.example"
    assert platform.grant_types[-1] == "refresh_token"
    assert not first_refresh & set(platform.refresh_tokens)  # the old one is dead
    # The rotated token was saved: a third process refreshes with it, successfully.
    assert jwt_claims(tokens(job, store).refused(token))["email"] == "agent@contoso.example"


def test_a_revoked_refresh_token_asks_for_the_exact_sign_in_command(
    platform: IdentityPlatform, store: Store, tmp_path: Path
) -> None:
    app = platform.register(public=True)
    platform.device_pending = 0
    job = oauth2_job(platform, app.client_id, flow="delegated")
    job.set_origin(tmp_path / "deskmail.toml", 0)
    tokens(job, store).sign_in.device_sign_in(lambda message: None)  # type: ignore[attr-defined]
    platform.revoke_refresh_tokens()
    with pytest.raises(SourceError) as caught:
        tokens(job, store).refused("stale")
    assert caught.value.step is Step.SIGN_IN
    assert caught.value.detail.startswith("invalid_grant: AADSTS50173")
    assert caught.value.hint == (
        f"sign in again: deskmail auth login --job Support --config {tmp_path}/deskmail.toml"
    )


def test_nobody_signed_in_yet_is_a_sign_in_failure(
    platform: IdentityPlatform, store: Store
) -> None:
    app = platform.register(public=True)
    with pytest.raises(SourceError) as caught:
        tokens(oauth2_job(platform, app.client_id, flow="delegated"), store).token()
    assert caught.value.step is Step.SIGN_IN
    assert "deskmail auth login --job Support" in caught.value.hint


def test_the_cache_opens_with_a_rotated_key_list_and_not_without_its_key(
    store: Store, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    monkeypatch.setenv(SECRET_KEY_ENV, old)
    StoredTokenCache(store, "Support", sealing_keys(tmp_path / "unused")).save('{"a": 1}')
    monkeypatch.setenv(SECRET_KEY_ENV, f"{new},{old}")
    cache = StoredTokenCache(store, "Support", sealing_keys(tmp_path / "unused"))
    assert json.loads(cache.load() or "") == {"a": 1}
    monkeypatch.setenv(SECRET_KEY_ENV, new)
    with pytest.raises(CacheUnreadable, match="sealed with another key"):
        StoredTokenCache(store, "Support", sealing_keys(tmp_path / "unused")).load()


def test_without_a_key_variable_a_0600_key_file_is_made_once(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv(SECRET_KEY_ENV)
    key_file = tmp_path / "deskmail-secret.key"
    sealed = sealing_keys(key_file).encrypt(b"x")
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert sealing_keys(key_file).decrypt(sealed) == b"x"


# --- XOAUTH2 end to end: the fake's tokens against Dovecot and an SMTP sink ---------


def mail_job(
    platform: IdentityPlatform,
    server: Dovecot,
    user: str,
    protocol: str,
    client_id: str,
    **oauth2: object,
) -> JobConfig:
    table = {
        "tenant": platform.tenant,
        "client_id": client_id,
        "authority": platform.url,
        "ca_file": platform.ca_file,
        **oauth2,
    }
    job = server.job(
        user,
        protocol,
        "ssl",
        name="Support",
        auth_mechanism="xoauth2",
        oauth2=OAuth2Config.model_validate(table),
        password=None,
    )
    return job


def test_one_app_token_opens_imap_pop3_and_smtp(
    platform: IdentityPlatform, store: Store, dovecot: Dovecot, smtp_server: SmtpServer
) -> None:
    server = dovecot.oauth2
    assert server.oauth2_key is not None
    platform.key = server.oauth2_key
    mailbox = f"{dovecot.user('o')}@contoso.example"
    server.append(mailbox, make_mail())
    app = platform.register(secret=SECRET)
    platform.grant_mailbox(app.client_id, mailbox)
    offset = server.log_offset()
    imap_job = mail_job(
        platform, server, mailbox, "imap", app.client_id, client_secret_env="DESKMAIL_CLIENT_SECRET"
    )
    with open_source(imap_job, None, tokens=job_tokens(imap_job, store)) as source:
        assert len(source.list_keys()) == 1
    pop_job = imap_job.model_copy(update={"protocol": Protocol.POP3, "port": server.pop3s_port})
    with open_source(pop_job, None, tokens=job_tokens(pop_job, store)) as source:
        assert len(source.list_keys()) == 1
    log = server.wait_for_log(offset, "pop3-login: Login")
    assert log.count("method=XOAUTH2") == 2
    sink = smtp_server.variant("starttls", auth=True, oauth2_key=server.oauth2_key)
    smtp = sink.config(user=mailbox, password=None, oauth2=imap_job.oauth2)
    smtp_tokens = tokens_for(
        smtp.oauth2,
        store,
        cache_name="Support",
        use="smtp",  # type: ignore[arg-type]
        file=None,
        key="smtp.oauth2",
        ca_file=platform.ca_file,
        timeout=5,
        hint="",
    )
    with SmtpSession(smtp, None, smtp_tokens) as session:
        session.send(make_message(mailbox), ["alice@example.com"])
    assert sink.received[0].user == mailbox
    # One token for all three: the cache served it to the second and third sessions.
    assert len(platform.issued) == 1
    assert sink.tokens_seen == platform.issued


def test_a_shared_mailbox_is_the_xoauth2_user_with_the_delegate_token(
    platform: IdentityPlatform, store: Store, smtp_server: SmtpServer
) -> None:
    app = platform.register(public=True)
    platform.device_pending = 0  # agent@contoso.example signs in
    sink = smtp_server.variant("starttls", auth=True, oauth2_key=platform.key)
    shared = "support@contoso.example"
    job = oauth2_job(platform, app.client_id, flow="delegated", scopes=["SMTP.Send"])
    smtp = sink.config(user=shared, password=None, oauth2=job.oauth2)

    def session_tokens():  # type: ignore[no-untyped-def]
        return tokens_for(
            smtp.oauth2,
            store,
            cache_name="Support",
            use="smtp",  # type: ignore[arg-type]
            file=None,
            key="smtp.oauth2",
            ca_file=platform.ca_file,
            timeout=5,
            hint="",
        )

    session_tokens().sign_in.device_sign_in(lambda message: None)
    # Without FullAccess on the shared mailbox the delegate's valid token is refused.
    with pytest.raises(SmtpError) as refused, SmtpSession(smtp, None, session_tokens()) as session:
        session.send(make_message(shared), ["alice@example.com"])
    assert "authentication failed" in str(refused.value) and "535" in str(refused.value)
    sink.grant_full_access("agent@contoso.example", shared)
    with SmtpSession(smtp, None, session_tokens()) as session:
        session.send(make_message(shared), ["alice@example.com"])
    assert sink.received[-1].user == shared
    assert {jwt_claims(token)["email"] for token in sink.tokens_seen} == {"agent@contoso.example"}


def test_a_valid_token_for_a_mailbox_exchange_was_not_told_about_names_the_missing_step(
    platform: IdentityPlatform, store: Store, dovecot: Dovecot
) -> None:
    server = dovecot.oauth2
    assert server.oauth2_key is not None
    platform.key = server.oauth2_key
    mailbox = f"{dovecot.user('o')}@contoso.example"
    app = platform.register(secret=SECRET)  # no grant_mailbox: no Add-MailboxPermission
    job = mail_job(
        platform, server, mailbox, "imap", app.client_id, client_secret_env="DESKMAIL_CLIENT_SECRET"
    )
    with pytest.raises(SourceError) as caught:
        check_connection(job, None, job_tokens(job, store))
    assert caught.value.step is Step.AUTHENTICATION
    assert len(platform.issued) == 2  # refused, renewed once, refused again
    line = describe_failure(caught.value, job)
    assert "New-ServicePrincipal" in line and "Add-MailboxPermission" in line


def test_a_run_takes_mail_in_and_no_token_or_secret_reaches_a_log_or_an_event(
    platform: IdentityPlatform,
    store: Store,
    dovecot: Dovecot,
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    caplog.set_level(logging.DEBUG)
    server = dovecot.oauth2
    assert server.oauth2_key is not None
    platform.key = server.oauth2_key
    mailbox = f"{dovecot.user('o')}@contoso.example"
    server.append(mailbox, make_mail())
    app = platform.register(public=True)
    platform.device_user = mailbox
    platform.device_pending = 0
    job = mail_job(platform, server, mailbox, "imap", app.client_id, flow="delegated")
    job.set_origin(tmp_path / "deskmail.toml", 0)
    tokens(job, store).sign_in.device_sign_in(lambda message: None)  # type: ignore[attr-defined]
    assert run_job(store, job).created == 1
    # The access token expires early and the refresh token is revoked: the next run fails
    # with an event whose advice is the command that signs in again.
    platform.revoke_refresh_tokens()
    with store.transaction() as session:
        session.query(OAuthTokenCache).delete()
    StoredTokenCache(store, "Support", sealing_keys(tmp_path / "k")).save(
        json.dumps(_expired_cache(platform, app.client_id, mailbox))
    )
    summary = run_job(store, job)
    assert not summary.ok
    with store.session() as session:
        (event,) = session.scalars(select(Ticket).where(Ticket.kind == TicketKind.EVENT))
        description = event.description
        attached = [
            _blob(store, attachment.sha256) for attachment in event.attachments
        ]  # the job's settings
    assert "Failed step: sign-in" in description
    assert (
        f"sign in again: deskmail auth login --job Support --config {tmp_path}/deskmail.toml"
        in description
    )
    secrets_seen = [*platform.issued, *platform.refresh_tokens, SECRET]
    shown = caplog.text + description + b"".join(attached).decode("utf-8", "replace")
    for secret in secrets_seen:
        assert secret not in shown


def _expired_cache(platform: IdentityPlatform, client_id: str, user: str) -> dict[str, object]:
    """A cache whose access token has expired and whose refresh token was revoked."""
    host = platform.url.removeprefix("https://")
    home = "uid.utid"
    return {
        "Account": {
            f"{home}-{host}-{platform.tenant}": {
                "home_account_id": home,
                "environment": host,
                "realm": platform.tenant,
                "local_account_id": "uid",
                "username": user,
                "authority_type": "MSSTS",
            }
        },
        "RefreshToken": {
            f"{home}-{host}-refreshtoken-{client_id}--": {
                "home_account_id": home,
                "environment": host,
                "credential_type": "RefreshToken",
                "client_id": client_id,
                "secret": "revoked-refresh-token",
            }
        },
        "AccessToken": {},
        "IdToken": {},
        "AppMetadata": {},
    }


def _blob(store: Store, sha256: str) -> bytes:
    with store.blobs.open(sha256) as file:
        return file.read()


def make_message(sender: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "alice@example.com"
    message["Subject"] = "Your request"
    message.set_content("Received.")
    return message


def test_a_certificate_expiring_within_the_warning_days_logs_and_opens_one_event(
    platform: IdentityPlatform, store: Store, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    pem, certificate = make_certificate(tmp_path)  # valid for 20 more days
    app = platform.register(certificate=certificate)
    job = oauth2_job(platform, app.client_id, certificate_file=pem)
    job = job.model_copy(update={"port": 9, "security": Security.NONE})  # the mailbox fails
    quiet = job.model_copy(
        update={"oauth2": job.oauth2.model_copy(update={"expiry_warning_days": 10})}  # type: ignore[union-attr]
    )
    run_job(store, quiet)
    assert "expires on" not in caplog.text
    run_job(store, job)
    run_job(store, job)
    date = f"{certificate.not_valid_after_utc:%Y-%m-%d}"
    assert f"job Support: the OAuth2 certificate expires on {date}" in caplog.text
    with store.session() as session:
        subjects = session.scalars(
            select(Ticket.subject).where(Ticket.kind == TicketKind.EVENT)
        ).all()
    assert subjects.count(f'The certificate of job "Support" expires on {date}') == 1


def test_a_client_secret_dated_within_the_warning_days_logs_and_opens_one_event(
    platform: IdentityPlatform, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    app = platform.register(secret=SECRET)
    soon = datetime.date.today() + datetime.timedelta(days=5)
    job = oauth2_job(
        platform, app.client_id, client_secret_env="DESKMAIL_CLIENT_SECRET", secret_expires=soon
    )
    job = job.model_copy(update={"port": 9, "security": Security.NONE})  # the mailbox fails
    later = job.model_copy(
        update={
            "oauth2": job.oauth2.model_copy(
                update={"secret_expires": soon.replace(year=soon.year + 1)}
            )
        }  # type: ignore[union-attr]
    )
    run_job(store, later)  # a date beyond the warning days (30 by default): nothing
    assert "expires on" not in caplog.text
    run_job(store, job)
    run_job(store, job)
    assert f"job Support: the OAuth2 client secret expires on {soon:%Y-%m-%d}" in caplog.text
    with store.session() as session:
        events = session.scalars(select(Ticket).where(Ticket.kind == TicketKind.EVENT)).all()
        expiring = [
            event
            for event in events
            if event.subject == f'The client secret of job "Support" expires on {soon:%Y-%m-%d}'
        ]
        assert len(expiring) == 1  # the second run found it open
        description = expiring[0].description
    assert "set oauth2.secret_expires to its date" in description
    assert "deskmail check" in description
    assert SECRET not in description


def test_only_an_oauth2_job_imports_msal_and_authlib(tmp_path: Path) -> None:
    # Start-up of a run on a password job stays as it was: no identity library is loaded.
    probe = textwrap.dedent(
        f"""
        import sys
        from deskmail.cli import main
        from deskmail.config.models import JobConfig
        from deskmail.intake.run import run_job
        from deskmail.store.engine import Store
        from deskmail.store.migrate import upgrade
        from pathlib import Path
        url = "sqlite:///{tmp_path}/d.db"
        upgrade(url)
        job = JobConfig(name="M", protocol="maildir", path="{tmp_path}/m")
        run_job(Store(url, Path("{tmp_path}/blobs")), job)
        print(sorted(m for m in ("msal", "authlib", "requests") if m in sys.modules))
        """
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["[]"]


def test_google_signs_in_by_loopback_redirect_with_pkce_then_logs_in_and_refreshes(
    platform: IdentityPlatform, store: Store, dovecot: Dovecot
) -> None:
    server = dovecot.oauth2
    assert server.oauth2_key is not None
    platform.key = server.oauth2_key
    mailbox = f"{dovecot.user('g')}@gmail.example"
    platform.device_user = mailbox
    server.append(mailbox, make_mail())
    app = platform.register(secret=SECRET)
    table = {
        "provider": "google",
        "flow": "delegated",
        "client_id": app.client_id,
        "client_secret_env": "DESKMAIL_CLIENT_SECRET",
        "token_endpoint": platform.endpoint("token"),
        "authorization_endpoint": platform.endpoint("authorize"),
        "ca_file": platform.ca_file,
    }
    job = server.job(
        mailbox,
        "imap",
        "ssl",
        name="Gmail",
        auth_mechanism="xoauth2",
        oauth2=OAuth2Config.model_validate(table),
        password=None,
    )
    browser = urllib.request.build_opener(
        urllib.request.HTTPSHandler(context=ssl.create_default_context(cafile=platform.ca_file))
    )
    pages: list[str] = []

    def open_in_browser(message: str) -> None:  # the person at the browser
        url = message.splitlines()[-1]
        assert "code_challenge_method=S256" in url and "scope=https" in url
        with browser.open(url) as page:
            pages.append(page.read().decode())

    tokens(job, store).sign_in.interactive_sign_in(open_in_browser)  # type: ignore[attr-defined]
    assert pages == ["deskmail: signed in; you may close this page.\n"]
    with open_source(job, None, tokens=job_tokens(job, store)) as source:
        assert len(source.list_keys()) == 1
    refreshed = tokens(job, store).refused(platform.issued[-1])
    assert jwt_claims(refreshed)["email"] == mailbox
    assert platform.grant_types == ["authorization_code", "refresh_token"]


def test_two_token_sources_of_one_job_spend_the_refresh_token_the_other_rotated(
    platform: IdentityPlatform, store: Store
) -> None:
    # The IDLE watcher and the job's run each hold one; a refresh token spent twice is refused.
    app = platform.register(public=True)
    platform.device_pending = 0
    job = oauth2_job(platform, app.client_id, flow="delegated")
    tokens(job, store).sign_in.device_sign_in(lambda message: None)  # type: ignore[attr-defined]
    watcher, run = tokens(job, store), tokens(job, store)
    watcher.token()
    run.token()
    run.refused("stale")  # rotates the refresh token and saves the new one
    assert jwt_claims(watcher.refused("stale"))["email"] == "agent@contoso.example"


_REFRESHING_PROCESS = """
import json, sys, time
from pathlib import Path
from deskmail.auth.tokens import job_tokens
from deskmail.config.models import JobConfig
from deskmail.store.engine import Store

url, table, go = json.loads(sys.argv[1])
store = Store(url, Path(go).parent / "blobs")
tokens = job_tokens(JobConfig.model_validate(table), store)
print("ready", flush=True)
while not Path(go).exists():
    time.sleep(0.002)
try:
    print(json.dumps(tokens.refused("stale").split(".")[1]))
except Exception as exc:
    print(json.dumps(f"{type(exc).__name__}: {exc}"))
store.dispose()
"""


@pytest.mark.parametrize("provider", ["microsoft", "generic"])  # msal, Authlib
def test_two_processes_refreshing_at_once_both_get_a_token_and_keep_the_rotated_one(
    platform: IdentityPlatform, store: Store, database_url: str, tmp_path: Path, provider: str
) -> None:
    app = platform.register(public=True)
    platform.device_pending = 0
    if provider == "microsoft":
        job = oauth2_job(platform, app.client_id, flow="delegated")
    else:
        job = _person_job(platform, app.client_id)
    tokens(job, store).sign_in.interactive_sign_in(lambda message: None)  # type: ignore[attr-defined]
    platform.refresh_delay = 0.5  # the second refresh arrives while the first is answered
    go = tmp_path / "go"
    arguments = json.dumps([database_url, job.model_dump(mode="json"), str(go)])
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", _REFRESHING_PROCESS, arguments],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    for process in processes:
        assert process.stdout is not None
        assert process.stdout.readline() == "ready\n"
    go.touch()
    answers = [json.loads(process.communicate(timeout=60)[0]) for process in processes]
    for answer in answers:
        assert not answer.startswith("SourceError"), answer  # invalid_grant: a spent token
        claims = json.loads(base64.urlsafe_b64decode(answer + "=" * (-len(answer) % 4)))
        assert claims["email"] == "agent@contoso.example"
    assert platform.grant_types.count("refresh_token") == 2
    # What is saved is the live refresh token: the next refresh, in this process, works.
    platform.refresh_delay = 0
    assert jwt_claims(tokens(job, store).refused("stale"))["email"] == "agent@contoso.example"


def test_the_web_sign_in_seam_runs_the_authorization_code_flow_with_pkce(
    platform: IdentityPlatform, store: Store
) -> None:
    app = platform.register(public=True)
    job = oauth2_job(platform, app.client_id, flow="delegated")
    sign_in = tokens(job, store).sign_in
    flow = sign_in.start_web_sign_in("http://127.0.0.1:8080/auth/callback")  # type: ignore[attr-defined]
    assert "code_challenge_method=S256" in flow["auth_uri"]
    assert "response_mode=form_post" in flow["auth_uri"]
    context = ssl.create_default_context(cafile=platform.ca_file)
    with urllib.request.urlopen(flow["auth_uri"], context=context) as page:
        form = page.read().decode()
    # The page posts the code back to the redirect URI: what the web UI receives.
    answer = dict(re.findall(r'name="(\w+)" value="([^"]*)"', form))
    assert set(answer) == {"code", "state"}
    claims = sign_in.finish_web_sign_in(flow, answer)  # type: ignore[attr-defined]
    assert claims["preferred_username"] == "agent@contoso.example"
    # Signed in: the job's runs get tokens from the saved cache.
    assert jwt_claims(tokens(job, store).token())["email"] == "agent@contoso.example"


def test_a_pfx_certificate_with_its_password_from_the_environment_is_a_credential(
    platform: IdentityPlatform, store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cryptography.hazmat.primitives.serialization import (
        BestAvailableEncryption,
        load_pem_private_key,
        pkcs12,
    )

    pem, certificate = make_certificate(tmp_path)
    key = load_pem_private_key(pem.read_bytes(), None)
    pfx = tmp_path / "app.pfx"
    pfx.write_bytes(
        pkcs12.serialize_key_and_certificates(
            b"deskmail",
            key,
            certificate,
            None,
            BestAvailableEncryption(b"pfx-password"),  # type: ignore[arg-type]
        )
    )
    monkeypatch.setenv("PFX_PASSWORD", "pfx-password")
    app = platform.register(certificate=certificate)
    job = oauth2_job(
        platform, app.client_id, certificate_file=pfx, certificate_password_env="PFX_PASSWORD"
    )
    assert jwt_claims(tokens(job, store).token())["appid"] == app.client_id
    monkeypatch.setenv("PFX_PASSWORD", "wrong")
    with pytest.raises(SourceError) as caught:
        tokens(job.model_copy(update={"name": "Wrong"}), store).token()
    assert caught.value.step is Step.CLIENT
    assert "a wrong certificate_password_env?" in caught.value.detail
    assert "wrong" not in caught.value.detail.replace("a wrong certificate", "")


def _generic_job(platform: IdentityPlatform, client_id: str, secret_env: str) -> JobConfig:
    return JobConfig(
        name="Support",
        protocol="imap",
        server="127.0.0.1",
        user="support@contoso.example",
        auth_mechanism="xoauth2",
        oauth2=OAuth2Config.model_validate(
            {
                "provider": "generic",
                "client_id": client_id,
                "token_endpoint": f"{platform.url}/{platform.tenant}/oauth2/v2.0/token",
                "scopes": ["https://outlook.office365.com/.default"],
                "client_secret_env": secret_env,
                "ca_file": platform.ca_file,
            }
        ),
    )


def test_a_generic_issuer_gives_app_tokens_by_client_credentials_through_authlib(
    platform: IdentityPlatform, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = platform.register(secret=SECRET)
    platform.grant_mailbox(app.client_id, "support@contoso.example")
    source = tokens(_generic_job(platform, app.client_id, "DESKMAIL_CLIENT_SECRET"), store)
    token = source.token()
    assert jwt_claims(token)["email"] == "support@contoso.example"
    assert source.token() == token  # kept until it expires: no second request
    assert platform.grant_types == ["client_credentials"]

    monkeypatch.setenv("DESKMAIL_WRONG_SECRET", "not-the-secret")
    wrong = tokens(_generic_job(platform, app.client_id, "DESKMAIL_WRONG_SECRET"), store)
    with pytest.raises(SourceError) as refused:
        wrong.token()
    assert refused.value.step is Step.CLIENT
    assert "not-the-secret" not in str(refused.value)


def _person_job(platform: IdentityPlatform, client_id: str) -> JobConfig:
    return JobConfig(
        name="Support",
        protocol="imap",
        server="127.0.0.1",
        user="agent@contoso.example",
        auth_mechanism="xoauth2",
        oauth2=OAuth2Config.model_validate(
            {
                "provider": "generic",
                "flow": "delegated",
                "client_id": client_id,
                "issuer": platform.issuer,  # its metadata names every endpoint
                "scopes": ["https://outlook.office.com/IMAP.AccessAsUser.All", "offline_access"],
                "ca_file": platform.ca_file,
            }
        ),
    )


def test_a_generic_issuer_signs_a_person_in_by_the_device_code_its_metadata_offers(
    platform: IdentityPlatform, store: Store
) -> None:
    app = platform.register(public=True)
    platform.device_pending = 1
    job = _person_job(platform, app.client_id)
    shown: list[str] = []
    claims = tokens(job, store).sign_in.interactive_sign_in(shown.append)  # type: ignore[attr-defined]
    assert claims["preferred_username"] == "agent@contoso.example"
    assert re.fullmatch(
        r"Open https://microsoft.com/devicelogin in a browser and enter the code \w+", shown[0]
    )
    assert ("GET", f"/{platform.tenant}/v2.0/.well-known/openid-configuration") in platform.requests
    assert platform.grant_types == [DEVICE_CODE, DEVICE_CODE]  # pending, then the tokens
    # Another process: the saved access token, then a refresh that rotates and is saved.
    token = tokens(job, store).token()
    assert jwt_claims(token)["scp"] == "IMAP.AccessAsUser.All"
    assert platform.grant_types == [DEVICE_CODE, DEVICE_CODE]
    renewed = tokens(job, store).refused(token)
    assert jwt_claims(tokens(job, store).refused(renewed))["email"] == "agent@contoso.example"
    assert platform.grant_types[2:] == ["refresh_token", "refresh_token"]


def test_a_generic_issuer_without_a_device_code_signs_in_by_loopback_redirect_with_pkce(
    platform: IdentityPlatform, store: Store
) -> None:
    app = platform.register(public=True)
    platform.advertise_device_code = False
    job = _person_job(platform, app.client_id)
    browser = urllib.request.build_opener(
        urllib.request.HTTPSHandler(context=ssl.create_default_context(cafile=platform.ca_file))
    )
    pages: list[str] = []

    def open_in_browser(message: str) -> None:  # the person at the browser
        url = message.splitlines()[-1]
        assert "code_challenge_method=S256" in url and "access_type" not in url
        with browser.open(url) as page:
            pages.append(page.read().decode())

    claims = tokens(job, store).sign_in.interactive_sign_in(open_in_browser)  # type: ignore[attr-defined]
    assert claims["preferred_username"] == "agent@contoso.example"
    assert pages == ["deskmail: signed in; you may close this page.\n"]
    assert platform.grant_types == ["authorization_code"]
    assert jwt_claims(tokens(job, store).refused("stale"))["email"] == "agent@contoso.example"
    assert platform.grant_types == ["authorization_code", "refresh_token"]
