"""deploy/systemd/deskmail.service: systemd accepts it and it is locked down."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNIT = Path(__file__).parents[1] / "deploy" / "systemd" / "deskmail.service"


def systemd_analyze() -> str:
    found = shutil.which("systemd-analyze")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("systemd-analyze is missing (scripts/system-deps.sh installs systemd)")
        pytest.skip("systemd-analyze is not installed")
    return found


def installed_copy(tmp_path: Path) -> Path:
    """The unit with ExecStart pointing at this environment's deskmail (verify checks it exists)."""
    deskmail = Path(sys.executable).with_name("deskmail")
    assert deskmail.exists(), deskmail
    text = UNIT.read_text().replace("/opt/deskmail/bin/deskmail", str(deskmail))
    copy = tmp_path / UNIT.name
    copy.write_text(text)
    return copy


def test_systemd_analyze_verify_accepts_the_unit_without_a_warning(tmp_path: Path) -> None:
    result = subprocess.run(
        [systemd_analyze(), "verify", str(installed_copy(tmp_path))],
        capture_output=True,
        text=True,
    )
    # verify exits 0 on an unknown key and only warns: a warning is a failure here.
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_the_unit_is_a_notify_service_with_a_watchdog_and_a_dedicated_user() -> None:
    settings = dict(
        line.split("=", 1)
        for line in UNIT.read_text().splitlines()
        if "=" in line and not line.startswith("#")
    )
    assert settings["Type"] == "notify"
    assert int(settings["WatchdogSec"]) > 0
    assert settings["User"] not in ("root", "")
    assert settings["ExecReload"].endswith("-HUP $MAINPID")
    assert settings["ProtectSystem"] == "strict"
    assert settings["NoNewPrivileges"] == "yes"


def test_systemd_rates_the_units_exposure_as_ok(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            systemd_analyze(),
            "security",
            "--offline=true",
            "--no-pager",
            str(installed_copy(tmp_path)),
        ],
        capture_output=True,
        text=True,
    )
    said = result.stdout + result.stderr
    level = re.search(r"Overall exposure level for \S+: ([\d.]+) (\w+)", said)
    assert level is not None, result.stdout + result.stderr
    # systemd's scale: 0-10, where "OK" is below 2 and a default service scores 9.6.
    assert float(level.group(1)) < 2.0, result.stdout
