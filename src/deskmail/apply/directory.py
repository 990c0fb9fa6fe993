"""Loading people from a directory export (CSV: name, addresses, logon, site), all or nothing.

Every row is checked before anything is written, and every bad row is said with
its line number, so a file is fixed in one round; one transaction writes them all.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from deskmail.apply.context import get_or_create
from deskmail.apply.people import (
    PeopleError,
    add_person,
    address_owners,
    describe,
    logon_owner,
    normalized_address,
)
from deskmail.store.models import Site

if TYPE_CHECKING:
    from _csv import Reader as _Reader

COLUMNS = ("name", "addresses", "logon", "site")
REQUIRED = ("name", "addresses")
_SEPARATORS = re.compile(r"[;,\s]+")  # "a@x; b@x", "a@x b@x"


@dataclass(frozen=True, slots=True)
class PersonRow:
    line: int
    name: str
    addresses: tuple[str, ...]  # lower-cased
    logon: str | None
    site: str | None


@dataclass(frozen=True, slots=True)
class RowProblem:
    line: int
    problem: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.problem}"


@dataclass(frozen=True, slots=True)
class Directory:
    """The rows that can be imported, and the problems of those that cannot."""

    people: tuple[PersonRow, ...]
    problems: tuple[RowProblem, ...]  # in file order


class DirectoryError(ValueError):
    """The file as a whole cannot be read (encoding, header)."""


def read_directory(path: Path) -> Directory:
    """The file's rows, checked on their own and against each other (not the store)."""
    try:
        text = path.read_text(encoding="utf-8-sig")  # a BOM from Excel is harmless
    except UnicodeDecodeError as exc:
        raise DirectoryError(f"is not UTF-8 (byte {exc.start}); save it as CSV UTF-8") from None
    except OSError as exc:
        raise DirectoryError(f"cannot be read: {exc.strerror}") from None
    reader = csv.reader(text.splitlines(keepends=True), delimiter=_delimiter(text))
    try:
        return _read_rows(reader)
    except csv.Error as exc:  # a NUL byte, an unclosed quote at the end, ...
        raise DirectoryError(f"line {reader.line_num}: {exc}") from None


def _read_rows(reader: _Reader) -> Directory:
    header = [column.strip().lower() for column in next(reader, [])]
    _check_header(header)
    people: list[PersonRow] = []
    problems: list[RowProblem] = []
    first_line: dict[str, int] = {}  # address or "logon:<logon>" -> the line that has it
    for row in reader:
        if not any(value.strip() for value in row):
            continue
        line = reader.line_num
        found, errors = _person(line, header, row)
        for key, what in _keys(found):
            if key in first_line:
                errors.append(f"{what} is also on line {first_line[key]}")
            else:
                first_line[key] = line
        if errors:
            problems += [RowProblem(line, error) for error in errors]
        elif found is not None:
            people.append(found)
    return Directory(tuple(people), tuple(problems))


def taken_in_store(session: Session, people: tuple[PersonRow, ...]) -> list[RowProblem]:
    """Rows whose address or logon someone in the store already has."""
    owners = address_owners(session, (a for row in people for a in row.addresses))
    problems = []
    for row in people:
        problems += [
            RowProblem(row.line, f"{a} already belongs to {describe(owners[a])}")
            for a in row.addresses
            if a in owners
        ]
        owner = logon_owner(session, row.logon) if row.logon else None
        if owner is not None:
            problems.append(
                RowProblem(row.line, f"logon {row.logon} already belongs to {describe(owner)}")
            )
    return problems


def import_people(session: Session, people: tuple[PersonRow, ...]) -> int:
    """Write the checked rows (sites created if missing); the caller's transaction commits."""
    for row in people:
        site_id = get_or_create(session, Site, row.site).id if row.site else None
        add_person(session, row.name, list(row.addresses), logon=row.logon, site_id=site_id)
    return len(people)


def _delimiter(text: str) -> str:
    """Commas, or the semicolons and tabs of European and tab-separated exports:
    whichever the header row has most of."""
    header = text.split("\n", 1)[0]
    return max(",;\t", key=header.count)  # a tie (none at all) keeps the comma


def _check_header(header: list[str]) -> None:
    expected = f"expected a header row with the columns {', '.join(COLUMNS)}"
    if not header:
        raise DirectoryError(f"is empty; {expected}")
    unknown = [column for column in header if column not in COLUMNS]
    missing = [column for column in REQUIRED if column not in header]
    repeated = sorted({column for column in header if header.count(column) > 1})
    if unknown or missing or repeated:
        found = ", ".join(header)
        wrong = [
            f"unknown column(s) {', '.join(unknown)}" if unknown else "",
            f"missing {', '.join(missing)}" if missing else "",
            f"repeated {', '.join(repeated)}" if repeated else "",
        ]
        raise DirectoryError(
            f"line 1: {'; '.join(w for w in wrong if w)} (found: {found}); {expected}"
            f" ({', '.join(REQUIRED)} required)"
        )


def _person(line: int, header: list[str], row: list[str]) -> tuple[PersonRow | None, list[str]]:
    if len(row) > len(header):
        return None, [f"has {len(row)} fields, the header {len(header)}"]
    values = dict(zip(header, (value.strip() for value in row), strict=False))
    errors = []
    name = values.get("name", "")
    if not name:
        errors.append("no name")
    addresses = []
    for written in _SEPARATORS.split(values.get("addresses", "")):
        if not written:
            continue
        try:
            addresses.append(normalized_address(written))
        except PeopleError as exc:
            errors.append(str(exc))
    logon = values.get("logon") or None
    site = values.get("site") or None
    return PersonRow(line, name, tuple(dict.fromkeys(addresses)), logon, site), errors


def _keys(row: PersonRow | None) -> list[tuple[str, str]]:
    """What must be unique across the file: each address and the logon."""
    if row is None:
        return []
    keys = [(address, address) for address in row.addresses]
    if row.logon:
        keys.append((f"logon:{row.logon}", f"logon {row.logon}"))
    return keys
