"""Who may send a body: the caller is known, and may do what the route does, before it is read.

FastAPI reads and parses a request's body (JSON, or multipart uploads spooled to disk) before
any route dependency runs, so checking the token in a dependency comes too late to protect the
server from an anonymous or under-privileged upload. This ASGI middleware answers first:

1. every request under the API prefix (but the OpenAPI document and its docs page) carries a
   bearer token that `AccessService.authenticate` accepts, else 401 with the API's error body;
2. a request with a body (POST, PUT, PATCH, DELETE) to a route listed in `UPLOAD_PERMISSIONS`
   comes from a user who holds that permission, else 403; other routes need any active user.

Nothing here replaces the services' own check inside their write transaction: this is the early
read-only refusal that keeps an unauthorised body from being read at all. The authenticated
user is left in the request's state for `govml.server.auth.acting`, so the token is looked up
once per request.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace

import anyio.to_thread
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from govml.domain.lifecycle import Permission, User
from govml.errors import AuthenticationError, GovmlError
from govml.services.access import AccessService, precheck
from govml.services.context import ServiceContext
from govml.wire import API_PREFIX, error_body, status_for

ERR_NO_BEARER = "no bearer token: send the header `Authorization: Bearer TOKEN`"
HINT_ASK_ADMIN = "an admin creates users and their tokens with `govml users add NAME --role ROLE`"
STATE_USER = "govml_user"
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
PUBLIC_PATHS = frozenset({f"{API_PREFIX}/openapi.json", f"{API_PREFIX}/docs"})

# Routes whose bodies are expensive to read (uploads, large JSON), with the permission their
# service will ask for. Listed by method and path template; `check_routes` fails the build of
# the application when one no longer exists, so a renamed route cannot drop out silently.
UPLOAD_PERMISSIONS: Mapping[tuple[str, str], Permission] = {
    ("POST", f"{API_PREFIX}/models/{{name}}/versions"): Permission.REGISTER,
    ("POST", f"{API_PREFIX}/evaluations"): Permission.REGISTER,
    ("POST", f"{API_PREFIX}/models/{{name}}/monitoring/labels"): Permission.REGISTER,
    ("POST", f"{API_PREFIX}/models/{{name}}/prediction-log"): Permission.REGISTER,
    ("POST", f"{API_PREFIX}/policies"): Permission.ADMINISTER,
}


def check_routes(paths: Mapping[str, Mapping[str, object]]) -> None:
    """Raise `RuntimeError` when a route of `UPLOAD_PERMISSIONS` is not in the OpenAPI paths."""
    present = {(method.upper(), path) for path, methods in paths.items() for method in methods}
    missing = sorted(f"{m} {p}" for m, p in UPLOAD_PERMISSIONS if (m, p) not in present)
    if missing:
        raise RuntimeError(f"routes named in UPLOAD_PERMISSIONS do not exist: {', '.join(missing)}")


def _template(path: str) -> re.Pattern[str]:
    """Return a pattern matching the concrete paths of a path template (``{name}``: a segment)."""
    parts = re.split(r"(\{[^}]+\})", path)
    return re.compile("".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts))


_PATTERNS = [
    (method, _template(path), permission)
    for (method, path), permission in UPLOAD_PERMISSIONS.items()
]


class Gatekeeper:
    """ASGI middleware: authenticate, and check the permission of upload routes, before bodies."""

    def __init__(self, app: ASGIApp, *, context: ServiceContext) -> None:
        self.app = app
        self.context = context

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer 401 / 403 before the body is read, or pass the request on."""
        path = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith(API_PREFIX) or path in PUBLIC_PATHS:
            await self.app(scope, receive, send)
            return
        try:
            token = _bearer(Headers(scope=scope))
            user = await anyio.to_thread.run_sync(self._authenticate, token)
            if scope["method"] in BODY_METHODS:
                permission = self._permission(scope)
                await anyio.to_thread.run_sync(self._precheck, user, permission)
        except GovmlError as error:
            await _refuse(error)(scope, receive, send)
            return
        scope.setdefault("state", {})[STATE_USER] = user
        await self.app(scope, receive, send)

    def _authenticate(self, token: str) -> User:
        return AccessService(self.context).authenticate(token)

    def _precheck(self, user: User, permission: Permission) -> None:
        precheck(replace(self.context, actor=user.name, local=False), permission)

    def _permission(self, scope: Scope) -> Permission:
        for method, pattern, permission in _PATTERNS:
            if scope["method"] == method and pattern.fullmatch(scope["path"]):
                return permission
        return Permission.READ


def _bearer(headers: Headers) -> str:
    scheme, _, credentials = headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        raise AuthenticationError(ERR_NO_BEARER, hint=HINT_ASK_ADMIN)
    return credentials.strip()


def _refuse(error: GovmlError) -> JSONResponse:
    # The body was never read: closing the connection keeps the client from streaming it on.
    headers = {"Connection": "close"}
    if isinstance(error, AuthenticationError):
        headers["WWW-Authenticate"] = "Bearer"
    return JSONResponse(error_body(error), status_code=status_for(error), headers=headers)
