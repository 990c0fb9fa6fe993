"""The Graph source against the Graph fake over HTTPS (httpx on the real path)."""

from __future__ import annotations

import logging
import os
import ssl
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from deskmail.auth.tokens import job_tokens
from deskmail.config.models import JobConfig
from deskmail.intake.run import run_job
from deskmail.sources.check import check_connection
from deskmail.sources.errors import SourceError, Step
from deskmail.sources.graph import delta
from deskmail.sources.graph.client import IN_MEMORY_BYTES, GraphClient
from deskmail.sources.graph.folders import mailbox_path
from deskmail.sources.graph.source import GraphSource
from deskmail.sources.graph.throttle import Budget, Pacer, retry_after
from deskmail.store.engine import Store
from deskmail.store.models import OAuthTokenCache, Ticket
from deskmail.store.sealing import KEY_FILE_ENV, SECRET_KEY_ENV
from tests.support.graph import (
    CLIENT_SECRET,
    CLIENT_SECRET_ENV,
    TENANT,
    FakeTokens,
    MemoryState,
    Microsoft365,
    graph_job_settings,
    http_date,
)
from tests.support.toml_config import write_config

MAILBOX = "support@contoso.example"


def _mail(n: int, size: int = 0) -> bytes:
    body = "x" * size if size else f"body {n}"
    return (
        f"From: user{n}@client.example.com\r\nTo: {MAILBOX}\r\nSubject: Mail {n}\r\n"
        f"Message-ID: <graph-{n}@client.example.com>\r\n\r\n{body}\r\n"
    ).encode()


def _job(fake: Microsoft365, **settings: Any) -> JobConfig:
    return JobConfig.model_validate(graph_job_settings(fake, **settings))


@pytest.fixture
def mailbox(microsoft365: Microsoft365) -> Iterator[Microsoft365]:
    state = microsoft365.state
    state.add_mailbox(MAILBOX)
    # The inbox's display name is translated: the path still starts from "inbox".
    inbox = state.mailboxes[MAILBOX].folders[state.folder_id(MAILBOX, "Inbox")]
    inbox.name = "Posteingang"
    for n in range(12):  # more than a page of child folders before Support
        state.add_folder(MAILBOX, f"Inbox/Team {n:02d}")
    state.add_folder(MAILBOX, "Inbox/Support")
    yield microsoft365


def _source(fake: Microsoft365, state: MemoryState | None = None, **settings: Any) -> GraphSource:
    return GraphSource(_job(fake, **settings), FakeTokens(fake.state), state)


def _ids(keys: list[str]) -> list[str]:
    return [key.rpartition(":")[2] for key in keys]


def test_folder_path_keys_and_value_with_immutable_ids(mailbox: Microsoft365) -> None:
    state = mailbox.state
    ids = [state.deliver(MAILBOX, "Inbox/Support", _mail(n)) for n in range(3)]
    state.deliver(MAILBOX, "Inbox", _mail(99))  # another folder: not listed
    with _source(mailbox) as source:
        keys = source.list_keys()
        assert keys == [f"graph:{TENANT}:{MAILBOX}:{i}" for i in ids]
        fetched = list(source.fetch(keys))
    assert [f.raw for f in fetched] == [_mail(n) for n in range(3)]
    assert state.counters.without_immutable_ids == 0
    assert not any(m.is_read for m in state.in_folder(MAILBOX, "Inbox/Support"))


def test_missing_folder_mailbox_and_forbidden_mailbox_name_the_step(mailbox: Microsoft365) -> None:
    with pytest.raises(SourceError) as missing:
        _source(mailbox, folder="Inbox/Nope")
    assert missing.value.step is Step.FOLDER
    assert "'Nope'" in missing.value.detail
    with pytest.raises(SourceError) as unknown:
        _source(mailbox, user="nobody@contoso.example")
    assert unknown.value.step is Step.MAILBOX
    assert "not found" in unknown.value.detail
    mailbox.state.forbidden.add(MAILBOX)
    with pytest.raises(SourceError) as forbidden:
        _source(mailbox)
    assert forbidden.value.step is Step.MAILBOX
    assert "may not open" in forbidden.value.detail


def test_checkpoint_saves_the_delta_link_and_a_cut_pass_reads_again(
    mailbox: Microsoft365, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(delta, "PAGE_SIZE", 4)  # 10 mails: three pages
    state = mailbox.state
    first = [state.deliver(MAILBOX, "Inbox/Support", _mail(n)) for n in range(10)]
    places = MemoryState()
    with _source(mailbox, places) as source:
        assert _ids(source.list_keys()) == first
    assert places.saved == {}  # no checkpoint: the pass did not finish
    later = [state.deliver(MAILBOX, "Inbox/Support", _mail(n)) for n in range(10, 12)]
    with _source(mailbox, places) as source:
        assert _ids(source.list_keys()) == first + later
        source.checkpoint()
    assert len(places.saved) == 1
    with _source(mailbox, places) as source:
        assert source.list_keys() == []
        source.checkpoint()
    newest = state.deliver(MAILBOX, "Inbox/Support", _mail(12))
    with _source(mailbox, places) as source:
        assert _ids(source.list_keys()) == [newest]


def test_removed_duplicates_and_replays_list_each_waiting_mail_once(mailbox: Microsoft365) -> None:
    state = mailbox.state
    a, b = (state.deliver(MAILBOX, "Inbox/Support", _mail(n)) for n in range(2))
    places = MemoryState()
    with _source(mailbox, places) as source:
        source.list_keys()
        source.checkpoint()
    box = state.mailboxes[MAILBOX]
    state.mark_read(box, box.messages[a])  # changed twice by a person
    state.mark_read(box, box.messages[a])
    state.move(box, box.messages[b], state.folder_id(MAILBOX, "Inbox"))  # moved away
    c = state.deliver(MAILBOX, "Inbox/Support", _mail(2))
    state.switches.duplicates = True
    with _source(mailbox, places) as source:
        assert _ids(source.list_keys()) == [a, c]
        source.checkpoint()
    state.switches.replay = 1  # the earlier rounds come again
    with _source(mailbox, places) as source:
        assert sorted(_ids(source.list_keys())) == sorted([a, c])


@pytest.mark.parametrize("switch", ["gone", "sync_state_not_found"])
def test_an_unusable_delta_link_lists_the_whole_folder_again(
    mailbox: Microsoft365, switch: str
) -> None:
    state = mailbox.state
    ids = [state.deliver(MAILBOX, "Inbox/Support", _mail(n)) for n in range(3)]
    places = MemoryState()
    with _source(mailbox, places) as source:
        source.list_keys()
        source.checkpoint()
    setattr(state.switches, switch, 1)
    state.delta_queries.clear()
    with _source(mailbox, places) as source:
        assert _ids(source.list_keys()) == ids
    assert getattr(state.switches, switch) == 0
    refused, restart = state.delta_queries[:2]
    assert "$deltatoken" in refused
    # 410 names where to start again (Location); syncStateNotFound starts from scratch.
    expected = "id" if switch == "gone" else "receivedDateTime"
    assert "$deltatoken" not in restart and restart["$select"] == expected


def test_retry_after_in_seconds_and_as_a_date(mailbox: Microsoft365) -> None:
    state = mailbox.state
    ids = [state.deliver(MAILBOX, "Inbox/Support", _mail(n)) for n in range(2)]
    state.switches.throttle = ["0", http_date(-5)]
    with _source(mailbox) as source:
        assert _ids(source.list_keys()) == ids
        assert source.client.counters.throttled == 2
    assert 25 <= retry_after(http_date(30)) <= 30
    assert retry_after("7") == 7.0
    assert retry_after("not a date") == 5.0


def test_an_expired_token_is_renewed_once(mailbox: Microsoft365) -> None:
    state = mailbox.state
    ids = [state.deliver(MAILBOX, "Inbox/Support", _mail(n)) for n in range(2)]
    tokens = FakeTokens(state)
    with GraphSource(_job(mailbox), tokens, None) as source:
        state.switches.expire_tokens = 1
        assert _ids(source.list_keys()) == ids
    assert tokens.refusals == 1


def test_fetches_stay_within_four_concurrent_requests(mailbox: Microsoft365) -> None:
    state = mailbox.state
    state.delay = 0.02
    for n in range(24):
        state.deliver(MAILBOX, "Inbox/Support", _mail(n))
    with _source(mailbox) as source:
        keys = source.list_keys()
        assert len(list(source.fetch(keys))) == 24
        assert source.client.counters.throttled == 0
    assert state.counters.throttled == 0
    assert state.counters.max_in_flight == 4


def test_the_fake_refuses_a_fifth_concurrent_request(mailbox: Microsoft365) -> None:
    """The limit the source keeps is real: five at once get a 429."""
    state = mailbox.state
    state.delay = 0.3
    token = state.issue_token()
    start = threading.Barrier(5)

    def get() -> int:
        context = ssl.create_default_context(cafile=str(mailbox.ca_file))
        with httpx.Client(verify=context) as client:
            start.wait()
            url = f"{mailbox.server.url}/v1.0/users/{MAILBOX}/mailFolders/inbox"
            return client.get(url, headers={"Authorization": f"Bearer {token}"}).status_code

    with ThreadPoolExecutor(5) as pool:
        statuses = list(pool.map(lambda _: get(), range(5)))
    assert sorted(statuses) == [200, 200, 200, 200, 429]


def test_a_25_mb_mail_arrives_whole_through_the_spool(
    mailbox: Microsoft365, tmp_path: Path
) -> None:
    raw = _mail(1, size=25 * 1024 * 1024)
    message_id = mailbox.state.deliver(MAILBOX, "Inbox/Support", raw)
    spool = tmp_path / "spool"
    spool.mkdir()
    job = _job(mailbox)
    with GraphSource(job, FakeTokens(mailbox.state), spool_directory=str(spool)) as source:
        (fetched,) = source.fetch(source.list_keys())
    assert fetched.raw == raw
    assert fetched.key.endswith(message_id)
    assert list(spool.iterdir()) == []  # the file had no name, and is gone
    missing = str(tmp_path / "no")  # proof the spool is used at all
    with (
        GraphSource(job, FakeTokens(mailbox.state), spool_directory=missing) as bad,
        pytest.raises(FileNotFoundError),
    ):
        list(bad.fetch(bad.list_keys()))


def _files_open_in(directory: Path) -> int:
    """This process's open files in `directory` (nameless ones read "#N (deleted)")."""
    found = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:  # the listing's own descriptor, closed by now
            continue
        found += target.startswith(f"{directory}/")
    return found


def test_large_mails_fetched_ahead_wait_in_their_files(
    mailbox: Microsoft365, tmp_path: Path
) -> None:
    raws = [_mail(n, size=2 * IN_MEMORY_BYTES) for n in range(3)]
    ids = [mailbox.state.deliver(MAILBOX, "Inbox/Support", raw) for raw in raws]
    small = _mail(9)
    small_id = mailbox.state.deliver(MAILBOX, "Inbox/Support", small)
    spool = tmp_path / "spool"
    spool.mkdir()
    job = _job(mailbox)
    with GraphSource(job, FakeTokens(mailbox.state), spool_directory=str(spool)) as source:
        messages = f"{mailbox_path(MAILBOX)}/messages"
        body = source.client.content(f"{messages}/{ids[0]}/$value", str(spool))
        assert body is not None and not body.in_memory  # on disk until taken
        assert _files_open_in(spool) == 1
        assert body.take() == raws[0]
        assert _files_open_in(spool) == 0
        held = source.client.content(f"{messages}/{small_id}/$value", str(spool))
        assert held is not None and held.in_memory and held.take() == small

        fetching = source.fetch(source.list_keys())
        assert next(fetching).raw == raws[0]
        # The two large mails fetched ahead wait in their files, not in memory.
        deadline = time.monotonic() + 10
        while _files_open_in(spool) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert _files_open_in(spool) == 2
        fetching.close()  # stopped early: they are let go, their files closed
        assert _files_open_in(spool) == 0


def test_a_vanished_mail_is_skipped(mailbox: Microsoft365) -> None:
    state = mailbox.state
    ids = [state.deliver(MAILBOX, "Inbox/Support", _mail(n)) for n in range(3)]
    with _source(mailbox) as source:
        keys = source.list_keys()
        del state.mailboxes[MAILBOX].messages[ids[1]]
        assert [f.key for f in source.fetch(keys)] == [keys[0], keys[2]]


def test_mark_seen_in_batches_of_twenty(mailbox: Microsoft365) -> None:
    state = mailbox.state
    for n in range(25):
        state.deliver(MAILBOX, "Inbox/Support", _mail(n))
    with _source(mailbox, after_processing="mark_seen") as source:
        keys = source.list_keys()
        before = state.counters.requests
        source.acknowledge(keys)
        assert state.counters.requests - before == 25 + 2  # each PATCH, and two $batch
        source.acknowledge(keys)  # again: no harm
    assert all(m.is_read for m in state.in_folder(MAILBOX, "Inbox/Support"))


def test_move_keeps_the_immutable_id_and_delete_goes_to_deleted_items(
    mailbox: Microsoft365,
) -> None:
    state = mailbox.state
    state.add_folder(MAILBOX, "Inbox/Support/Done")
    ids = [state.deliver(MAILBOX, "Inbox/Support", _mail(n)) for n in range(3)]
    with _source(mailbox, after_processing="move", move_to="Inbox/Support/Done") as source:
        keys = source.list_keys()
        source.acknowledge(keys[:2])
        source.acknowledge(keys[:2])  # already moved: still fine
    assert [m.immutable_id for m in state.in_folder(MAILBOX, "Inbox/Support/Done")] == ids[:2]
    with _source(mailbox, after_processing="delete") as source:
        source.acknowledge(keys[2:])
    assert [m.immutable_id for m in state.in_folder(MAILBOX, "Deleted Items")] == ids[2:]
    assert state.in_folder(MAILBOX, "Inbox/Support") == []


def test_a_throttled_request_inside_a_batch_is_sent_again(mailbox: Microsoft365) -> None:
    state = mailbox.state
    for n in range(3):
        state.deliver(MAILBOX, "Inbox/Support", _mail(n))
    with _source(mailbox, after_processing="mark_seen") as source:
        keys = source.list_keys()
        state.switches.throttle_in_batch = ["0"]  # the first request inside the $batch
        source.acknowledge(keys)
    assert all(m.is_read for m in state.in_folder(MAILBOX, "Inbox/Support"))
    assert state.counters.throttled == 1


def test_check_refuses_a_token_without_write_permission(mailbox: Microsoft365) -> None:
    state = mailbox.state
    state.deliver(MAILBOX, "Inbox/Support", _mail(1))
    read_only = FakeTokens(state, roles=["Mail.Read"])
    with (
        GraphSource(_job(mailbox, after_processing="mark_seen"), read_only) as source,
        pytest.raises(SourceError) as refused,
    ):
        source.info()
    assert refused.value.step is Step.CONSENT
    assert "Mail.ReadWrite" in refused.value.detail
    with GraphSource(_job(mailbox, after_processing="keep"), read_only) as source:
        info = source.info()
    assert info.message_count == 1
    assert info.folder == "Inbox/Support"
    assert not any(m.is_read for m in state.in_folder(MAILBOX, "Inbox/Support"))


def test_pacer_waits_for_room_in_the_window() -> None:
    now = [100.0]
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    pacer = Pacer(Budget(requests=5, seconds=10.0), clock=lambda: now[0], sleep=sleep)
    for _ in range(5):
        pacer.spend()
        now[0] += 1.0
    assert waits == []
    pacer.spend(2)  # two more: the two oldest must leave the window (sent at 100 and 101)
    assert waits == [pytest.approx(101.0 + 10.25 - 105.0)]  # window plus the margin


def test_client_counts_requests_as_graph_does(mailbox: Microsoft365) -> None:
    client = GraphClient(_job(mailbox), FakeTokens(mailbox.state))
    try:
        client.get(f"/users/{MAILBOX}/mailFolders/inbox")
        assert client.counters.requests == 1
    finally:
        client.close()


# ---- through intake, with tokens from the token endpoint --------------------------


def test_a_run_takes_each_mail_in_once_through_resyncs_and_new_ids(
    store: Store, mailbox: Microsoft365
) -> None:
    state = mailbox.state
    for n in range(5):
        state.deliver(MAILBOX, "Inbox/Support", _mail(n))
    job = _job(mailbox, after_processing="mark_seen")
    first = run_job(store, job)
    assert (first.failure, first.created, first.acknowledged) == (None, 5, 5)
    assert all(m.is_read for m in state.in_folder(MAILBOX, "Inbox/Support"))
    assert len(mailbox.identity.issued) == 1  # one token from the identity platform
    again = run_job(store, job)  # the delta lists the five again: they were marked read
    assert (again.failure, again.fetched, again.created) == (None, 0, 0)
    state.switches.gone = 1
    resynced = run_job(store, job)
    assert (resynced.failure, resynced.fetched, resynced.created) == (None, 0, 0)
    # The same mail under a new id (archived and imported again): the Message-ID and
    # SHA-256 guard knows it.
    state.deliver(MAILBOX, "Inbox/Support", _mail(0))
    reimported = run_job(store, job)
    assert (reimported.failure, reimported.created, reimported.duplicates) == (None, 0, 1)


def test_an_app_only_run_once_keeps_no_token_and_loads_no_cryptography(
    database_url: str, mailbox: Microsoft365, tmp_path: Path
) -> None:
    """Client credentials hold no refresh token: nothing is sealed, so nothing to seal with
    (msal asks for the token, and with a secret it needs no JWT signing either)."""
    mailbox.state.deliver(MAILBOX, "Inbox/Support", _mail(1))
    config = write_config(tmp_path / "deskmail.toml", database_url, [graph_job_settings(mailbox)])
    probe = textwrap.dedent(
        f"""
        import atexit, sys
        heavy = ("cryptography", "jwt")
        atexit.register(lambda: print(sorted(m for m in heavy if m in sys.modules)))
        sys.argv = ["deskmail", "run-once", "--config", {str(config)!r}]
        from deskmail.entry import run
        run()
        """
    )
    key_file = tmp_path / "secret.key"
    env = {
        **{k: v for k, v in os.environ.items() if k != SECRET_KEY_ENV},
        CLIENT_SECRET_ENV: CLIENT_SECRET,
        KEY_FILE_ENV: str(key_file),
    }
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.splitlines()[-1] == "[]"
    assert not key_file.exists()
    store = Store(database_url, tmp_path / "blobs")
    try:
        with store.session() as session:
            assert session.scalar(select(func.count()).select_from(Ticket)) == 1
            assert session.scalar(select(func.count()).select_from(OAuthTokenCache)) == 0
    finally:
        store.dispose()
    assert len(mailbox.identity.issued) == 1


def test_an_imap_run_does_not_import_httpx() -> None:
    probe = textwrap.dedent(
        """
        import sys
        import deskmail.cli, deskmail.intake.run, deskmail.sources.factory
        import deskmail.sources.check, deskmail.auth.tokens
        from deskmail.cli import main
        print("httpx" in sys.modules, "msal" in sys.modules)
        import deskmail.sources.graph.source
        print("httpx" in sys.modules)
        """
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "False", "True"]


def test_passes_on_one_mailbox_share_its_limits(mailbox: Microsoft365) -> None:
    """A daemon's next pass keeps counting the budget where the last one left off."""
    job = _job(mailbox)
    first, second = (GraphClient(job, FakeTokens(mailbox.state)) for _ in range(2))
    other = GraphClient(_job(mailbox, user="other@contoso.example"), FakeTokens(mailbox.state))
    try:
        assert first.pacer is second.pacer
        assert other.pacer is not first.pacer
    finally:
        for client in (first, second, other):
            client.close()


def test_a_run_logs_no_request_lines(
    store: Store, mailbox: Microsoft365, caplog: pytest.LogCaptureFixture
) -> None:
    mailbox.state.deliver(MAILBOX, "Inbox/Support", _mail(1))
    with caplog.at_level(logging.DEBUG):  # the root logger: what a --debug run shows
        assert run_job(store, _job(mailbox)).created == 1
    assert not [r for r in caplog.records if r.name.startswith(("httpx", "httpcore"))]
    assert "Mail 1" not in caplog.text and "body 1" not in caplog.text


def _delegated(mailbox: Microsoft365, store: Store, scope: str, **settings: Any) -> JobConfig:
    """A delegated Graph job on a public app, signed in through the device code."""
    app = mailbox.identity.register(public=True)
    mailbox.identity.device_pending = 0
    oauth2 = graph_job_settings(mailbox)["oauth2"] | {
        "client_id": app.client_id,
        "flow": "delegated",
        "client_secret_env": None,
        "scopes": [scope],
    }
    job = _job(mailbox, oauth2={k: v for k, v in oauth2.items() if v is not None}, **settings)
    tokens = job_tokens(job, store)
    assert tokens is not None
    tokens.sign_in.device_sign_in(lambda message: None)  # type: ignore[attr-defined]
    return job


def test_a_delegated_sign_in_reads_a_shared_mailbox(store: Store, mailbox: Microsoft365) -> None:
    state = mailbox.state
    ids = [state.deliver(MAILBOX, "Inbox/Support", _mail(n)) for n in range(2)]
    scope = "https://graph.microsoft.com/Mail.ReadWrite.Shared"
    job = _delegated(mailbox, store, scope, after_processing="mark_seen")
    summary = run_job(store, job)
    assert (summary.failure, summary.created, summary.acknowledged) == (None, 2, 2)
    assert [m.immutable_id for m in state.in_folder(MAILBOX, "Inbox/Support") if m.is_read] == ids


def test_check_names_a_delegated_scope_too_narrow_for_the_action(
    store: Store, mailbox: Microsoft365
) -> None:
    state = mailbox.state
    state.deliver(MAILBOX, "Inbox/Support", _mail(1))
    scope = "https://graph.microsoft.com/Mail.Read"
    job = _delegated(mailbox, store, scope, after_processing="move", move_to="Inbox")
    with pytest.raises(SourceError) as refused:
        check_connection(job, None, job_tokens(job, store))
    assert refused.value.step is Step.CONSENT
    assert refused.value.detail == (
        "after_processing = move needs Mail.ReadWrite (delegated: Mail.ReadWrite.Shared);"
        " the token grants only Mail.Read"
    )
    assert not any(m.is_read for m in state.in_folder(MAILBOX, "Inbox/Support"))


def test_the_fake_changes_ids_on_move_unless_immutable_ids_are_asked_for(
    mailbox: Microsoft365,
) -> None:
    """Why every request carries Prefer: IdType="ImmutableId"."""
    state = mailbox.state
    immutable = state.deliver(MAILBOX, "Inbox/Support", _mail(1))
    regular = state.mailboxes[MAILBOX].messages[immutable].regular_id
    done = state.add_folder(MAILBOX, "Inbox/Done")
    token = state.issue_token()
    context = ssl.create_default_context(cafile=str(mailbox.ca_file))
    base = f"{mailbox.server.url}/v1.0/users/{MAILBOX}/messages"
    with httpx.Client(verify=context, headers={"Authorization": f"Bearer {token}"}) as client:
        moved = client.post(f"{base}/{regular}/move", json={"destinationId": done}).json()
        assert moved["id"] != regular
        assert client.get(f"{base}/{regular}/$value").status_code == 404
        prefer = {"Prefer": 'IdType="ImmutableId"'}
        back = client.post(
            f"{base}/{immutable}/move", json={"destinationId": "inbox"}, headers=prefer
        ).json()
        assert back["id"] == immutable
        assert client.get(f"{base}/{immutable}/$value", headers=prefer).content == _mail(1)
