"""What serving gateways need from the server: their keys, and a place for their logs.

- ``POST /models/{name}/gateway-keys`` issues a key (deployer; the secret is in this answer
  only), ``GET`` lists them, ``POST .../gateway-keys/{key_id}/revoke`` revokes one.
- ``GET /gateway-keys`` returns the keys every gateway checks requests against (their hashes,
  never a secret), for a gateway in client mode.
- ``POST /models/{name}/prediction-log`` takes a closed prediction log file from a gateway in
  client mode (contributor or admin, checked before the body is read), into the server's own
  log, where ``govml monitor`` reads it.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Path, Query, UploadFile
from pydantic import BaseModel, ConfigDict, Field

from govml.server.auth import Acting
from govml.server.routes.common import ERRORS
from govml.server.uploads import save_upload, upload_folder
from govml.services.gateway_keys import GatewayKeyService
from govml.services.monitoring import MonitoringService
from govml.serving.keys import MAX_DESCRIPTION, SCOPES

router = APIRouter(tags=["serving"], responses=ERRORS)


class KeyRequest(BaseModel):
    """A gateway key to issue: its scopes, lifetime and a note on who holds it."""

    model_config = ConfigDict(extra="forbid")

    scopes: list[str] = Field(min_length=1, max_length=len(SCOPES), description=", ".join(SCOPES))
    expires_in_days: int | None = Field(
        default=None, ge=1, le=2**31 - 1, description="Days until it expires (default: the cap)."
    )
    description: str = Field(default="", max_length=MAX_DESCRIPTION)


@router.post("/models/{name}/gateway-keys", response_model=dict[str, Any], status_code=201)
def issue_key(ctx: Acting, name: str, body: KeyRequest) -> dict[str, Any]:
    """Issue a key of the model's gateway; the secret (``key``) is shown in this answer only."""
    issued = GatewayKeyService(ctx).issue(
        name,
        scopes=body.scopes,
        expires_in_days=body.expires_in_days,
        description=body.description,
    )
    return issued.to_dict()


@router.get("/models/{name}/gateway-keys", response_model=list[dict[str, Any]])
def list_keys(
    ctx: Acting, name: str, include_revoked: Annotated[bool, Query()] = False
) -> list[dict[str, Any]]:
    """List the keys of the model's gateway (live ones unless ``include_revoked``)."""
    keys = GatewayKeyService(ctx).list_keys(name, include_revoked=include_revoked)
    return [key.to_dict() for key in keys]


@router.post("/models/{name}/gateway-keys/{key_id}/revoke", response_model=dict[str, Any])
def revoke_key(
    ctx: Acting, name: str, key_id: Annotated[str, Path(max_length=64)]
) -> dict[str, Any]:
    """Revoke a key; gateways refuse it from their next poll."""
    return GatewayKeyService(ctx).revoke(name, key_id).to_dict()


@router.get("/gateway-keys", response_model=list[dict[str, Any]])
def keys_for_gateways(ctx: Acting) -> list[dict[str, Any]]:
    """Return the keys gateways check requests against: live and recently ended, all models."""
    return [key.to_dict() for key in GatewayKeyService(ctx).for_gateways()]


@router.post("/models/{name}/prediction-log", response_model=dict[str, Any], status_code=201)
def receive_log(
    ctx: Acting,
    name: str,
    file: Annotated[UploadFile, File(description="A closed Parquet file of the gateway's log.")],
    kind: Annotated[str, Form(max_length=20, description="predictions, feedback or events.")],
    version: Annotated[int | None, Form(ge=1, le=2**31 - 1)] = None,
) -> dict[str, Any]:
    """Take a gateway's log file into the server's prediction log (same file twice: once)."""
    with upload_folder(ctx) as folder:  # under the home: a killed server leaves nothing in /tmp
        path = save_upload(file, folder, "part.parquet")
        return MonitoringService(ctx).receive_log(name, kind=kind, version=version, path=path)
