"""Who is looking: the signed-in person, as a dependency of every page but sign-in.

`signed_in` resolves the session cookie to a `Viewer`: the user, their session, and a
`ServiceContext` acting as them (``local=False``, as for a bearer token), which is what every
page passes to the services. What the viewer *may* do only decides which buttons a page
shows; the services check the permission again on every action, so a forged POST is refused
there.

`checked_form` reads a POST's form after its CSRF checks (`govml.ui.csrf`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request

from govml.domain.lifecycle import Permission, Role, User
from govml.services.context import ServiceContext
from govml.ui import csrf
from govml.ui.session import Session, SessionEnded, Sessions, cookie_name
from govml.ui.settings import UISettings


class SignInRequired(Exception):
    """No live session: the page answers with a redirect to sign-in (``code``: why it ended)."""

    def __init__(self, code: str | None = None) -> None:
        super().__init__(code or "")
        self.code = code


@dataclass(frozen=True, kw_only=True)
class Viewer:
    """The signed-in person: user, session, and a service context acting as them."""

    user: User
    session: Session
    ctx: ServiceContext

    @property
    def name(self) -> str:
        """The user's name."""
        return self.user.name

    @property
    def csrf_token(self) -> str:
        """The session's CSRF secret, put in every form."""
        return self.session.csrf_secret

    @property
    def roles(self) -> tuple[Role, ...]:
        """The user's roles."""
        return self.user.roles

    def may(self, permission: Permission) -> bool:
        """Return True when the user's roles grant ``permission`` (what buttons to show)."""
        return permission in self.user.permissions()

    @property
    def may_register(self) -> bool:
        """Contributors and admins: edit model cards."""
        return self.may(Permission.REGISTER)

    @property
    def may_approve(self) -> bool:
        """Approvers and risk officers: approve or reject."""
        return self.may(Permission.APPROVE)

    @property
    def may_deploy(self) -> bool:
        """Deployers and admins: promote and roll back."""
        return self.may(Permission.DEPLOY)

    @property
    def may_administer(self) -> bool:
        """Admins: policies, people, tokens, checkpoints."""
        return self.may(Permission.ADMINISTER)


def shared_context(request: Request) -> ServiceContext:
    """Return the server's shared service context."""
    ctx: ServiceContext = request.app.state.govml_context
    return ctx


def ui_settings(request: Request) -> UISettings:
    """Return the UI's settings."""
    settings: UISettings = request.app.state.govml_ui_settings
    return settings


def sessions(request: Request) -> Sessions:
    """Return the session keeper of the server's store."""
    return Sessions(shared_context(request), ui_settings(request))


def is_secure(request: Request) -> bool:
    """Return True when the request came over TLS (or a TLS proxy is declared in settings)."""
    return ui_settings(request).tls_proxy or request.url.scheme == "https"


def signed_in(request: Request) -> Viewer:
    """Return the signed-in viewer of ``request``.

    Raises
    ------
    SignInRequired
        Without a session cookie, or when it names no live session.
    """
    cookie = request.cookies.get(cookie_name(is_secure(request)))
    if not cookie:
        raise SignInRequired()
    try:
        session = sessions(request).resolve(cookie)
    except SessionEnded as ended:
        raise SignInRequired(ended.code) from None
    if session is None:
        raise SignInRequired()
    ctx = replace(shared_context(request), actor=session.user.name, local=False)
    viewer = Viewer(user=session.user, session=session, ctx=ctx)
    request.state.viewer = viewer
    return viewer


async def checked_form(request: Request) -> tuple[Viewer, FormData]:
    """Return the viewer and the form of a POST that passed the CSRF checks.

    Raises
    ------
    SignInRequired
        Without a live session.
    CsrfError
        When the post came from another site or without this session's token.
    """
    csrf.check_origin(request, secure=is_secure(request))
    viewer = await run_in_threadpool(signed_in, request)
    form = await request.form()
    given = form.get(csrf.FIELD)
    token = given if isinstance(given, str) else request.headers.get(csrf.HEADER)
    csrf.check_token(token, viewer.csrf_token)
    return viewer, form


def form_text(form: FormData, name: str) -> str:
    """Return a text field of a form ('' when absent or a file)."""
    value = form.get(name)
    return value if isinstance(value, str) else ""
