"""Accessibility checks with axe-core (vendored: vendor/axe-core-4.14.1.min.js, npm
axe-core 4.14.1): zero WCAG 2 A/AA violations on a page.

The page must come from `web.page(role, bypass_csp=True)`: axe is injected as a
script, which the application's Content-Security-Policy rightly forbids.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

AXE = Path(__file__).resolve().parent / "vendor" / "axe-core-4.14.1.min.js"


def violations(page: Any) -> list[str]:
    page.add_script_tag(path=str(AXE))
    found = page.evaluate(
        "async () => (await axe.run(document, {runOnly: ['wcag2a', 'wcag2aa']})).violations"
    )
    return [
        f"{violation['id']} ({violation['impact']}): {violation['help']}: "
        + "; ".join(node["target"][0] for node in violation["nodes"][:3])
        for violation in found
    ]


def assert_accessible(page: Any) -> None:
    found = violations(page)
    assert found == [], f"{page.url}:\n" + "\n".join(found)
