"""API tokens: create (the token is shown once), list, revoke. Admins see everyone's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from deskmail.store.accounts import Role
from deskmail.web.accounts import user_by_id
from deskmail.web.context import context_of
from deskmail.web.ids import RowId
from deskmail.web.security.principal import Principal
from deskmail.web.security.roles import PageViewer
from deskmail.web.security.tokens import create_token
from deskmail.web.templating import render, see_other
from deskmail.web.tokens import TokenNotFound, list_tokens, revoke_token

router = APIRouter(include_in_schema=False)


def _page(request: Request, user: Principal, *, status: int = 200, **values: object) -> Response:
    context = context_of(request)
    return render(
        request,
        "tokens.html",
        user,
        status=status,
        title="API tokens",
        tokens=list_tokens(context.store, user),
        show_owner=user.allows(Role.ADMIN),
        roles=[role for role in Role if user.allows(role)],
        **values,
    )


@router.get("/tokens", name="tokens")
def tokens(request: Request, user: PageViewer) -> Response:
    return _page(request, user)


@router.post("/tokens", name="token_create")
def create(
    request: Request,
    user: PageViewer,
    label: Annotated[str, Form(min_length=1, max_length=200)],
    role: Annotated[Role, Form()],
    expires_days: Annotated[int, Form(ge=0, le=3650)] = 90,
) -> Response:
    owner = user_by_id(context_of(request).store, user.user_id)
    expires = datetime.now(UTC) + timedelta(days=expires_days) if expires_days else None
    made = create_token(context_of(request).store, owner, label.strip(), role, expires)
    # The one response that carries the token; the page must not be cached (no-store).
    return _page(request, user, new_secret=made.secret, new_label=made.token.label)


@router.post("/tokens/{token_id}/revoke", name="token_revoke")
def revoke(request: Request, user: PageViewer, token_id: RowId) -> Response:
    try:
        revoke_token(context_of(request).store, user, token_id)
    except TokenNotFound:
        return _page(request, user, status=404, error="No such token (revoked already?).")
    return see_other(request, str(request.url_for("tokens")))
