"""Plots of an evaluation's stored evidence: group metrics, SHAP importance, drift.

Every plot is drawn from the JSON evidence an evaluation stores (a fairness report, an
explanation, a drift report), so a report can be re-rendered from the database long after
the evaluation ran. Figures are drawn on matplotlib's Agg canvas directly (no pyplot, no
display, no global state) at a small resolution, and returned as PNG bytes together with
a table of the same numbers as text.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from govml.reports._format import MISSING, format_number, format_value, interval_text, number

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["Plot", "Table", "drift_plot", "drift_summary", "explanation_plot", "fairness_plots"]

DPI = 80
"""Resolution of every figure; small, so that a report with several plots stays small."""

MAX_ROWS = 40
"""Groups (fairness) or columns (drift) drawn at most per figure."""

MAX_FEATURES = 20
"""Features drawn in the importance plot."""

UNDEFINED = "undefined"

# Group metrics drawn when present, in this order; "recall" is the same as the TPR.
_PREFERRED_METRICS = ("selection_rate", "true_positive_rate", "recall", "false_positive_rate")
_SAME_METRIC = {"recall": "true_positive_rate"}
_FALLBACK_METRICS = 4
_COLOURS = ("#3b6ea5", "#e08a2c", "#5a9e5a", "#8e6bb0", "#b0504f", "#4fa3a5")
_DRIFT_COLOUR, _OK_COLOUR, _MUTED = "#c0392b", "#3b6ea5", "#777777"
_LABEL_CHARS = 32
# p-values below this are drawn at this value (-log10 = 16).
_P_FLOOR = 1e-16
_FONT = 7


@dataclass(frozen=True)
class Table:
    """Numbers of a plot as text: a header and rows of cells."""

    header: tuple[str, ...]
    rows: list[tuple[str, ...]]


@dataclass(frozen=True)
class Plot:
    """A PNG image with its title, a caption and the numbers it shows."""

    title: str
    png: bytes
    caption: str = ""
    table: Table | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def data_uri(self) -> str:
        """The image as a ``data:image/png;base64,...`` URI."""
        return "data:image/png;base64," + base64.b64encode(self.png).decode("ascii")


# --------------------------------------------------------------------------- fairness


def fairness_plots(report: Mapping[str, Any], *, label_selection_rate: bool = False) -> list[Plot]:
    """Draw the group metrics of every section of a fairness report.

    Parameters
    ----------
    report : mapping
        ``FairnessReport.to_dict()`` output.
    label_selection_rate : bool
        Name the selection rate as the share of rows predicted the label the report's
        statistics count as positive (their ``pos_label``), so that it is not read as the
        favourable outcome when a policy's ``favourable_label`` is the other label.

    Returns
    -------
    list of Plot
        One horizontal grouped bar chart per section (sensitive feature or combination):
        selection rate, true and false positive rates when present (otherwise the first
        metrics the section has), whiskers for confidence intervals, a dashed line for
        the overall value; an undefined group is a gap labelled ``undefined``.
    """
    sections = report.get("sections")
    if not isinstance(sections, Sequence):
        return []
    positive_label = None
    if label_selection_rate:
        positive_label = _mapping(report.get("statistics")).get("pos_label")
    plots = []
    for section in sections:
        if isinstance(section, Mapping):
            plot = _fairness_section(section, positive_label)
            if plot is not None:
                plots.append(plot)
    return plots


@dataclass(frozen=True)
class _Cell:
    value: float | None
    interval: tuple[float, float] | None


def _fairness_section(section: Mapping[str, Any], positive_label: Any = None) -> Plot | None:
    by_group = section.get("by_group")
    if not isinstance(by_group, Mapping):
        return None
    metrics = _chosen_metrics(by_group)
    if not metrics:
        return None
    features = [str(name) for name in _sequence(section.get("features"))] or ["group"]
    predicted = None if positive_label is None else format_value(positive_label)

    def name(metric: str) -> str:
        if predicted is not None and metric == "selection_rate":
            return f"selection rate (predicted {predicted})"
        return _metric_name(metric)

    labels, rows = _group_labels(section, by_group, metrics)
    cells = {metric: _cells(by_group[metric], labels) for metric in metrics}
    shown = labels[:MAX_ROWS]
    confidence = _confidence(by_group, metrics)

    figure = _new_figure(7.0, 1.3 + len(shown) * (0.18 + 0.09 * len(metrics)))
    axes = figure.add_subplot()
    positions = list(range(len(shown)))[::-1]
    height = 0.8 / len(metrics)
    handles: list[Any] = []
    overall = {
        metric: _result_value(_mapping(section.get("overall")).get(metric)) for metric in metrics
    }
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    for index, metric in enumerate(metrics):
        colour = _COLOURS[index % len(_COLOURS)]
        ys = [y + 0.4 - (index + 0.5) * height for y in positions]
        _group_bars(axes, [cells[metric].get(label) for label in shown], ys, height, colour)
        handles.append(Patch(color=colour, label=name(metric)))
        line = overall[metric]
        if line is not None and math.isfinite(line):
            axes.axvline(line, color=colour, linestyle="--", linewidth=0.8)
    has_overall = any(value is not None for value in overall.values())
    if has_overall:
        handles.append(Line2D([], [], color=_MUTED, linestyle="--", label="overall"))
    axes.set_yticks(positions, labels=[_short(label) for label in shown], fontsize=_FONT)
    axes.set_ylim(-0.6, len(shown) - 0.4)
    _rate_limits(axes, [cell for metric in metrics for cell in cells[metric].values()])
    axes.set_title(f"by {' × '.join(features)}", fontsize=_FONT + 2, loc="left")
    _legend_above(axes, handles)
    axes.tick_params(axis="x", labelsize=_FONT)
    axes.spines[["top", "right"]].set_visible(False)

    caption = "Bars: value per group"
    if confidence is not None:
        caption += f"; whiskers: {format_number(confidence * 100)}% bootstrap interval"
    if has_overall:
        caption += "; dashed lines: value over all rows"
    caption += "; an undefined group is a gap labelled 'undefined'"
    if predicted is not None and "selection_rate" in metrics:
        caption += f"; selection rate: the share of rows predicted {predicted}"
    caption += "."
    notes = []
    if len(labels) > len(shown):
        notes.append(f"{len(labels) - len(shown)} of {len(labels)} groups are not drawn.")
    header = ("group", "rows", *(name(metric) for metric in metrics))
    table_rows = [
        (label, rows.get(label, MISSING), *(_cell_text(cells[m].get(label)) for m in metrics))
        for label in labels
    ]
    return Plot(
        title=f"Group metrics by {' × '.join(features)}",
        png=_png(figure),
        caption=caption,
        table=Table(header=header, rows=table_rows),
        notes=notes,
    )


def _chosen_metrics(by_group: Mapping[str, Any]) -> list[str]:
    present = [str(name) for name, results in by_group.items() if isinstance(results, Sequence)]
    chosen = [
        name
        for name in _PREFERRED_METRICS
        if name in present and _SAME_METRIC.get(name) not in present
    ]
    return chosen or present[:_FALLBACK_METRICS]


def _group_labels(
    section: Mapping[str, Any], by_group: Mapping[str, Any], metrics: list[str]
) -> tuple[list[str], dict[str, str]]:
    """Group labels in the section's order (then any only the results name), and row counts."""
    groups = [_group_label(group) for group in _sequence(section.get("groups"))]
    counts = _sequence(section.get("rows"))
    rows = {label: format_value(count) for label, count in zip(groups, counts, strict=False)}
    labels = list(dict.fromkeys(groups))
    for metric in metrics:
        for index, result in enumerate(_sequence(by_group[metric])):
            label = _result_label(result, index, groups)
            if label not in labels:
                labels.append(label)
    return labels, rows


def _cells(results: Any, groups: list[str]) -> dict[str, _Cell]:
    cells = {}
    for index, result in enumerate(_sequence(results)):
        label = _result_label(result, index, groups)
        value = _result_value(result)
        interval = _interval(result.get("interval")) if isinstance(result, Mapping) else None
        cells[label] = _Cell(value=value, interval=interval)
    return cells


def _result_label(result: Any, index: int, groups: list[str]) -> str:
    if isinstance(result, Mapping) and result.get("group") is not None:
        return _group_label(result["group"])
    return groups[index] if index < len(groups) else f"group {index + 1}"


def _group_label(group: Any) -> str:
    if isinstance(group, Sequence) and not isinstance(group, str):
        return ", ".join(str(value) for value in group)
    return str(group)


def _result_value(result: Any) -> float | None:
    value = number(result.get("value")) if isinstance(result, Mapping) else number(result)
    return None if value is None or math.isnan(value) else value


def _interval(interval: Any) -> tuple[float, float] | None:
    if not isinstance(interval, Sequence) or isinstance(interval, str) or len(interval) != 2:
        return None
    low, high = number(interval[0]), number(interval[1])
    if low is None or high is None or not (math.isfinite(low) and math.isfinite(high)):
        return None
    return low, high


def _confidence(by_group: Mapping[str, Any], metrics: list[str]) -> float | None:
    for metric in metrics:
        for result in _sequence(by_group[metric]):
            if isinstance(result, Mapping) and result.get("interval") is not None:
                return number(result.get("confidence"))
    return None


def _group_bars(
    axes: Axes, cells: list[_Cell | None], ys: list[float], height: float, colour: str
) -> None:
    """Draw one metric's bars; whiskers where there is an interval, a label where undefined."""
    bars: list[tuple[float, float]] = []
    whiskers: list[tuple[float, float, float, float]] = []
    for y, cell in zip(ys, cells, strict=True):
        if cell is None or cell.value is None or not math.isfinite(cell.value):
            axes.text(0.0, y, f" {UNDEFINED}", va="center", fontsize=_FONT - 1, color=_MUTED)
            continue
        bars.append((y, cell.value))
        if cell.interval is not None:
            low, high = cell.interval
            whiskers.append(
                (y, cell.value, max(cell.value - low, 0.0), max(high - cell.value, 0.0))
            )
    if bars:
        axes.barh([y for y, _ in bars], [value for _, value in bars], height, color=colour)
    if whiskers:
        axes.errorbar(
            [value for _, value, _, _ in whiskers],
            [y for y, _, _, _ in whiskers],
            xerr=[[below for *_, below, _ in whiskers], [above for *_, above in whiskers]],
            fmt="none",
            ecolor="#222222",
            elinewidth=0.7,
            capsize=1.5,
        )


def _rate_limits(axes: Axes, cells: list[_Cell]) -> None:
    """Fix the x axis to [0, 1] when every value and interval is a share."""
    bounds = [cell.value for cell in cells if cell.value is not None]
    bounds += [bound for cell in cells if cell.interval for bound in cell.interval]
    finite = [bound for bound in bounds if math.isfinite(bound)]
    if finite and all(0.0 <= bound <= 1.0 for bound in finite):
        axes.set_xlim(0.0, 1.0)


def _cell_text(cell: _Cell | None) -> str:
    if cell is None or cell.value is None:
        return UNDEFINED
    if cell.interval is None:
        return format_number(cell.value)
    return f"{format_number(cell.value)} {interval_text(list(cell.interval))}"


def _metric_name(metric: str) -> str:
    return metric.replace("_", " ")


# ----------------------------------------------------------------------- explanation


def explanation_plot(explanation: Mapping[str, Any]) -> Plot | None:
    """Draw the mean absolute SHAP value per feature (the largest :data:`MAX_FEATURES`).

    Parameters
    ----------
    explanation : mapping
        ``Explanation.to_dict()`` output.

    Returns
    -------
    Plot or None
        A horizontal bar chart, or None when the explanation holds no finite importance.
    """
    from govml.checks.importance import importance_plot

    raw = explanation.get("importance")
    if not isinstance(raw, Mapping):
        return None
    importance = {}
    for name, value in raw.items():
        score = number(value)
        if score is not None and math.isfinite(score):
            importance[str(name)] = score
    if not importance:
        return None
    output = explanation.get("output")
    title = "mean |SHAP value|" + (f" ({output})" if output else "")
    facts = [
        f"{explanation['explainer']} explainer" if explanation.get("explainer") else None,
        f"{format_value(explanation['sample_rows'])} rows explained"
        if explanation.get("sample_rows") is not None
        else None,
        f"{explanation['level']} level" if explanation.get("level") else None,
    ]
    caption = "; ".join(fact for fact in facts if fact)
    notes = []
    if len(importance) > MAX_FEATURES:
        notes.append(f"The {MAX_FEATURES} largest of {len(importance)} features are drawn.")
    if explanation.get("fallback_reason"):
        notes.append(f"Fallback to the permutation explainer: {explanation['fallback_reason']}")
    return Plot(
        title="SHAP summary: mean absolute SHAP value per feature",
        png=importance_plot(importance, title=title, top=MAX_FEATURES),
        caption=caption,
        notes=notes,
    )


# ----------------------------------------------------------------------------- drift


@dataclass(frozen=True)
class _DriftBar:
    column: str
    test: str
    p_value_test: bool
    score: float | None
    threshold: float | None
    status: str

    @property
    def label(self) -> str:
        return f"{_short(self.column)} ({self.test})"


def drift_plot(drift: Mapping[str, Any]) -> Plot | None:
    """Draw each column's drift score against its threshold.

    Parameters
    ----------
    drift : mapping
        ``DriftReport.to_dict()`` output (non-finite numbers may be strings).

    Returns
    -------
    Plot or None
        One panel for p-value tests, drawn as ``-log10(p)`` so that a longer bar is
        stronger drift like a distance, and one for distance tests; the threshold of
        every column is a black tick, drifted columns are red, undefined ones a gap. None
        when the report has no columns. At most :data:`MAX_ROWS` columns are drawn,
        drifted ones first.
    """
    columns = [column for column in _sequence(drift.get("columns")) if isinstance(column, Mapping)]
    bars = [_drift_bar(column) for column in columns]
    if not bars:
        return None
    shown = _drift_shown(bars)
    panels = [
        (title, group)
        for title, group in (
            (
                "p-value tests: -log10(p), drift at or beyond the tick",
                [b for b in shown if b.p_value_test],
            ),
            (
                "distance tests: drift at or beyond the tick",
                [b for b in shown if not b.p_value_test],
            ),
        )
        if group
    ]
    figure = _new_figure(7.0, 0.9 + 0.6 * len(panels) + 0.24 * len(shown))
    grid = figure.subplots(
        len(panels),
        1,
        squeeze=False,
        gridspec_kw={"height_ratios": [len(g) + 1 for _, g in panels]},
    )
    for (title, group), row in zip(panels, grid, strict=True):
        _drift_panel(row[0], title, group)
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    legend = [
        Patch(color=_DRIFT_COLOUR, label="drift"),
        Patch(color=_OK_COLOUR, label="no drift"),
        Line2D([], [], color="black", marker="|", linestyle="none", label="threshold"),
    ]
    _legend_above(grid[0][0], legend)
    notes = []
    if len(shown) < len(bars):
        notes.append(f"{len(shown)} of {len(bars)} columns are drawn, drifted ones first.")
    table = Table(
        header=("column", "kind", "test", "score", "threshold", "status"),
        rows=[_drift_row(column) for column in columns],
    )
    return Plot(
        title="Drift of the evaluation data from the training data",
        png=_png(figure),
        caption=drift_summary(drift),
        table=table,
        notes=notes,
    )


def drift_summary(drift: Mapping[str, Any]) -> str:
    """Return one line: drifted columns, the dataset decision and the method."""
    tested, drifted = drift.get("tested_columns"), drift.get("drifted_columns")
    share = number(drift.get("share_drifted"))
    parts = []
    if tested is not None and drifted is not None:
        line = f"{format_value(drifted)} of {format_value(tested)} tested columns drifted"
        if share is not None and math.isfinite(share):
            line += f" ({share:.0%})"
        parts.append(line)
    decision = drift.get("dataset_drift")
    if isinstance(decision, bool):
        verdict = "yes" if decision else "no"
    else:
        verdict = UNDEFINED if decision is None else str(decision)
    line = f"dataset drift: {verdict}"
    if drift.get("drift_share") is not None:
        line += f" (declared from a share of {format_value(drift['drift_share'])})"
    parts.append(line)
    if drift.get("method"):
        parts.append(f"method: {drift['method']}")
    return "; ".join(parts)


def _drift_bar(column: Mapping[str, Any]) -> _DriftBar:
    test = str(column.get("test") or "")
    score = number(column.get("score"))
    status = str(column.get("status") or "")
    if status not in ("ok", "drift", UNDEFINED):
        drifted = column.get("drifted")
        status = UNDEFINED if drifted is None else ("drift" if drifted else "ok")
    if score is not None and math.isnan(score):
        score = None
    return _DriftBar(
        column=str(column.get("column") or MISSING),
        test=test or "?",
        p_value_test=_is_p_value_test(test, column),
        score=score,
        threshold=number(column.get("threshold")),
        status=UNDEFINED if score is None else status,
    )


def _is_p_value_test(test: str, column: Mapping[str, Any]) -> bool:
    from govml.metrics.drift.tests import SPECS

    spec = next((spec for name, spec in SPECS.items() if name == test), None)
    if spec is not None:
        return bool(spec.score == "p_value")
    p_value = column.get("p_value")
    return p_value is not None and p_value == column.get("score")


def _drift_shown(bars: list[_DriftBar]) -> list[_DriftBar]:
    if len(bars) <= MAX_ROWS:
        return bars
    rank = {"drift": 0, "ok": 1, UNDEFINED: 2}
    order = sorted(range(len(bars)), key=lambda i: (rank.get(bars[i].status, 2), i))
    keep = set(order[:MAX_ROWS])
    return [bar for index, bar in enumerate(bars) if index in keep]


def _drift_panel(axes: Axes, title: str, bars: list[_DriftBar]) -> None:
    ys = list(range(len(bars)))[::-1]
    lengths = [_drift_length(bar.score, bar.p_value_test) for bar in bars]
    ticks = [_drift_length(bar.threshold, bar.p_value_test) for bar in bars]
    finite = [x for x in lengths + ticks if x is not None and math.isfinite(x)]
    cap = max(finite, default=1.0) * 1.15 or 1.0
    for y, bar, length, tick in zip(ys, bars, lengths, ticks, strict=True):
        if length is None or bar.status == UNDEFINED:
            axes.text(0.0, y, f" {UNDEFINED}", va="center", fontsize=_FONT - 1, color=_MUTED)
            continue
        drawn = length if math.isfinite(length) else cap
        colour = _DRIFT_COLOUR if bar.status == "drift" else _OK_COLOUR
        axes.barh(y, drawn, 0.7, color=colour)
        end = drawn if tick is None else max(drawn, min(tick, cap))
        axes.text(end, y, f" {_score_text(bar)}", va="center", fontsize=_FONT - 1)
    marks = [(tick, y) for tick, y in zip(ticks, ys, strict=True) if tick is not None]
    if marks:
        axes.plot(
            [min(tick, cap) for tick, _ in marks],
            [y for _, y in marks],
            linestyle="none",
            marker="|",
            markersize=11,
            markeredgewidth=1.6,
            color="black",
        )
    axes.set_xlim(0.0, cap * 1.2)
    axes.set_yticks(ys, labels=[bar.label for bar in bars], fontsize=_FONT)
    axes.set_ylim(-0.6, len(bars) - 0.4)
    axes.set_title(title, fontsize=_FONT + 1, loc="left")
    axes.tick_params(axis="x", labelsize=_FONT)
    axes.spines[["top", "right"]].set_visible(False)


def _drift_length(value: float | None, p_value_test: bool) -> float | None:
    if value is None or math.isnan(value):
        return None
    if p_value_test:
        return -math.log10(min(max(value, _P_FLOOR), 1.0))
    return max(value, 0.0)


def _score_text(bar: _DriftBar) -> str:
    if bar.score is None:
        return UNDEFINED
    if bar.p_value_test:
        return f"p < {_P_FLOOR:g}" if bar.score < _P_FLOOR else f"p = {format_number(bar.score)}"
    return format_number(bar.score)


def _drift_row(column: Mapping[str, Any]) -> tuple[str, ...]:
    score = column.get("score")
    return (
        str(column.get("column") or MISSING),
        str(column.get("kind") or MISSING),
        str(column.get("test") or MISSING),
        format_value(score),
        format_value(column.get("threshold")),
        str(column.get("status") or UNDEFINED),
    )


# ---------------------------------------------------------------------------- shared


def _new_figure(width: float, height: float) -> Figure:
    """Return a figure on its own Agg canvas, between 2 and 30 inches high."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, min(max(height, 2.0), 30.0)), dpi=DPI)
    FigureCanvasAgg(figure)
    return figure


def _legend_above(axes: Axes, handles: list[Any]) -> None:
    """Put a one-line legend above the axes, on the right (the title is on the left)."""
    axes.legend(
        handles=handles,
        loc="lower right",
        bbox_to_anchor=(1.0, 1.0),
        ncol=len(handles),
        fontsize=_FONT,
        frameon=False,
        handlelength=1.2,
        columnspacing=1.0,
    )


def _png(figure: Figure) -> bytes:
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _sequence(value: Any) -> Sequence[Any]:
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return value
    return ()


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _short(label: str) -> str:
    return label if len(label) <= _LABEL_CHARS else label[: _LABEL_CHARS - 1] + "…"
