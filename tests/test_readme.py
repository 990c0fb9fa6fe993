"""The configuration examples in the README load as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from deskmail.config.loader import load_config

README = Path(__file__).parents[1] / "README.md"
BLOCKS = re.findall(r"```toml\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


def test_readme_has_config_examples() -> None:
    assert len(BLOCKS) >= 2


@pytest.mark.parametrize("block", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_readme_config_example_loads(
    block: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DESKMAIL_SUPPORT_PASSWORD", "x")
    monkeypatch.delenv("DESKMAIL_DATABASE_URL", raising=False)
    path = tmp_path / "deskmail.toml"
    path.write_text(block, encoding="utf-8")
    config = load_config(path)
    assert config.jobs
