"""People, groups, sites and teams: list, add, edit, import CSV (admins change; everyone reads)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import Response

from deskmail.store.accounts import Role
from deskmail.web.context import context_of
from deskmail.web.ids import RowId
from deskmail.web.queries.directory import (
    PEOPLE_COLUMNS,
    DirectoryError,
    ImportResult,
    NamedKind,
    PersonInput,
    add_named,
    add_person,
    change_person,
    import_named,
    import_people,
    list_named,
    list_people,
    parse_emails,
    rename,
    site_names,
)
from deskmail.web.security.principal import Principal
from deskmail.web.security.roles import PageAdmin, PageViewer
from deskmail.web.templating import render, see_other

router = APIRouter(include_in_schema=False)
MAX_CSV = 5 * 1024 * 1024
PEOPLE_PAGE = 200

SECTIONS = (("people", "People"), ("groups", "Groups"), ("sites", "Sites"), ("teams", "Teams"))


def _done(request: Request, route: str, notice: str) -> Response:
    return see_other(request, str(request.url_for(route).include_query_params(notice=notice)))


def _imported(result: ImportResult) -> str:
    return (
        f"Imported: {result.created} added, {result.updated} changed, {result.unchanged} unchanged."
    )


async def _csv_text(upload: UploadFile) -> str:
    data = await upload.read(MAX_CSV + 1)
    if len(data) > MAX_CSV:
        raise DirectoryError([])  # said by the caller
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")  # a spreadsheet's export


# ---- people ----------------------------------------------------------------------------


def _people_page(
    request: Request, user: Principal, *, status: int = 200, **values: object
) -> Response:
    store = context_of(request).store
    search = request.query_params.get("q", "").strip()[:200]
    after = request.query_params.get("after", "")
    after_id = int(after) if after.isdigit() else 0
    with store.session() as session:
        people = list_people(
            session, after_id=after_id, limit=PEOPLE_PAGE + 1, search=search or None
        )
        sites = site_names(session)
    more = len(people) > PEOPLE_PAGE
    people = people[:PEOPLE_PAGE]
    next_url = None
    if more:
        next_url = str(
            request.url_for("people").include_query_params(q=search, after=people[-1].id)
        )
    return render(
        request, "directory/people.html", user, status=status, title="People",
        people=people, sites=sites, search=search, next_url=next_url,
        can_edit=user.allows(Role.ADMIN), sections=SECTIONS, section="people",
        columns=", ".join(PEOPLE_COLUMNS), **values,
    )  # fmt: skip


@router.get("/people", name="people")
def people(request: Request, user: PageViewer, notice: str | None = None) -> Response:
    return _people_page(request, user, notice=notice)


def _person_input(name: str, logon: str, emails: str, site: str, agent: str | None) -> PersonInput:
    return PersonInput(
        name=name,
        logon=logon.strip() or None,
        emails=parse_emails(emails),
        site=site.strip() or None,
        is_agent=agent == "on",
    )


@router.post("/people", name="person_add")
def person_add(
    request: Request,
    user: PageAdmin,
    name: Annotated[str, Form(max_length=300)],
    logon: Annotated[str, Form(max_length=200)] = "",
    emails: Annotated[str, Form(max_length=4000)] = "",
    site: Annotated[str, Form(max_length=200)] = "",
    agent: Annotated[str | None, Form()] = None,
) -> Response:
    try:
        made = add_person(
            context_of(request).store, _person_input(name, logon, emails, site, agent)
        )
    except DirectoryError as exc:
        return _people_page(request, user, status=422, error=str(exc))
    return _done(request, "people", f"{made.name} added.")


@router.post("/people/{person_id}", name="person_change")
def person_change(
    request: Request,
    user: PageAdmin,
    person_id: RowId,
    name: Annotated[str, Form(max_length=300)],
    logon: Annotated[str, Form(max_length=200)] = "",
    emails: Annotated[str, Form(max_length=4000)] = "",
    site: Annotated[str, Form(max_length=200)] = "",
    agent: Annotated[str | None, Form()] = None,
) -> Response:
    data = _person_input(name, logon, emails, site, agent)
    try:
        changed = change_person(context_of(request).store, person_id, data)
    except DirectoryError as exc:
        return _people_page(request, user, status=404 if exc.not_found else 422, error=str(exc))
    return _done(request, "people", f"{changed.name} saved.")


@router.post("/people-import", name="people_import")
async def people_import(
    request: Request, user: PageAdmin, file: Annotated[UploadFile, File()]
) -> Response:
    try:
        text = await _csv_text(file)
    except DirectoryError:
        return _people_page(request, user, status=413, error="The file is larger than 5 MB.")
    result = import_people(context_of(request).store, text)
    if result.problems:
        return _people_page(
            request, user, status=422, error="Nothing was imported; fix these rows:",
            problems=result.problems,
        )  # fmt: skip
    return _done(request, "people", _imported(result))


# ---- groups, sites, teams --------------------------------------------------------------


def _named_page(
    request: Request, user: Principal, kind: NamedKind, *, status: int = 200, **values: object
) -> Response:
    with context_of(request).store.session() as session:
        rows = list_named(session, kind, limit=10_000)
    return render(
        request, "directory/named.html", user, status=status, title=kind.value.capitalize(),
        rows=rows, kind=kind, can_edit=user.allows(Role.ADMIN), sections=SECTIONS,
        section=kind.value, **values,
    )  # fmt: skip


def _named_routes(kind: NamedKind) -> None:
    path = f"/{kind.value}"

    @router.get(path, name=kind.value)
    def listing(request: Request, user: PageViewer, notice: str | None = None) -> Response:
        return _named_page(request, user, kind, notice=notice)

    @router.post(path, name=f"{kind.value}_add")
    def add(
        request: Request, user: PageAdmin, name: Annotated[str, Form(max_length=200)]
    ) -> Response:
        try:
            made = add_named(context_of(request).store, kind, name)
        except DirectoryError as exc:
            return _named_page(request, user, kind, status=422, error=str(exc))
        return _done(request, kind.value, f"{made.name} added.")

    @router.post(path + "/{row_id}", name=f"{kind.value}_rename")
    def change(
        request: Request, user: PageAdmin, row_id: int, name: Annotated[str, Form(max_length=200)]
    ) -> Response:
        try:
            renamed = rename(context_of(request).store, kind, row_id, name)
        except DirectoryError as exc:
            return _named_page(
                request, user, kind, status=404 if exc.not_found else 422, error=str(exc)
            )
        return _done(request, kind.value, f"Renamed to {renamed.name}.")

    @router.post(f"/{kind.value}-import", name=f"{kind.value}_import")
    async def import_csv(
        request: Request, user: PageAdmin, file: Annotated[UploadFile, File()]
    ) -> Response:
        try:
            text = await _csv_text(file)
        except DirectoryError:
            return _named_page(
                request, user, kind, status=413, error="The file is larger than 5 MB."
            )
        result = import_named(context_of(request).store, kind, text)
        if result.problems:
            return _named_page(
                request, user, kind, status=422, error="Nothing was imported; fix these rows:",
                problems=result.problems,
            )  # fmt: skip
        return _done(request, kind.value, _imported(result))


for _kind in NamedKind:
    _named_routes(_kind)
