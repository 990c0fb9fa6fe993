"""Large attachments decoded into files (parse/spool.py) and adopted by the blob store."""

from __future__ import annotations

import base64
import hashlib
import mailbox
import os
import time
import tracemalloc
from dataclasses import replace
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import select

from deskmail.config.fate import Fate
from deskmail.config.models import JobConfig
from deskmail.intake import process
from deskmail.intake.run import run_job
from deskmail.parse import transfer
from deskmail.parse.parser import parse_message
from deskmail.parse.spool import Spool
from deskmail.store.blobs import BlobStore
from deskmail.store.engine import Store
from deskmail.store.models import Attachment, IntakeRecord
from tests.support.jobs import maildir_job

PNG = b"\x89PNG\r\n\x1a\n" + b"\0\0\0\rIHDR"


def _mail(subject: str, files: list[tuple[str, bytes]], *, maintype: str = "application") -> bytes:
    msg = EmailMessage()
    msg["From"] = "Alice <alice@example.com>"
    msg["To"] = "support@example.com"
    msg["Subject"] = subject
    msg["Message-ID"] = f"<{subject.replace(' ', '.')}@client.example.com>"
    msg.set_content("see attached\n")
    for name, data in files:
        msg.add_attachment(data, maintype=maintype, subtype="octet-stream", filename=name)
    return msg.as_bytes()


def _encoded(data: bytes, width: int, line_end: bytes) -> bytes:
    text = base64.b64encode(data)
    return line_end.join(text[i : i + width] for i in range(0, len(text), width))


def _raw_with_body(encoded: bytes, line_end: bytes = b"\r\n") -> bytes:
    head = (
        b"From: alice@example.com\r\nSubject: file\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n'
        b"Content-Type: text/plain\r\n\r\nsee attached\r\n--b\r\n"
        b'Content-Type: application/octet-stream; name="f.bin"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\n"
    ).replace(b"\r\n", line_end)
    return head + encoded + line_end + b"--b--" + line_end


def _digest(data: bytes) -> str:
    # Compared by digest: a failing comparison of megabytes would take pytest minutes to show.
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def spool(tmp_path: Path) -> Spool:
    blobs = BlobStore(tmp_path / "blobs")
    return Spool(blobs.spool_directory(), min_bytes=64 * 1024)


def test_a_large_attachment_is_decoded_into_a_file_and_hashed(spool: Spool) -> None:
    data = PNG + os.urandom(300_000)
    raw = _mail("big", [("shot.bin", data)])
    message = parse_message(raw, spool)
    (attachment,) = message.attachments
    assert attachment.spooled is not None and attachment.data == b""
    assert _digest(Path(attachment.spooled.path).read_bytes()) == _digest(data)
    assert Path(attachment.spooled.path).parent == Path(spool.directory)
    assert (attachment.size, attachment.sha256) == (len(data), hashlib.sha256(data).hexdigest())
    # Sniffed from the file's first bytes, as an attachment held in memory is.
    assert (attachment.media_type, attachment.declared_type) == (
        "image/png",
        "application/octet-stream",
    )
    # Apart from where the bytes are, the same message as parsed in memory.
    plain = parse_message(raw)
    assert plain.attachments[0].spooled is None
    assert _digest(plain.attachments[0].data) == _digest(data)
    assert replace(attachment, spooled=None) == replace(plain.attachments[0], data=b"")
    assert replace(message, attachments=plain.attachments) == plain


@pytest.mark.parametrize(("width", "line_end"), [(76, b"\r\n"), (70, b"\n"), (63, b"\r\n")])
def test_any_line_width_decodes_exactly(
    spool: Spool, width: int, line_end: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Chunks that cut groups of four and lines anywhere: the carried rest must join up.
    monkeypatch.setattr(transfer, "CHUNK", 4099)
    for size in (100_000, 100_001, 100_002):
        data = os.urandom(size)
        message = parse_message(_raw_with_body(_encoded(data, width, line_end), line_end), spool)
        (attachment,) = message.attachments
        assert attachment.spooled is not None, (width, size)
        assert _digest(Path(attachment.spooled.path).read_bytes()) == _digest(data)


def test_what_is_not_one_clean_blob_is_decoded_in_memory(spool: Spool) -> None:
    first, second = os.urandom(50_000), os.urandom(50_001)
    # Two blobs glued together, each with its padding: the careful decoder keeps both.
    glued = _encoded(first + b"x", 76, b"\r\n") + b"\r\n" + _encoded(second, 76, b"\r\n")
    (attachment,) = parse_message(_raw_with_body(glued), spool).attachments
    assert attachment.spooled is None
    assert _digest(attachment.data) == _digest(first + b"x" + second)
    # A blob cut short (a length no encoder writes) is found at its end: the file goes.
    truncated = _encoded(os.urandom(90_000), 76, b"\r\n")[:-1]
    raw = _raw_with_body(truncated)
    (attachment,) = parse_message(raw, spool).attachments
    assert attachment.spooled is None
    assert _digest(attachment.data) == _digest(parse_message(raw).attachments[0].data)
    assert len(attachment.data) == 90_000 - 1  # what the last three characters held
    assert os.listdir(spool.directory) == []


def test_bodies_small_files_and_attached_mails_stay_in_memory(spool: Spool) -> None:
    small = parse_message(_mail("small", [("a.bin", os.urandom(20_000))]), spool)
    assert small.attachments[0].spooled is None
    text = "line of text\n" * 10_000
    body = EmailMessage()
    body["From"] = "alice@example.com"
    body.set_content(text, cte="base64")
    assert parse_message(body.as_bytes(), spool).text == text
    report = EmailMessage()
    report["From"] = "mailer-daemon@example.com"
    report.set_content("undeliverable\n")
    report.add_attachment(
        ("Message-ID: <x@y>\r\n" + "X-Padding: " + "p" * 70 + "\r\n") * 2000,
        subtype="rfc822-headers",
        cte="base64",
    )
    headers = parse_message(report.as_bytes(), spool).attachments[0]
    assert headers.media_type == "text/rfc822-headers" and headers.spooled is None
    assert headers.data.startswith(b"Message-ID: <x@y>")
    assert os.listdir(spool.directory) == []


def test_an_attachment_that_cannot_be_spooled_is_decoded_in_memory(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = os.urandom(300_000)
    gone = Spool(str(tmp_path / "removed"), min_bytes=64 * 1024)  # as on a full or lost disk
    message = parse_message(_mail("big", [("a.bin", data)]), gone)
    (attachment,) = message.attachments
    assert attachment.spooled is None and _digest(attachment.data) == _digest(data)
    assert not any("parser failed" in defect for defect in message.defects)
    assert "not spooled" in caplog.text


def test_the_decoded_file_is_never_held_in_memory(spool: Spool) -> None:
    data = os.urandom(4 * 1024 * 1024)
    raw = _mail("big", [("big.bin", data)])
    tracemalloc.start()
    try:
        message = parse_message(raw, spool)
        _size, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert message.attachments[0].spooled is not None
    # A few chunks of base64 and their decoded bytes at most, not another 4 MiB.
    assert peak < len(data) // 2, peak


def test_adopt_renames_the_file_and_keeps_a_stored_blob(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path / "blobs")
    spool = Spool(blobs.spool_directory(), min_bytes=1024)
    data = os.urandom(200_000)
    first, second = (
        parse_message(_mail(f"m{n}", [("f.bin", data)]), spool).attachments[0] for n in (1, 2)
    )
    assert first.spooled is not None and second.spooled is not None
    ref = blobs.adopt(first.spooled.path, first.sha256, first.spooled.size)
    assert _digest(blobs.path(ref.sha256).read_bytes()) == _digest(data)
    assert ref.size == len(data)
    assert not Path(first.spooled.path).exists()  # renamed, not copied
    # The same content again (another mail, or a batch retried one by one).
    for again in (second, first):
        assert again.spooled is not None
        assert blobs.adopt(again.spooled.path, again.sha256, again.spooled.size) == ref
    assert os.listdir(spool.directory) == []
    outside = tmp_path / "elsewhere"
    outside.write_bytes(data)
    with pytest.raises(ValueError, match="not a file of this blob store's spool"):
        blobs.adopt(str(outside), first.sha256, len(data))


def test_sweep_removes_only_old_temporary_files(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path / "blobs")
    directory = Path(blobs.spool_directory())
    old, new = directory / "spool-old", directory / "blob-new.tmp"
    for path in (old, new):
        path.write_bytes(b"x")
    two_days_ago = time.time() - 2 * 86400
    os.utime(old, (two_days_ago, two_days_ago))
    assert blobs.sweep_temporary() == 1
    assert sorted(os.listdir(directory)) == ["blob-new.tmp"]


@pytest.fixture
def big_job(tmp_path: Path) -> JobConfig:
    return maildir_job(tmp_path / "mailbox", fetch_batch=2, ignored_attachments="*.log")


def _spooled_left(store: Store) -> list[str]:
    return [name for name in os.listdir(store.blobs.spool_directory()) if name.startswith("spool")]


@pytest.mark.parametrize("parse_worker", [False, True])
def test_intake_stores_spooled_files_and_leaves_none_behind(
    store: Store, big_job: JobConfig, parse_worker: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    box = mailbox.Maildir(big_job.path, create=True)
    files = {n: os.urandom(1_200_000 + n) for n in range(5)}
    for n, data in files.items():
        box.add(_mail(f"request {n}", [(f"report{n}.pdf", data), (f"trace{n}.log", data[::-1])]))
    # The third mail fails in its batch: the batch is rolled back after the first
    # mail's file was adopted, and taken in one by one; the third is quarantined.
    real = process.apply_plan

    def explode(session, batch, blobs, context, content, plan):  # type: ignore[no-untyped-def]
        if content.message.subject == "request 2":
            raise RuntimeError("simulated failure in apply")
        return real(session, batch, blobs, context, content, plan)

    monkeypatch.setattr(process, "apply_plan", explode)
    summary = run_job(store, big_job, parse_worker=parse_worker)
    assert (summary.fetched, summary.created, summary.quarantined) == (5, 4, 1)
    with store.session() as s:
        rows = list(s.scalars(select(Attachment)))
        quarantined = s.scalars(
            select(IntakeRecord).where(IntakeRecord.outcome == Fate.QUARANTINED)
        ).one()
    files_kept = [r for r in rows if r.filename.startswith("report")]
    assert sorted(r.filename for r in files_kept) == [f"report{n}.pdf" for n in (0, 1, 3, 4)]
    # The quarantine's error event carries the raw mail; the ignored *.log files nobody.
    assert sorted(r.filename for r in rows if r not in files_kept) == ["request 2.eml"]
    for row in files_kept:
        expected = files[int(row.filename[6])]
        assert row.size == len(expected)
        assert _digest(store.blobs.path(row.sha256).read_bytes()) == _digest(expected)
    # The quarantined mail keeps its raw bytes; its decoded files and the ignored
    # *.log files are gone with their batches.
    assert quarantined.raw_sha256 is not None and store.blobs.exists(quarantined.raw_sha256)
    assert _spooled_left(store) == []


def test_a_run_with_mail_removes_what_a_crash_left(store: Store, big_job: JobConfig) -> None:
    directory = Path(store.blobs.spool_directory())
    left = directory / "spool-from-a-killed-run"
    left.write_bytes(b"half a file")
    two_days_ago = time.time() - 2 * 86400
    os.utime(left, (two_days_ago, two_days_ago))
    box = mailbox.Maildir(big_job.path, create=True)
    run_job(store, big_job)  # nothing new: nothing to spool, nothing swept
    assert left.exists()
    box.add(_mail("request", [("report.pdf", os.urandom(2_000_000))]))
    assert run_job(store, big_job).created == 1
    assert not left.exists()
    assert _spooled_left(store) == []
