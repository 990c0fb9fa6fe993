"""The parsing worker of run-once (intake/parse_ahead.py): same results, no orphans."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from email.message import EmailMessage
from pathlib import Path

import pytest

from deskmail.intake import parse_ahead
from deskmail.intake.parse_ahead import ParseAhead, prepare
from deskmail.sources.base import FetchedMessage

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the worker is Linux-only")


def _mail(n: int, attachment: bytes = b"") -> bytes:
    msg = EmailMessage()
    msg["From"] = f"User {n} <user{n}@example.com>"
    msg["Subject"] = f"request {n}"
    msg["Message-ID"] = f"<{n}@example.com>"
    msg.set_content(f"body {n}\n")
    if attachment:
        msg.add_attachment(attachment, maintype="application", subtype="pdf", filename="a.pdf")
    return msg.as_bytes()


def _batch() -> list[FetchedMessage]:
    return [
        FetchedMessage(f"k{n}", _mail(n, os.urandom(30_000) if n % 3 == 0 else b""))
        for n in range(7)
    ]


def test_worker_results_equal_parsing_here(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parse_ahead, "INLINE_LIMIT", 20_000)  # the mails with a file stay here
    batch = _batch()
    ahead = ParseAhead(enabled=True)
    try:
        future = ahead.submit(batch)
        assert future is not None
        assert len(future.result()) == 4  # only the small ones went to the worker
        assert ahead.collect(batch, future) == [prepare(f.raw, None) for f in batch]
    finally:
        ahead.close()


def test_disabled_parses_here() -> None:
    batch = _batch()
    ahead = ParseAhead(enabled=False)
    assert ahead.submit(batch) is None
    assert ahead.collect(batch, None) == [prepare(f.raw, None) for f in batch]


def test_a_dead_worker_costs_time_not_messages(caplog: pytest.LogCaptureFixture) -> None:
    batch = _batch()
    ahead = ParseAhead(enabled=True)
    try:
        ahead.submit(batch[:1]).result()  # type: ignore[union-attr]  # the worker is up
        pool = ahead._pool
        assert pool is not None
        for process in list(pool._processes.values()):  # type: ignore[union-attr]
            os.kill(process.pid, signal.SIGKILL)
        time.sleep(0.3)
        future = ahead.submit(batch)
        assert ahead.collect(batch, future) == [prepare(f.raw, None) for f in batch]
        assert "parsing worker" in caplog.text
        assert ahead.submit(batch) is None  # from now on, parsed here
    finally:
        ahead.close()


_KILLED_PARENT = """
import sys, time
from deskmail.intake.parse_ahead import ParseAhead
from deskmail.sources.base import FetchedMessage
ahead = ParseAhead(enabled=True)
ahead.submit([FetchedMessage("k", b"Subject: x\\r\\n\\r\\nbody\\r\\n")]).result()
print(*(p.pid for p in ahead._pool._processes.values()), flush=True)
time.sleep(60)
"""


def test_the_worker_dies_with_a_killed_parent() -> None:
    """Else it would keep the parent's stdout open: whoever waits for that output hangs."""
    parent = subprocess.Popen(
        [sys.executable, "-c", _KILLED_PARENT], stdout=subprocess.PIPE, text=True
    )
    try:
        assert parent.stdout is not None
        worker = int(parent.stdout.readline())
        os.kill(worker, 0)  # alive
        parent.kill()
        parent.wait(timeout=10)
        assert parent.stdout.read() == ""  # EOF: nobody holds the pipe any more
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                os.kill(worker, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)
        pytest.fail(f"worker {worker} outlived its killed parent")
    finally:
        parent.kill()


_MAIN_SCRIPT = """
import sys
from pathlib import Path
if __name__ != "__main__":  # a worker importing this script as its __mp_main__
    Path(sys.argv[1] if len(sys.argv) > 1 else {marker!r}).write_text(__name__)
else:
    from deskmail.intake.parse_ahead import ParseAhead
    from deskmail.sources.base import FetchedMessage
    ahead = ParseAhead(enabled=True)
    batch = [FetchedMessage("k", b"Subject: x\\r\\n\\r\\nbody\\r\\n")]
    print(ahead.collect(batch, ahead.submit(batch))[0].message.subject)
    ahead.close()
"""


def test_the_worker_does_not_import_the_parents_main_module(tmp_path: Path) -> None:
    """Under `python -m deskmail` that would be the whole CLI in the worker."""
    marker = tmp_path / "imported"
    script = tmp_path / "main_script.py"
    script.write_text(_MAIN_SCRIPT.format(marker=str(marker)))
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "x"  # parsed in the worker
    assert not marker.exists()


def test_without_the_worker_multiprocessing_is_never_imported() -> None:
    probe = (
        "import sys, deskmail.cli, deskmail.intake.run\n"
        "from deskmail.intake.parse_ahead import ParseAhead\n"
        "from deskmail.sources.base import FetchedMessage\n"
        "ahead = ParseAhead(enabled=False)\n"
        "batch = [FetchedMessage('1', b'From: a@example.com\\r\\n\\r\\nhi\\r\\n')]\n"
        "prepared = ahead.collect(batch, ahead.submit(batch))\n"
        "print(prepared[0].message.text.strip(), 'multiprocessing' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["hi", "False"]
