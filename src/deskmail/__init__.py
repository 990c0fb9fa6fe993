"""deskmail: turns mailboxes into service-desk tickets, exactly once."""

import sys
import warnings

__version__ = "0.1.0"

# httpx's package imports its command-line tool whenever click, rich and pygments are
# all installed (rich often is): some 70 modules in every process that speaks
# HTTPS, for a command deskmail never runs (bench/README.md has what they weigh).
# Marked absent, the import fails and httpx goes on without it, as it does where
# those packages are missing.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]

# requests (which msal imports, and exchangelib uses) guesses the charset of a body
# whose server names none with charset_normalizer, compiled modules loaded in every
# Graph and EWS run for bodies deskmail never reads as guessed text (JSON is
# UTF-8, and exchangelib parses XML from bytes). Marked absent, requests takes UTF-8;
# the warning it gives about that at its import is for its own users, not ours.
sys.modules.setdefault("charset_normalizer", None)  # type: ignore[arg-type]
warnings.filterwarnings(
    "ignore", message="Unable to find acceptable character detection", module="requests"
)
