"""Consequential decisions, one per page: approve or reject, promote, roll back.

Each follows the GOV.UK pattern: a form (with labels, hints and an error summary), then a
check-your-answers page that says exactly what will be recorded, then the confirmation,
which calls the lifecycle service as the signed-in person. The service decides: a refusal
(separation of duties, a role the policy does not accept, a gate that does not hold) is shown
with its own message in the error summary, and nothing is recorded. Every step is a POST
with the session's CSRF token; the steps carry the answers in hidden fields, so nothing is
kept on the server between them.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from govml.domain.lifecycle import LIFECYCLE_ALIASES, PRODUCTION, approving_role
from govml.domain.records import VersionRef, check_name
from govml.errors import GovmlError, ValidationError
from govml.services.lifecycle import MAX_TEXT, LifecycleService
from govml.services.policy import PolicyService
from govml.services.registry import RegistryService
from govml.ui.problems import problem, status_of
from govml.ui.render import page
from govml.ui.viewer import Viewer, checked_form, form_text, signed_in

router = APIRouter()

ERR_DECISION = "Select approve or reject"
ERR_COMMENT = "Enter a comment: it is recorded with your decision"
ERR_LONG = f"The text must be {MAX_TEXT} characters or fewer"
ERR_REASON = "Enter the reason for the rollback"
ERR_ALIAS = "Select staging or production"
ERR_STEP = "unknown step {step!r}"


def _ref(text: str) -> VersionRef:
    parsed = VersionRef.parse(text)
    if parsed.version is None:
        raise ValidationError(f"ref: {text!r} must name a version number (NAME@VERSION)")
    return parsed


def _render(
    request: Request,
    viewer: Viewer,
    kind: str,
    answers: dict[str, str],
    *,
    step: str = "form",
    errors: dict[str, str] | None = None,
    refused: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    context: dict[str, Any] = {
        "title": _TITLES[kind].format(**answers),
        "nav": "queue",
        "kind": kind,
        "answers": answers,
        "step": step,
        "errors": errors or {},
        "refused": refused,
    }
    if kind == "approval":
        ref = _ref(answers["ref"])
        version = RegistryService(viewer.ctx).get_version(str(ref))
        model = RegistryService(viewer.ctx).get_model(ref.name)
        stored = PolicyService(viewer.ctx).for_tier(model.risk_tier.value)
        rules = None if stored is None else stored.policy.approvals
        roles = () if rules is None else rules.roles
        role = approving_role(viewer.roles, roles)
        context.update(version=version, role=None if role is None else role.value, policy=stored)
    elif kind == "promotion":
        ref = _ref(answers["ref"])
        alias = answers.get("to", PRODUCTION)
        if alias in LIFECYCLE_ALIASES:
            context["readiness"] = LifecycleService(viewer.ctx).readiness(str(ref), to=alias)
    else:
        name = check_name(answers["model"])
        model = RegistryService(viewer.ctx).get_model(name)
        history = LifecycleService(viewer.ctx).history(name, alias=PRODUCTION)
        context.update(model=model, history=history)
    return page(request, "decision.html", context, status=status)


_TITLES = {
    "approval": "Decide on {ref}",
    "promotion": "Promote {ref}",
    "rollback": "Roll back {model}",
}


@router.get("/decisions/approval")
def approval_form(
    request: Request,
    ref: str,
    viewer: Viewer = Depends(signed_in),  # noqa: B008
) -> Response:
    """Show the approve-or-reject form of one version."""
    _ref(ref)
    return _render(request, viewer, "approval", {"ref": ref, "decision": "", "comment": ""})


@router.get("/decisions/promotion")
def promotion_form(
    request: Request,
    ref: str,
    to: str = PRODUCTION,
    viewer: Viewer = Depends(signed_in),  # noqa: B008
) -> Response:
    """Show the promotion form of one version, with its gate's conditions."""
    _ref(ref)
    return _render(request, viewer, "promotion", {"ref": ref, "to": to, "reason": ""})


@router.get("/decisions/rollback")
def rollback_form(
    request: Request,
    model: str,
    viewer: Viewer = Depends(signed_in),  # noqa: B008
) -> Response:
    """Show the rollback form of a model's production alias."""
    check_name(model)
    return _render(request, viewer, "rollback", {"model": model, "reason": ""})


def _check(kind: str, answers: dict[str, str]) -> dict[str, str]:
    errors: dict[str, str] = {}
    if kind == "approval":
        if answers["decision"] not in ("approve", "reject"):
            errors["decision"] = ERR_DECISION
        if not answers["comment"].strip():
            errors["comment"] = ERR_COMMENT
        elif len(answers["comment"]) > MAX_TEXT:
            errors["comment"] = ERR_LONG
    elif kind == "promotion":
        if answers["to"] not in LIFECYCLE_ALIASES:
            errors["to"] = ERR_ALIAS
        if len(answers["reason"]) > MAX_TEXT:
            errors["reason"] = ERR_LONG
    else:
        if not answers["reason"].strip():
            errors["reason"] = ERR_REASON
        elif len(answers["reason"]) > MAX_TEXT:
            errors["reason"] = ERR_LONG
    return errors


_FIELDS = {
    "approval": ("ref", "decision", "comment"),
    "promotion": ("ref", "to", "reason"),
    "rollback": ("model", "reason"),
}


@router.post("/decisions/{kind}")
async def decide(request: Request, kind: str) -> Response:
    """One step of a decision: ``review`` (check your answers), ``change``, or ``confirm``."""
    viewer, form = await checked_form(request)
    if kind not in _FIELDS:
        raise ValidationError(
            f"unknown decision {kind!r}; decisions are approval, promotion, rollback"
        )
    answers = {name: form_text(form, name) for name in _FIELDS[kind]}
    step = form_text(form, "step") or "review"

    def render(**kwargs: Any) -> Response:
        return _render(request, viewer, kind, answers, **kwargs)

    if step == "change":
        return await run_in_threadpool(render)
    errors = _check(kind, answers)
    if errors:
        return await run_in_threadpool(lambda: render(errors=errors, status=400))
    if step == "review":
        return await run_in_threadpool(lambda: render(step="review"))
    if step != "confirm":
        raise ValidationError(ERR_STEP.format(step=step))
    try:
        target = await run_in_threadpool(_perform, viewer, kind, answers)
    except GovmlError as error:
        refused, code = problem(request, error), status_of(error)
        return await run_in_threadpool(lambda: render(refused=refused, status=code))
    return RedirectResponse(target, status_code=303)


def _perform(viewer: Viewer, kind: str, answers: dict[str, str]) -> str:
    """Call the lifecycle service; return where to go next."""
    lifecycle = LifecycleService(viewer.ctx)
    if kind == "approval":
        reject = answers["decision"] == "reject"
        approval = lifecycle.approve(answers["ref"], comment=answers["comment"], reject=reject)
        done = "rejected" if reject else "approved"
        return f"/queue?version={approval.ref}&done={done}"
    if kind == "promotion":
        change = lifecycle.promote(answers["ref"], to=answers["to"], reason=answers["reason"])
        return f"/models/{change.model}/versions?done=promoted#v{change.version}"
    change = lifecycle.rollback(answers["model"], reason=answers["reason"])
    return f"/models/{change.model}/versions?done=rolled-back#v{change.version}"
