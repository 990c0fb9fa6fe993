"""The embedded sample: a config, a Maildir seeded with support mails, a SQLite database.

`make run` calls `deskmail sample init` and then `deskmail run-once` on it.
Existing files are never overwritten, so mail dropped into the Maildir and
tickets already made survive a second `make run`.
"""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

from deskmail.apply.context import get_or_create
from deskmail.apply.people import add_person
from deskmail.config.loader import load_config
from deskmail.store import migrate
from deskmail.store.engine import open_store
from deskmail.store.models import Group, Site

# A small directory of known people, so the sample shows sender matching:
# mail from anyone else falls back to the job's fallback user and site.
SAMPLE_PEOPLE = [
    ("Alice Martin", ["alice.martin@example.com"], "amartin", "Head Office"),
    ("Bob Chen", ["bob.chen@example.com", "b.chen@example.org"], "bchen", "Head Office"),
    ("Carol Jones", ["carol.jones@example.com"], "cjones", "Lyon"),
    ("Hélène Lefèvre", ["helene.lefevre@example.com"], "hlefevre", "Lyon"),
    ("Help Desk", [], "helpdesk", "Head Office"),  # the job's fallback_user
]
# The groups the sample's job and rule name: `deskmail check` has none to warn of.
SAMPLE_GROUPS = ["Service Desk", "Operations"]


def init_sample(target: Path) -> tuple[Path, bool]:
    """Returns the config file and whether anything was created."""
    config_file = target / "deskmail.toml"
    if config_file.exists():
        return config_file, False
    target.mkdir(parents=True, exist_ok=True)
    package = resources.files("deskmail.sample")
    shutil.copyfile(str(package / "deskmail.toml"), config_file)
    # An Octopus file beside it, for `deskmail config import-octopus` and `deskmail octopus`.
    shutil.copyfile(str(package / "email-integration.xml"), target / "email-integration.xml")
    _seed_maildir(target / "mailbox", package / "mails")
    _copy_mails(target / "mails", package / "mails")

    config = load_config(config_file)
    store = open_store(config)
    migrate.upgrade(store.url)
    with store.transaction() as session:
        for name, addresses, logon, site in SAMPLE_PEOPLE:
            site_id = get_or_create(session, Site, site).id
            add_person(session, name, addresses, logon=logon, site_id=site_id)
        for group in SAMPLE_GROUPS:
            get_or_create(session, Group, group)
    store.dispose()
    return config_file, True


def _copy_mails(path: Path, mails: resources.abc.Traversable) -> None:
    """The same mails under their own names, to try `deskmail explain` and `preprocess` on."""
    path.mkdir(parents=True, exist_ok=True)
    for mail in mails.iterdir():
        if mail.name.endswith(".eml"):
            (path / mail.name).write_bytes(mail.read_bytes())


def _seed_maildir(path: Path, mails: resources.abc.Traversable) -> None:
    for sub in ("new", "cur", "tmp"):
        (path / sub).mkdir(parents=True, exist_ok=True)
    names = sorted(m.name for m in mails.iterdir() if m.name.endswith(".eml"))
    for index, name in enumerate(names, start=1):
        # Maildir unique names; the numeric prefix keeps delivery order = file order.
        unique = f"{1_700_000_000 + index}.M{index:06d}P0.deskmail-sample"
        (path / "new" / unique).write_bytes((mails / name).read_bytes())
