"""CSRF protection of the pages: starlette-csrf's double-submit cookie.

Every state-changing request of a page carries the `csrftoken` cookie's value
in the X-CSRFToken header; static/app.js adds it to each htmx request (forms
are boosted by htmx, so they go through it too). The API is exempt: it takes
bearer tokens only, never cookies, so a forged cross-site request has no
credentials to ride on.
"""

from __future__ import annotations

import re
import secrets

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette_csrf.middleware import CSRFMiddleware

from deskmail.store.daemon_state import WebSecret
from deskmail.store.engine import Store

COOKIE = "csrftoken"
HEADER = "x-csrftoken"
EXEMPT = [re.compile(r"^/api/")]
_SECRET_NAME = "csrf"


class PageCSRFMiddleware(CSRFMiddleware):
    """starlette-csrf with a refusal that says what to do."""

    def _get_error_response(self, request: Request) -> Response:
        return PlainTextResponse(
            "Refused: this form was not sent by a deskmail page (missing or wrong CSRF token)."
            " Reload the page and try again.",
            status_code=403,
        )


def shared_secret(store: Store) -> str:
    """The signing secret of CSRF tokens, the same for every front end on this database."""
    with store.session() as session:
        found = session.scalar(select(WebSecret.value).where(WebSecret.name == _SECRET_NAME))
    if found is not None:
        return found
    try:
        with store.transaction() as session:
            session.add(WebSecret(name=_SECRET_NAME, value=secrets.token_urlsafe(48)))
    except IntegrityError:
        pass  # another front end created it first: use theirs
    with store.session() as session:
        return session.execute(
            select(WebSecret.value).where(WebSecret.name == _SECRET_NAME)
        ).scalar_one()
