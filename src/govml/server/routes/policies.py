"""Policies: validate, apply, read; the policy in force for each risk tier."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from govml.policy import parse_policy
from govml.server.auth import Acting
from govml.server.routes.common import ERRORS
from govml.server.schemas import (
    INT32,
    PolicyAppliedOut,
    PolicyApply,
    PolicyText,
    PolicyValidation,
    StoredPolicyOut,
    TierOut,
)
from govml.services.policy import PolicyService

router = APIRouter(tags=["policies"], responses=ERRORS)

VERSION = Query(ge=1, le=INT32, description="Default: the newest (or the one in force).")


@router.post("/policies/validate", response_model=PolicyValidation)
def validate_policy(_ctx: Acting, body: PolicyText) -> dict[str, Any]:
    """Validate a policy's YAML without storing it (422 listing every problem)."""
    return parse_policy(body.text, source=body.source).to_dict()


@router.post("/policies", response_model=PolicyAppliedOut)
def apply_policy(ctx: Acting, body: PolicyApply) -> dict[str, Any]:
    """Put a policy in force for its tiers (a new version when its content changed)."""
    loaded = parse_policy(body.text, source=body.source)
    applied = PolicyService(ctx).apply(loaded, replace=body.replace)
    return {**applied.to_dict(), "policy": applied.policy.to_dict()}


@router.get("/policies", response_model=list[StoredPolicyOut])
def list_policies(ctx: Acting) -> list[dict[str, Any]]:
    """List the newest version of every stored policy."""
    return [stored.to_dict() for stored in PolicyService(ctx).list_policies()]


@router.get("/policies/{name}", response_model=StoredPolicyOut)
def get_policy(
    ctx: Acting, name: str, version: Annotated[int | None, VERSION] = None
) -> dict[str, Any]:
    """Return a stored policy."""
    return PolicyService(ctx).get(name, version=version).to_dict()


@router.get("/tiers/{tier}", response_model=TierOut)
def get_tier(ctx: Acting, tier: str) -> dict[str, Any]:
    """Return a risk tier and the policy in force for it (null when none governs it)."""
    stored = PolicyService(ctx).for_tier(tier)
    return {"tier": tier, "policy": None if stored is None else stored.to_dict()}


@router.get("/tiers/{tier}/policy", response_model=StoredPolicyOut)
def get_tier_policy(
    ctx: Acting, tier: str, version: Annotated[int | None, VERSION] = None
) -> dict[str, Any]:
    """Return the policy in force for a tier (404 when none governs it)."""
    return PolicyService(ctx).get(tier=tier, version=version).to_dict()
