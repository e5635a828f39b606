"""People: users and their roles; for admins, tokens (issued once-shown, revoked).

Through `AccessService`, as ``govml users``: an admin issues a token for someone (shown on
the next page only, never stored or shown again) or revokes every live token of a user after
a check-your-answers step. A user's sessions end at their next request once the token they
signed in with is revoked.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from govml.domain.records import check_name
from govml.errors import GovmlError, ValidationError
from govml.services.access import AccessService
from govml.store.access_records import TokenRow
from govml.ui.problems import problem, status_of
from govml.ui.render import page
from govml.ui.viewer import Viewer, checked_form, form_text, signed_in

router = APIRouter()

ERR_DAYS = "Enter the token's lifetime as a whole number of days, from 1 to 3650"


def _people(viewer: Viewer) -> dict[str, Any]:
    access = AccessService(viewer.ctx)
    users = access.list_users()
    tokens: dict[str, list[TokenRow]] = {}
    if viewer.may_administer:
        tokens = {user.name: access.list_tokens(user.name) for user in users}
    else:
        tokens = {viewer.name: access.list_tokens(viewer.name)}
    return {"users": users, "tokens": tokens, "now": viewer.ctx.clock()}


@router.get("/people")
def people_page(request: Request, viewer: Viewer = Depends(signed_in)) -> Response:  # noqa: B008
    """Users, roles, and (for admins) everyone's tokens."""
    context = _people(viewer)
    return page(
        request,
        "people.html",
        {"title": "People", "nav": "people", "issued": None, "problem": None, **context},
        data={"users": [u.to_dict() for u in context["users"]]},
    )


def _days(text: str) -> int | None:
    text = text.strip()
    if not text:
        return None
    if not text.isdigit() or not 1 <= int(text) <= 3650:
        raise ValidationError(ERR_DAYS)
    return int(text)


@router.post("/people/{name}/tokens")
async def issue_token(request: Request, name: str) -> Response:
    """Issue a token for ``name`` and show it once (the page is not cached)."""
    viewer, form = await checked_form(request)
    check_name(name, what="user name")
    try:
        days = _days(form_text(form, "days"))
        issued = await run_in_threadpool(
            lambda: AccessService(viewer.ctx).issue_token(name, expires_in_days=days)
        )
    except GovmlError as error:
        context = await run_in_threadpool(_people, viewer)
        return page(
            request,
            "people.html",
            {
                "title": "People",
                "nav": "people",
                "issued": None,
                "problem": problem(request, error),
                **context,
            },
            status=status_of(error),
        )
    context = await run_in_threadpool(_people, viewer)
    return page(
        request,
        "people.html",
        {"title": "People", "nav": "people", "issued": issued, "problem": None, **context},
        headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
    )


@router.post("/people/{name}/revoke")
async def revoke_tokens(request: Request, name: str) -> Response:
    """Revoke every live token of ``name``: ``review`` asks first, ``confirm`` revokes."""
    viewer, form = await checked_form(request)
    check_name(name, what="user name")
    step = form_text(form, "step") or "review"
    if step == "review":
        return page(
            request,
            "people_revoke.html",
            {
                "title": f"Revoke the tokens of {name}",
                "nav": "people",
                "name": name,
                "self_revoke": name == viewer.name,
            },
        )
    try:
        count = await run_in_threadpool(AccessService(viewer.ctx).revoke_tokens, name)
    except GovmlError as error:
        context = await run_in_threadpool(_people, viewer)
        return page(
            request,
            "people.html",
            {
                "title": "People",
                "nav": "people",
                "issued": None,
                "problem": problem(request, error),
                **context,
            },
            status=status_of(error),
        )
    context = await run_in_threadpool(_people, viewer)
    return page(
        request,
        "people.html",
        {
            "title": "People",
            "nav": "people",
            "issued": None,
            "problem": None,
            "revoked": (name, count),
            **context,
        },
    )
