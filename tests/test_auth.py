"""OAuth2 sign-in against the identity-platform fake, with msal on its real path.

The token cache is sealed in the database (both databases), saved after every
token call that changed it; failures are named by their step.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from deskmail.auth.cache import CacheUnreadable, StoredTokenCache
from deskmail.auth.keys import SECRET_KEY_ENV, sealing_keys
from deskmail.auth.tokens import job_tokens
from deskmail.config.models import JobConfig
from deskmail.config.oauth2 import OAuth2Config
from deskmail.sources.errors import SourceError, Step
from deskmail.store.engine import Store
from deskmail.store.models import OAuthTokenCache
from tests.support.identity import (
    DEVICE_CODE,
    IdentityPlatform,
    identity_platform,
    jwt_claims,
    make_certificate,
)

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


def oauth2_job(platform: IdentityPlatform, client_id: str, **oauth2: object) -> JobConfig:
    table = {
        "tenant": platform.tenant,
        "client_id": client_id,
        "authority": platform.url,
        "ca_file": platform.ca_file,
        **oauth2,
    }
    return JobConfig(
        name="Support",
        protocol="imap",
        server="127.0.0.1",
        user="support@contoso.example",
        auth_mechanism="xoauth2",
        oauth2=OAuth2Config.model_validate(table),
    )


def tokens(job: JobConfig, store: Store):  # type: ignore[no-untyped-def]
    found = job_tokens(job, store)
    assert found is not None
    return found


def test_app_only_with_a_secret_gets_a_token_for_the_outlook_resource_and_caches_it(
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
    # A second source for the same job finds the token in the sealed cache: no new request.
    assert tokens(job, store).token() == token
    assert platform.grant_types == ["client_credentials"]
    with store.session() as session:
        row = session.get(OAuthTokenCache, "Support")
        assert row is not None
        assert token not in row.sealed and SECRET not in row.sealed


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
    unknown = oauth2_job(platform, "00000000-0000-0000-0000-000000000000",
                         client_secret_env="DESKMAIL_CLIENT_SECRET")  # fmt: skip
    with pytest.raises(SourceError) as caught:
        tokens(unknown.model_copy(update={"name": "Unknown"}), store).token()
    assert caught.value.step is Step.CLIENT and "AADSTS700016" in caught.value.detail


def test_an_unknown_tenant_and_an_unreachable_authority_are_identity_failures(
    platform: IdentityPlatform, store: Store
) -> None:
    app = platform.register(secret=SECRET)
    job = oauth2_job(platform, app.client_id, client_secret_env="DESKMAIL_CLIENT_SECRET",
                     tenant="fabrikam.example")  # fmt: skip
    with pytest.raises(SourceError) as caught:
        tokens(job, store).token()
    assert caught.value.step is Step.IDENTITY and "fabrikam.example" in caught.value.detail
    gone = oauth2_job(platform, app.client_id, client_secret_env="DESKMAIL_CLIENT_SECRET",
                      authority="https://127.0.0.1:9")  # fmt: skip
    with pytest.raises(SourceError) as caught:
        tokens(gone, store).token()
    assert caught.value.step is Step.IDENTITY
    assert caught.value.detail.startswith("the identity provider cannot be reached")


def test_an_untrusted_identity_certificate_is_a_certificate_failure(
    platform: IdentityPlatform, store: Store
) -> None:
    app = platform.register(secret=SECRET)
    job = oauth2_job(platform, app.client_id, client_secret_env="DESKMAIL_CLIENT_SECRET")
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
