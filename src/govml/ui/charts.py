"""Time series of monitoring checks as server-rendered SVG: values, thresholds, markers.

`series_chart` is a pure function: points (window end, value, status) and the check's levels
in, coordinates out, which a template draws. Each point's status is its marker's shape and a
word in the table under the chart (● ok, ■ warn, ▲ alert, ◆ critical, ○ insufficient), each
level a labelled dashed line, each alert or rollback a labelled vertical line: nothing is
said by colour alone.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from govml.ui.render import num

WIDTH, HEIGHT = 560, 190
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 52, 14, 14, 34
SHAPES = {
    "ok": "circle",
    "warn": "square",
    "alert": "triangle",
    "critical": "diamond",
    "insufficient": "ring",
}
LEVEL_KEYS = (
    ("warn", "warn"),
    ("alert", "alert"),
    ("min", "min"),
    ("max", "max"),
    ("min_overlap", "min overlap"),
    ("min_rows", "min rows"),
    ("min_labels", "min labels"),
)


@dataclass(frozen=True, kw_only=True)
class Point:
    """One window's value of a check."""

    at: datetime
    value: float | None
    status: str
    version: int


@dataclass(frozen=True, kw_only=True)
class Marker:
    """A moment worth a vertical line: an alert or a rollback."""

    at: datetime
    kind: str  # "alert" or "rollback"
    label: str


def levels_of(threshold: Mapping[str, Any]) -> list[tuple[str, float]]:
    """Return the labelled levels of a check's threshold (warn, alert, min, max, ...)."""
    found = []
    for key, label in LEVEL_KEYS:
        value = threshold.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            found.append((label, float(value)))
    between = threshold.get("between")
    if isinstance(between, list | tuple) and len(between) == 2:
        for label, value in zip(("min", "max"), between, strict=True):
            if isinstance(value, int | float):
                found.append((label, float(value)))
    return found


def _ticks(low: float, high: float, count: int = 4) -> list[float]:
    span = high - low
    if span <= 0:
        return [low]
    raw = span / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = min((m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw), default=raw)
    start = math.ceil(low / step) * step
    ticks = []
    value = start
    while value <= high + step * 1e-9:
        ticks.append(round(value, 12))
        value += step
    return ticks


def _marker(x: float, marker: Marker) -> dict[str, Any]:
    """Place a marker's label right of its line, or left of it near the right edge."""
    left_of = x > WIDTH - PAD_RIGHT - 120
    return {
        "x": x,
        "kind": marker.kind,
        "label": marker.label,
        "at": marker.at,
        "text_x": x - 3 if left_of else x + 3,
        "anchor": "end" if left_of else "start",
    }


def series_chart(
    points: Sequence[Point],
    levels: Sequence[tuple[str, float]],
    markers: Sequence[Marker] = (),
) -> dict[str, Any]:
    """Return the coordinates of one chart: line, point markers, levels, vertical markers."""
    values = [p.value for p in points if p.value is not None and math.isfinite(p.value)]
    bounds = values + [value for _, value in levels]
    low, high = (min(bounds), max(bounds)) if bounds else (0.0, 1.0)
    if high == low:
        low, high = low - (abs(low) * 0.1 or 0.5), high + (abs(high) * 0.1 or 0.5)
    margin = (high - low) * 0.08
    low, high = low - margin, high + margin
    if min(bounds, default=0.0) >= 0 and low < 0:
        low = 0.0
    times = sorted({p.at for p in points} | {m.at for m in markers})
    first, last = (times[0], times[-1]) if times else (None, None)
    inner_w = WIDTH - PAD_LEFT - PAD_RIGHT
    inner_h = HEIGHT - PAD_TOP - PAD_BOTTOM

    def x_of(moment: datetime) -> float:
        if first is None or last is None or last == first:
            return PAD_LEFT + inner_w / 2
        return (
            PAD_LEFT + inner_w * (moment - first).total_seconds() / (last - first).total_seconds()
        )

    def y_of(value: float) -> float:
        return PAD_TOP + inner_h * (1 - (value - low) / (high - low))

    placed = [
        {
            "x": round(x_of(p.at), 1),
            "y": round(y_of(p.value), 1),
            "shape": SHAPES.get(p.status, "circle"),
            "status": p.status,
            "value": p.value,
            "at": p.at,
            "version": p.version,
        }
        for p in points
        if p.value is not None and math.isfinite(p.value)
    ]
    line = " ".join(f"{'M' if i == 0 else 'L'}{p['x']},{p['y']}" for i, p in enumerate(placed))
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "left": PAD_LEFT,
        "right": WIDTH - PAD_RIGHT,
        "top": PAD_TOP,
        "bottom": HEIGHT - PAD_BOTTOM,
        "line": line,
        "points": placed,
        "levels": [
            {"label": label, "value": value, "y": round(y_of(value), 1)} for label, value in levels
        ],
        "markers": [_marker(round(x_of(m.at), 1), m) for m in markers],
        "ticks": [{"y": round(y_of(t), 1), "label": num(t)} for t in _ticks(low, high)],
        "first": first,
        "last": last,
    }
