"""Users, roles and tokens (who may manage them is checked by the access service)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

from govml.server.auth import Acting
from govml.server.routes.common import ERRORS
from govml.server.schemas import RevokedOut, RolesSet, TokenOut, TokenRequest, UserCreate, UserOut
from govml.services.access import AccessService

router = APIRouter(tags=["people"], responses=ERRORS)


class TokenRevokedOut(BaseModel):
    """The one token revoked, and when."""

    user: str
    token_id: str
    revoked_at: datetime


@router.get("/whoami", response_model=UserOut)
def whoami(ctx: Acting) -> dict[str, Any]:
    """Return the user the token belongs to."""
    return AccessService(ctx).whoami().to_dict()


@router.get("/users", response_model=list[UserOut])
def list_users(ctx: Acting) -> list[dict[str, Any]]:
    """List every user, by name."""
    return [user.to_dict() for user in AccessService(ctx).list_users()]


@router.post("/users", response_model=TokenOut, status_code=201)
def add_user(ctx: Acting, body: UserCreate) -> dict[str, Any]:
    """Add a user with roles; the response holds their first token, shown this once."""
    issued = AccessService(ctx).add_user(
        body.name, roles=body.roles, expires_in_days=body.expires_in_days
    )
    return issued.to_dict()


@router.put("/users/{name}/roles", response_model=UserOut)
def set_roles(ctx: Acting, name: str, body: RolesSet) -> dict[str, Any]:
    """Replace a user's roles."""
    return AccessService(ctx).set_roles(name, roles=body.roles).to_dict()


@router.post("/users/{name}/tokens", response_model=TokenOut, status_code=201)
def issue_token(ctx: Acting, name: str, body: TokenRequest) -> dict[str, Any]:
    """Issue a new token for a user (shown this once)."""
    return AccessService(ctx).issue_token(name, expires_in_days=body.expires_in_days).to_dict()


@router.delete("/users/{name}/tokens", response_model=RevokedOut)
def revoke_tokens(ctx: Acting, name: str) -> dict[str, Any]:
    """Revoke every live token of a user."""
    return {"user": name, "revoked": AccessService(ctx).revoke_tokens(name)}


@router.delete("/users/{name}/tokens/{token_id}", response_model=TokenRevokedOut)
def revoke_token(ctx: Acting, name: str, token_id: str) -> dict[str, Any]:
    """Revoke one token of a user by its id (an admin, or the user); the others keep working."""
    row = AccessService(ctx).revoke_token(name, token_id)
    return {"user": name, "token_id": row.id, "revoked_at": row.revoked_at}


@router.post("/users/{name}/disable", response_model=UserOut)
def disable_user(ctx: Acting, name: str) -> dict[str, Any]:
    """Disable a user: their tokens stop working."""
    return AccessService(ctx).disable_user(name).to_dict()
