"""Human oversight over REST: the review queue and suspending a model.

- ``GET /referrals`` (``?model=``, ``?status=pending|decided|all``, ``?limit=``) lists
  referred records, oldest first; ``GET /referrals/{id}`` reads one.
- ``POST /referrals/{id}/decision`` records a reviewer's final decision with a reason (a role
  in the policy's ``oversight.reviewers``); ``POST /models/{name}/overrides`` records a
  reviewer overriding a decision the model answered.
- ``POST /models/{name}/suspend`` and ``.../resume`` stop and restart a model's gateways
  (deployer or risk officer, with a reason).

Every change is a ledger entry (:mod:`govml.services.oversight`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from govml.server.auth import Acting
from govml.server.routes.common import ERRORS
from govml.services.oversight import MAX_COMMENT, MAX_LIST, OversightService

router = APIRouter(tags=["oversight"], responses=ERRORS)

Decision = bool | int | float | Annotated[str, Field(min_length=1, max_length=200)]
ReferralId = Annotated[str, Path(min_length=1, max_length=64)]


class DecisionRequest(BaseModel):
    """A reviewer's final decision on a referred record, and why."""

    model_config = ConfigDict(extra="forbid")

    decision: Decision
    reason: str = Field(min_length=1, max_length=MAX_COMMENT)


class OverrideRequest(BaseModel):
    """A reviewer overriding a decision the model answered."""

    model_config = ConfigDict(extra="forbid")

    version: int = Field(ge=1)
    request_id: str = Field(min_length=1, max_length=128)
    record: int = Field(default=0, ge=0)
    model_decision: Decision
    decision: Decision
    reason: str = Field(min_length=1, max_length=MAX_COMMENT)


class ReasonRequest(BaseModel):
    """Why a model is suspended or resumed."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=MAX_COMMENT)


@router.get("/referrals", response_model=list[dict[str, Any]])
def list_referrals(
    ctx: Acting,
    model: Annotated[str | None, Query(max_length=200)] = None,
    status: Annotated[Literal["pending", "decided", "all"], Query()] = "pending",
    limit: Annotated[int, Query(ge=1, le=MAX_LIST)] = 100,
) -> list[dict[str, Any]]:
    """List referred records, oldest first (pending ones by default)."""
    found = OversightService(ctx).list(
        model, status=None if status == "all" else status, limit=limit
    )
    return [item.to_dict() for item in found]


@router.get("/referrals/{referral_id}", response_model=dict[str, Any])
def show_referral(ctx: Acting, referral_id: ReferralId) -> dict[str, Any]:
    """Return one referral."""
    return OversightService(ctx).show(referral_id).to_dict()


@router.post("/referrals/{referral_id}/decision", response_model=dict[str, Any])
def decide_referral(ctx: Acting, referral_id: ReferralId, body: DecisionRequest) -> dict[str, Any]:
    """Record the final decision on a referred record (a reviewer role of the policy)."""
    found = OversightService(ctx).decide(referral_id, decision=body.decision, comment=body.reason)
    return found.to_dict()


@router.post("/models/{name}/overrides", response_model=dict[str, Any], status_code=201)
def override_decision(ctx: Acting, name: str, body: OverrideRequest) -> dict[str, Any]:
    """Record a reviewer overriding a decision the model answered."""
    found = OversightService(ctx).override(
        name,
        version=body.version,
        request_id=body.request_id,
        record=body.record,
        model_decision=body.model_decision,
        decision=body.decision,
        comment=body.reason,
    )
    return found.to_dict()


def _suspension(held: Any) -> dict[str, Any]:
    return {
        "model": held.model,
        "suspended": held.suspended,
        "reason": held.reason,
        "updated_at": held.updated_at.isoformat(),
        "updated_by": held.updated_by,
    }


@router.post("/models/{name}/suspend", response_model=dict[str, Any])
def suspend(ctx: Acting, name: str, body: ReasonRequest) -> dict[str, Any]:
    """Suspend the model: its gateways refer every record or answer 503 (per the policy)."""
    return _suspension(OversightService(ctx).suspend(name, reason=body.reason))


@router.post("/models/{name}/resume", response_model=dict[str, Any])
def resume(ctx: Acting, name: str, body: ReasonRequest) -> dict[str, Any]:
    """Resume a suspended model."""
    return _suspension(OversightService(ctx).resume(name, reason=body.reason))
