"""The layers import downwards only: config/ is the bottom, and classify/ decides a mail's
fate without the store (it reads it through Protocols that apply/ implements)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[1] / "src" / "deskmail"

# What each layer may import from deskmail, and from outside it (None: anything).
ALLOWED: dict[str, tuple[set[str], set[str] | None]] = {
    "config": ({"config"}, None),
    "classify": ({"config", "parse", "preprocess", "classify"}, None),
}
# Not even for typing: the store's engine and tables stay out of the decisions.
FORBIDDEN_OUTSIDE = {"classify": {"sqlalchemy"}}


def imported(path: Path) -> list[tuple[int, str]]:
    """Every module the file imports, at any depth (in functions and TYPE_CHECKING too)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_a_layer_imports_only_what_lies_below_it(layer: str) -> None:
    allowed, _ = ALLOWED[layer]
    forbidden = FORBIDDEN_OUTSIDE.get(layer, set())
    wrong = []
    for path in sorted((PACKAGE / layer).rglob("*.py")):
        for line, module in imported(path):
            top, _, rest = module.partition(".")
            where = f"{path.relative_to(PACKAGE)}:{line} imports {module}"
            if (top == "deskmail" and rest.partition(".")[0] not in allowed) or top in forbidden:
                wrong.append(where)
    assert wrong == []


def test_the_check_sees_an_upward_import(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from deskmail.store.models import Ticket\n")
    assert imported(module) == [(2, "deskmail.store.models")]


def test_loading_a_configuration_runs_no_stage_code() -> None:
    # A lazy import inside a validator would escape the reading above; this sees it.
    probe = (
        "import sys; from deskmail.config.loader import load_config;"
        "print(sorted(m for m in sys.modules if m.startswith('deskmail.')"
        " and not m.startswith('deskmail.config')))"
    )
    ran = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert ran.stdout.strip() == "[]"
