"""A model's evaluations: every run, one run's checks and plots, a candidate against production.

Plots are drawn by `govml.reports.plots` from the evidence the evaluation stored (as in the
HTML report) and served as PNG images beside the same numbers as a table; an evaluation
never changes, so a process keeps the plots of its last few evaluations drawn.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

from fastapi import APIRouter, Depends
from starlette.requests import Request
from starlette.responses import Response

from govml.domain.lifecycle import PRODUCTION
from govml.errors import GovmlError, NotFoundError, ValidationError
from govml.evaluation import Evaluation
from govml.reports import plots
from govml.reports._format import by_category, reference_groups_of
from govml.services.evaluation import EvaluationService
from govml.ui.comparison import Comparison, compare
from govml.ui.model_page import ModelHead, model_head
from govml.ui.render import page
from govml.ui.viewer import Viewer, signed_in

router = APIRouter()

PLOT_CACHE = 16
_DRAWING_ERRORS = (KeyError, IndexError, TypeError, ValueError, AttributeError, GovmlError)
_PLOTTERS: tuple[tuple[str, str, Callable[[Mapping[str, Any]], list[plots.Plot]]], ...] = (
    ("fairness_report", "Fairness: metrics per group", plots.fairness_plots),
    (
        "explanation",
        "Explainability: feature importance",
        lambda d: _listed(plots.explanation_plot(d)),
    ),
    (
        "drift",
        "Data drift: evaluation data against training data",
        lambda d: _listed(plots.drift_plot(d)),
    ),
)


def _listed(plot: plots.Plot | None) -> list[plots.Plot]:
    return [] if plot is None else [plot]


class _PlotCache:
    """The drawn plots of the last `PLOT_CACHE` evaluations (of one store), by evaluation id."""

    def __init__(self) -> None:
        self._items: OrderedDict[tuple[str, int], list[tuple[str, list[plots.Plot], str]]] = (
            OrderedDict()
        )
        self._lock = threading.Lock()

    def get(
        self,
        store: str,
        evaluation: Evaluation,
        evidence: Callable[[Evaluation, str], bytes | None],
    ) -> list[tuple[str, list[plots.Plot], str]]:
        key = (store, evaluation.id)
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        drawn = _draw(evaluation, evidence)
        with self._lock:
            self._items[key] = drawn
            while len(self._items) > PLOT_CACHE:
                self._items.popitem(last=False)
        return drawn


_cache = _PlotCache()


def _draw(
    evaluation: Evaluation, evidence: Callable[[Evaluation, str], bytes | None]
) -> list[tuple[str, list[plots.Plot], str]]:
    """Return (title, plots, note) per evidence kind; the note says why there is no plot."""
    sections: list[tuple[str, list[plots.Plot], str]] = []
    for name, title, draw in _PLOTTERS:
        blob = evidence(evaluation, name)
        if blob is None:
            sections.append((title, [], f"no {name.replace('_', ' ')} evidence stored"))
            continue
        try:
            data = json.loads(blob)
            drawn = draw(data) if isinstance(data, Mapping) else []
        except (UnicodeDecodeError, ValueError, *_DRAWING_ERRORS) as exc:
            sections.append((title, [], f"the evidence could not be drawn: {type(exc).__name__}"))
            continue
        sections.append((title, drawn, "" if drawn else "the evidence holds nothing to plot"))
    return sections


def _evaluation_of(service: EvaluationService, name: str, evaluation_id: int) -> Evaluation:
    evaluation = service.get(evaluation_id)
    if evaluation.document["subject"].get("model") != name:
        raise NotFoundError(f"evaluation {evaluation_id} is not an evaluation of {name}")
    return evaluation


def _number(text: str | None, what: str) -> int | None:
    if not text:
        return None
    if not text.isdigit() or len(text) > 12:
        raise ValidationError(f"{what}: {text!r} is not an evaluation number")
    return int(text)


@router.get("/models/{name}/evaluations")
def evaluations_tab(
    request: Request,
    name: str,
    id: str = "",
    viewer: Viewer = Depends(signed_in),  # noqa: B008
) -> Response:
    """Every evaluation of the model, and the checks and plots of one (the newest by default)."""
    head = model_head(viewer, name)
    service = EvaluationService(viewer.ctx)
    found = service.query(model=name)
    chosen_id = _number(id, "id")
    chosen = found[0] if found and chosen_id is None else None
    if chosen_id is not None:
        chosen = _evaluation_of(service, name, chosen_id)
    sections: list[dict[str, Any]] = []
    categories: list[Any] = []
    if chosen is not None:
        sections = _numbered(_cache.get(viewer.ctx.store.url, chosen, service.evidence))
        fairness = _fairness_of(service, chosen)
        categories = by_category(chosen.document, reference_groups=reference_groups_of(fairness))
    return page(
        request,
        "model_evaluations.html",
        {
            "title": f"{name}: evaluations",
            "nav": "models",
            "head": head,
            "tab": "evaluations",
            "evaluations": found,
            "chosen": chosen,
            "categories": categories,
            "sections": sections,
            "policy_digest": None if head.policy is None else head.policy.digest,
        },
    )


def _numbered(drawn: list[tuple[str, list[plots.Plot], str]]) -> list[dict[str, Any]]:
    """Return the sections with their plots numbered across them, as `plot_image` counts."""
    sections, index = [], 0
    for title, drawn_plots, note in drawn:
        numbered = []
        for plot in drawn_plots:
            numbered.append((index, plot))
            index += 1
        sections.append({"title": title, "plots": numbered, "note": note})
    return sections


def _fairness_of(service: EvaluationService, evaluation: Evaluation) -> Mapping[str, Any] | None:
    blob = service.evidence(evaluation, "fairness_report")
    try:
        data = json.loads(blob) if blob is not None else None
    except (UnicodeDecodeError, ValueError):
        return None
    return data if isinstance(data, Mapping) else None


@router.get("/models/{name}/evaluations/{evaluation_id}/plots/{index}.png")
def plot_image(
    name: str,
    evaluation_id: int,
    index: int,
    viewer: Viewer = Depends(signed_in),  # noqa: B008
) -> Response:
    """One plot of an evaluation as a PNG image (numbered across its evidence)."""
    service = EvaluationService(viewer.ctx)
    evaluation = _evaluation_of(service, name, evaluation_id)
    drawn = [
        plot
        for _, ps, _ in _cache.get(viewer.ctx.store.url, evaluation, service.evidence)
        for plot in ps
    ]
    if not 0 <= index < len(drawn):
        raise NotFoundError(f"evaluation {evaluation_id} has no plot {index}")
    return Response(
        drawn[index].png,
        media_type="image/png",
        headers={"Cache-Control": "private, max-age=86400, immutable"},
    )


def production_evaluation(service: EvaluationService, head: ModelHead) -> Evaluation | None:
    """Return the newest evaluation of the version holding production, if any."""
    number = head.model.aliases.get(PRODUCTION)
    if number is None:
        return None
    found = service.query(model=head.model.name, version=number, limit=1)
    return found[0] if found else None


def comparison_for(
    viewer: Viewer, head: ModelHead, candidate_id: int | None = None, baseline_id: int | None = None
) -> Comparison | None:
    """Compare an evaluation of the candidate (default: its newest) with production's newest."""
    service = EvaluationService(viewer.ctx)
    name = head.model.name
    if candidate_id is not None:
        candidate = _evaluation_of(service, name, candidate_id)
    else:
        target = head.candidate or (head.versions[-1] if head.versions else None)
        found = [] if target is None else service.query(model=name, version=target.version, limit=1)
        if not found:
            return None
        candidate = found[0]
    baseline = (
        _evaluation_of(service, name, baseline_id)
        if baseline_id is not None
        else production_evaluation(service, head)
    )
    if baseline is not None and baseline.id == candidate.id:
        baseline = None
    return compare(candidate, baseline, service.evidence)


@router.get("/models/{name}/compare")
@router.get("/models/{name}/compare.json")
def compare_page(
    request: Request,
    name: str,
    candidate: str = "",
    baseline: str = "",
    viewer: Viewer = Depends(signed_in),  # noqa: B008
) -> Response:
    """Show a candidate's evaluation beside production's: metrics, groups, features."""
    head = model_head(viewer, name)
    result = comparison_for(
        viewer, head, _number(candidate, "candidate"), _number(baseline, "baseline")
    )
    return page(
        request,
        "model_compare.html",
        {
            "title": f"{name}: candidate against production",
            "nav": "models",
            "head": head,
            "tab": "evaluations",
            "comparison": result,
        },
        data=None if result is None else result.to_dict(),
    )
