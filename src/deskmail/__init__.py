"""deskmail: turns mailboxes into service-desk tickets, exactly once."""

import sys

__version__ = "0.1.0"

# httpx's package imports its command-line tool whenever click, rich and pygments are
# all installed (rich often is): some 70 modules and 3.5 MiB in every process that
# speaks HTTPS, for a command deskmail never runs. Marked absent, the import fails
# and httpx goes on without it, as it does where those packages are missing.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
