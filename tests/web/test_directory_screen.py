"""People, groups, sites and teams: list, add, edit, import CSV (admins), read (everyone)."""

from __future__ import annotations

import re

from playwright.sync_api import expect
from sqlalchemy import func, select

from deskmail.store.accounts import Role
from deskmail.store.models import Group, Person, PersonAddress, Site
from tests.web.axe import assert_accessible
from tests.web.conftest import LiveWeb


def _count(web: LiveWeb, model: type[Person] | type[Group] | type[Site]) -> int:
    with web.store.session() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_an_admin_adds_and_edits_people(web: LiveWeb) -> None:
    page = web.page(Role.ADMIN)
    page.goto("/sites")
    page.get_by_label("Name").fill("Head Office")
    page.get_by_role("button", name="Add site").click()
    expect(page.get_by_role("status")).to_have_text("Head Office added.")

    page.get_by_role("link", name="People").first.click()
    expect(page).to_have_url(re.compile(r"/people$"))
    page.locator("#new-name").fill("Ann Smith")
    page.locator("#new-logon").fill("asmith")
    page.locator("#new-emails").fill("Ann@Example.com; ann.smith@example.com")
    page.locator("#new-site").fill("Head Office")
    page.get_by_role("button", name="Add person").click()
    expect(page.get_by_role("status")).to_have_text("Ann Smith added.")
    row = page.get_by_role("row", name=re.compile("Ann Smith"))
    expect(row).to_contain_text("ann.smith@example.com, ann@example.com")
    expect(row).to_contain_text("Head Office")

    row.get_by_text("Edit").click()
    row.get_by_label("Addresses (separated by ;)").fill("ann@example.com")
    row.get_by_label("Agent").check()
    row.get_by_role("button", name="Save Ann Smith").click()
    expect(page.get_by_role("status")).to_have_text("Ann Smith saved.")
    with web.store.session() as session:
        person = session.scalar(select(Person).where(Person.logon == "asmith"))
        assert person is not None and person.is_agent
        assert [a.address for a in person.addresses] == ["ann@example.com"]

    # A second person may not take her address: the form says which field and why.
    page.locator("#new-name").fill("Bob")
    page.locator("#new-emails").fill("ann@example.com")
    page.get_by_role("button", name="Add person").click()
    expect(page.get_by_role("alert")).to_contain_text("email: 'ann@example.com' belongs to person")
    assert _count(web, Person) == 1


def test_a_csv_import_with_a_bad_row_imports_nothing_and_names_it(web: LiveWeb, tmp_path) -> None:  # type: ignore[no-untyped-def]
    client = web.browser_client(Role.ADMIN)
    client.post("/sites", data={"name": "Lab"})
    bad = (
        "name,logon,email,site,agent\n"
        "Ann,ann,ann@example.com,Lab,no\n"
        ",bob,bob@example.com,,\n"
        "Cy,cy,not-an-address,Lab,yes\n"
        "Di,di,di@example.com,Nowhere,\n"
        "Ed,ed,ed@example.com,,maybe\n"
    )
    answer = client.post("/people-import", files={"file": ("people.csv", bad, "text/csv")})
    assert answer.status_code == 422
    for expected in (
        "line 3, name: is empty",
        "line 4, email: &#39;not-an-address&#39; is not an e-mail address",
        "line 5, site: there is no site named &#39;Nowhere&#39;",
        "line 6, agent: &#39;maybe&#39; is not yes or no",
    ):
        assert expected in answer.text
    assert _count(web, Person) == 0 and _count(web, PersonAddress) == 0

    good = (
        "Name,Logon,Email,Site,Agent\nAnn,ann,ann@example.com;a@example.com,Lab,no\nBo,bo,,,yes\n"
    )
    answer = client.post("/people-import", files={"file": ("people.csv", good, "text/csv")})
    assert answer.status_code == 303
    assert "2+added" in answer.headers["location"]
    again = "name,logon,email,site,agent\nAnn Smith,ann,ann@example.com,Lab,no\nBo,bo,,,yes\n"
    answer = client.post("/people-import", files={"file": ("people.csv", again, "text/csv")})
    assert "1+changed%2C+1+unchanged" in answer.headers["location"]
    assert _count(web, Person) == 2 and _count(web, PersonAddress) == 1  # a@ was dropped

    page = web.page(Role.ADMIN)
    page.goto("/groups")
    csv_file = tmp_path / "groups.csv"
    csv_file.write_text("name\nNetwork\nNetwork\n\n")
    page.get_by_label("CSV file").set_input_files(str(csv_file))
    page.get_by_role("button", name="Import groups").click()
    expect(page.get_by_role("alert")).to_have_text("Nothing was imported; fix these rows:")
    expect(page.get_by_text("line 3, name: repeats line 2")).to_be_visible()
    csv_file.write_text("name\nNetwork\nServers\n")
    page.get_by_label("CSV file").set_input_files(str(csv_file))
    page.get_by_role("button", name="Import groups").click()
    expect(page.get_by_role("status")).to_have_text("Imported: 2 added, 0 changed, 0 unchanged.")
    page.get_by_label("New name for Servers").fill("Server room")
    page.get_by_role("button", name="Rename Servers").click()
    expect(page.get_by_role("rowheader", name="Server room")).to_be_visible()


def test_viewers_read_the_directory_but_may_not_change_it(web: LiveWeb) -> None:
    viewer = web.browser_client(Role.VIEWER)
    listing = viewer.get("/people")
    assert listing.status_code == 200 and "Add a person" not in listing.text
    assert viewer.post("/people", data={"name": "Eve"}).status_code == 403
    assert viewer.post("/groups", data={"name": "Eve's"}).status_code == 403
    assert viewer.post("/teams-import", files={"file": ("t.csv", "name\nX\n")}).status_code == 403
    agent = web.browser_client(Role.AGENT)
    assert agent.post("/sites", data={"name": "Attic"}).status_code == 403
    assert _count(web, Person) == 0 and _count(web, Group) == 0 and _count(web, Site) == 0
    assert web.client().get("/people").status_code == 303  # to the login page


def test_the_directory_screens_are_accessible(web: LiveWeb) -> None:
    client = web.browser_client(Role.ADMIN)
    client.post("/sites", data={"name": "Lab"})
    client.post("/people", data={"name": "Ann", "emails": "ann@example.com", "site": "Lab"})
    page = web.page(Role.ADMIN, bypass_csp=True)
    for path in ("/people", "/groups", "/sites", "/teams"):
        page.goto(path)
        assert_accessible(page)
