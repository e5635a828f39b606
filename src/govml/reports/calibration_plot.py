"""The reliability plot of an evaluation's calibration evidence, one line per group.

Drawn from the ``calibration`` evidence (`govml.metrics.calibration`): for each grouping,
each group's non-empty score bins as points at (mean score, observed rate), joined by a
line, against the diagonal of perfect calibration; the table beside it gives each group's
expected calibration error, calibration-in-the-large and slope.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from govml.reports._format import MISSING, format_number
from govml.reports.plots import (
    _COLOURS,
    _FONT,
    MAX_ROWS,
    Plot,
    Table,
    _group_label,
    _mapping,
    _new_figure,
    _png,
    _sequence,
    _short,
)

COLUMNS = ("expected_calibration_error", "calibration_in_the_large", "calibration_slope")
MAX_LINES = len(_COLOURS)


def calibration_plots(evidence: Mapping[str, Any]) -> list[Plot]:
    """Return one reliability plot per grouping of the ``calibration`` evidence."""
    reliability = _mapping(evidence.get("reliability"))
    sections = {
        "*".join(str(f) for f in _sequence(section.get("features"))): section
        for section in _sequence(_mapping(evidence.get("report")).get("sections"))
        if isinstance(section, Mapping)
    }
    out = []
    for grouping, groups in reliability.items():
        plot = _reliability(str(grouping), _sequence(groups), _mapping(sections.get(grouping)))
        if plot is not None:
            out.append(plot)
    return out


def _reliability(grouping: str, groups: Any, section: Mapping[str, Any]) -> Plot | None:
    drawn = [g for g in groups if isinstance(g, Mapping) and _sequence(g.get("mean_score"))]
    if not drawn:
        return None
    from matplotlib.lines import Line2D

    figure = _new_figure(5.2, 4.2)
    axes = figure.add_subplot()
    axes.plot([0, 1], [0, 1], linestyle="--", color="#999999", linewidth=0.8)
    handles: list[Any] = [
        Line2D([], [], linestyle="--", color="#999999", label="perfectly calibrated")
    ]
    for index, group in enumerate(drawn[:MAX_LINES]):
        colour = _COLOURS[index % len(_COLOURS)]
        label = _short(_group_label(group.get("group")))
        axes.plot(
            list(group["mean_score"]),
            list(group["observed_rate"]),
            marker="o",
            markersize=3,
            linewidth=1.0,
            color=colour,
        )
        handles.append(Line2D([], [], marker="o", color=colour, label=label))
    axes.set_xlim(-0.02, 1.02)  # points on the edges stay whole
    axes.set_ylim(-0.02, 1.02)
    axes.set_xlabel("mean score in bin", fontsize=_FONT)
    axes.set_ylabel("observed rate of the positive label", fontsize=_FONT)
    axes.tick_params(labelsize=_FONT)
    axes.set_aspect("equal")
    axes.legend(handles=handles, loc="upper left", fontsize=_FONT, frameon=False)
    notes = []
    if len(drawn) > MAX_LINES:
        notes.append(f"{len(drawn) - MAX_LINES} more groups are in the table only")
    return Plot(
        title=f"Reliability by {grouping.replace('*', ' × ')}",
        png=_png(figure),
        caption="Each point is a bin of scores: its mean score against how often the "
        "positive label occurred; points under the diagonal mean the scores promised too much.",
        table=_table(drawn, section),
        notes=notes,
    )


def _table(groups: list[Mapping[str, Any]], section: Mapping[str, Any]) -> Table:
    by_group = _mapping(section.get("by_group"))
    rows = []
    for index, group in enumerate(groups[:MAX_ROWS]):
        cells = [_group_label(group.get("group"))]
        for metric in COLUMNS:
            results = _sequence(by_group.get(metric))
            value = _mapping(results[index]).get("value") if index < len(results) else None
            cells.append(MISSING if value is None else format_number(float(value)))
        rows.append(tuple(cells))
    return Table(header=("group", "ECE", "mean score − rate", "slope"), rows=rows)
