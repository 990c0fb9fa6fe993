"""The [web] table: defaults, paths, and refusals that name the file, key and problem."""

from __future__ import annotations

import re
from pathlib import Path
from textwrap import dedent

import pytest

from deskmail.config import ConfigError, load_config
from deskmail.config.models import DEFAULT_WEB_PORT, WebConfig

SAMPLE = Path(__file__).resolve().parents[1] / "src" / "deskmail" / "sample" / "deskmail.toml"


def _load(tmp_path: Path, web: str) -> WebConfig | None:
    path = tmp_path / "deskmail.toml"
    path.write_text(dedent(web), encoding="utf-8")
    return load_config(path).web


def _refused(tmp_path: Path, web: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, web)
    return str(caught.value).splitlines()


def test_no_table_means_no_web_in_serve_and_defaults_in_it(tmp_path: Path) -> None:
    assert _load(tmp_path, "") is None
    web = _load(tmp_path, "[web]\n")
    assert web is not None and web.enabled
    assert (web.listen, web.port, web.uses_tls) == ("127.0.0.1", DEFAULT_WEB_PORT, False)


def test_tls_files_are_taken_from_the_file_folder(tmp_path: Path) -> None:
    web = _load(tmp_path, '[web]\ntls_certificate = "tls/c.pem"\ntls_key = "tls/k.pem"\n')
    assert web is not None and web.uses_tls
    assert web.tls_certificate == tmp_path / "tls" / "c.pem"


def test_bad_values_are_named(tmp_path: Path) -> None:
    path = tmp_path / "deskmail.toml"
    problems = _refused(
        tmp_path,
        """
        [web]
        listen = "localhost:8080"
        port = 70000
        trusted_proxies = ["10.0.0.0/8", "proxy.example.com"]
        tls_certificate = "c.pem"
        sesion_idle_minutes = 5
        """,
    )
    text = "\n".join(problems)
    assert f"{path}: web.listen: must be an IP address" in text
    assert f"{path}: web.port:" in text
    assert f"{path}: web.trusted_proxies[1]: must be an IP address or network" in text
    assert re.search(r"web\.sesion_idle_minutes: .*session_idle_minutes", text)
    more = _refused(tmp_path, '[web]\ntls_certificate = "c.pem"\n')
    assert more == [f"{path}: web.tls_key: is required when the other TLS file is set"]


def test_the_sample_documents_every_web_key() -> None:
    text = SAMPLE.read_text(encoding="utf-8")
    shown = set(re.findall(r"^# (\w+) =", text, re.MULTILINE))
    assert set(WebConfig.model_fields) - {"enabled"} <= shown
