"""A model's monitoring tab: the latest run, and each check's time series per window.

The points are `MonitoringService.history`; each check's levels (warn and alert, or the bound
of a performance or fairness rule) come from its latest run, and the alert and rollback
markers from the runs' actions and the production alias's rollbacks. Checks that never left
``ok`` in the windows shown are listed in a table instead of drawn.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, Depends
from starlette.requests import Request
from starlette.responses import Response

from govml.domain.lifecycle import PRODUCTION
from govml.monitoring.records import RANK, MonitorPoint, MonitorRun
from govml.services.lifecycle import LifecycleService
from govml.services.monitoring import MonitoringService
from govml.ui.charts import Marker, Point, levels_of, series_chart
from govml.ui.model_page import model_head
from govml.ui.render import page
from govml.ui.viewer import Viewer, signed_in

router = APIRouter()

HISTORY_POINTS = 5000
RUNS = 30
DRAWN_CATEGORIES = ("performance", "fairness", "prediction_drift", "attribution")
CATEGORY_ORDER = (*DRAWN_CATEGORIES, "data_drift", "skew", "coverage")


def _markers(runs: Sequence[MonitorRun], rollbacks: Sequence[Any]) -> list[Marker]:
    found = []
    for run in runs:
        for action in run.actions:
            if action.action == "alert" and action.status == "done":
                found.append(Marker(at=run.window.end, kind="alert", label=f"alert, run {run.id}"))
    for change in rollbacks:
        found.append(
            Marker(
                at=change.created_at,
                kind="rollback",
                label=f"rollback v{change.previous}→v{change.version}",
            )
        )
    return found


def charts_of(
    points: Sequence[MonitorPoint], runs: Sequence[MonitorRun], markers: Sequence[Marker]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Return the drawn charts and the quiet checks (never past ``ok``), most severe first."""
    thresholds: dict[str, dict[str, Any]] = {}
    messages: dict[str, str] = {}
    for run in reversed(runs):  # oldest first: the latest run's levels win
        for report in run.versions:
            for outcome in report.checks:
                thresholds[outcome.check] = dict(outcome.threshold)
                messages[outcome.check] = outcome.message
    by_check: dict[str, list[MonitorPoint]] = {}
    for point in points:
        by_check.setdefault(point.check, []).append(point)
    drawn, quiet = [], []
    for check, series in by_check.items():
        category = series[-1].category
        worst = max((RANK.get(p.status, 0) for p in series), default=0)
        item = {
            "check": check,
            "category": category,
            "latest": series[-1],
            "worst": worst,
            "points": series,
            "message": messages.get(check, ""),
        }
        if category in DRAWN_CATEGORIES or worst > RANK["ok"]:
            levels = levels_of(thresholds.get(check, {}))
            item["chart"] = series_chart(
                [
                    Point(at=p.window_end, value=p.value, status=p.status, version=p.version)
                    for p in series
                ],
                levels,
                markers,
            )
            drawn.append(item)
        else:
            quiet.append(item)

    def order(item: dict[str, Any]) -> tuple[int, int, str]:
        rank = CATEGORY_ORDER.index(item["category"]) if item["category"] in CATEGORY_ORDER else 99
        return (-item["worst"], rank, item["check"])

    return sorted(drawn, key=order), sorted(quiet, key=order)


@router.get("/models/{name}/monitoring")
def monitoring_tab(request: Request, name: str, viewer: Viewer = Depends(signed_in)) -> Response:  # noqa: B008
    """Show the latest monitoring run and each check's time series, levels and markers."""
    head = model_head(viewer, name)
    service = MonitoringService(viewer.ctx)
    points = service.history(name, limit=HISTORY_POINTS)
    runs = service.latest_runs(name, limit=RUNS)
    rollbacks = [
        c
        for c in LifecycleService(viewer.ctx).history(name, alias=PRODUCTION)
        if c.action == "rollback"
    ]
    markers = _markers(runs, rollbacks)
    drawn, quiet = charts_of(points, runs, markers)
    latest = runs[0] if runs else None
    data = {
        "latest_run": None if latest is None else latest.to_dict(),
        "points": [p.to_dict() for p in points],
    }
    return page(
        request,
        "model_monitoring.html",
        {
            "title": f"{name}: monitoring",
            "nav": "models",
            "head": head,
            "tab": "monitoring",
            "latest": latest,
            "drawn": drawn,
            "quiet": quiet,
            "markers": markers,
            "runs": runs,
        },
        data=data,
    )
