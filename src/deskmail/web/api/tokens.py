"""/api/v1/tokens: list, create (the token is in the answer, once), revoke.

Everyone manages their own tokens; an admin sees and revokes everyone's.
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import Request, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from deskmail.store.accounts import Role
from deskmail.web.accounts import user_by_id
from deskmail.web.api.resource import resource_router
from deskmail.web.context import context_of
from deskmail.web.ids import RowId
from deskmail.web.pagination import UpdatedSince
from deskmail.web.problems import Problem, field_problem
from deskmail.web.security.roles import ApiViewer
from deskmail.web.security.tokens import create_token
from deskmail.web.tokens import TokenNotFound, list_tokens, revoke_token, view

router = resource_router(prefix="/tokens", tags=["tokens"])


class TokenOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)  # TokenOut.model_validate(token_view)

    id: int
    label: str
    owner: str
    prefix: str = Field(description="the token's first characters, to recognise it")
    role: Role
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    updated_at: datetime = Field(description="its last change: made, or last used")


class TokenIn(BaseModel):
    label: str = Field(min_length=1, max_length=200)
    role: Role | None = Field(default=None, description="default: the creator's; never more")
    expires_at: AwareDatetime | None = Field(default=None, description="default: never")

    @field_validator("label")
    @classmethod
    def _printable(cls, value: str) -> str:
        if not value.strip() or any(ord(char) < 32 for char in value):
            raise ValueError("must be printable text, not only spaces")
        return value.strip()


class NewTokenOut(TokenOut):
    token: str = Field(description="the bearer token itself: shown in this answer only")


@router.get("", summary="Your tokens (an admin's: everyone's)")
def list_all(
    request: Request, user: ApiViewer, updated_since: UpdatedSince = None
) -> list[TokenOut]:
    store = context_of(request).store
    return [TokenOut.model_validate(token) for token in list_tokens(store, user, updated_since)]


@router.post("", status_code=201, summary="Create a token; the answer carries it, once")
def create(request: Request, response: Response, body: TokenIn, user: ApiViewer) -> NewTokenOut:
    if body.role is not None and not user.allows(body.role):
        raise field_problem(
            403, "body.role", f"cannot be more than your own role ({user.role.value})"
        )
    if body.expires_at is not None and body.expires_at <= datetime.now(UTC):
        raise field_problem(422, "body.expires_at", "must be in the future")
    store = context_of(request).store
    made = create_token(
        store, user_by_id(store, user.user_id), body.label, body.role or user.role, body.expires_at
    )
    response.headers["Location"] = f"{request.url.path}/{made.token.id}"
    shown = TokenOut.model_validate(view(made.token, user.name))
    return NewTokenOut(**shown.model_dump(), token=made.secret)


@router.delete("/{token_id}", status_code=204, summary="Revoke a token")
def revoke(request: Request, token_id: RowId, user: ApiViewer) -> Response:
    try:
        revoke_token(context_of(request).store, user, token_id)
    except TokenNotFound:
        raise Problem(404, "Not found", f"no token {token_id} of yours") from None
    return Response(status_code=204)
