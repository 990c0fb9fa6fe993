"""/api/v1/people, /groups, /sites, /teams: list, create, update, import CSV.

Reading needs the viewer role, changing the admin role. An import takes the
CSV file as the request body (text/csv); a file with a bad row imports nothing
and the problem names each bad row as `line[N].column`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import Query, Request
from pydantic import BaseModel, Field

from deskmail.web.api.resource import resource_router
from deskmail.web.context import context_of
from deskmail.web.ids import RowId
from deskmail.web.pagination import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    Page,
    UpdatedSince,
    decode_cursor,
    encode_cursor,
)
from deskmail.web.problems import FieldProblem, Problem
from deskmail.web.queries import directory
from deskmail.web.queries.directory import DirectoryError, NamedKind, PersonInput
from deskmail.web.security.roles import ApiAdmin, ApiViewer

router = resource_router(tags=["directory"])
# Checked by the directory (queries/directory.py), which names the bad address.
Email = Annotated[str, Field(max_length=320)]
MAX_CSV = 5 * 1024 * 1024

_CSV_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"text/csv": {"schema": {"type": "string"}}},
    }
}


class PersonOut(BaseModel):
    id: int
    name: str
    logon: str | None
    emails: list[str]
    site: str | None
    is_agent: bool
    updated_at: datetime


class PersonIn(BaseModel):
    name: str = Field(min_length=1, max_length=300)
    logon: str | None = Field(default=None, max_length=200)
    emails: list[Email] = Field(default_factory=list, max_length=50)
    site: str | None = Field(default=None, max_length=200, description="the name of a site")
    is_agent: bool = False


class PersonPatch(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=300)
    logon: str | None = Field(default=None, max_length=200)
    emails: list[Email] | None = Field(default=None, max_length=50)
    site: str | None = Field(default=None, max_length=200)
    is_agent: bool | None = None


class NamedOut(BaseModel):
    id: int
    name: str
    updated_at: datetime


class NamedIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)


class ImportOut(BaseModel):
    created: int
    updated: int
    unchanged: int


def _problem(exc: DirectoryError, where: str = "body") -> Problem:
    status = 404 if exc.not_found else 422
    errors = [
        FieldProblem(
            f"{where}.line[{p.line}].{p.field}" if p.line else f"{where}.{p.field}", p.problem
        )
        for p in exc.problems
    ]
    detail = "; ".join(f"{e.field}: {e.problem}" for e in errors) or "the request is invalid"
    if exc.problems and exc.problems[0].line:
        detail = "nothing was imported: " + detail
    return Problem(status, "Not found" if exc.not_found else "Invalid request", detail, errors)


def _after(cursor: str | None) -> int:
    if not cursor:
        return 0
    value = decode_cursor(cursor, [_ID])[0]
    if not isinstance(value, int):
        raise Problem(422, "Invalid request", "query.cursor: is not a cursor this list returned")
    return value


class _IdColumn:
    """decode_cursor reads the column's type: a plain id column."""

    type = None
    key = "id"


_ID: Any = _IdColumn()


async def _csv(request: Request) -> str:
    data = await request.body()
    if len(data) > MAX_CSV:
        raise Problem(413, "Too large", "the CSV file is larger than 5 MB")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise Problem(422, "Invalid request", "body: the CSV file is not UTF-8") from None


def _person_out(view: directory.PersonView) -> PersonOut:
    return PersonOut(
        id=view.id, name=view.name, logon=view.logon, emails=view.emails,
        site=view.site, is_agent=view.is_agent, updated_at=view.updated_at,
    )  # fmt: skip


def _named_out(row: directory.Named) -> NamedOut:
    return NamedOut(id=row.id, name=row.name, updated_at=row.updated_at)


# ---- people ----------------------------------------------------------------------------


@router.get("/people", summary="People, in the order they were added")
def list_people(
    request: Request,
    user: ApiViewer,
    q: Annotated[str | None, Query(max_length=200, description="name, logon or address")] = None,
    updated_since: UpdatedSince = None,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> Page[PersonOut]:
    with context_of(request).store.session() as session:
        found = directory.list_people(
            session,
            after_id=_after(cursor),
            limit=limit + 1,
            search=q,
            updated_since=updated_since,
        )
    more = len(found) > limit
    found = found[:limit]
    next_cursor = encode_cursor([found[-1].id]) if more else None
    return Page[PersonOut](items=[_person_out(p) for p in found], next_cursor=next_cursor)


@router.post("/people", status_code=201, summary="Add a person")
def create_person(request: Request, user: ApiAdmin, body: PersonIn) -> PersonOut:
    data = PersonInput(
        name=body.name, logon=body.logon, emails=tuple(e.strip().lower() for e in body.emails),
        site=body.site, is_agent=body.is_agent,
    )  # fmt: skip
    try:
        return _person_out(directory.add_person(context_of(request).store, data))
    except DirectoryError as exc:
        raise _problem(exc) from None


@router.patch("/people/{person_id}", summary="Change a person (the fields sent)")
def update_person(
    request: Request, person_id: RowId, user: ApiAdmin, body: PersonPatch
) -> PersonOut:
    store = context_of(request).store
    with store.session() as session:
        current = directory.person(session, person_id)
    if current is None:
        raise Problem(404, "Not found", f"no person with id {person_id}")
    sent = body.model_fields_set
    data = PersonInput(
        name=body.name if body.name is not None else current.name,
        logon=body.logon if "logon" in sent else current.logon,
        emails=tuple(e.strip().lower() for e in body.emails)
        if body.emails is not None
        else tuple(current.emails),
        site=body.site if "site" in sent else current.site,
        is_agent=body.is_agent if body.is_agent is not None else current.is_agent,
    )
    try:
        return _person_out(directory.change_person(store, person_id, data))
    except DirectoryError as exc:
        raise _problem(exc) from None


@router.post(
    "/people/import",
    summary="Import people from CSV (name, logon, email, site, agent): all rows or none",
    openapi_extra=_CSV_BODY,
)
async def import_people(request: Request, user: ApiAdmin) -> ImportOut:
    result = directory.import_people(context_of(request).store, await _csv(request))
    if result.problems:
        raise _problem(DirectoryError(result.problems))
    return ImportOut(created=result.created, updated=result.updated, unchanged=result.unchanged)


# ---- groups, sites, teams --------------------------------------------------------------


def _named(kind: NamedKind) -> None:
    path = f"/{kind.value}"

    @router.get(path, summary=f"{kind.value.capitalize()}, in the order they were added")
    def listing(
        request: Request,
        user: ApiViewer,
        updated_since: UpdatedSince = None,
        cursor: Annotated[str | None, Query(max_length=500)] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    ) -> Page[NamedOut]:
        with context_of(request).store.session() as session:
            found = directory.list_named(
                session, kind, after_id=_after(cursor), limit=limit + 1, updated_since=updated_since
            )
        more = len(found) > limit
        found = found[:limit]
        return Page[NamedOut](
            items=[_named_out(row) for row in found],
            next_cursor=encode_cursor([found[-1].id]) if more else None,
        )

    @router.post(path, status_code=201, summary=f"Add a {kind.singular}")
    def create(request: Request, user: ApiAdmin, body: NamedIn) -> NamedOut:
        try:
            made = directory.add_named(context_of(request).store, kind, body.name)
        except DirectoryError as exc:
            raise _problem(exc) from None
        return _named_out(made)

    @router.patch(path + "/{row_id}", summary=f"Rename a {kind.singular}")
    def update(request: Request, row_id: RowId, user: ApiAdmin, body: NamedIn) -> NamedOut:
        try:
            renamed = directory.rename(context_of(request).store, kind, row_id, body.name)
        except DirectoryError as exc:
            raise _problem(exc) from None
        return _named_out(renamed)

    @router.post(
        path + "/import",
        summary=f"Import {kind.value} from CSV (one column, name): all rows or none",
        openapi_extra=_CSV_BODY,
    )
    async def import_csv(request: Request, user: ApiAdmin) -> ImportOut:
        result = directory.import_named(context_of(request).store, kind, await _csv(request))
        if result.problems:
            raise _problem(DirectoryError(result.problems))
        return ImportOut(created=result.created, updated=result.updated, unchanged=result.unchanged)

    listing.__name__ = f"list_{kind.value}"
    create.__name__ = f"create_{kind.singular}"
    update.__name__ = f"update_{kind.singular}"
    import_csv.__name__ = f"import_{kind.value}"


for _kind in NamedKind:
    _named(_kind)
