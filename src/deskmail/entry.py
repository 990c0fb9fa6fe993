"""The process entry point (the `deskmail` executable, `python -m deskmail`):
the cycle collector kept off what the commands import.

CPython's cycle collector walks every object it tracks in each full
collection, and once more as the interpreter exits. Once run-once has
imported SQLAlchemy, pydantic, click and our modules, that is about 125,000
objects, none of which will ever be garbage. On a run-once over an empty
mailbox the collections during the imports cost ~30 ms and the walk at exit
~130 ms: a third of the command's time. So the commands are imported with
the collector off; then everything alive is moved out of its reach
(gc.freeze) and the collector comes back on for whatever the command makes.
Commands that import more when they start (run-once, serve) call imported()
once they have, to freeze that too; and once the command is over, what it
made is frozen as well, skipping the last walk.

This is done only here, in a process deskmail owns. The CLI imported as a
library (tests, click's CliRunner) keeps Python's defaults: a freeze there
would keep the caller's garbage for good.
"""

from __future__ import annotations

import gc

_owned = False  # set when this process was started through run()


def run() -> None:
    global _owned
    _owned = True
    gc.disable()
    from deskmail.cli import main

    imported()
    try:
        main()
    finally:
        # The command is over: the collection at exit would walk what the run made
        # (SQLAlchemy's caches, ...) for nothing.
        gc.freeze()


def imported() -> None:
    """A command has imported what it runs: put it out of the collector's reach.

    Does nothing unless the process was started through run().
    """
    if _owned:
        gc.freeze()
        gc.enable()
