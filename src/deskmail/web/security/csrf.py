"""CSRF protection of the pages: starlette-csrf's double-submit cookie.

Every state-changing request of a page carries the `csrftoken` cookie's value
in the X-CSRFToken header; static/app.js adds it to each htmx request (forms
are boosted by htmx, so they go through it too). Without JavaScript a form
carries it in a hidden `csrftoken` field instead (templates: csrf_token(request));
a page shown before the cookie exists gets the token its answer's cookie sets.
The API is exempt: it takes bearer tokens only, never cookies, so a forged
cross-site request has no credentials to ride on.
"""

from __future__ import annotations

import http.cookies
import re
import secrets
from urllib.parse import parse_qs

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import Message, Receive, Scope, Send
from starlette_csrf.middleware import CSRFMiddleware

from deskmail.store.daemon_state import WebSecret
from deskmail.store.engine import Store

COOKIE = "csrftoken"
HEADER = "x-csrftoken"
# The API; and the OAuth2 sign-in's answer, posted by the identity provider's page
# (pages/job_sign_in.py: its one-time state stands for the token).
EXEMPT = [re.compile(r"^/api/"), re.compile(r"^/jobs/sign-in/callback$")]
_SECRET_NAME = "csrf"
FORM_FIELD = "csrftoken"  # the hidden field of a form posted without JavaScript
NEW_TOKEN = "deskmail.csrf_token"  # scope key: the token of a cookie this answer sets
_FORM = "application/x-www-form-urlencoded"
_FORM_LIMIT = 1024 * 1024  # a larger form body is not searched for the field


class PageCSRFMiddleware(CSRFMiddleware):
    """starlette-csrf with a refusal that says what to do, and the token also taken from a
    plain form's hidden field."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            request = Request(scope)
            if self.cookie_name not in request.cookies:
                scope[NEW_TOKEN] = self._generate_csrf_token()
            if (
                request.method not in self.safe_methods
                and self.header_name not in request.headers
                and request.headers.get("content-type", "").startswith(_FORM)
            ):
                scope, receive = await _token_from_form(scope, receive, self.header_name)
        await super().__call__(scope, receive, send)

    async def send(self, message: Message, send: Send, scope: Scope) -> None:
        token = scope.get(NEW_TOKEN)
        if token is None or message["type"] != "http.response.start":
            await super().send(message, send, scope)
            return
        # The cookie carries the token the page was rendered with (its hidden fields).
        cookie: http.cookies.BaseCookie[str] = http.cookies.SimpleCookie()
        cookie[self.cookie_name] = token
        cookie[self.cookie_name]["path"] = self.cookie_path
        cookie[self.cookie_name]["secure"] = self.cookie_secure
        cookie[self.cookie_name]["httponly"] = self.cookie_httponly
        cookie[self.cookie_name]["samesite"] = self.cookie_samesite
        MutableHeaders(scope=message).append("set-cookie", cookie.output(header="").strip())
        await send(message)

    def _get_error_response(self, request: Request) -> Response:
        return PlainTextResponse(
            "Refused: this form was not sent by a deskmail page (missing or wrong CSRF token)."
            " Reload the page and try again.",
            status_code=403,
        )


def csrf_token(request: Request) -> str:
    """The token a page's forms carry in their hidden field."""
    return request.cookies.get(COOKIE) or str(request.scope.get(NEW_TOKEN, ""))


async def _token_from_form(scope: Scope, receive: Receive, header: str) -> tuple[Scope, Receive]:
    """Read a form body once; its csrftoken field becomes the header the check reads, and
    the body is given again, whole, to the application."""
    chunks, size, more = [], 0, True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        more = message.get("more_body", False)
    body = b"".join(chunks)
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()  # a disconnect, when it comes
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    if size <= _FORM_LIMIT:
        found = parse_qs(body.decode("latin-1"), max_num_fields=10_000).get(FORM_FIELD)
        if found:
            headers = [*scope["headers"], (header.encode("latin-1"), found[-1].encode("latin-1"))]
            scope = {**scope, "headers": headers}
    return scope, replay


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
