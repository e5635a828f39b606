"""Production monitoring over REST: runs, their history, labelling tasks and labels.

The prediction log read is the server's own (``$GOVML_HOME/predictions`` of its home), the
one ``govml serve`` writes next to it.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from govml.monitoring import Options
from govml.server.auth import Acting
from govml.server.redact import public_path
from govml.server.routes.common import ERRORS
from govml.services.monitoring import MonitoringService

router = APIRouter(tags=["monitoring"], responses=ERRORS)

_TEXT = Field(default=None, max_length=100)
_INT32 = 2**31 - 1


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MonitorRequest(_Body):
    """Which window to judge, and how much data a verdict needs."""

    window: str | None = _TEXT
    since: str | None = _TEXT
    until: str | None = _TEXT
    dry_run: bool = False
    version: int | None = Field(default=None, ge=1, le=_INT32)
    min_rows: int = Field(default=200, ge=1, le=_INT32)
    min_labels: int = Field(default=200, ge=1, le=_INT32)
    shap_rows: int | None = Field(default=None, ge=10, le=100_000)


class TasksRequest(_Body):
    """Which window's low-confidence predictions to export, and how many."""

    window: str | None = _TEXT
    since: str | None = _TEXT
    until: str | None = _TEXT
    limit: int = Field(default=100, ge=1, le=100_000)
    below: float | None = Field(default=None, gt=0, le=1)


class LabelsRequest(_Body):
    """Annotated Label Studio tasks (its JSON export)."""

    tasks: list[dict[str, Any]] = Field(max_length=1_000_000)
    from_name: str | None = _TEXT


@router.post("/models/{name}/monitor", response_model=dict[str, Any])
def monitor(ctx: Acting, name: str, body: MonitorRequest) -> dict[str, Any]:
    """Judge a window of the model's prediction log; store it, alert and remediate."""
    options = Options(min_rows=body.min_rows, min_labels=body.min_labels, shap_rows=body.shap_rows)
    run = MonitoringService(ctx).monitor(
        name,
        window=body.window,
        since=body.since,
        until=body.until,
        dry_run=body.dry_run,
        version=body.version,
        options=options,
    )
    return run.to_dict()


@router.get("/models/{name}/monitoring/history", response_model=list[dict[str, Any]])
def history(
    ctx: Acting,
    name: str,
    version: Annotated[int | None, Query(ge=1, le=_INT32)] = None,
    check: Annotated[str | None, Query(max_length=300)] = None,
    limit: Annotated[int | None, Query(ge=1, le=1_000_000)] = 500,
) -> list[dict[str, Any]]:
    """Return the time series of the model's checks, oldest first."""
    points = MonitoringService(ctx).history(name, version=version, check=check, limit=limit)
    return [p.to_dict() for p in points]


@router.get("/models/{name}/monitoring/runs", response_model=list[dict[str, Any]])
def latest_runs(
    ctx: Acting, name: str, limit: Annotated[int, Query(ge=1, le=1000)] = 1
) -> list[dict[str, Any]]:
    """Return the model's newest monitoring runs, newest first."""
    return [run.to_dict() for run in MonitoringService(ctx).latest_runs(name, limit=limit)]


@router.get("/models/{name}/monitoring/runs/{run_id}", response_model=dict[str, Any])
def get_run(
    ctx: Acting, name: str, run_id: Annotated[int, Path(ge=1, le=_INT32)]
) -> dict[str, Any]:
    """Return one stored monitoring run with its actions."""
    return MonitoringService(ctx).get_run(name, run_id).to_dict()


@router.post("/models/{name}/monitoring/tasks", response_model=list[dict[str, Any]])
def export_tasks(ctx: Acting, name: str, body: TasksRequest) -> list[dict[str, Any]]:
    """Return the window's least confident predictions as Label Studio tasks."""
    return MonitoringService(ctx).export_tasks(
        name,
        window=body.window,
        since=body.since,
        until=body.until,
        limit=body.limit,
        below=body.below,
    )


@router.post("/models/{name}/monitoring/labels", response_model=dict[str, Any])
def import_labels(ctx: Acting, request: Request, name: str, body: LabelsRequest) -> dict[str, Any]:
    """Write the labels of annotated Label Studio tasks into the feedback log.

    ``file`` names the feedback file from ``$GOVML_HOME`` (or only by its name, when the log is
    kept elsewhere), never by the server's folder.
    """
    result = MonitoringService(ctx).import_labels(name, body.tasks, from_name=body.from_name)
    if result.get("file") is not None:
        result = {**result, "file": public_path(request, str(result["file"]))}
    return result
