"""Text forms shared by every renderer: numbers, thresholds, intervals and document parts.

An evaluation document is JSON, so every accessor here tolerates missing keys and ``null``
values, and reads non-finite numbers written as strings (``"inf"``, ``"nan"``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from govml.checks.result import CATEGORIES

OUTCOMES = ("pass", "warn", "fail", "undefined")
"""Outcomes counted in a summary, in display order."""

MISSING = "—"
"""Shown where a value is absent."""

_SIGNIFICANT = 4
_FIXED_LOW = 1e-4
_FIXED_HIGH = 1e6
_KIB = 1024
_NON_FINITE = {"inf": math.inf, "+inf": math.inf, "-inf": -math.inf, "nan": math.nan}


def number(value: Any) -> float | None:
    """Return ``value`` as a float, or None when it is not a number.

    Booleans are not numbers; the strings ``"inf"``, ``"-inf"`` and ``"nan"`` (how JSON
    documents write non-finite numbers) are, in any letter case.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        return _NON_FINITE.get(value.strip().lower())
    return None


def format_number(value: float | int) -> str:
    """Format a number with about four significant digits.

    Whole numbers keep every digit (``16281``); other numbers between 0.0001 and a million
    are written in fixed notation with four significant digits, trailing zeros dropped
    (``0.927``, ``0.0001235``); the rest in scientific notation (``1.235e-07``).
    """
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    value = float(value)
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if value.is_integer() and abs(value) < _FIXED_HIGH:
        return str(int(value))
    magnitude = abs(value)
    if _FIXED_LOW <= magnitude < _FIXED_HIGH:
        decimals = max(_SIGNIFICANT - 1 - math.floor(math.log10(magnitude)), 0)
        text = f"{value:.{decimals}f}"
        return text.rstrip("0").rstrip(".") if "." in text else text
    return f"{value:.{_SIGNIFICANT}g}"


def format_value(value: Any) -> str:
    """Format a measured value: numbers as :func:`format_number`, lists joined, dicts as JSON.

    None is :data:`MISSING`; a list of numbers is ``[a, b, ...]``; a list of strings is
    joined with commas.
    """
    if value is None:
        return MISSING
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return format_number(value)
    if isinstance(value, str):
        return value
    if isinstance(value, Sequence):
        items = list(value)
        if items and all(isinstance(item, str) for item in items):
            return ", ".join(items)
        if all(number(item) is not None for item in items):
            return "[" + ", ".join(format_value(item) for item in items) + "]"
    return compact_json(value)


def format_threshold(threshold: Any) -> str:
    """Format a threshold: ``{"min": 0.8}`` as ``≥ 0.8``, ``{"max": 0.1}`` as ``≤ 0.1``.

    ``{"between": [a, b]}`` and ``{"min": a, "max": b}`` become ``[a, b]``; keys whose
    value is None are left out first; other thresholds are formatted as
    :func:`format_value`.
    """
    if not isinstance(threshold, Mapping):
        return format_value(threshold)
    given = {key: item for key, item in threshold.items() if item is not None}
    if not given:
        return MISSING
    keys = set(given)
    if keys == {"min"}:
        return f"≥ {format_value(given['min'])}"
    if keys == {"max"}:
        return f"≤ {format_value(given['max'])}"
    if keys == {"min", "max"}:
        return interval_text([given["min"], given["max"]])
    between = given.get("between")
    if keys == {"between"} and isinstance(between, Sequence) and len(between) == 2:
        return interval_text(between)
    return compact_json(given)


def interval_text(interval: Any) -> str:
    """Format a two-element interval as ``[a, b]``; empty when there is none."""
    if isinstance(interval, Sequence) and not isinstance(interval, str) and len(interval) == 2:
        return f"[{format_value(interval[0])}, {format_value(interval[1])}]"
    if interval is None:
        return ""
    return format_value(interval)


def format_seconds(value: Any) -> str:
    """Format a duration in seconds (``2.5 s``); :data:`MISSING` when absent."""
    seconds = number(value)
    if seconds is None:
        return MISSING
    return f"{format_number(seconds)} s"


def format_size(value: Any) -> str:
    """Format a size in bytes (``12.1 KiB``); :data:`MISSING` when absent."""
    size = number(value)
    if size is None or not math.isfinite(size):
        return MISSING
    if size < _KIB:
        return f"{int(size)} B"
    if size < _KIB * _KIB:
        return f"{size / _KIB:.1f} KiB"
    return f"{size / (_KIB * _KIB):.1f} MiB"


def compact_json(value: Any) -> str:
    """Return ``value`` as one line of JSON (non-JSON values through ``str``)."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def text(value: Any) -> str:
    """Return ``value`` as text; None is :data:`MISSING`."""
    if value is None:
        return MISSING
    if isinstance(value, int | float) and not isinstance(value, bool):
        return format_number(value)
    if isinstance(value, str):
        return value
    return format_value(value)


def subject_name(document: Mapping[str, Any]) -> str:
    """Return what was evaluated: ``model@version``, the model, the label, or ``evaluation``."""
    subject = _mapping(document.get("subject"))
    model, version, label = subject.get("model"), subject.get("version"), subject.get("label")
    if model:
        return f"{model}@{version}" if version is not None else str(model)
    if label:
        return str(label)
    identifier = document.get("id")
    return f"evaluation {identifier}" if identifier is not None else "evaluation"


def status_of(document: Mapping[str, Any]) -> str:
    """Return the evaluation's status in lower case (``unknown`` when absent)."""
    status = document.get("status")
    return str(status).lower() if status else "unknown"


def summary_counts(document: Mapping[str, Any]) -> dict[str, int]:
    """Return the count per outcome: the document's summary, or counted from its checks."""
    summary = _mapping(document.get("summary"))
    counts = {outcome: 0 for outcome in OUTCOMES}
    if summary:
        for outcome in OUTCOMES:
            count = number(summary.get(outcome))
            counts[outcome] = int(count) if count is not None and math.isfinite(count) else 0
        return counts
    for check in checks_of(document):
        status = str(check.get("status") or "")
        if status in counts:
            counts[status] += 1
    return counts


def checks_of(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Return the document's checks that are mappings, in order."""
    checks = document.get("checks")
    if not isinstance(checks, Sequence) or isinstance(checks, str):
        return []
    return [check for check in checks if isinstance(check, Mapping)]


def outcome_of(check: Mapping[str, Any]) -> str:
    """Return a check's effective outcome (its status when no outcome is recorded)."""
    return str(check.get("outcome") or check.get("status") or "undefined")


@dataclass(frozen=True)
class CheckRow:
    """One check as the renderers show it, every cell already text."""

    category: str
    check: str
    outcome: str
    status: str
    value: str
    threshold: str
    interval: str
    message: str
    reason: str
    duration: str


def check_row(check: Mapping[str, Any]) -> CheckRow:
    """Return the cells of one check."""
    reason = check.get("reason")
    return CheckRow(
        category=str(check.get("category") or "other"),
        check=str(check.get("check") or MISSING),
        outcome=outcome_of(check),
        status=str(check.get("status") or "undefined"),
        value=format_value(check.get("value")),
        threshold=format_threshold(check.get("threshold")),
        interval=interval_text(check.get("interval")),
        message=str(check.get("message") or ""),
        reason="" if reason is None else str(reason),
        duration=format_seconds(check.get("duration_s")),
    )


def by_category(document: Mapping[str, Any]) -> list[tuple[str, list[CheckRow]]]:
    """Group the checks by category: the known categories in policy order, then others.

    Categories without checks are left out; checks keep their order within a category.
    """
    groups: dict[str, list[CheckRow]] = {}
    for check in checks_of(document):
        row = check_row(check)
        groups.setdefault(row.category, []).append(row)
    known = [category for category in CATEGORIES if category in groups]
    others = [category for category in groups if category not in CATEGORIES]
    return [(category, groups[category]) for category in known + others]


def timings_of(document: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Return ``(phase, duration)`` pairs in document order, ``total`` last."""
    timings = _mapping(document.get("timings"))
    rows = [(str(name), format_seconds(value)) for name, value in timings.items()]
    rows.sort(key=lambda row: row[0] == "total")
    return rows


def evidence_list(document: Mapping[str, Any]) -> list[dict[str, str]]:
    """Return the stored evidence artifacts: name, digest, media type and size as text."""
    items = document.get("evidence")
    if not isinstance(items, Sequence) or isinstance(items, str):
        return []
    return [
        {
            "name": str(item.get("name") or MISSING),
            "digest": str(item.get("digest") or MISSING),
            "media_type": str(item.get("media_type") or MISSING),
            "size": format_size(item.get("size")),
        }
        for item in items
        if isinstance(item, Mapping)
    ]


def details_of(document: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Return the header facts as ``(label, text)`` pairs, absent ones left out."""
    subject = _mapping(document.get("subject"))
    policy = _mapping(document.get("policy"))
    data = _mapping(document.get("data"))
    inputs = _mapping(document.get("inputs"))
    champion = _mapping(document.get("champion"))
    pairs: list[tuple[str, Any]] = [
        ("evaluation", document.get("id")),
        ("label", subject.get("label") if subject.get("model") else None),
        ("risk tier", subject.get("risk_tier")),
        ("policy", policy.get("name")),
        ("policy digest", policy.get("digest")),
        ("policy source", policy.get("source")),
        ("data", data.get("source")),
        ("data digest", data.get("digest")),
        ("rows", data.get("rows")),
        ("columns", data.get("columns")),
        ("target", inputs.get("target")),
        ("sensitive features", inputs.get("sensitive") or None),
        ("task", inputs.get("task")),
        ("champion", subject_name({"subject": champion}) if champion else None),
        ("started at", document.get("started_at")),
        ("actor", document.get("actor")),
        ("duration", format_seconds(document.get("duration_s"))),
        ("govml version", document.get("govml_version")),
    ]
    return [(label, text(value)) for label, value in pairs if value not in (None, "", MISSING)]


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
