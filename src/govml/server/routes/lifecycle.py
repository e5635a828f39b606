"""Promotions, rollbacks, readiness, approvals and serving set-up (checked by the services)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from govml.server.auth import Acting
from govml.server.routes.common import ERRORS
from govml.server.schemas import (
    AliasChangeOut,
    ApprovalOut,
    ApproveRequest,
    PromoteRequest,
    ReadinessOut,
    RollbackRequest,
    ServingOut,
    ServingSet,
)
from govml.services.lifecycle import LifecycleService
from govml.services.serving import ServingService

router = APIRouter(tags=["lifecycle"], responses=ERRORS)


@router.post("/versions/{ref}/promote", response_model=AliasChangeOut)
def promote(ctx: Acting, ref: str, body: PromoteRequest) -> dict[str, Any]:
    """Move alias ``to`` to the version through its gates (409 listing what is missing)."""
    moved = LifecycleService(ctx).promote(ref, to=body.to, reason=body.reason, ticket=body.ticket)
    return moved.to_dict()


@router.get("/versions/{ref}/readiness", response_model=ReadinessOut)
def readiness(
    ctx: Acting, ref: str, to: Annotated[str, Query(max_length=100)] = "production"
) -> dict[str, Any]:
    """Return the conditions the version must meet to take alias ``to``, and which hold."""
    return LifecycleService(ctx).readiness(ref, to=to).to_dict()


@router.post("/versions/{ref}/approvals", response_model=ApprovalOut, status_code=201)
def approve(ctx: Acting, ref: str, body: ApproveRequest) -> dict[str, Any]:
    """Record the caller's approval (or rejection) of the version."""
    decided = LifecycleService(ctx).approve(
        ref, comment=body.comment, reject=body.reject, ticket=body.ticket
    )
    return decided.to_dict()


@router.get("/versions/{ref}/approvals", response_model=list[ApprovalOut])
def list_approvals(ctx: Acting, ref: str) -> list[dict[str, Any]]:
    """List every decision on the version, oldest first."""
    return [approval.to_dict() for approval in LifecycleService(ctx).approvals(ref)]


@router.post("/models/{name}/rollback", response_model=AliasChangeOut)
def rollback(ctx: Acting, name: str, body: RollbackRequest) -> dict[str, Any]:
    """Move production back to the version that held it before the current one."""
    return LifecycleService(ctx).rollback(name, reason=body.reason, ticket=body.ticket).to_dict()


@router.get("/models/{name}/history", response_model=list[AliasChangeOut])
def alias_history(
    ctx: Acting, name: str, alias: Annotated[str | None, Query(max_length=100)] = None
) -> list[dict[str, Any]]:
    """List every promotion and rollback of the model, oldest first."""
    return [change.to_dict() for change in LifecycleService(ctx).history(name, alias=alias)]


@router.get("/models/{name}/serving", response_model=ServingOut)
def serving_config(ctx: Acting, name: str) -> dict[str, Any]:
    """Return how the gateway uses the model's challenger (off, shadow or canary)."""
    return ServingService(ctx).get(name).to_dict()


@router.put("/models/{name}/serving", response_model=ServingOut)
def configure_serving(ctx: Acting, name: str, body: ServingSet) -> dict[str, Any]:
    """Set the model's challenger to off, shadow or canary (with a share and a sticky key)."""
    config = ServingService(ctx).configure(name, mode=body.mode, share=body.share, key=body.key)
    return config.to_dict()
