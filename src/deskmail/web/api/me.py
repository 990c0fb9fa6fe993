"""GET /api/v1/me: who the token acts for."""

from __future__ import annotations

from pydantic import BaseModel

from deskmail.store.accounts import Role
from deskmail.web.api.resource import resource_router
from deskmail.web.security.roles import ApiViewer

router = resource_router(tags=["me"])


class MeOut(BaseModel):
    id: int
    name: str
    role: Role  # the token's role: at most the owner's
    token_id: int | None


@router.get("/me", summary="The user this token acts for, and the token's role")
def me(user: ApiViewer) -> MeOut:
    return MeOut(id=user.user_id, name=user.name, role=user.role, token_id=user.token_id)
