"""HTML rendering of an evaluation document: one self-contained file.

The page needs nothing from the network: the style sheet is inline and every plot is a
PNG embedded as a ``data:`` URI. Plots are drawn from the evidence the evaluation stored
(:mod:`govml.reports.plots`), read through a callback, so a report can be rendered again
later from the database. Jinja2 escapes every value (names, groups and messages come
from user data).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import jinja2

from govml.errors import GovmlError
from govml.reports import plots
from govml.reports._format import (
    OUTCOMES,
    by_category,
    details_of,
    evidence_list,
    no_break,
    reference_groups_of,
    status_of,
    subject_name,
    summary_counts,
    timings_of,
)
from govml.reports.calibration_plot import calibration_plots

__all__ = [
    "EVIDENCE_DRIFT",
    "EVIDENCE_EXPLANATION",
    "EVIDENCE_FAIRNESS",
    "EvidenceReader",
    "render_html",
]

EvidenceReader = Callable[[str], bytes | None]
"""Return the bytes of the stored evidence artifact of a name, or None when there is none."""

EVIDENCE_FAIRNESS = "fairness_report"
"""Evidence holding ``FairnessReport.to_dict()``."""
EVIDENCE_EXPLANATION = "explanation"
"""Evidence holding ``Explanation.to_dict()``."""
EVIDENCE_DRIFT = "drift"
"""Evidence holding ``DriftReport.to_dict()``."""
EVIDENCE_CALIBRATION = "calibration"
"""Evidence holding the calibration by group (score bins, reliability, report sections)."""

NOTE_NOT_STORED = "no {what} evidence stored"
NOTE_UNREADABLE = "the {what} evidence could not be read: {error}"
NOTE_UNDRAWABLE = "the {what} evidence could not be drawn: {error}"
NOTE_NOTHING = "the {what} evidence holds nothing to plot"

TEMPLATE = "report.html.j2"

# Errors a malformed but readable evidence document can raise while it is drawn; one bad
# artifact must not keep the rest of the report from being rendered.
_DRAWING_ERRORS = (KeyError, IndexError, TypeError, ValueError, AttributeError, GovmlError)


@dataclass(frozen=True)
class EvidenceSection:
    """The plots drawn from one evidence artifact, or the notes saying why there are none."""

    title: str
    plots: list[plots.Plot] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def render_html(document: Mapping[str, Any], *, evidence: EvidenceReader | None = None) -> str:
    """Return the HTML report of an evaluation document.

    Parameters
    ----------
    document : mapping
        An evaluation document (schema ``govml.evaluation/v1``).
    evidence : callable, optional
        Returns the bytes of a stored evidence artifact by name (None when absent). The
        artifacts read are :data:`EVIDENCE_FAIRNESS`, :data:`EVIDENCE_EXPLANATION` and
        :data:`EVIDENCE_DRIFT`; without them the plots are replaced by a note.

    Returns
    -------
    str
        One HTML document with inline style and images.
    """
    fairness = _load(evidence, EVIDENCE_FAIRNESS, "fairness")
    sections = [
        _section(
            "Fairness: metrics per group",
            "fairness",
            fairness,
            lambda data: plots.fairness_plots(data, label_selection_rate=True),
        ),
        _section(
            "Explainability: SHAP summary",
            "explanation",
            _load(evidence, EVIDENCE_EXPLANATION, "explanation"),
            lambda data: _listed(plots.explanation_plot(data)),
        ),
        _section(
            "Data drift: evaluation data against training data",
            "drift",
            _load(evidence, EVIDENCE_DRIFT, "drift"),
            lambda data: _listed(plots.drift_plot(data)),
        ),
    ]
    calibration = _load(evidence, EVIDENCE_CALIBRATION, "calibration")
    if calibration[0] is not None:  # only evaluations with calibration rules store it
        sections.insert(
            1,
            _section(
                "Calibration by group: reliability",
                "calibration",
                calibration,
                calibration_plots,
            ),
        )
    status = status_of(document)
    return _template().render(
        subject=subject_name(document),
        status=status,
        counts=summary_counts(document),
        outcomes=OUTCOMES,
        details=details_of(document),
        categories=by_category(document, reference_groups=reference_groups_of(fairness[0])),
        sections=sections,
        timings=timings_of(document),
        evidence=evidence_list(document),
        schema=str(document.get("schema") or ""),
    )


@functools.cache
def _template() -> jinja2.Template:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("govml.reports", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["no_break"] = no_break
    return environment.get_template(TEMPLATE)


_Loaded = tuple[Mapping[str, Any] | None, str | None]


def _load(evidence: EvidenceReader | None, name: str, what: str) -> _Loaded:
    """Return the parsed evidence, or None and a note saying why there is none."""
    blob = None if evidence is None else evidence(name)
    if blob is None:
        return None, NOTE_NOT_STORED.format(what=what)
    try:
        data = json.loads(blob)
    except (UnicodeDecodeError, ValueError) as exc:
        return None, NOTE_UNREADABLE.format(what=what, error=exc)
    if not isinstance(data, Mapping):
        return None, NOTE_UNREADABLE.format(what=what, error="not a JSON object")
    return data, None


def _section(
    title: str,
    what: str,
    loaded: _Loaded,
    draw: Callable[[Mapping[str, Any]], list[plots.Plot]],
) -> EvidenceSection:
    data, note = loaded
    if data is None:
        return EvidenceSection(title=title, notes=[note or NOTE_NOT_STORED.format(what=what)])
    try:
        drawn = draw(data)
    except _DRAWING_ERRORS as exc:
        error = f"{type(exc).__name__}: {exc}"
        return EvidenceSection(title=title, notes=[NOTE_UNDRAWABLE.format(what=what, error=error)])
    if not drawn:
        return EvidenceSection(title=title, notes=[NOTE_NOTHING.format(what=what)])
    return EvidenceSection(title=title, plots=drawn)


def _listed(plot: plots.Plot | None) -> list[plots.Plot]:
    return [] if plot is None else [plot]
