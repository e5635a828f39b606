"""The approval queue: what awaits this person, the evidence, and the decision form.

Three panels. The first lists the versions awaiting a decision this person may take: for an
approver or risk officer, each model's candidate (its newest version, not in production) whose
latest evaluation under the policy in force passed, that they did not register, in a role the
policy accepts and that they held before the version was registered, and on whose current
evidence they have not decided yet; for a deployer, the candidates whose promotion gate holds
(`LifecycleService.readiness`). The other candidates are listed with what they wait for.

The second panel shows the evidence of the selected version: its gate results, the comparison
with production, the registrant's description and earlier decisions with their comments, and
what is still missing for production. The third holds the decision form, which goes through
a check-your-answers step (`govml.ui.decisions`) before the lifecycle service records it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends
from starlette.requests import Request
from starlette.responses import Response

from govml.domain.lifecycle import PRODUCTION, STAGING, Permission, Readiness, User, approving_role
from govml.domain.readiness import PASSING
from govml.domain.records import VersionRef, name_key
from govml.errors import NotFoundError
from govml.services.evaluation import EvaluationService
from govml.services.lifecycle import LifecycleService
from govml.services.registry import RegistryService
from govml.ui.evaluations import comparison_for
from govml.ui.inventory import Item, read_items
from govml.ui.model_page import model_head
from govml.ui.render import page
from govml.ui.viewer import Viewer, signed_in

router = APIRouter()

DONE = {
    "approved": "You approved {ref}. The decision is recorded in the ledger under your name.",
    "rejected": "You rejected {ref}. The decision is recorded in the ledger under your name.",
    "promoted": "{ref} was promoted. The change is recorded in the ledger under your name.",
}


@dataclass(frozen=True, kw_only=True)
class Entry:
    """One candidate in the queue: what it is, what it waits for, what this person may do."""

    item: Item
    action: str  # "decide", "promote", "stage" or "" (nothing for this person)
    why: str

    @property
    def ref(self) -> str:
        """``name@version`` of the candidate."""
        assert self.item.candidate is not None
        return f"{self.item.name}@{self.item.candidate.version}"

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dictionary."""
        approvals = self.item.approvals
        return {
            "ref": self.ref,
            "model": self.item.name,
            "risk_tier": self.item.risk_tier,
            "version": None if self.item.candidate is None else self.item.candidate.version,
            "registrant": None if self.item.candidate is None else self.item.candidate.registrant,
            "approvals": None if approvals is None else approvals.to_dict(),
            "action": self.action,
            "why": self.why,
        }


def _awaiting(item: Item) -> bool:
    """Return True for a candidate whose latest evaluation under the policy passed."""
    evaluation, policy = item.candidate_evaluation, item.policy
    return (
        item.candidate is not None
        and policy is not None
        and evaluation is not None
        and evaluation.policy_digest == policy.digest
        and evaluation.status in PASSING
    )


def approver_view(user: User, item: Item) -> tuple[bool, str]:
    """Return whether ``user`` may decide on the item's candidate now, and why (not)."""
    candidate, policy, evaluation = item.candidate, item.policy, item.candidate_evaluation
    assert candidate is not None and policy is not None and evaluation is not None
    if user.key == name_key(candidate.registrant):
        return False, "you registered it: separation of duties leaves the decision to others"
    role = approving_role(user.roles, policy.approval_roles)
    if role is None or (policy.approval_roles and role.value not in policy.approval_roles):
        wanted = " or ".join(policy.approval_roles) or "an approving role"
        return False, f"{policy.name} v{policy.version} asks for {wanted}"
    granted = user.granted_at.get(role)
    if granted is None or not granted < candidate.created_at:
        return False, f"your {role.value} role was granted after it was registered"
    mine = [d for d in item.decisions if name_key(d.actor) == user.key]
    if mine and mine[-1].evaluation_id == evaluation.id:
        verb = "approved" if mine[-1].decision == "approve" else "rejected"
        return False, f"you {verb} it on evaluation {evaluation.id}"
    return True, f"evaluation {evaluation.id} {evaluation.status}; {_count(item)}"


def _count(item: Item) -> str:
    approvals = item.approvals
    if approvals is None:
        return ""
    if approvals.rejected_by:
        return f"rejected by {', '.join(approvals.rejected_by)}"
    return f"{len(approvals.counted)} of {approvals.required} approval(s)"


def queue_entries(viewer: Viewer) -> tuple[list[Entry], list[Entry]]:
    """Return the candidates this person may act on, and the others with what they wait for."""
    items = [item for item in read_items(viewer.ctx) if _awaiting(item)]
    lifecycle = LifecycleService(viewer.ctx)
    mine: list[Entry] = []
    others: list[Entry] = []
    for item in items:
        assert item.candidate is not None
        ref = f"{item.name}@{item.candidate.version}"
        if viewer.may(Permission.APPROVE):
            may, why = approver_view(viewer.user, item)
            if may:
                mine.append(Entry(item=item, action="decide", why=why))
                continue
            others.append(Entry(item=item, action="", why=why))
            continue
        if viewer.may(Permission.DEPLOY):
            action, why = _deployer_view(lifecycle, item, ref)
            (mine if action else others).append(Entry(item=item, action=action, why=why))
            continue
        others.append(Entry(item=item, action="", why=f"waiting: {_count(item)}"))
    return mine, others


def _deployer_view(lifecycle: LifecycleService, item: Item, ref: str) -> tuple[str, str]:
    approvals = item.approvals
    if approvals is not None and not approvals.pending:
        ready = lifecycle.readiness(ref, to=PRODUCTION)
        if ready.ready:
            return "promote", "every condition for production holds"
        if item.staging is None or item.staging.version != item.candidate_version:
            staged = lifecycle.readiness(ref, to=STAGING)
            if staged.ready:
                return "stage", "ready for staging (production needs it first)"
        return "", "; ".join(ready.missing)[:300]
    if item.staging is None or item.staging.version != item.candidate_version:
        staged = lifecycle.readiness(ref, to=STAGING)
        if staged.ready:
            return "stage", f"ready for staging; {_count(item)} for production"
    return "", f"waiting: {_count(item)}"


def evidence_for(viewer: Viewer, ref: str) -> dict[str, Any]:
    """Gather the evidence panel of one version: gates, comparison, decisions, what is missing."""
    parsed = VersionRef.parse(ref)
    if parsed.version is None:
        raise NotFoundError(f"{ref}: give a version number (NAME@VERSION)")
    head = model_head(viewer, parsed.name)
    version = RegistryService(viewer.ctx).get_version(ref)
    lifecycle = LifecycleService(viewer.ctx)
    readiness: dict[str, Readiness] = {PRODUCTION: lifecycle.readiness(ref, to=PRODUCTION)}
    if STAGING not in version.aliases:
        readiness[STAGING] = lifecycle.readiness(ref, to=STAGING)
    found = EvaluationService(viewer.ctx).query(model=parsed.name, version=version.version, limit=1)
    evaluation = found[0] if found else None
    comparison = (
        None if evaluation is None else comparison_for(viewer, head, candidate_id=evaluation.id)
    )
    rules = None if head.policy is None else head.policy.policy.approvals
    rolled_back = [
        c
        for c in lifecycle.history(parsed.name, alias=PRODUCTION)
        if c.action == "rollback" and c.previous == version.version
    ]
    return {
        "head": head,
        "version": version,
        "readiness": readiness,
        "evaluation": evaluation,
        "comparison": comparison,
        "decisions": lifecycle.approvals(ref),
        "rolled_back": rolled_back,
        "rules": rules,
        "role": approving_role(viewer.roles, () if rules is None else rules.roles),
    }


@router.get("/queue")
@router.get("/queue.json")
def queue_page(
    request: Request,
    version: str = "",
    done: str = "",
    viewer: Viewer = Depends(signed_in),  # noqa: B008
) -> Response:
    """Show the three panels: what awaits this person, the evidence, the decision form."""
    mine, others = queue_entries(viewer)
    selected = version or (mine[0].ref if mine else "")
    evidence = evidence_for(viewer, selected) if selected else None
    action = next((e.action for e in mine if e.ref == selected), "")
    data: dict[str, Any] = {
        "awaiting_you": [entry.to_dict() for entry in mine],
        "others": [entry.to_dict() for entry in others],
        "selected": None,
    }
    if evidence is not None:
        data["selected"] = {
            "ref": selected,
            "readiness": {k: v.to_dict() for k, v in evidence["readiness"].items()},
            "evaluation": None if evidence["evaluation"] is None else evidence["evaluation"].id,
            "comparison": None
            if evidence["comparison"] is None
            else evidence["comparison"].to_dict(),
            "decisions": [d.to_dict() for d in evidence["decisions"]],
        }
    notice = DONE[done].format(ref=selected) if done in DONE and selected else None
    return page(
        request,
        "queue.html",
        {
            "title": "Approval queue",
            "nav": "queue",
            "wide": True,
            "mine": mine,
            "others": others,
            "selected": selected,
            "evidence": evidence,
            "action": action,
            "notice": notice,
            "compact": True,
        },
        data=data,
    )
