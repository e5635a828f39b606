"""People: users, their roles and tokens; for admins, adding and changing them.

Everything goes through `AccessService`, as ``govml users`` does, so the same rules refuse the
same things with the same message (an admin granting themself a role that approves or deploys,
removing their own admin role, disabling themself) and the ledger records the same entries
under the signed-in person's name.

- ``/people``: everyone and their roles; an admin adds a person (roles and a first token, shown
  on the next page only, never stored or shown again).
- ``/people/NAME``: one person: their roles (an admin replaces them, as ``--set``), their tokens
  (an admin, or the person, issues one or revokes one; an admin revokes all), and disabling.

Consequential steps (revoking, disabling) ask first: the form's ``step=review`` shows what will
happen, ``step=confirm`` does it. A person's sessions end at their next request once the token
they signed in with is revoked or they are disabled.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from fastapi import APIRouter, Depends
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from govml.domain.lifecycle import Role
from govml.domain.records import check_name
from govml.errors import GovmlError, ValidationError
from govml.services.access import AccessService
from govml.store.access_records import TokenRow
from govml.ui.problems import problem, status_of
from govml.ui.render import page
from govml.ui.viewer import Viewer, checked_form, form_text, signed_in

router = APIRouter()

ERR_DAYS = "Enter the token's lifetime as a whole number of days, from 1 to 3650"
ERR_TOKEN_ID = "A token id is 16 hexadecimal characters, as the People page lists them"  # noqa: S105
ROLES = [role.value for role in Role]
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _people(viewer: Viewer) -> dict[str, Any]:
    users = AccessService(viewer.ctx).list_users()
    return {"users": users, "now": viewer.ctx.clock()}


def _person(viewer: Viewer, name: str) -> dict[str, Any]:
    access = AccessService(viewer.ctx)
    person = access.get_user(name)
    tokens: list[TokenRow] | None = None
    bound: tuple[str, str] | None = None
    if viewer.may_administer or name == viewer.name:
        from govml.services.sign_on import binding  # sign-on is loaded only where shown

        tokens = access.list_tokens(name)
        bound = binding(viewer.ctx, name)
    return {"person": person, "tokens": tokens, "bound": bound, "now": viewer.ctx.clock()}


def _days(text: str) -> int | None:
    text = text.strip()
    if not text:
        return None
    if not text.isdigit() or not 1 <= int(text) <= 3650:
        raise ValidationError(ERR_DAYS)
    return int(text)


def _token_id(token_id: str) -> str:
    if len(token_id) != 16 or any(c not in "0123456789abcdef" for c in token_id):
        raise ValidationError(ERR_TOKEN_ID)
    return token_id


def _roles(form: FormData) -> list[str]:
    return [value for value in form.getlist("role") if isinstance(value, str)]


@router.get("/people")
def people_page(request: Request, viewer: Viewer = Depends(signed_in)) -> Response:  # noqa: B008
    """Everyone and their roles; for admins, the form that adds a person."""
    context = _people(viewer)
    return _list(request, context)


def _list(
    request: Request,
    context: Mapping[str, Any],
    *,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> Response:
    values = {"title": "People", "nav": "people", "roles": ROLES, **context}
    values.setdefault("problem", None)
    values.setdefault("issued", None)
    values.setdefault("answers", {"name": "", "roles": [], "days": ""})
    return page(
        request,
        "people.html",
        values,
        data={"users": [user.to_dict() for user in context["users"]]},
        status=status,
        headers=headers,
    )


@router.post("/people")
async def add_person(request: Request) -> Response:
    """Add a person with roles and show their first token once (admins only, in the service)."""
    viewer, form = await checked_form(request)
    answers = {"name": form_text(form, "name").strip(), "roles": _roles(form)}
    answers["days"] = form_text(form, "days")
    try:
        days = _days(str(answers["days"]))
        issued = await run_in_threadpool(
            lambda: AccessService(viewer.ctx).add_user(
                str(answers["name"]), roles=list(answers["roles"]), expires_in_days=days
            )
        )
    except GovmlError as error:
        context = await run_in_threadpool(_people, viewer)
        extra = {"problem": problem(request, error), "answers": answers}
        return _list(request, {**context, **extra}, status=status_of(error))
    context = await run_in_threadpool(_people, viewer)
    return _list(request, {**context, "issued": issued, "added": True}, headers=NO_STORE)


@router.get("/people/{name}")
def person_page(request: Request, name: str, viewer: Viewer = Depends(signed_in)) -> Response:  # noqa: B008
    """One person: roles, tokens, and what an admin (or the person) may change."""
    check_name(name, what="user name")
    context = _person(viewer, name)
    bound = context["bound"]
    data = {
        **context["person"].to_dict(),
        "tokens": _token_dicts(context["tokens"]),
        "sign_on": None if bound is None else {"issuer": bound[0], "subject": bound[1]},
    }
    return _one(request, context, data=data)


def _token_dicts(tokens: list[TokenRow] | None) -> list[dict[str, Any]] | None:
    if tokens is None:
        return None
    return [
        {
            "id": t.id,
            "created_at": t.created_at,
            "expires_at": t.expires_at,
            "revoked_at": t.revoked_at,
        }
        for t in tokens
    ]


def _one(
    request: Request,
    context: Mapping[str, Any],
    *,
    data: Any = None,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> Response:
    person = context["person"]
    values = {"title": person.name, "nav": "people", "roles": ROLES, **context}
    for key in ("problem", "issued", "done"):
        values.setdefault(key, None)
    return page(request, "person.html", values, data=data, status=status, headers=headers)


async def _act(
    request: Request,
    viewer: Viewer,
    name: str,
    action: Callable[[], Any],
    done: Callable[[Any], str] | None,
    *,
    ends_session: bool = False,
) -> Response:
    """Run ``action``; show the person's page with what was done, or the service's refusal.

    ``ends_session``: the action revokes the token of this very session, whose next request
    (the redirect) then says so on the sign-in page.
    """
    try:
        result = await run_in_threadpool(action)
    except GovmlError as error:
        context = await run_in_threadpool(_person, viewer, name)
        extra = {"problem": problem(request, error)}
        return _one(request, {**context, **extra}, status=status_of(error))
    if ends_session:
        return RedirectResponse("/people", status_code=303)
    context = await run_in_threadpool(_person, viewer, name)
    if done is None:  # a token was issued: shown once, never cached
        return _one(request, {**context, "issued": result}, headers=NO_STORE)
    return _one(request, {**context, "done": done(result)})


@router.post("/people/{name}/roles")
async def set_roles(request: Request, name: str) -> Response:
    """Replace the roles of ``name`` with those ticked (as ``govml users roles --set``)."""
    viewer, form = await checked_form(request)
    check_name(name, what="user name")
    roles = _roles(form)
    return await _act(
        request,
        viewer,
        name,
        lambda: AccessService(viewer.ctx).set_roles(name, roles=roles),
        lambda user: f"The roles of {name} are now: {', '.join(r.value for r in user.roles)}.",
    )


@router.post("/people/{name}/tokens")
async def issue_token(request: Request, name: str) -> Response:
    """Issue a token for ``name`` and show it once (the page is not cached)."""
    viewer, form = await checked_form(request)
    check_name(name, what="user name")

    def issue() -> Any:
        days = _days(form_text(form, "days"))
        return AccessService(viewer.ctx).issue_token(name, expires_in_days=days)

    return await _act(request, viewer, name, issue, None)


def _review(request: Request, name: str, action: str, **details: Any) -> Response:
    return page(
        request,
        "people_confirm.html",
        {"title": f"{name}: check before it happens", "nav": "people", "name": name}
        | {"action": action, **details},
    )


@router.post("/people/{name}/tokens/{token_id}/revoke")
async def revoke_token(request: Request, name: str, token_id: str) -> Response:
    """Revoke one token of ``name``: ``review`` asks first, ``confirm`` revokes."""
    viewer, form = await checked_form(request)
    check_name(name, what="user name")
    _token_id(token_id)
    if (form_text(form, "step") or "review") == "review":
        mine = viewer.session.token_id == token_id
        return _review(request, name, "revoke-one", token_id=token_id, self_revoke=mine)
    return await _act(
        request,
        viewer,
        name,
        lambda: AccessService(viewer.ctx).revoke_token(name, token_id),
        lambda row: (
            f"Token {row.id} of {name} is revoked. Sessions opened with it end at "
            "their next request."
        ),
        ends_session=viewer.session.token_id == token_id,
    )


@router.post("/people/{name}/revoke")
async def revoke_tokens(request: Request, name: str) -> Response:
    """Revoke every live token of ``name``: ``review`` asks first, ``confirm`` revokes."""
    viewer, form = await checked_form(request)
    check_name(name, what="user name")
    if (form_text(form, "step") or "review") == "review":
        return _review(request, name, "revoke-all", self_revoke=name == viewer.name)
    return await _act(
        request,
        viewer,
        name,
        lambda: AccessService(viewer.ctx).revoke_tokens(name),
        lambda count: (
            f"{count} token(s) of {name} revoked. Their sessions end at their next request."
        ),
        ends_session=name == viewer.name,
    )


@router.post("/people/{name}/disable")
async def disable(request: Request, name: str) -> Response:
    """Disable ``name`` (admins, not themself): ``review`` asks first, ``confirm`` disables."""
    viewer, form = await checked_form(request)
    check_name(name, what="user name")
    if (form_text(form, "step") or "review") == "review":
        return _review(request, name, "disable")
    return await _act(
        request,
        viewer,
        name,
        lambda: AccessService(viewer.ctx).disable_user(name),
        lambda _user: (
            f"{name} is disabled: their tokens are revoked and their sessions end "
            "at their next request. Their approvals no longer count toward promotions."
        ),
    )
