"""The package says what it is (open-source under the Apache License 2.0, its text shipped)
and what its import does to the process."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

ROOT = Path(__file__).parents[1]


def test_the_package_declares_apache_2_and_ships_its_text() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["license"] == "Apache-2.0"
    assert project["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.split()[:4] == ["Apache", "License", "Version", "2.0,"]
    assert "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION" in text
    assert "END OF TERMS AND CONDITIONS" in text


def test_httpx_comes_without_its_command_line_tool() -> None:
    # The test environment has click, rich and pygments (schemathesis brings rich), so
    # without deskmail's marker httpx's import would load all three.
    probe = textwrap.dedent(
        """
        import sys
        import deskmail
        import httpx
        print(sorted(name for name in ("rich", "pygments", "httpx._main") if sys.modules.get(name)))
        print(httpx.Client.__name__)
        """
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.splitlines() == ["[]", "Client"]
    import importlib.util

    assert importlib.util.find_spec("rich") is not None  # else this test shows nothing


def test_requests_comes_without_guessing_charsets() -> None:
    # msal imports requests: its charset guesser stays unloaded, requests warns of
    # nothing, and a JSON answer without a charset (UTF-8) still reads right.
    probe = textwrap.dedent(
        """
        import sys, warnings
        warnings.simplefilter("default")
        import deskmail
        import msal, requests
        answer = requests.models.Response()
        answer._content = '{"name": "Zoë"}'.encode()
        print(sys.modules.get("charset_normalizer"), answer.json()["name"], answer.text)
        """
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.splitlines() == ['None Zoë {"name": "Zoë"}']
    assert done.stderr == ""
