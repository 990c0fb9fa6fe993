"""The jobs catalog (jobs/catalog.py): database jobs beside the file's, validated as the
file is, their secrets sealed and never given back; export and import; key rotation.
Every test runs on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet, MultiFernet
from sqlalchemy import select

from deskmail.auth.cache import StoredTokenCache
from deskmail.config.errors import ConfigError
from deskmail.config.loader import load_config, load_jobs_file
from deskmail.config.models import DeskmailConfig
from deskmail.jobs.catalog import (
    JobCatalog,
    JobNotFound,
    JobSource,
    NameTaken,
    ReadOnlyJob,
    RevisionConflict,
    SecretState,
)
from deskmail.jobs.export import export_toml, secret_variable
from deskmail.jobs.running import load_stored_jobs
from deskmail.jobs.secrets import SecretSlot, UnreadableSecrets
from deskmail.store.engine import Store
from deskmail.store.models import OAuthTokenCache, StoredJob, utcnow
from tests.support.toml_config import write_config

PASSWORD = "correct-horse-battery-staple"
SMTP_PASSWORD = "smtp-only-secret-42"


def _config(tmp_path: Path, database_url: str) -> DeskmailConfig:
    mailbox = tmp_path / "filed"
    path = write_config(
        tmp_path / "deskmail.toml",
        database_url,
        [{"name": "Filed", "protocol": "maildir", "path": str(mailbox), "password": "x"}],
    )
    return load_config(path)


def _catalog(config: DeskmailConfig, store: Store, *keys: bytes) -> JobCatalog:
    chosen = keys or (KEY_A,)
    return JobCatalog(config, store, keys=lambda: MultiFernet([Fernet(k) for k in chosen]))


KEY_A = Fernet.generate_key()
KEY_B = Fernet.generate_key()


def _imap(name: str = "Desk", **settings: Any) -> dict[str, Any]:
    return {
        "name": name,
        "protocol": "imap",
        "server": "mail.example.com",
        "user": "desk",
        "password": PASSWORD,
        **settings,
    }


def _rows(store: Store) -> list[StoredJob]:
    with store.session() as session:
        return list(session.scalars(select(StoredJob)))


def test_a_created_job_is_listed_with_its_source_and_its_secrets_only_as_set(
    tmp_path: Path, store: Store
) -> None:
    config = _config(tmp_path, store.url)
    catalog = _catalog(config, store)
    smtp = {"server": "smtp.example.com", "from_address": "desk@example.com", "user": "desk"}
    created = catalog.create(_imap(smtp={**smtp, "password": SMTP_PASSWORD}))

    assert created.source is JobSource.DATABASE and created.revision == 1
    assert created.secrets == {
        SecretSlot.PASSWORD: SecretState.SET,
        SecretSlot.SMTP_PASSWORD: SecretState.SET,
    }
    assert created.settings is not None
    assert created.settings.password is None and created.settings.smtp is not None
    assert created.settings.smtp.password is None
    listed = catalog.jobs()
    assert [(job.name, job.source) for job in listed] == [
        ("Filed", JobSource.FILE),
        ("Desk", JobSource.DATABASE),
    ]
    assert PASSWORD not in repr(listed) and SMTP_PASSWORD not in repr(listed)
    (row,) = _rows(store)
    assert PASSWORD not in row.settings and PASSWORD not in (row.sealed or "")
    assert SMTP_PASSWORD not in row.settings
    # ...yet the job runs with them.
    (job,) = load_stored_jobs(catalog).jobs
    assert job.password == PASSWORD and job.smtp is not None
    assert job.smtp.password == SMTP_PASSWORD


def test_bad_settings_are_refused_with_the_files_messages_naming_job_and_key(
    tmp_path: Path, store: Store
) -> None:
    config = _config(tmp_path, store.url)
    catalog = _catalog(config, store)
    bad = _imap("Bad", port=70000, security="tls", pasword_env="X")
    with pytest.raises(ConfigError) as refused:
        catalog.create(bad)
    problems = {issue.key: issue.problem for issue in refused.value.issues}
    assert problems['jobs ("Bad").port'] == "must be between 1 and 65535 (got 70000)"
    assert problems['jobs ("Bad").pasword_env'] == "unknown key (did you mean 'password_env'?)"
    # The very words the file would get.
    path = write_config(tmp_path / "bad.toml", store.url, [bad])
    with pytest.raises(ConfigError) as from_file:
        load_config(path)
    assert sorted(issue.problem for issue in from_file.value.issues) == sorted(problems.values())
    assert _rows(store) == []


def test_names_are_unique_across_file_and_database_whatever_the_case(
    tmp_path: Path, store: Store
) -> None:
    config = _config(tmp_path, store.url)
    catalog = _catalog(config, store)
    with pytest.raises(NameTaken, match=r'"filed" is written in .*deskmail.toml'):
        catalog.create({"name": "filed", "protocol": "maildir", "path": str(tmp_path)})
    catalog.create(_imap("Desk"))
    with pytest.raises(NameTaken, match="in the database already"):
        catalog.create(_imap("DESK"))
    with pytest.raises(ConfigError, match=r"\.name: must be at most 200 characters"):
        catalog.create(_imap("x" * 201))


def test_a_file_job_is_read_only(tmp_path: Path, store: Store) -> None:
    catalog = _catalog(_config(tmp_path, store.url), store)
    filed = catalog.get("Filed")
    assert filed.source is JobSource.FILE and filed.file == tmp_path / "deskmail.toml"
    for change in (
        lambda: catalog.update("Filed", {"schedule": "1h"}),
        lambda: catalog.set_enabled("Filed", False),
        lambda: catalog.delete("Filed"),
    ):
        with pytest.raises(ReadOnlyJob, match=r"written in .*deskmail.toml \(provisioned\)"):
            change()


def test_an_update_changes_what_it_names_and_keeps_the_secret_it_does_not(
    tmp_path: Path, store: Store
) -> None:
    catalog = _catalog(_config(tmp_path, store.url), store)
    catalog.create(_imap(folder="Support"))
    changed = catalog.update("Desk", {"port": 1993, "timeouts": {"read": 5}}, revision=1)
    assert changed.revision == 2 and changed.settings is not None
    assert (changed.settings.port, changed.settings.folder) == (1993, "Support")
    assert changed.settings.timeouts.read == 5
    assert changed.secrets[SecretSlot.PASSWORD] is SecretState.SET
    assert load_stored_jobs(catalog).jobs[0].password == PASSWORD

    # Naming another way to give the password replaces the stored one.
    by_variable = catalog.update("Desk", {"password_env": "DESK_PASSWORD"})
    assert by_variable.secrets[SecretSlot.PASSWORD] is SecretState.REFERENCED
    (job,) = load_stored_jobs(catalog).jobs
    assert (job.password_env, job.password) == ("DESK_PASSWORD", None)
    smtp = {"server": "smtp.example.com", "from_address": "desk@example.com"}
    with_smtp = catalog.update("Desk", {"smtp": smtp, "password": "new-one"})
    assert with_smtp.secrets == {
        SecretSlot.PASSWORD: SecretState.SET,
        SecretSlot.SMTP_PASSWORD: SecretState.NOT_SET,
    }

    with pytest.raises(RevisionConflict, match="at revision 4, not 2"):
        catalog.update("Desk", {"port": 1994}, revision=2)
    with pytest.raises(ConfigError) as refused:
        catalog.update("Desk", {"schedule": "every tuesday"})
    assert refused.value.key == 'jobs ("Desk").schedule'
    assert catalog.get("Desk").revision == 4  # neither change was stored


def test_enable_disable_and_delete_a_database_job(tmp_path: Path, store: Store) -> None:
    catalog = _catalog(_config(tmp_path, store.url), store)
    catalog.create(_imap())
    assert catalog.set_enabled("desk", False).enabled is False
    assert catalog.revisions() == {"Desk": 2}
    assert load_stored_jobs(catalog).jobs[0].enabled is False
    StoredTokenCache(store, "Desk", catalog.keys()).save('{"refresh_token": "r"}')
    StoredTokenCache(store, "Other", catalog.keys()).save('{"refresh_token": "o"}')
    catalog.delete("Desk", revision=2)
    assert catalog.revisions() == {}
    with store.session() as session:  # no credential of the job is left behind
        assert list(session.scalars(select(OAuthTokenCache.job))) == ["Other"]
    with pytest.raises(JobNotFound, match='no job named "Desk"'):
        catalog.get("Desk")


def test_key_rotation_old_key_still_opens_then_reseal_drops_it(
    tmp_path: Path, store: Store
) -> None:
    config = _config(tmp_path, store.url)
    _catalog(config, store, KEY_A).create(_imap())
    rotating = _catalog(config, store, KEY_B, KEY_A)
    assert load_stored_jobs(rotating).jobs[0].password == PASSWORD
    assert rotating.reseal() == 1
    assert load_stored_jobs(_catalog(config, store, KEY_B)).jobs[0].password == PASSWORD
    old_only = load_stored_jobs(_catalog(config, store, KEY_A))
    assert old_only.jobs == []
    (refused,) = old_only.refused
    assert "sealed with another key" in refused.problem and PASSWORD not in refused.problem


def test_unreadable_secrets_name_the_job(tmp_path: Path, store: Store) -> None:
    config = _config(tmp_path, store.url)
    _catalog(config, store, KEY_A).create(_imap())
    with pytest.raises(UnreadableSecrets, match='job "Desk"'):
        _catalog(config, store, KEY_B).reseal()


def test_import_stores_all_jobs_or_none(tmp_path: Path, store: Store) -> None:
    config = _config(tmp_path, store.url)
    catalog = _catalog(config, store)
    catalog.create(_imap("Existing"))
    file = write_config(tmp_path / "in.toml", store.url, [_imap("New"), _imap("existing")])
    file.write_text(file.read_text().split("[[jobs]]", 1)[1].join(["[[jobs]]", ""]))
    jobs = load_jobs_file(file, config.smtp)
    with pytest.raises(ConfigError) as refused:
        catalog.import_jobs(jobs, file)
    assert str(refused.value) == (
        f'{file}: jobs[1] ("existing").name: a job of this name is in the database already;'
        " import with --replace to replace it"
    )
    assert catalog.revisions() == {"Existing": 1}
    assert catalog.import_jobs(jobs, file, replace=True) == 2
    assert catalog.revisions() == {"Existing": 2, "New": 1}


def test_an_import_file_with_a_bad_key_names_file_key_and_problem(
    tmp_path: Path, store: Store
) -> None:
    file = tmp_path / "in.toml"
    file.write_text('[[jobs]]\nname = "X"\nprotocol = "imap"\nserver = "h"\nuser = "u"\n')
    with pytest.raises(ConfigError) as refused:
        load_jobs_file(file, None)
    assert str(refused.value) == (
        f'{file}: jobs[0] ("X"): needs a password: set password_env (recommended),'
        " password_file or password"
    )
    file.write_text('[database]\nurl = "sqlite://"\n')
    with pytest.raises(ConfigError, match="database: is not imported"):
        load_jobs_file(file, None)


def test_export_writes_no_secret_and_loads_back_as_the_same_job(
    tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _config(tmp_path, store.url)
    catalog = _catalog(config, store)
    catalog.create(
        _imap(
            schedule="1h",
            rules=[
                {
                    "name": "r",
                    "conditions": [{"field": "subject", "value": "x"}],
                    "action": "ignore",
                }
            ],
            smtp={
                "server": "smtp.example.com",
                "from_address": "desk@example.com",
                "user": "desk",
                "password": SMTP_PASSWORD,
            },
        )
    )
    text = export_toml(catalog.jobs(), utcnow())
    assert PASSWORD not in text and SMTP_PASSWORD not in text
    variable = secret_variable("Desk", SecretSlot.PASSWORD)
    smtp_variable = secret_variable("Desk", SecretSlot.SMTP_PASSWORD)
    assert smtp_variable == "DESKMAIL_DESK_SMTP_PASSWORD"
    assert f'password_env = "{variable}"' in text
    assert f"set {variable} where this file is used" in text
    assert f'password_env = "{smtp_variable}"' in text.split("[jobs.smtp]")[1]

    exported = tmp_path / "exported.toml"
    exported.write_text(text)
    monkeypatch.setenv(variable, PASSWORD)
    monkeypatch.setenv(smtp_variable, SMTP_PASSWORD)
    back = load_config(exported)
    assert [job.name for job in back.jobs] == ["Filed", "Desk"]
    original = load_stored_jobs(catalog).jobs[0]
    secrets = {"password": True, "password_env": True, "smtp": {"password", "password_env"}}
    expected = original.model_dump(exclude=secrets)
    assert back.job("Desk").model_dump(exclude=secrets) == expected


def test_every_secret_field_of_the_models_has_a_slot() -> None:
    """A new secret field (hidden from repr) must be sealed apart too, not stored in clear."""
    from pydantic import BaseModel

    from deskmail.config.models import JobConfig

    def secrets_of(model: type[BaseModel], prefix: str = "") -> set[str]:
        found = set()
        for name, field in model.model_fields.items():
            if not field.repr:
                found.add(prefix + name)
            for inner in getattr(field.annotation, "__args__", (field.annotation,)):
                if isinstance(inner, type) and issubclass(inner, BaseModel):
                    found |= secrets_of(inner, f"{prefix}{name}.")
        return found

    assert secrets_of(JobConfig) == {slot.value for slot in SecretSlot}


def test_an_oauth2_client_secret_is_sealed_like_a_password(tmp_path: Path, store: Store) -> None:
    catalog = _catalog(_config(tmp_path, store.url), store)
    oauth2 = {"tenant": "contoso.example", "client_id": "app", "client_secret": PASSWORD}
    graph = {"name": "Graph", "protocol": "graph", "user": "desk@example.com", "oauth2": oauth2}
    created = catalog.create(graph)
    assert created.secrets == {SecretSlot.CLIENT_SECRET: SecretState.SET}
    (row,) = _rows(store)
    assert PASSWORD not in row.settings and row.secret_slots == "oauth2.client_secret"
    (job,) = load_stored_jobs(catalog).jobs
    assert job.oauth2 is not None and job.oauth2.client_secret == PASSWORD
    # A certificate instead: the stored secret goes (one credential at most).
    changed = catalog.update("Graph", {"oauth2": {"certificate_file": "app.pem"}})
    assert changed.secrets == {SecretSlot.CLIENT_SECRET: SecretState.REFERENCED}
    assert _rows(store)[0].sealed is None
