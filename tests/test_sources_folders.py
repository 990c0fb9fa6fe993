"""sources/folders.py: the folders "Load folders" offers, from a real Dovecot, a Maildir and
the Graph fake."""

from __future__ import annotations

from pathlib import Path

import pytest

from deskmail.config.models import JobConfig
from deskmail.sources.errors import SourceError, Step
from deskmail.sources.folders import list_folders
from tests.support.dovecot import Dovecot
from tests.support.graph import FakeTokens, Microsoft365, graph_job_settings


def test_imap_folders_are_listed_inbox_first_even_when_the_job_names_a_missing_one(
    dovecot: Dovecot,
) -> None:
    user = dovecot.user("folders")
    with dovecot.imap(user, None) as imap:
        imap.create_folder("Support")
        imap.create_folder("archive")
    job = dovecot.job(user, folder="Nowhere")
    assert list_folders(job, dovecot.password) == ["INBOX", "archive", "Support"]


def test_a_wrong_password_names_the_authentication_step(dovecot: Dovecot) -> None:
    job = dovecot.job(dovecot.user("folders"))
    with pytest.raises(SourceError) as caught:
        list_folders(job, "wrong")
    assert caught.value.step is Step.AUTHENTICATION


def test_maildir_sub_folders_and_pop3(tmp_path: Path) -> None:
    root = tmp_path / "box"
    for sub in ("cur", "new", "tmp", ".Done", ".Done/cur"):
        (root / sub).mkdir(parents=True)
    job = JobConfig(name="m", protocol="maildir", path=root)
    assert list_folders(job, None) == ["Done"]
    not_a_maildir = JobConfig(name="m", protocol="maildir", path=tmp_path)
    with pytest.raises(SourceError) as caught:
        list_folders(not_a_maildir, None)
    assert caught.value.step is Step.FOLDER
    pop3 = JobConfig(
        name="p", protocol="pop3", server="127.0.0.1", user="u", password_env="POP3_PASSWORD"
    )
    assert list_folders(pop3, "x") == ["INBOX"]  # one mailbox: nothing is asked of the server


def test_graph_folders_are_walked_from_the_top_following_pages(microsoft365: Microsoft365) -> None:
    state = microsoft365.state
    mailbox = "support@contoso.example"
    state.add_mailbox(mailbox)
    for n in range(12):  # more than a page (10) of child folders
        state.add_folder(mailbox, f"Inbox/Team {n:02d}")
    state.add_folder(mailbox, "Inbox/Support/Printers")
    job = JobConfig.model_validate(graph_job_settings(microsoft365, folder="Inbox/Nowhere"))
    found = list_folders(job, None, FakeTokens(state))
    assert {"Inbox", "Inbox/Support", "Inbox/Support/Printers", "Inbox/Team 11"} <= set(found)
    state.forbidden.add(mailbox)
    with pytest.raises(SourceError) as caught:
        list_folders(job, None, FakeTokens(state))
    assert caught.value.step is Step.MAILBOX
