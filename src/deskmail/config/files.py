"""Which kind of configuration file a path holds, read accordingly.

Every command's --config takes a deskmail TOML file or an Octopus
MailIntegration XML file; an XML file is run as `deskmail octopus` runs it, so
that every command looks at what that command made.
"""

from __future__ import annotations

import codecs
import shlex
from pathlib import Path

from deskmail.config.loader import load_config
from deskmail.config.models import DeskmailConfig

DEFAULT_TEAM = "1"  # Octopus: "By default, the IT team is 1"; before 3.8 it had no /Team
# An XML file's first character in the encodings Octopus files come in; no TOML file starts so.
_XML_STARTS = (b"<", b"\xff\xfe<", b"\xfe\xff\x00<", b"<\x00", b"\x00<")


def load_configuration(path: Path | str) -> DeskmailConfig:
    """A deskmail TOML file, or an Octopus XML file for team 1 with its database beside it
    (base_config; DESKMAIL_DATABASE_URL wins). Raises ConfigError naming file, key, problem."""
    path = Path(path)
    if not is_octopus_file(path):
        return load_config(path)
    from deskmail.config.octopus import read_octopus_xml, to_config

    return to_config(read_octopus_xml(path), DEFAULT_TEAM)


def command_line(config_file: Path | None, *words: str) -> str:
    """A deskmail command line that works wherever it is run: the configuration it is
    for (TOML or Octopus XML) named with --config, quoted for a POSIX shell."""
    config = ["--config", str(config_file.absolute())] if config_file is not None else []
    return shlex.join(["deskmail", *words, *config])


def is_octopus_file(path: Path) -> bool:
    """By its name (.xml) or by its first character."""
    if path.suffix.casefold() == ".xml":
        return True
    try:
        with path.open("rb") as file:
            head = file.read(64)
    except OSError:
        return False  # the TOML loader says what is wrong with it
    return head.removeprefix(codecs.BOM_UTF8).lstrip().startswith(_XML_STARTS)
