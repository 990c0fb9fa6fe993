"""entry.py: a deskmail process freezes what its commands import; the CLI as a library does not."""

from __future__ import annotations

import gc
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from deskmail.cli import main

# Reports, as the process exits, what the collector can still reach.
_PROBE = """
import atexit, gc, importlib, json, os, sys

def report():
    tracked = len(gc.get_objects())  # first: what follows makes objects of its own
    module, _, name = os.environ["PROBE_LATE_IMPORT"].partition(":")
    late = getattr(importlib.import_module(module), name)  # imported by the command itself
    from deskmail.store.models import Ticket  # imported with the commands
    reachable = {id(o) for o in gc.get_objects()}
    print(json.dumps({
        "enabled": gc.isenabled(),
        "frozen": gc.get_freeze_count(),
        "tracked": tracked,
        "late_import_reachable": id(late) in reachable,
        "ticket_class_reachable": id(Ticket) in reachable,
    }), file=sys.stderr)

atexit.register(report)
sys.argv = ["deskmail", *sys.argv[1:]]
from deskmail.entry import run
run()
"""


def _sample(tmp_path: Path) -> str:
    target = tmp_path / "sample"
    result = CliRunner().invoke(main, ["sample", "init", "--dir", str(target)])
    assert result.exit_code == 0, result.output
    return str(target / "deskmail.toml")


def _probe(late_import: str, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PROBE_LATE_IMPORT": late_import}
    command = [sys.executable, "-c", _PROBE, *args]
    return subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _state(stderr: str) -> dict[str, Any]:
    state: dict[str, Any] = json.loads(stderr.strip().splitlines()[-1])
    return state


def _assert_frozen_after_imports(state: dict[str, Any]) -> None:
    assert state["enabled"] is True  # the run's own garbage is still collected
    assert state["frozen"] > 50_000  # SQLAlchemy, pydantic and our modules
    assert state["ticket_class_reachable"] is False
    assert state["late_import_reachable"] is False  # frozen after the command's own imports
    assert state["tracked"] < 1_000  # what the command made, frozen once it was over


def test_run_once_process_freezes_its_imports_and_collects_afterwards(tmp_path: Path) -> None:
    probe = _probe("deskmail.intake.run:run_job", "run-once", "--config", _sample(tmp_path))
    stdout, stderr = probe.communicate(timeout=120)
    assert probe.returncode == 0, stderr
    assert "created 9" in stdout
    _assert_frozen_after_imports(_state(stderr))


def test_serve_process_freezes_its_imports(tmp_path: Path) -> None:
    late = "deskmail.daemon.supervisor:serve"
    probe = _probe(late, "-v", "serve", "--config", _sample(tmp_path))
    assert probe.stderr is not None
    watchdog = threading.Timer(60, probe.kill)  # a daemon that never logs fails, not hangs
    watchdog.start()
    try:
        for line in probe.stderr:  # until the first pass over the sample mailbox
            if "created 9" in line:
                break
        probe.send_signal(signal.SIGTERM)
        _stdout, stderr = probe.communicate(timeout=60)
    finally:
        watchdog.cancel()
        probe.kill()
    assert probe.returncode == 0, stderr
    _assert_frozen_after_imports(_state(stderr))


def test_cli_as_a_library_keeps_the_collector_as_it_was(tmp_path: Path) -> None:
    config = _sample(tmp_path)
    frozen = gc.get_freeze_count()
    result = CliRunner().invoke(main, ["run-once", "--config", config])
    assert result.exit_code == 0, result.output
    assert gc.isenabled()
    assert gc.get_freeze_count() == frozen
