"""The screens of the navigation bar, in order, with the least role that sees each.

A screen appears once a route of that name exists (a screen added later just
names its page route as below), and only to the roles that may open it.
"""

from __future__ import annotations

from dataclasses import dataclass

from deskmail.store.accounts import Role


@dataclass(frozen=True, slots=True)
class NavItem:
    label: str
    route: str  # the name of the page's GET route
    role: Role


NAV = (
    NavItem("Jobs", "jobs", Role.VIEWER),
    NavItem("Live", "live", Role.VIEWER),
    NavItem("Runs", "runs", Role.VIEWER),
    NavItem("Tickets", "tickets", Role.VIEWER),
    NavItem("Events", "events", Role.VIEWER),
    NavItem("Quarantine", "quarantine", Role.AGENT),
    NavItem("Rule simulator", "simulator", Role.ADMIN),
    NavItem("People", "people", Role.VIEWER),
    NavItem("Webhooks", "webhooks", Role.ADMIN),
    NavItem("Users", "users", Role.ADMIN),
    NavItem("API tokens", "tokens", Role.VIEWER),
    NavItem("API docs", "api_docs", Role.VIEWER),
)
