"""People and permissions: users, roles, hashed bearer tokens, and the permission check."""

from __future__ import annotations

from collections.abc import Sequence

from govml.domain.lifecycle import IssuedToken, Permission, User
from govml.services.context import ServiceContext


class AccessService:
    """Users, their roles and tokens."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def add_user(
        self, name: str, *, roles: Sequence[str], expires_in_days: int | None = 90
    ) -> IssuedToken:
        """Add a user and return their first token."""
        raise NotImplementedError

    def list_users(self) -> list[User]:
        """Return every user."""
        raise NotImplementedError

    def set_roles(self, name: str, *, roles: Sequence[str]) -> User:
        """Replace a user's roles."""
        raise NotImplementedError

    def issue_token(self, name: str, *, expires_in_days: int | None = 90) -> IssuedToken:
        """Issue a new token."""
        raise NotImplementedError

    def revoke_tokens(self, name: str) -> int:
        """Revoke every live token of a user."""
        raise NotImplementedError

    def disable_user(self, name: str) -> User:
        """Disable a user."""
        raise NotImplementedError

    def whoami(self) -> User:
        """Return the acting user."""
        raise NotImplementedError

    def authenticate(self, token: str) -> User:
        """Return the active user a bearer token belongs to; raise AuthenticationError."""
        raise NotImplementedError

    def require(self, permission: Permission) -> User:
        """Return the acting user if they hold ``permission``; raise ForbiddenError."""
        raise NotImplementedError
