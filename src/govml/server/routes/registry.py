"""Models, versions, their artifacts and the datasets they were trained on."""

from __future__ import annotations

import re
from pathlib import PurePath
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, UploadFile
from fastapi.responses import Response

from govml.domain.lifecycle import Permission
from govml.errors import InputError
from govml.flavors import SerializedModel, get_flavor
from govml.server.auth import Acting
from govml.server.routes.common import ERRORS
from govml.server.schemas import ModelCreate, ModelOut, TagSet, VersionOut
from govml.server.uploads import json_field, json_object, read_parquet
from govml.services.access import precheck
from govml.services.attestation import AttestationService
from govml.services.registry import RegistryService, flavor_of_file

router = APIRouter(tags=["registry"], responses=ERRORS)

TABLE_HELP = "A Parquet file."
# The client's git checkout is not on this machine: without the client's own code lineage,
# the version records that no commit is known (never anything about the server's files).
NO_CODE_LINEAGE = {"git_commit": None, "reason": "the client sent no code lineage"}
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


@router.get("/models", response_model=list[ModelOut])
def list_models(ctx: Acting) -> list[dict[str, Any]]:
    """List every model, by name."""
    return [model.to_dict() for model in RegistryService(ctx).list_models()]


@router.post("/models", response_model=ModelOut, status_code=201)
def create_model(ctx: Acting, body: ModelCreate) -> dict[str, Any]:
    """Create a model."""
    model = RegistryService(ctx).create_model(
        body.name,
        risk_tier=body.risk_tier,
        owner=body.owner,
        intended_use=body.intended_use,
        out_of_scope_use=body.out_of_scope_use,
        description=body.description,
        tags=body.tags,
    )
    return model.to_dict()


@router.get("/models/{name}", response_model=ModelOut)
def get_model(ctx: Acting, name: str) -> dict[str, Any]:
    """Return one model."""
    return RegistryService(ctx).get_model(name).to_dict()


@router.post("/models/{name}/tags", response_model=ModelOut)
def set_tag(ctx: Acting, name: str, body: TagSet) -> dict[str, Any]:
    """Set a tag on a model, or remove it (``value: null``)."""
    return RegistryService(ctx).set_tag(name, body.key, body.value).to_dict()


@router.get("/models/{name}/versions", response_model=list[VersionOut])
def list_versions(ctx: Acting, name: str) -> list[dict[str, Any]]:
    """List the versions of a model, oldest first."""
    return [version.to_dict() for version in RegistryService(ctx).list_versions(name)]


@router.post("/models/{name}/versions", response_model=VersionOut, status_code=201)
def register_version(
    ctx: Acting,
    name: str,
    artifact: Annotated[UploadFile, File(description="The model file.")],
    flavor: Annotated[str | None, Form(description="Default: from the file's suffix.")] = None,
    flavor_options: Annotated[
        str | None,
        Form(
            description="JSON options the client's flavor wrote for a model it serialised. "
            "Hints only: the server recomputes the options from the artifact's bytes, and "
            "nothing in them decides what is loaded or trusted"
        ),
    ] = None,
    train_data: Annotated[UploadFile | None, File(description=TABLE_HELP)] = None,
    validation_data: Annotated[UploadFile | None, File(description=TABLE_HELP)] = None,
    input_example: Annotated[UploadFile | None, File(description=TABLE_HELP)] = None,
    target: Annotated[str | None, Form()] = None,
    params: Annotated[str | None, Form(description="JSON object of hyperparameters.")] = None,
    metrics: Annotated[str | None, Form(description="JSON object of training metrics.")] = None,
    description: Annotated[str, Form()] = "",
    mlflow_run_id: Annotated[str | None, Form()] = None,
    code: Annotated[
        str | None, Form(description="JSON code lineage of the client's checkout (git commit).")
    ] = None,
    environment: Annotated[
        str | None, Form(description="JSON environment lineage of the client (packages).")
    ] = None,
    exclude_columns: Annotated[
        str | None,
        Form(description="JSON list of data columns the model does not read (signature)."),
    ] = None,
) -> dict[str, Any]:
    """Register a new version from an uploaded artifact, with its training data's lineage.

    The artifact may contain types beyond the built-in allowlist only when the server's
    operator trusts them (``GOVML_TRUSTED_TYPES``); it is refused otherwise, each type named.
    """
    # Who may register, and whether the model exists, is settled before any upload is read.
    precheck(ctx, Permission.REGISTER)
    registry = RegistryService(ctx)
    registry.get_model(name)
    upload_name = _upload_name(artifact)
    chosen = flavor_of_file(upload_name, flavor)
    get_flavor(chosen)  # an unknown flavor is named before the bytes are read
    hints = json_object(flavor_options, "flavor_options")
    common: dict[str, Any] = {
        "train_data": read_parquet(train_data, "train_data"),
        "validation_data": read_parquet(validation_data, "validation_data"),
        "input_example": read_parquet(input_example, "input_example"),
        "target": target,
        "params": json_object(params, "params"),
        "metrics": json_object(metrics, "metrics"),
        "description": description,
        "mlflow_run_id": mlflow_run_id,
        "code": NO_CODE_LINEAGE if code is None else json_object(code, "code"),
        "environment": None if environment is None else json_object(environment, "environment"),
        "exclude_columns": _names(exclude_columns, "exclude_columns"),
    }
    # The artifact is read into memory, as the registry would read a file: nothing of it is
    # written outside the artifact store, so an interrupted request leaves nothing behind.
    serialized = SerializedModel(data=artifact.file.read(), flavor=chosen, options=hints)
    version = registry.register_version(
        name, serialized=serialized, source=f"uploaded artifact {upload_name}", **common
    )
    return version.to_dict()


def _names(text: str | None, field: str) -> list[str]:
    """Return a form field's JSON list of column names ([] when absent)."""
    value = json_field(text, field)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise InputError(f"{field}: expected a JSON list of column names")
    return value


def _upload_name(upload: UploadFile) -> str:
    """Return a printable base name of an uploaded file, for messages and its suffix."""
    name = _UNSAFE_NAME.sub("_", PurePath(upload.filename or "").name).lstrip(".")
    return name[:200] or "artifact"


@router.get("/versions/{ref}", response_model=VersionOut)
def get_version(ctx: Acting, ref: str) -> dict[str, Any]:
    """Return the version ``NAME@VERSION``, ``NAME@ALIAS`` or ``NAME`` (latest) names."""
    return RegistryService(ctx).get_version(ref).to_dict()


@router.get(
    "/versions/{ref}/artifact",
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
def get_artifact(ctx: Acting, ref: str) -> Response:
    """Download a version's artifact (its digest is checked before it is sent)."""
    version = RegistryService(ctx).get_version(ref)
    data = ctx.artifacts.get_bytes(version.artifact_digest)
    headers = {"X-Govml-Artifact-Digest": version.artifact_digest}
    return Response(content=data, media_type="application/octet-stream", headers=headers)


@router.get("/versions/{ref}/attestation", response_model=dict[str, Any])
def attest(ctx: Acting, ref: str) -> dict[str, Any]:
    """Return a DSSE-signed in-toto attestation whose subject is the version's artifact."""
    return AttestationService(ctx).attest(ref)


@router.get("/datasets/{digest}", response_model=dict[str, Any])
def get_dataset(ctx: Acting, digest: str) -> dict[str, Any]:
    """Return a stored dataset fingerprint: schema, row count and profile."""
    return RegistryService(ctx).dataset_fingerprint(digest)
