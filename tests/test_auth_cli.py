"""deskmail auth login / status and deskmail check for OAuth2 jobs, through the real CLI."""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from cryptography.fernet import Fernet

from deskmail.auth.cache import StoredTokenCache
from deskmail.auth.tokens import job_tokens
from deskmail.cli import main
from deskmail.config.loader import load_config
from deskmail.store.engine import Store
from deskmail.store.sealing import SECRET_KEY_ENV, sealing_keys
from tests.support.identity import IdentityPlatform, identity_platform, make_certificate
from tests.support.toml_config import write_config


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[IdentityPlatform]:
    directory = tmp_path / "identity"
    directory.mkdir()
    with identity_platform(directory) as running:
        yield running


@pytest.fixture(autouse=True)
def _secret_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SECRET_KEY_ENV, Fernet.generate_key().decode())


def job(
    platform: IdentityPlatform, client_id: str, name: str = "Support", **oauth2: Any
) -> dict[str, Any]:
    return {
        "name": name,
        "protocol": "imap",
        "server": "127.0.0.1",
        "port": 9,  # nothing listens: check stops there, after the token
        "security": "none",
        "user": "support@contoso.example",
        "auth_mechanism": "xoauth2",
        "oauth2": {
            "tenant": platform.tenant,
            "client_id": client_id,
            "authority": platform.url,
            "ca_file": str(platform.ca_file),
            **oauth2,
        },
    }


def cli(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_login_shows_the_code_waits_and_status_shows_who_until_when(
    platform: IdentityPlatform, tmp_path: Path, database_url: str
) -> None:
    app = platform.register(public=True)
    platform.device_pending = 1
    config = write_config(
        tmp_path / "deskmail.toml", database_url, [job(platform, app.client_id, flow="delegated")]
    )
    before = cli("auth", "status", "--config", str(config))
    assert "  signed in: nobody (run deskmail auth login)" in before.output
    result = cli("auth", "login", "--job", "Support", "--config", str(config))
    assert result.exit_code == 0, result.output
    assert "https://microsoft.com/devicelogin and enter the code" in result.output
    assert result.output.endswith(
        "Support: signed in as agent@contoso.example; the tokens are kept, encrypted,"
        " in the database\n"
    )
    status = cli("auth", "status", "--config", str(config)).output.splitlines()
    assert status[:3] == [
        "Support: microsoft, delegated",
        "  signed in: agent@contoso.example",
        "  scopes: https://outlook.office.com/IMAP.AccessAsUser.All",
    ]
    assert status[3].startswith("  access token: expires ") and status[3].endswith("(in 59 min)")
    today = datetime.datetime.now(datetime.UTC)
    assert status[4].startswith(
        f"  refresh token: expires about {today + datetime.timedelta(days=90):%Y-%m-%d}"
        f" (90 days after it was issued, {today:%Y-%m-%d} "
    )
    assert status[4].endswith(" UTC; each use issues a new one)")
    for secret in [*platform.issued, *platform.refresh_tokens]:
        assert secret not in result.output + "\n".join(status)


def test_status_dates_the_refresh_token_from_its_last_issue(
    platform: IdentityPlatform, tmp_path: Path, database_url: str
) -> None:
    app = platform.register(public=True)
    platform.device_pending = 0
    config = write_config(
        tmp_path / "deskmail.toml", database_url, [job(platform, app.client_id, flow="delegated")]
    )
    assert cli("auth", "login", "--job", "Support", "--config", str(config)).exit_code == 0
    # As if the refresh token had last been issued on 2026-10-01 at noon.
    store = Store(database_url, tmp_path / "blobs")
    cache = StoredTokenCache(store, "Support", sealing_keys(tmp_path / "unused.key"))
    saved = json.loads(cache.load() or "{}")
    for entry in saved["RefreshToken"].values():
        entry["last_modification_time"] = str(
            int(datetime.datetime(2026, 10, 1, 12, tzinfo=datetime.UTC).timestamp())
        )
    cache.save(json.dumps(saved))
    line = next(
        line
        for line in cli("auth", "status", "--config", str(config)).output.splitlines()
        if line.startswith("  refresh token:")
    )
    assert line == (
        "  refresh token: expires about 2026-12-30 (90 days after it was issued,"
        " 2026-10-01 12:00 UTC; each use issues a new one)"
    )
    # A renewal issues a new refresh token: the date moves on.
    job_config = load_config(config).jobs[0]
    found = job_tokens(job_config, store)
    assert found is not None
    found.refused("stale")
    store.dispose()
    later = cli("auth", "status", "--config", str(config)).output
    today = datetime.datetime.now(datetime.UTC)
    assert f"expires about {today + datetime.timedelta(days=90):%Y-%m-%d}" in later


def test_login_with_a_generic_issuer_by_device_code_and_status_shows_who(
    platform: IdentityPlatform, tmp_path: Path, database_url: str
) -> None:
    app = platform.register(public=True)
    platform.device_pending = 0
    table = job(platform, app.client_id, flow="delegated")
    table["oauth2"] = {
        "provider": "generic",
        "flow": "delegated",
        "client_id": app.client_id,
        "issuer": platform.issuer,
        "scopes": ["https://outlook.office.com/IMAP.AccessAsUser.All"],
        "ca_file": str(platform.ca_file),
    }
    config = write_config(tmp_path / "deskmail.toml", database_url, [table])
    result = cli("auth", "login", "--job", "Support", "--config", str(config))
    assert result.exit_code == 0, result.output
    assert "in a browser and enter the code" in result.output
    assert result.output.endswith(
        "Support: signed in as agent@contoso.example; the tokens are kept, encrypted,"
        " in the database\n"
    )
    status = cli("auth", "status", "--config", str(config)).output.splitlines()
    assert status[:3] == [
        "Support: generic, delegated",
        "  signed in: agent@contoso.example",
        "  scopes: https://outlook.office.com/IMAP.AccessAsUser.All",
    ]
    assert status[3].startswith("  access token: expires ") and status[3].endswith("(in 59 min)")
    assert status[4] == "  refresh token: held (renewed at each use)"
    for secret in [*platform.issued, *platform.refresh_tokens]:
        assert secret not in result.output + "\n".join(status)


def test_status_shows_a_certificate_own_date_and_a_configured_secret_date(
    platform: IdentityPlatform, tmp_path: Path, database_url: str
) -> None:
    pem, certificate = make_certificate(tmp_path)
    app = platform.register(certificate=certificate)
    jobs = [
        job(platform, app.client_id, certificate_file=str(pem)),
        job(
            platform,
            app.client_id,
            "Billing",
            client_secret_env="NOT_SET_HERE",
            secret_expires="2099-01-31",
        ),
    ]
    config = write_config(tmp_path / "deskmail.toml", database_url, jobs)
    lines = cli("auth", "status", "--config", str(config)).output.splitlines()
    expires = f"{certificate.not_valid_after_utc:%Y-%m-%d %H:%M} UTC"
    assert f"  certificate: expires {expires} (in 19 days)" in lines
    assert "  access token: none kept between runs (each asks)" in lines  # app-only
    assert "Billing: microsoft, app" not in lines  # its secret cannot be read: said instead
    assert any("NOT_SET_HERE is not set" in line for line in lines)


def test_check_names_each_oauth2_failure_in_one_line(
    platform: IdentityPlatform, tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GOOD_SECRET", "right")
    monkeypatch.setenv("BAD_SECRET", "wrong")
    app = platform.register(secret="right")
    public = platform.register(public=True)
    jobs = [
        job(platform, app.client_id, "Wrong secret", client_secret_env="BAD_SECRET"),
        job(platform, "unknown-client", "Unknown client", client_secret_env="GOOD_SECRET"),
        job(
            platform,
            app.client_id,
            "No tenant",
            client_secret_env="GOOD_SECRET",
            tenant="nowhere.example",
        ),
        job(
            platform,
            app.client_id,
            "Down",
            client_secret_env="GOOD_SECRET",
            authority="https://127.0.0.1:9",
        ),
        job(platform, public.client_id, "Nobody", flow="delegated"),
        job(
            platform,
            app.client_id,
            "No consent",
            client_secret_env="GOOD_SECRET",
            scopes=["https://outlook.office.com/IMAP.AccessAsUser.All"],
        ),
    ]
    config = write_config(tmp_path / "deskmail.toml", database_url, jobs)
    result = cli("check", "--config", str(config))
    assert result.exit_code != 0
    failed = [line for line in result.output.splitlines() if "FAILED" in line]
    assert [
        line.split(": ", 1)[0] + ": " + line.split("FAILED at ")[1].split(" (")[0]
        for line in failed
    ] == [
        "Wrong secret: client credentials",
        "Unknown client: client credentials",
        "No tenant: identity provider",
        "Down: identity provider",
        "Nobody: sign-in",
        "No consent: consent or permission",
    ]
    assert "wrong" not in result.output.replace("Wrong", "")
    assert f"deskmail auth login --job Nobody --config {config}" in result.output
