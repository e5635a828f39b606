"""The ledger: log, verification, signed checkpoints, proofs, export, key, attestations."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from govml.server.auth import Acting
from govml.server.redact import public_path
from govml.server.routes.common import ERRORS
from govml.server.schemas import (
    INT32,
    AttestationOut,
    AttestationVerify,
    CheckpointOut,
    ExportOut,
    ExportRequest,
    KeyOut,
    LedgerEntryOut,
    ProofRequest,
    VerifyOut,
    VerifyRequest,
)
from govml.services.attestation import AttestationService
from govml.services.audit import AuditService
from govml.services.proofs import ProofService

router = APIRouter(prefix="/audit", tags=["audit"], responses=ERRORS)


@router.get("/log", response_model=list[LedgerEntryOut])
def audit_log(
    ctx: Acting,
    model: str | None = None,
    action: str | None = None,
    limit: Annotated[int | None, Query(ge=1, le=INT32)] = None,
) -> list[dict[str, Any]]:
    """List ledger entries, oldest first (``limit``: only the newest N)."""
    entries = AuditService(ctx).log(model=model, action=action, limit=limit)
    return [entry.to_dict() for entry in entries]


@router.post("/verify", response_model=VerifyOut)
def verify(ctx: Acting, body: VerifyRequest) -> dict[str, Any]:
    """Recompute the ledger and check every record against it (409 naming what differs)."""
    result = AuditService(ctx).verify(
        checkpoint=body.checkpoint, key=body.key, artifacts=body.artifacts
    )
    return result.to_dict()


@router.post("/checkpoints", response_model=CheckpointOut)
def checkpoint(ctx: Acting) -> dict[str, Any]:
    """Sign the latest tree head with the instance's key."""
    return ProofService(ctx).checkpoint().to_dict()


@router.post("/proofs", response_model=dict[str, Any])
def proof(ctx: Acting, body: ProofRequest) -> dict[str, Any]:
    """Return a bundle proving one entry against the latest (or given) checkpoint."""
    return ProofService(ctx).proof(body.seq, checkpoint=body.checkpoint).to_json()


@router.post("/export", response_model=ExportOut)
def export(ctx: Acting, body: ExportRequest) -> dict[str, Any]:
    """Return a bundle of every entry (or those about a model) with their proofs."""
    result = ProofService(ctx).export(model=body.model, since=body.since)
    return {
        "bundle": result.bundle.to_json(),
        "tree_size": result.tree_size,
        "uncovered": result.uncovered,
    }


@router.get("/key", response_model=KeyOut)
def key(ctx: Acting, request: Request) -> dict[str, Any]:
    """Return the instance's public ledger key (its file named from ``$GOVML_HOME``)."""
    found = ProofService(ctx).public_key().to_dict()
    return {**found, "path": public_path(request, found["path"])}


@router.post("/attestations/verify", response_model=AttestationOut)
def verify_attestation(ctx: Acting, body: AttestationVerify) -> dict[str, Any]:
    """Verify an attestation envelope: its signature, statement and ledger entry."""
    report = AttestationService(ctx).verify(body.envelope, key=body.key)
    return {
        "ok": True,
        "subject": report.subject,
        "sha256": report.sha256,
        "key": str(report.key),
        "ledger_entry": report.entry_index,
        "tree_size": report.tree_size,
    }
