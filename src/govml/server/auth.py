"""Who is calling: the bearer token of each request, resolved to a user and a service context.

Routes only authenticate. What the user may do is checked by the services they call (the
same checks as in local mode), so no route can forget a permission. The token was already
checked, before the body was read, by `govml.server.guard.Gatekeeper`, which leaves the user in
the request's state; `acting` authenticates itself only when an application runs without it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from govml.domain.lifecycle import User
from govml.errors import AuthenticationError
from govml.server.guard import ERR_NO_BEARER, HINT_ASK_ADMIN, STATE_USER
from govml.services.access import AccessService
from govml.services.context import ServiceContext

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    description="A token printed by `govml users add` or `govml users token`.",
)


def server_context(request: Request) -> ServiceContext:
    """Return the server's shared context (one store, one artifact store, one key folder)."""
    ctx: ServiceContext = request.app.state.govml_context
    return ctx


def acting(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> ServiceContext:
    """Return the context of the user the request's bearer token belongs to.

    Raises
    ------
    AuthenticationError
        When the token is missing, unknown, expired or revoked, or its user is disabled.
    """
    shared = server_context(request)
    user: User | None = getattr(request.state, STATE_USER, None)
    if user is None:
        if credentials is None or not credentials.credentials:
            raise AuthenticationError(ERR_NO_BEARER, hint=HINT_ASK_ADMIN)
        user = AccessService(shared).authenticate(credentials.credentials)
    return replace(shared, actor=user.name, local=False)


Acting = Annotated[ServiceContext, Depends(acting)]
"""A route parameter of this type receives the authenticated caller's context."""
