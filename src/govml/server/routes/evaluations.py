"""Evaluations: run a policy's gates on uploaded data, read results and their evidence."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Path, Query, Request, UploadFile
from fastapi.responses import Response

from govml.errors import InputError, NotFoundError
from govml.server.auth import Acting
from govml.server.routes.common import ERRORS
from govml.server.schemas import INT32, EvaluationOut
from govml.server.uploads import json_field, read_parquet, read_policy
from govml.services.evaluation import DEFAULT_N_BOOT, EvaluationService

router = APIRouter(tags=["evaluations"], responses=ERRORS)

EvaluationId = Annotated[int, Path(ge=1, le=INT32)]


def _out(evaluation: Any) -> dict[str, Any]:
    return {"id": evaluation.id, "digest": evaluation.digest, "document": evaluation.document}


@router.post("/evaluations", response_model=EvaluationOut, status_code=201)
def evaluate(
    ctx: Acting,
    request: Request,
    data: Annotated[UploadFile, File(description="Evaluation data (Parquet).")],
    target: Annotated[str, Form(description="Column with the actual outcomes.")],
    ref: Annotated[str | None, Form(description="NAME@VERSION to evaluate.")] = None,
    policy: Annotated[
        UploadFile | None,
        File(description="Policy YAML; default: the policy in force for the model's tier."),
    ] = None,
    policy_source: Annotated[
        str | None, Form(description="The policy's file name, for messages.")
    ] = None,
    training_data: Annotated[
        UploadFile | None,
        File(description="Training data (Parquet) for the baseline and training_data sections."),
    ] = None,
    sensitive: Annotated[
        str | None, Form(description="JSON list of sensitive columns (default: the policy's).")
    ] = None,
    prediction_column: Annotated[str | None, Form()] = None,
    score_column: Annotated[str | None, Form()] = None,
    pos_label: Annotated[str | None, Form(description="JSON value of the positive label.")] = None,
    label: Annotated[str | None, Form(description="Names predictions made elsewhere.")] = None,
    n_boot: Annotated[int, Form(ge=1, le=100_000)] = DEFAULT_N_BOOT,
    random_state: Annotated[int, Form(ge=0, le=2**32 - 1)] = 0,
) -> dict[str, Any]:
    """Evaluate a version (or predictions made elsewhere) against a policy; store the result.

    The evaluation's ``document.status`` is ``fail`` when a rule failed: the request itself
    succeeds (201) whatever the outcome.
    """
    columns = json_field(sensitive, "sensitive")
    if columns is not None and (
        not isinstance(columns, list) or not all(isinstance(c, str) for c in columns)
    ):
        raise InputError("sensitive: expected a JSON list of column names")
    limits = request.app.state.govml_limits
    table = read_parquet(data, "data", limits)
    training = (
        None if training_data is None else read_parquet(training_data, "training_data", limits)
    )
    evaluation = EvaluationService(ctx).evaluate(
        ref,
        data=table,
        target=target,
        policy=read_policy(policy, policy_source),
        training_data=training,
        sensitive=columns,
        prediction_column=prediction_column,
        score_column=score_column,
        pos_label=json_field(pos_label, "pos_label"),
        label=label,
        n_boot=n_boot,
        random_state=random_state,
    )
    return _out(evaluation)


@router.get("/evaluations", response_model=list[EvaluationOut])
def list_evaluations(
    ctx: Acting,
    model: str | None = None,
    version: Annotated[int | None, Query(ge=1, le=INT32)] = None,
    status: str | None = None,
    limit: Annotated[int | None, Query(ge=1, le=INT32)] = None,
) -> list[dict[str, Any]]:
    """List stored evaluations, newest first."""
    found = EvaluationService(ctx).query(model=model, version=version, status=status, limit=limit)
    return [_out(evaluation) for evaluation in found]


@router.get("/evaluations/{evaluation_id}", response_model=EvaluationOut)
def get_evaluation(ctx: Acting, evaluation_id: EvaluationId) -> dict[str, Any]:
    """Return one stored evaluation."""
    return _out(EvaluationService(ctx).get(evaluation_id))


@router.get(
    "/evaluations/{evaluation_id}/evidence/{name}",
    response_class=Response,
    responses={200: {"content": {"application/json": {}}}},
)
def get_evidence(ctx: Acting, evaluation_id: EvaluationId, name: str) -> Response:
    """Return an evaluation's evidence artifact (JSON)."""
    service = EvaluationService(ctx)
    data = service.evidence(service.get(evaluation_id), name)
    if data is None:
        raise NotFoundError(f"evaluation {evaluation_id} has no evidence {name!r}")
    return Response(content=data, media_type="application/json")
