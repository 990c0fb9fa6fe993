"""The directory: people (with their addresses and site), groups, sites and teams.

Add, change, and import from CSV. An import is checked whole before anything is
written and written in one transaction: a file with a bad row imports nothing,
and every bad row is reported with its line and field.

People CSV columns: name, logon, email (several separated by ';'), site, agent.
Groups, sites, teams: name. A person row whose logon (else one of whose
addresses) is known updates that person; other rows add one.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import cast

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from deskmail.store.engine import Store
from deskmail.store.models import Group, Person, PersonAddress, Site, Team, utcnow

MAX_NAME = 200
MAX_PERSON_NAME = 300
MAX_ADDRESS = 320
_ADDRESS = re.compile(r"[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+")
_TRUE = {"true", "yes", "1", "y", "x"}
_FALSE = {"false", "no", "0", "n", ""}


class NamedKind(StrEnum):
    """The directory lists that are just names."""

    GROUPS = "groups"
    SITES = "sites"
    TEAMS = "teams"

    @property
    def model(self) -> type[Group] | type[Site] | type[Team]:
        if self is NamedKind.GROUPS:
            return Group
        return Site if self is NamedKind.SITES else Team

    @property
    def singular(self) -> str:
        return self.value[:-1]


@dataclass(frozen=True, slots=True)
class Problem:
    """What is wrong, and where: a field of a form, or a line and column of a CSV file."""

    field: str
    problem: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"line {self.line}, {self.field}" if self.line else self.field
        return f"{where}: {self.problem}"


class DirectoryError(Exception):
    def __init__(self, problems: Sequence[Problem], *, not_found: bool = False) -> None:
        super().__init__("; ".join(str(problem) for problem in problems))
        self.problems = list(problems)
        self.not_found = not_found


@dataclass(frozen=True, slots=True)
class Named:
    id: int
    name: str
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class PersonView:
    id: int
    name: str
    logon: str | None
    emails: list[str]
    site: str | None
    is_agent: bool
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class PersonInput:
    name: str
    logon: str | None = None
    emails: tuple[str, ...] = ()
    site: str | None = None
    is_agent: bool = False


@dataclass(slots=True)
class ImportResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    problems: list[Problem] = field(default_factory=list)


# ---- reading ---------------------------------------------------------------------------


def _person_view(person: Person) -> PersonView:
    return PersonView(
        person.id,
        person.name,
        person.logon,
        sorted(address.address for address in person.addresses),
        person.site.name if person.site else None,
        person.is_agent,
        person.updated_at,
    )


def list_people(
    session: Session,
    *,
    after_id: int = 0,
    limit: int = 100,
    search: str | None = None,
    updated_since: datetime | None = None,
) -> list[PersonView]:
    query = (
        select(Person)
        .options(selectinload(Person.addresses), selectinload(Person.site))
        .where(Person.id > after_id)
    )
    if updated_since is not None:
        query = query.where(Person.updated_at >= updated_since)
    if search:
        like = search.lower()
        query = query.where(
            func.lower(Person.name).contains(like, autoescape=True)
            | func.lower(func.coalesce(Person.logon, "")).contains(like, autoescape=True)
            | Person.id.in_(
                select(PersonAddress.person_id).where(
                    PersonAddress.address.contains(like, autoescape=True)
                )
            )
        )
    return [_person_view(p) for p in session.scalars(query.order_by(Person.id).limit(limit))]


def person(session: Session, person_id: int) -> PersonView | None:
    found = session.get(Person, person_id)
    return _person_view(found) if found else None


def list_named(
    session: Session,
    kind: NamedKind,
    *,
    after_id: int = 0,
    limit: int = 500,
    updated_since: datetime | None = None,
) -> list[Named]:
    model = kind.model
    query = select(model.id, model.name, model.updated_at).where(model.id > after_id)
    if updated_since is not None:
        query = query.where(model.updated_at >= updated_since)
    rows = session.execute(query.order_by(model.id).limit(limit))
    return [Named(row_id, name, updated_at) for row_id, name, updated_at in rows]


def site_names(session: Session) -> list[str]:
    return list(session.scalars(select(Site.name).order_by(Site.name)))


# ---- checking --------------------------------------------------------------------------


def check_name(
    value: str, where: str, *, limit: int = MAX_NAME, line: int | None = None
) -> list[Problem]:
    if not value.strip():
        return [Problem(where, "is empty", line)]
    if len(value.strip()) > limit:
        return [Problem(where, f"is longer than {limit} characters", line)]
    if has_control_characters(value):
        return [Problem(where, "must not contain control characters", line)]
    return []


def has_control_characters(value: str) -> bool:
    # PostgreSQL refuses a NUL in text: found by the API fuzzing as a 500.
    return any(ord(char) < 32 or ord(char) == 127 for char in value)


def parse_emails(value: str) -> tuple[str, ...]:
    return tuple(
        dict.fromkeys(part.strip().lower() for part in re.split(r"[;\s]+", value) if part.strip())
    )


def _check_person(data: PersonInput, line: int | None = None) -> list[Problem]:
    problems = check_name(data.name, "name", limit=MAX_PERSON_NAME, line=line)
    if data.logon is not None and len(data.logon) > MAX_NAME:
        problems.append(Problem("logon", f"is longer than {MAX_NAME} characters", line))
    for where, text in (("logon", data.logon), ("site", data.site)):
        if text is not None and has_control_characters(text):
            problems.append(Problem(where, "must not contain control characters", line))
    for address in data.emails:
        if len(address) > MAX_ADDRESS or not _ADDRESS.fullmatch(address):
            problems.append(Problem("email", f"{address!r} is not an e-mail address", line))
    return problems


def _site(session: Session, name: str | None, line: int | None) -> Site | None:
    if not name:
        return None
    found = session.scalar(select(Site).where(Site.name == name))
    if found is None:
        raise DirectoryError([Problem("site", f"there is no site named {name!r}", line)])
    return found


def _owners(session: Session, emails: Iterable[str]) -> dict[str, int]:
    wanted = list(emails)
    if not wanted:
        return {}
    rows = session.execute(
        select(PersonAddress.address, PersonAddress.person_id).where(
            PersonAddress.address.in_(wanted)
        )
    )
    return {address: owner for address, owner in rows}


def _apply_person(session: Session, row: Person, data: PersonInput, line: int | None) -> None:
    """Write `data` onto `row` (new or not), refusing addresses and logons of others."""
    problems = _check_person(data, line)
    if problems:
        raise DirectoryError(problems)
    logon = data.logon.strip() if data.logon else None
    if logon:
        holder = session.scalar(select(Person.id).where(Person.logon == logon))
        if holder is not None and holder != row.id:
            raise DirectoryError([Problem("logon", f"{logon!r} belongs to person {holder}", line)])
    for address, owner in _owners(session, data.emails).items():
        if owner != row.id:
            raise DirectoryError([Problem("email", f"{address!r} belongs to person {owner}", line)])
    site = _site(session, data.site, line)
    before = _person_view(row) if row.id is not None else None
    row.name = data.name.strip()
    row.logon = logon
    row.is_agent = data.is_agent
    row.site = site
    current = {address.address: address for address in row.addresses}
    for address in set(current) - set(data.emails):
        row.addresses.remove(current[address])
    for address in data.emails:
        if address not in current:
            row.addresses.append(PersonAddress(address=address))
    if before is not None and before != _person_view(row):
        # Its addresses are rows of their own: a change of them alone updates no column.
        row.updated_at = utcnow()
    session.add(row)  # only now: a new row half filled would be flushed by the checks' queries
    session.flush()


# ---- writing ---------------------------------------------------------------------------


def add_person(store: Store, data: PersonInput) -> PersonView:
    with store.transaction() as session:
        row = Person(addresses=[])
        _apply_person(session, row, data, None)
        return _person_view(row)


def change_person(store: Store, person_id: int, data: PersonInput) -> PersonView:
    with store.transaction() as session:
        row = session.get(Person, person_id)
        if row is None:
            raise DirectoryError([Problem("id", f"there is no person {person_id}")], not_found=True)
        _apply_person(session, row, data, None)
        return _person_view(row)


def add_named(store: Store, kind: NamedKind, name: str) -> Named:
    problems = check_name(name, "name")
    if problems:
        raise DirectoryError(problems)
    with store.transaction() as session:
        model = kind.model
        if session.scalar(select(model.id).where(model.name == name.strip())) is not None:
            raise DirectoryError(
                [Problem("name", f"a {kind.singular} named {name.strip()!r} exists")]
            )
        row = model(name=name.strip())
        session.add(row)
        session.flush()
        return Named(row.id, row.name, row.updated_at)


def rename(store: Store, kind: NamedKind, row_id: int, name: str) -> Named:
    problems = check_name(name, "name")
    if problems:
        raise DirectoryError(problems)
    with store.transaction() as session:
        model = kind.model
        row = cast("Group | Site | Team | None", session.get(model, row_id))
        if row is None:
            raise DirectoryError(
                [Problem("id", f"there is no {kind.singular} {row_id}")], not_found=True
            )
        holder = session.scalar(select(model.id).where(model.name == name.strip()))
        if holder is not None and holder != row_id:
            raise DirectoryError(
                [Problem("name", f"a {kind.singular} named {name.strip()!r} exists")]
            )
        if row.name != name.strip():
            row.name = name.strip()
            row.updated_at = utcnow()  # set here: a team's has no onupdate (models.Team)
        return Named(row.id, row.name, row.updated_at)


# ---- CSV import ------------------------------------------------------------------------

PEOPLE_COLUMNS = ("name", "logon", "email", "site", "agent")
NAMED_COLUMNS = ("name",)


def _rows(text: str, columns: Sequence[str], required: str) -> Iterable[tuple[int, dict[str, str]]]:
    # newline="": the csv module's own reading of line ends, quoted ones included.
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff"), newline=""))
    try:
        yield from _checked_rows(reader, columns, required)
    except csv.Error as exc:  # found by the API fuzzing as a 500
        raise DirectoryError(
            [Problem("csv", f"is not readable as CSV ({exc})", reader.line_num or 1)]
        ) from None


def _checked_rows(
    reader: csv.DictReader[str], columns: Sequence[str], required: str
) -> Iterable[tuple[int, dict[str, str]]]:
    header = [name.strip().lower() for name in (reader.fieldnames or [])]
    if required not in header:
        raise DirectoryError([Problem(required, f"the header has no {required!r} column", 1)])
    unknown = [name for name in header if name not in columns]
    if unknown:
        allowed = ", ".join(columns)
        raise DirectoryError(
            [Problem(unknown[0], f"unknown column (the columns are {allowed})", 1)]
        )
    reader.fieldnames = header
    for row in reader:
        if None in row:
            raise DirectoryError(
                [Problem("row", "has more fields than the header", reader.line_num)]
            )
        values = {key: (value or "").strip() for key, value in row.items()}
        if any(values.values()):
            yield reader.line_num, values


def _agent(value: str, line: int) -> bool:
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise DirectoryError([Problem("agent", f"{value!r} is not yes or no", line)])


def import_people(store: Store, text: str) -> ImportResult:
    result = ImportResult()
    try:
        with store.transaction() as session:
            for line, values in _rows(text, PEOPLE_COLUMNS, "name"):
                try:
                    data = PersonInput(
                        name=values.get("name", ""),
                        logon=values.get("logon") or None,
                        emails=parse_emails(values.get("email", "")),
                        site=values.get("site") or None,
                        is_agent=_agent(values.get("agent", ""), line),
                    )
                    _import_person(session, data, line, result)
                except DirectoryError as exc:
                    result.problems += exc.problems
            if result.problems:
                raise DirectoryError(result.problems)  # rolls the transaction back
    except DirectoryError as exc:
        return ImportResult(problems=exc.problems)
    return result


def _import_person(session: Session, data: PersonInput, line: int, result: ImportResult) -> None:
    row = None
    if data.logon:
        row = session.scalar(select(Person).where(Person.logon == data.logon))
    if row is None and data.emails:
        owners = set(_owners(session, data.emails).values())
        if len(owners) == 1:
            row = session.get(Person, owners.pop())
    if row is None:
        row = Person(addresses=[])
        _apply_person(session, row, data, line)
        result.created += 1
        return
    before = _person_view(row)
    _apply_person(session, row, data, line)
    if _person_view(row) == before:
        result.unchanged += 1
    else:
        result.updated += 1


def import_named(store: Store, kind: NamedKind, text: str) -> ImportResult:
    result = ImportResult()
    model = kind.model
    try:
        with store.transaction() as session:
            seen: dict[str, int] = {}
            for line, values in _rows(text, NAMED_COLUMNS, "name"):
                name = values.get("name", "")
                problems = check_name(name, "name", line=line)
                if not problems and name in seen:
                    problems = [Problem("name", f"repeats line {seen[name]}", line)]
                if problems:
                    result.problems += problems
                    continue
                seen[name] = line
                if session.scalar(select(model.id).where(model.name == name)) is not None:
                    result.unchanged += 1
                else:
                    session.add(model(name=name))
                    result.created += 1
            if result.problems:
                raise DirectoryError(result.problems)
    except DirectoryError as exc:
        return ImportResult(problems=exc.problems)
    return result
