"""Octopus MailIntegration XML files, read as Octopus documents them, as deskmail jobs.

An Octopus administrator keeps the XML file and the command line they have
(`deskmail octopus ...`, see cli/octopus.py) or turns the file into a TOML job
once (`deskmail config import-octopus`). Where Octopus is strict for no good
reason we are lenient: tag names in any case (the document's own example opens
<MailIntegration> and closes </mailIntegration>), spaces around values,
accented letters written as themselves or as HTML entities such as &eacute;.
Every problem names the file, the line and the tag.
"""

from __future__ import annotations

import codecs
import contextlib
import difflib
import html.entities
import logging
import re
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from xml.parsers import expat

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from deskmail.config.errors import ConfigError, Issue
from deskmail.config.models import (
    DatabaseConfig,
    DeskmailConfig,
    JobConfig,
    LoggingConfig,
    Processor,
    Protocol,
    Security,
    StorageConfig,
)
from deskmail.config.toml_text import toml_value

log = logging.getLogger("deskmail.config")

ROOT_TAG = "MailIntegration"
SERVER_TAG = "server"
# deskmail's own tags, optional: what Octopus keeps in its Tools > Options (the SMTP
# server that sends the automatic reply to a denied request) and what it does not have.
_SMTP_TAGS = (
    ("smtpServer", "server"),
    ("smtpPort", "port"),
    ("smtpSecurity", "security"),
    ("smtpUserName", "user"),
    ("smtpPassword", "password"),
    ("smtpFromAddress", "from_address"),
    ("smtpFromName", "from_name"),
)
_EXTENSION_TAGS = (
    *_SMTP_TAGS,
    ("caFile", "ca_file"),  # Octopus relies on the machine's store; a PEM file next to it
    ("failureNoteMinutes", "failure_note_minutes"),
)
# Every documented tag, as the document spells it, by its lower-case name.
_ROOT_TAGS = {
    name.lower(): name
    for name in (
        "messageProcessorTypeName",
        SERVER_TAG,
        "incidentFallbackSiteName",
        "incidentFallbackUserLogon",
        "incidentGroup",
        "incidentSource",
        "ignoredAttachments",
        "CreateNewRequests",
        "IncludeRawMessageAsAttachment",
        "group",
        "assignee",
        *(tag for tag, _key in _EXTENSION_TAGS),
    )
}
_SERVER_TAGS = {
    name.lower(): name
    for name in ("gatewayTypeName", "serverName", "port", "useSsl", "userName", "password")
}
_KNOWN_TAGS = {ROOT_TAG.lower(): ROOT_TAG, **_ROOT_TAGS, **_SERVER_TAGS}

# .NET type names ("Namespace.Type, Assembly"), matched on the simple type name.
_PROCESSORS = {
    "enduserincidentmailmessageprocessor": Processor.INCIDENT,
    "eventmailmessageprocessor": Processor.EVENT,
}
_POP3_GATEWAY = "SidePopMailboxGateway"
_XML_ENTITIES = frozenset({"amp", "lt", "gt", "quot", "apos"})
_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)
_DECLARED_ENCODING = re.compile(rb"""<\?xml[^>]*?\sencoding\s*=\s*["']([A-Za-z][\w.:-]*)["']""")
_MARKUP = re.compile(
    r"(?P<skip><!--.*?-->|<!\[CDATA\[.*?\]\]>|<[?!].*?>)"  # comments, CDATA, declarations
    r"|<(?P<slash>/?)(?P<name>[^\s/>]+)"  # the name of a start or end tag
    r"|&(?P<entity>[A-Za-z][A-Za-z0-9]*);",  # a named entity reference
    re.S,
)
_CLOSING_TAG = re.compile(r"</([^\s>]+)")
_ENTITY = re.compile(r"&[^;\s<]*;?")


@dataclass(frozen=True, slots=True)
class OctopusConfig:
    """One MailIntegration XML file, in deskmail's terms; values trimmed, "" read as absent."""

    file: Path
    processor: Processor
    protocol: Protocol
    server: str
    port: int | None
    use_ssl: bool
    user: str
    # In clear text in the file, as Octopus wants it; kept in memory only, never written.
    password: str = field(repr=False)
    fallback_site: str | None = None
    fallback_user: str | None = None
    group: str | None = None  # <incidentGroup> for incidents, <group> for events
    source: str | None = None
    assignee: str | None = None
    ignored_attachments: str | None = None
    create_new_requests: bool | None = None
    include_raw_message: bool | None = None
    # The <smtp...> extension tags by SmtpConfig field (values as written); empty: none.
    smtp: Mapping[str, str] = field(default_factory=dict, repr=False)
    ca_file: Path | None = None  # relative to the XML file's folder
    failure_note_minutes: int | None = None
    # JobConfig field -> (tag, line), so that a value refused later points at its line.
    origins: Mapping[str, tuple[str, int]] = field(default_factory=dict)

    @property
    def job_name(self) -> str:
        return job_name_of(self.file)


def job_name_of(xml_file: Path) -> str:
    """The file name without .xml: the same job (and intake journal) whether the file is
    run by `deskmail octopus` or imported to TOML, and broken or not."""
    return xml_file.stem


def read_octopus_xml(path: Path | str) -> OctopusConfig:
    """Read and check a MailIntegration XML file; raise ConfigError listing every problem."""
    path = Path(path)
    text, originals = _prepare(_decode(_read_bytes(path), path))
    reader = _Reader(path, originals)
    root = reader.parse(text)
    values = reader.values(root)
    config = reader.interpret(values, root.line)
    if reader.issues:
        raise ConfigError.many(path, reader.issues)
    assert config is not None  # interpret() returns None only along with issues
    return config


def to_job(octopus: OctopusConfig, team: str) -> JobConfig:
    """The deskmail job that does what Octopus did with this file, for the team named `team`."""
    settings = {
        "name": octopus.job_name,
        "protocol": octopus.protocol,
        "server": octopus.server,
        "port": octopus.port,
        "security": Security.SSL if octopus.use_ssl else Security.NONE,
        "user": octopus.user,
        "password": octopus.password,
        "fallback_user": octopus.fallback_user,
        "fallback_site": octopus.fallback_site,
        "group": octopus.group,
        "source": octopus.source,
        "team": team,
        "processor": octopus.processor,
        "assignee": octopus.assignee,
        "create_new_requests": octopus.create_new_requests,
        "ignored_attachments": octopus.ignored_attachments,
        "include_raw_message": octopus.include_raw_message,
        "smtp": dict(octopus.smtp) or None,
        "ca_file": octopus.file.absolute().parent / octopus.ca_file if octopus.ca_file else None,
        "failure_note_minutes": octopus.failure_note_minutes,
    }
    try:
        # Only what the file says is passed, so model_dump(exclude_unset=True) is the file.
        job = JobConfig.model_validate({k: v for k, v in settings.items() if v is not None})
    except ValidationError as exc:
        issues = []
        for error in exc.errors():
            name = ".".join(str(part) for part in error["loc"][:2])
            tag, line = octopus.origins.get(name, (name, None))
            issues.append(Issue(f"<{tag}>" if line else tag, _plain(error), line))
        raise ConfigError.many(octopus.file, issues) from None
    if not octopus.use_ssl:
        log.warning(
            "%s: useSsl is false: the mailbox password and the mail cross the network in"
            " clear text (as with Octopus); set useSsl to true if %s offers POP3S or IMAPS",
            octopus.file,
            octopus.server,
        )
    return job


def base_config(
    xml_file: Path, database_url: str | None = None, log_file: Path | None = None
) -> DeskmailConfig:
    """Database, attachments and log for an XML file, without jobs: by default next to it.

    The DESKMAIL_DATABASE_URL environment variable still wins when the store is
    opened (store.engine.open_store), as for every deskmail configuration.
    """
    folder = xml_file.absolute().parent
    try:
        database = DatabaseConfig(url=database_url or f"sqlite:///{folder / 'deskmail.db'}")
    except ValidationError as exc:
        raise ConfigError(None, "--database", _plain(exc.errors()[0])) from None
    return DeskmailConfig(
        source_file=xml_file.absolute(),
        database=database,
        storage=StorageConfig(attachments_dir=folder / "attachments"),
        logging=LoggingConfig(file=log_file.absolute() if log_file else None),
    )


def to_config(
    octopus: OctopusConfig,
    team: str,
    database_url: str | None = None,
    log_file: Path | None = None,
) -> DeskmailConfig:
    """A whole configuration running the file's one job (see base_config for the rest)."""
    base = base_config(octopus.file, database_url, log_file)
    job = to_job(octopus, team)
    if not job.create_new_requests and job.smtp is None:
        tag, line = octopus.origins.get("create_new_requests", ("CreateNewRequests", None))
        raise ConfigError(
            octopus.file,
            f"<{tag}>",
            "False denies new requests, and each denied sender is owed an automatic reply:"
            " add <smtpServer> and <smtpFromAddress> (deskmail's tags for the SMTP server"
            " that Octopus keeps in its options) to send it",
            line=line,
        )
    job.set_origin(octopus.file.absolute(), None, octopus_xml=True)
    return base.model_copy(update={"jobs": [job]})


def password_variable(octopus: OctopusConfig) -> str:
    """The environment variable suggested for the password: DESKMAIL_<FILE NAME>_PASSWORD."""
    stem = re.sub(r"[^A-Za-z0-9]+", "_", octopus.job_name).strip("_").upper()
    return f"DESKMAIL_{stem}_PASSWORD" if stem else "DESKMAIL_PASSWORD"


def to_toml(octopus: OctopusConfig, team: str) -> str:
    """The equivalent [[jobs]] table, with password_env in place of the clear-text password."""
    job = to_job(octopus, team)
    variable = password_variable(octopus)
    lines = [
        f"# Imported from the Octopus MailIntegration file {octopus.file.absolute()}.",
        "# Add it to deskmail.toml and run it with: deskmail run-once",
        "[[jobs]]",
    ]
    for key, value in job.model_dump(mode="json", exclude_unset=True).items():
        if key == "password":
            lines += [
                "# The XML file holds the mailbox password in clear text; deskmail reads it",
                "# from this environment variable instead (or from a file: password_file).",
                f"# Set {variable} to the value of <password> before running the job.",
                f"password_env = {toml_value(variable)}",
            ]
            continue
        if key == "smtp":
            lines += _smtp_toml(value, octopus)
            continue
        if key == "security" and value == Security.NONE:
            lines.append(
                '# useSsl was false: the password crosses the network in clear text; prefer "ssl".'
            )
        lines.append(f"{key} = {toml_value(value)}")
    return "\n".join(lines) + "\n"


def smtp_password_variable(octopus: OctopusConfig) -> str:
    """The environment variable suggested for <smtpPassword>."""
    return password_variable(octopus).replace("_PASSWORD", "_SMTP_PASSWORD")


def _smtp_toml(smtp: dict[str, object], octopus: OctopusConfig) -> list[str]:
    """The <smtp...> tags as the job's smtp table, the password read from a variable."""
    lines = []
    if "password" in smtp:
        variable = smtp_password_variable(octopus)
        lines.append(f"# Set {variable} to the value of <smtpPassword> before running the job.")
        smtp = {**smtp, "password": None, "password_env": variable}
    shown = {key: value for key, value in smtp.items() if value is not None}
    pairs = ", ".join(f"{key} = {toml_value(value)}" for key, value in shown.items())
    return [*lines, f"smtp = {{ {pairs} }}"]


def _plain(error: ErrorDetails) -> str:
    """A validator's own sentence when it has one (e.g. "must be a host name ...")."""
    if error["type"] == "enum":
        return f"must be one of {error.get('ctx', {}).get('expected')} (got {error['input']!r})"
    return str(error.get("ctx", {}).get("error", error["msg"]))


# --- bytes to text ------------------------------------------------------------------


def read_xml_text(path: Path) -> str:
    """The file's text, decoded as read_octopus_xml decodes it; raises ConfigError."""
    return _decode(_read_bytes(path), path)


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        problem = f"Octopus configuration file not found (looked for {path.absolute()})"
    except IsADirectoryError:
        problem = "is a folder, not an Octopus configuration file"
    except OSError as exc:
        problem = f"cannot read the Octopus configuration file: {exc.strerror}"
    raise ConfigError(path, "", problem)


def _decode(data: bytes, path: Path) -> str:
    """The text, by its byte-order mark, else its declared encoding, else UTF-8."""
    if data.startswith(codecs.BOM_UTF8):
        encoding = "utf-8-sig"
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"  # Notepad's "Unicode"; the codec reads and drops the mark
    elif data.startswith(b"<\x00"):
        encoding = "utf-16-le"
    elif data.startswith(b"\x00<"):
        encoding = "utf-16-be"
    else:
        declared = _DECLARED_ENCODING.match(data)
        encoding = declared[1].decode("ascii") if declared else "utf-8"
    try:
        codec = codecs.lookup(encoding)
    except LookupError:
        raise ConfigError(
            path, "", f"declares the unknown encoding {encoding!r}; save it as UTF-8", line=1
        ) from None
    try:
        return data.decode(codec.name)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        if codec.name in ("utf-8", "utf-8-sig"):
            # Notepad saved "ANSI" by default until Windows 10 1903, while the Octopus
            # template declares utf-8: accented letters are then Windows-1252 bytes.
            with contextlib.suppress(UnicodeDecodeError):
                text = data.decode("cp1252")
                log.warning(
                    "%s:%d: not UTF-8 although declared so; read as Windows-1252", path, line
                )
                return text
        raise ConfigError(
            path, "", f"is not {codec.name} text; save it as UTF-8", line=line
        ) from None


def _prepare(text: str) -> tuple[str, dict[str, str]]:
    """Lower-case tag names and turn HTML entities into character references.

    XML is case-sensitive and refuses <MailIntegration>...</mailIntegration>,
    which the Octopus document itself writes and Octopus accepts; lower-casing
    every tag name first makes them match whatever their case. XML also
    defines only five named entities, while the document tells users to write
    accents as HTML entities (&eacute;): those become numeric references, which
    XML does define. Comments and CDATA stay as written. Returns the text and
    the first spelling of each tag name, to name tags as the user wrote them.
    """
    originals: dict[str, str] = {}

    def rewrite(match: re.Match[str]) -> str:
        if match["name"]:
            lower = match["name"].translate(_ASCII_LOWER)  # ASCII only: lengths stay the same
            originals.setdefault(lower, match["name"])
            return f"<{match['slash']}{lower}"
        if match["entity"]:
            return _character_references(match["entity"]) or match[0]
        return match[0]

    return _MARKUP.sub(rewrite, text), originals


def _character_references(name: str) -> str | None:
    """&#00233; for &eacute; (zero-padded to the same length, so error columns stay right)."""
    value = html.entities.html5.get(f"{name};")
    if name in _XML_ENTITIES or value is None:
        return None  # XML's own, or unknown: the parser reports an unknown one with its line
    references = [f"&#{ord(char)};" for char in value]
    missing = len(name) + 2 - sum(len(reference) for reference in references)
    if missing > 0:
        first = str(ord(value[0]))
        references[0] = f"&#{first.zfill(len(first) + missing)};"
    return "".join(references)


# --- text to values -----------------------------------------------------------------


@dataclass(eq=False)
class _Element:
    name: str  # lower case
    line: int
    parent: _Element | None = None
    text: list[str] = field(default_factory=list)
    children: list[_Element] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Value:
    text: str  # trimmed
    line: int
    tag: str  # as the document spells it


class _Reader:
    """Parses one file and collects its problems, so a file is fixed in one round."""

    def __init__(self, path: Path, originals: dict[str, str]) -> None:
        self.path = path
        self.originals = originals
        self.issues: list[Issue] = []

    def shown(self, name: str) -> str:
        return _KNOWN_TAGS.get(name) or self.originals.get(name, name)

    def problem(self, tag: str, problem: str, line: int | None) -> None:
        self.issues.append(Issue(f"<{tag}>" if tag else "", problem, line))

    # The tree --------------------------------------------------------------------

    def parse(self, text: str) -> _Element:
        parser = expat.ParserCreate()
        open_elements: list[_Element] = []
        roots: list[_Element] = []

        def start(name: str, _attributes: dict[str, str]) -> None:
            parent = open_elements[-1] if open_elements else None
            element = _Element(name, parser.CurrentLineNumber, parent)
            (parent.children if parent else roots).append(element)
            open_elements.append(element)

        def end(_name: str) -> None:
            open_elements.pop()

        def characters(data: str) -> None:
            if open_elements:
                open_elements[-1].text.append(data)

        parser.StartElementHandler = start
        parser.EndElementHandler = end
        parser.CharacterDataHandler = characters
        try:
            parser.Parse(text, True)
        except expat.ExpatError as exc:
            problem, column = self._explain(exc, text, open_elements)
            raise ConfigError(self.path, "", problem, line=exc.lineno, column=column) from None
        return roots[0]

    def _explain(
        self, exc: expat.ExpatError, text: str, open_elements: list[_Element]
    ) -> tuple[str, int]:
        """The parser's complaint, with the tag it concerns and what usually causes it.

        Returns the problem and its column, counted from 1.
        """
        reason = expat.ErrorString(exc.code)
        innermost = open_elements[-1] if open_elements else None
        if reason == expat.errors.XML_ERROR_TAG_MISMATCH and innermost is not None:
            # expat points just past the "</" of the closing tag.
            closing = _CLOSING_TAG.search(_line(text, exc.lineno), max(exc.offset - 2, 0))
            if closing is None:  # not expected; expat's own words then
                return f"invalid XML: {reason}", exc.offset + 1
            return (
                f"invalid XML: </{self.shown(closing[1])}> does not close"
                f" <{self.shown(innermost.name)}> opened on line {innermost.line}"
                " (a '/' or '<' missing?)",
                closing.start() + 1,
            )
        return self._reason(reason, exc, text, innermost), exc.offset + 1

    def _reason(
        self, reason: str, exc: expat.ExpatError, text: str, innermost: _Element | None
    ) -> str:
        if reason == expat.errors.XML_ERROR_NO_ELEMENTS and innermost is not None:
            return (
                f"invalid XML: the file ends before <{self.shown(innermost.name)}>"
                f" opened on line {innermost.line} is closed"
            )
        if reason == expat.errors.XML_ERROR_NO_ELEMENTS:
            return f"invalid XML: no <{ROOT_TAG}> element (is the file empty?)"
        if reason == expat.errors.XML_ERROR_UNDEFINED_ENTITY:
            entity = _ENTITY.match(_line(text, exc.lineno), exc.offset)
            return (
                f"invalid XML: unknown entity {entity[0] if entity else ''} (write accented"
                " letters as themselves or as HTML entities such as &eacute;, and & as &amp;)"
            )
        if reason == expat.errors.XML_ERROR_INVALID_TOKEN:
            return "invalid XML: not well-formed (a '<' or '&' in a value must be &lt; or &amp;)"
        return f"invalid XML: {reason}"

    def values(self, root: _Element) -> dict[str, _Value]:
        """The value of every known tag by lower-case name; misplaced and doubled tags refused."""
        if root.name != ROOT_TAG.lower():
            self.problem(self.shown(root.name), f"the root tag must be <{ROOT_TAG}>", root.line)
            return {}
        values: dict[str, _Value] = {}
        for child in root.children:
            self._take(child, _ROOT_TAGS, values)
            if child.name == SERVER_TAG:
                for item in child.children:
                    self._take(item, _SERVER_TAGS, values)
        return values

    def _take(self, element: _Element, expected: dict[str, str], values: dict[str, _Value]) -> None:
        name, line = element.name, element.line
        if name not in expected:
            self._misplaced_or_unknown(element)
            return
        if name in values:
            self.problem(expected[name], f"is given twice (also on line {values[name].line})", line)
            return
        if element.children and name != SERVER_TAG:
            self.problem(expected[name], "must hold a value, not other tags", line)
            return
        # The document asks for no spaces around values; we forgive them.
        values[name] = _Value("".join(element.text).strip(), line, expected[name])

    def _misplaced_or_unknown(self, element: _Element) -> None:
        name, line = element.name, element.line
        if name in _SERVER_TAGS:
            self.problem(_SERVER_TAGS[name], f"belongs inside <{SERVER_TAG}>", line)
        elif name in _KNOWN_TAGS:
            self.problem(self.shown(name), f"belongs directly inside <{ROOT_TAG}>", line)
        else:
            # Octopus versions may know tags the document does not: a warning, not a stop.
            close = difflib.get_close_matches(name, list(_KNOWN_TAGS), n=1, cutoff=0.75)
            hint = f" (did you mean <{_KNOWN_TAGS[close[0]]}>?)" if close else ""
            log.warning(
                "%s:%d: unknown tag <%s> ignored%s", self.path, line, self.shown(name), hint
            )

    # The settings ------------------------------------------------------------------

    def interpret(self, values: dict[str, _Value], root_line: int) -> OctopusConfig | None:
        def text(name: str) -> str | None:
            found = values.get(name)
            return found.text if found is not None and found.text else None

        processor = self._processor(values.get("messageprocessortypename"), root_line)
        protocol = self._protocol(values.get("gatewaytypename"))
        required = {name: text(name) for name in ("servername", "username", "password")}
        for name, value in required.items():
            if value is None:
                line = values[name].line if name in values else root_line
                self.problem(_SERVER_TAGS[name], "is required and must not be empty", line)
        port = self._port(values.get("port"))
        use_ssl = self._boolean(values.get("usessl"))
        create = self._boolean(values.get("createnewrequests"))
        include_raw = self._boolean(values.get("includerawmessageasattachment"))
        smtp = self._smtp(values, root_line)
        note_minutes = self._whole_number(values.get("failurenoteminutes"))
        if processor is None or self.issues:
            return None
        group_tag = "incidentgroup" if processor is Processor.INCIDENT else "group"
        self._warn_unused_group(values, processor, group_tag)
        fields = {
            "server": "servername",
            "port": "port",
            "user": "username",
            "fallback_site": "incidentfallbacksitename",
            "fallback_user": "incidentfallbackuserlogon",
            "group": group_tag,
            "source": "incidentsource",
            "assignee": "assignee",
            "ignored_attachments": "ignoredattachments",
            "create_new_requests": "createnewrequests",
            "failure_note_minutes": "failurenoteminutes",
            "ca_file": "cafile",
            **{f"smtp.{key}": tag.lower() for tag, key in _SMTP_TAGS},
        }
        return OctopusConfig(
            file=self.path,
            processor=processor,
            protocol=protocol,
            server=required["servername"] or "",
            port=port,
            use_ssl=bool(use_ssl),
            user=required["username"] or "",
            password=required["password"] or "",
            fallback_site=text("incidentfallbacksitename"),
            fallback_user=text("incidentfallbackuserlogon"),
            group=text(group_tag),
            source=text("incidentsource"),
            assignee=text("assignee"),
            ignored_attachments=text("ignoredattachments"),
            create_new_requests=create,
            include_raw_message=include_raw,
            smtp=smtp,
            failure_note_minutes=note_minutes,
            ca_file=Path(ca_file) if (ca_file := text("cafile")) else None,
            origins={
                key: (values[tag].tag, values[tag].line)
                for key, tag in fields.items()
                if tag in values
            },
        )

    def _smtp(self, values: dict[str, _Value], root_line: int) -> dict[str, str]:
        """The SMTP settings of the extension tags, by SmtpConfig field; {} when none is given."""
        smtp = {
            key: values[tag.lower()].text
            for tag, key in _SMTP_TAGS
            if tag.lower() in values and values[tag.lower()].text
        }
        if smtp:
            for tag, key in _SMTP_TAGS:
                if key in ("server", "from_address") and key not in smtp:
                    line = values[tag.lower()].line if tag.lower() in values else root_line
                    self.problem(tag, "is required when other <smtp...> tags are given", line)
        return smtp

    def _warn_unused_group(
        self, values: dict[str, _Value], processor: Processor, group_tag: str
    ) -> None:
        unused = values.get("group" if group_tag == "incidentgroup" else "incidentgroup")
        if unused is not None and unused.text:
            log.warning(
                "%s:%d: <%s> is not used by the %s processor (it reads <%s>)",
                self.path,
                unused.line,
                unused.tag,
                processor.value,
                _ROOT_TAGS[group_tag],
            )

    def _processor(self, value: _Value | None, root_line: int) -> Processor | None:
        if value is None or not value.text:
            line = value.line if value is not None else root_line
            self.problem(_ROOT_TAGS["messageprocessortypename"], "is required", line)
            return None
        processor = _PROCESSORS.get(_simple_type_name(value.text))
        if processor is None:
            self.problem(
                value.tag,
                f"unknown message processor {value.text!r}; deskmail knows"
                " ESI.Octopus.MailIntegration.EndUserIncidentMailMessageProcessor (incidents)"
                " and ESI.Octopus.MailIntegration.EventMailMessageProcessor (events)",
                value.line,
            )
        return processor

    def _protocol(self, value: _Value | None) -> Protocol:
        if value is None or not value.text:
            return Protocol.POP3  # the only gateway Octopus documents
        simple = _simple_type_name(value.text)
        # SidePopMailboxGateway is documented; an IMAP gateway says so in its name.
        if "imap" in simple:
            return Protocol.IMAP
        if simple != _POP3_GATEWAY.casefold():
            self.problem(
                value.tag,
                f"unknown gateway {value.text!r}; deskmail knows"
                f" ESI.Octopus.MailIntegration.{_POP3_GATEWAY} (POP3) and IMAP gateways",
                value.line,
            )
        return Protocol.POP3

    def _port(self, value: _Value | None) -> int | None:
        if value is None or not value.text:
            return None
        if value.text.isdigit() and 1 <= int(value.text) <= 65535:
            return int(value.text)
        self.problem(
            value.tag, f"must be a port number from 1 to 65535 (got {value.text!r})", value.line
        )
        return None

    def _whole_number(self, value: _Value | None) -> int | None:
        if value is None or not value.text:
            return None
        if value.text.isdigit():
            return int(value.text)
        self.problem(value.tag, f"must be a whole number (got {value.text!r})", value.line)
        return None

    def _boolean(self, value: _Value | None) -> bool | None:
        if value is None or not value.text:
            return None
        if value.text.casefold() in ("true", "false"):  # .NET writes True and False
            return value.text.casefold() == "true"
        self.problem(value.tag, f"must be true or false (got {value.text!r})", value.line)
        return None


def _simple_type_name(type_name: str) -> str:
    """ "esi.octopus.x.Type, Assembly, Version=..." -> "type": the .NET type, namespace aside."""
    return type_name.split(",")[0].strip().rsplit(".", 1)[-1].casefold()


def _line(text: str, number: int) -> str:
    """Line `number` (from 1) as the parser counts lines."""
    lines = re.split(r"\r\n|\r|\n", text)
    return lines[number - 1] if 0 < number <= len(lines) else ""
