"""The vendored front-end files are the pinned ones, and the pages load them."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from deskmail.web.app import STATIC_DIR
from deskmail.web.templating import TEMPLATES_DIR

# sha256 of the files as npm ships them (static/vendor/README.md says from where).
PINNED = {
    "vendor/htmx-2.0.11.min.js": "d6fdc75f204e6bdefa99b69bf1e6d4ac69b8a364f77929f45c13476b4000f717",
    "vendor/swagger-ui-5.36.0/swagger-ui-bundle.js": (
        "b164c5a22535e40dae08c00271674a67e437ec195098c55fcedf8ffac7ac3c88"
    ),
    "vendor/swagger-ui-5.36.0/swagger-ui.css": (
        "7eb9f5a125e4bc9b3f0b71869b66d1a3d7c501f972f53d44ef91c2ae6c5bda5e"
    ),
}
AXE = Path(__file__).resolve().parent / "vendor" / "axe-core-4.14.1.min.js"


def test_vendored_files_are_the_pinned_versions() -> None:
    for name, sha256 in PINNED.items():
        assert hashlib.sha256((STATIC_DIR / name).read_bytes()).hexdigest() == sha256, name
    assert (STATIC_DIR / "vendor/htmx-2.0.11.min.js").read_text().count('version:"2.0.11"') == 1
    assert hashlib.sha256(AXE.read_bytes()).hexdigest() == (
        "29348999450cdf2849a8e70b7912fc2da85a849da39c0d0d5394f51d4a9ed95c"
    )


def test_the_layout_loads_the_pinned_htmx_and_no_inline_script() -> None:
    base = (TEMPLATES_DIR / "base.html").read_text(encoding="utf-8")
    assert "vendor/htmx-2.0.11.min.js" in base
    for template in TEMPLATES_DIR.glob("*.html"):
        text = template.read_text(encoding="utf-8")
        assert not re.search(r"<script(?![^>]*\bsrc=)", text), template.name
        assert " style=" not in text and "<style" not in text, template.name
