"""MaildirSource on real Maildir folders: keys, exact bytes, and every acknowledgement."""

from __future__ import annotations

import mailbox
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from deskmail.config.models import JobConfig
from deskmail.sources.errors import SourceError, Step
from deskmail.sources.maildir import MaildirSource

# Bytes a parser would "fix": bare LF, 8-bit, a trailing space, no final newline.
RAW = b"From: a@example.com\nSubject: caf\xe9 \n\nline one\r\nline two \xff"


def _maildir(tmp_path: Path) -> Path:
    root = tmp_path / "Maildir"
    mailbox.Maildir(root, create=True)
    return root


def _deliver(root: Path, unique: str, raw: bytes = RAW, *, cur_flags: str | None = None) -> Path:
    """Write a message file as a delivery agent would (new/), or as already seen (cur/)."""
    name = unique if cur_flags is None else f"{unique}:2,{cur_flags}"
    path = root / ("new" if cur_flags is None else "cur") / name
    path.write_bytes(raw)
    return path


def _job(root: Path, after: str = "mark_seen", **extra: str) -> JobConfig:
    return JobConfig(protocol="maildir", path=root, after_processing=after, **extra)


def _files(root: Path, subdir: str) -> list[str]:
    return sorted(p.name for p in (root / subdir).iterdir())


def test_missing_path_fails_at_folder(tmp_path: Path) -> None:
    with pytest.raises(SourceError) as failure:
        MaildirSource(_job(tmp_path / "absent"))
    assert failure.value.step is Step.FOLDER
    assert failure.value.server == str(tmp_path / "absent")


def test_a_plain_directory_is_not_a_maildir(tmp_path: Path) -> None:
    (tmp_path / "plain").mkdir()
    with pytest.raises(SourceError) as failure:
        MaildirSource(_job(tmp_path / "plain"))
    assert failure.value.step is Step.FOLDER
    assert "new" in failure.value.detail


def test_keys_from_new_and_cur_oldest_first_without_info(tmp_path: Path) -> None:
    root = _maildir(tmp_path)
    _deliver(root, "1700000100.M5P1.host")
    _deliver(root, "1700000000.M999999P1.host", cur_flags="F")
    _deliver(root, "1700000000.M10P1.host")  # same second, earlier microsecond
    _deliver(root, "1700000050.M1P1.host", cur_flags="ST")  # trashed: on its way out
    with MaildirSource(_job(root)) as source:
        assert source.list_keys() == [
            "maildir:1700000000.M10P1.host",
            "maildir:1700000000.M999999P1.host",
            "maildir:1700000100.M5P1.host",
        ]
        assert source.info().message_count == 3


def test_fetch_reads_bytes_exactly_as_on_disk_and_skips_unknown(tmp_path: Path) -> None:
    root = _maildir(tmp_path)
    _deliver(root, "1.M1P1.h", RAW)
    _deliver(root, "2.M1P1.h", b"other", cur_flags="S")
    with MaildirSource(_job(root)) as source:
        fetched = list(
            source.fetch(["maildir:2.M1P1.h", "maildir:gone", "imap:x", "maildir:1.M1P1.h"])
        )
    assert [(f.key, f.raw) for f in fetched] == [
        ("maildir:2.M1P1.h", b"other"),
        ("maildir:1.M1P1.h", RAW),
    ]


def test_delete_removes_only_acknowledged_files(tmp_path: Path) -> None:
    root = _maildir(tmp_path)
    _deliver(root, "1.M1P1.h")
    _deliver(root, "2.M1P1.h", cur_flags="")
    _deliver(root, "3.M1P1.h")
    with MaildirSource(_job(root, "delete")) as source:
        source.acknowledge(["maildir:1.M1P1.h", "maildir:2.M1P1.h"])
        source.acknowledge(["maildir:1.M1P1.h"])  # idempotent
        assert source.list_keys() == ["maildir:3.M1P1.h"]
    assert _files(root, "new") == ["3.M1P1.h"]
    assert _files(root, "cur") == []


def test_mark_seen_moves_to_cur_with_s_and_keeps_other_flags(tmp_path: Path) -> None:
    root = _maildir(tmp_path)
    _deliver(root, "1.M1P1.h")
    _deliver(root, "2.M1P1.h", cur_flags="F")
    with MaildirSource(_job(root, "mark_seen")) as source:
        source.acknowledge(["maildir:1.M1P1.h", "maildir:2.M1P1.h"])
        source.acknowledge(["maildir:1.M1P1.h"])  # idempotent
        assert len(source.list_keys()) == 2  # still waiting: the journal decides
    assert _files(root, "new") == []
    assert _files(root, "cur") == ["1.M1P1.h:2,S", "2.M1P1.h:2,FS"]
    assert (root / "cur" / "1.M1P1.h:2,S").read_bytes() == RAW  # renamed, not rewritten
    assert mailbox.Maildir(root, create=False).get_message("1.M1P1.h").get_flags() == "S"


@pytest.mark.parametrize("move_to", ["Done", "INBOX.Done", "INBOX/Done"])
def test_move_into_a_new_maildir_plus_plus_folder(tmp_path: Path, move_to: str) -> None:
    root = _maildir(tmp_path)
    _deliver(root, "1.M1P1.h")
    _deliver(root, "2.M1P1.h", cur_flags="F")
    _deliver(root, "3.M1P1.h")
    with MaildirSource(_job(root, "move", move_to=move_to)) as source:
        source.acknowledge(["maildir:1.M1P1.h", "maildir:2.M1P1.h"])
        assert source.list_keys() == ["maildir:3.M1P1.h"]
    folder = mailbox.Maildir(root, create=False).get_folder("Done")
    assert sorted(folder.keys()) == ["1.M1P1.h", "2.M1P1.h"]
    assert folder.get_bytes("1.M1P1.h") == RAW
    assert folder.get_message("2.M1P1.h").get_flags() == "F"
    assert (root / ".Done" / "maildirfolder").exists()


def test_move_into_an_existing_nested_folder(tmp_path: Path) -> None:
    root = _maildir(tmp_path)
    existing = mailbox.Maildir(root).add_folder("Archive.2025")
    existing.add(b"Subject: older\n\nx\n")
    _deliver(root, "1.M1P1.h")
    with MaildirSource(_job(root, "move", move_to="Archive/2025")) as source:
        source.acknowledge(["maildir:1.M1P1.h"])
    assert len(mailbox.Maildir(root / ".Archive.2025", create=False)) == 2
    assert _files(root, "new") == []


def test_keep_changes_nothing(tmp_path: Path) -> None:
    root = _maildir(tmp_path)
    _deliver(root, "1.M1P1.h")
    with MaildirSource(_job(root, "keep")) as source:
        source.acknowledge(source.list_keys())
    assert _files(root, "new") == ["1.M1P1.h"]


def test_moving_into_the_maildir_itself_is_refused(tmp_path: Path) -> None:
    root = _maildir(tmp_path)
    _deliver(root, "1.M1P1.h")
    with (
        MaildirSource(_job(root, "move", move_to="INBOX")) as source,
        pytest.raises(SourceError) as failure,
    ):
        source.acknowledge(source.list_keys())
    assert failure.value.step is Step.FOLDER
    assert _files(root, "new") == ["1.M1P1.h"]


def test_a_maildir_job_loads_no_network_protocol_library(tmp_path: Path) -> None:
    # The adapters are imported with their first job (sources/factory.py).
    mailbox.Maildir(tmp_path / "box", create=True)
    probe = textwrap.dedent(
        f"""
        import sys
        import deskmail.cli, deskmail.intake.run
        from deskmail.config.models import JobConfig
        from deskmail.sources.factory import open_source

        job = JobConfig(name="Local", protocol="maildir", path={str(tmp_path / "box")!r})
        with open_source(job, None) as source:
            print(source.list_keys())
        print(sorted(name for name in ("imapclient", "imaplib", "poplib") if name in sys.modules))
        """
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.splitlines() == ["[]", "[]"]
