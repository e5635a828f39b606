"""Text forms shared by every renderer: numbers, thresholds, intervals and document parts.

An evaluation document is JSON, so every accessor here tolerates missing keys and ``null``
values, and reads non-finite numbers written as strings (``"inf"``, ``"nan"``).
"""

from __future__ import annotations

import math
import re
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
    """Format a measured value: numbers as :func:`format_number`, lists joined, never JSON.

    None is :data:`MISSING`; a list of numbers is ``[a, b, ...]``; a list of strings is
    joined with commas; a mapping is ``key value`` pairs joined with semicolons
    (underscores in keys read as spaces).
    """
    if value is None:
        return MISSING
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return format_number(value)
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        return _pairs(value)
    if isinstance(value, Sequence):
        items = list(value)
        if items and all(isinstance(item, str) for item in items):
            return ", ".join(items)
        if all(number(item) is not None for item in items):
            return "[" + ", ".join(format_value(item) for item in items) + "]"
        return ", ".join(format_value(item) for item in items)
    return str(value)


# -- thresholds: a rule's bounds as people read them ------------------------------------------

COMPARISONS = {
    "between_groups": "between groups",
    "to_overall": "vs overall",
}
"""How a fairness rule's ``compare`` reads (``reference_group`` names the group)."""

P_VALUE_TESTS = frozenset({"ks", "chisquare", "z"})
"""Drift tests whose score is a p-value (drift when it is low); the others are distances."""

_SERIALIZATION = {
    "safe_only": "safe formats only",
    "trusted_types": "safe formats and operator-trusted types",
    "scanned_pickle": "pickles that pass the scan",
}
_BOUND_KEYS = frozenset({"min", "max", "between"})
_RULE_KEYS = _BOUND_KEYS | {"compare", "confidence", "n_boot", "undefined", "vs_champion"}


def format_threshold(
    threshold: Any,
    *,
    check: str | None = None,
    reference_groups: Mapping[str, Any] | None = None,
) -> str:
    """Format a rule's threshold as people read it, never as JSON.

    Bounds read ``≥ 0.8``, ``≤ 0.1`` or ``between 0.8 and 1.25``; a fairness rule adds how
    groups are compared (``between groups``, ``vs overall``, ``vs group Male`` when
    ``reference_groups`` names the group of the check's feature, else ``vs the reference
    group``) and, with a confidence, which bound of the bootstrap interval is held to it
    (``≤ 0.1 between groups (95 % upper bound)``); a comparison with the champion reads
    ``drop ≤ 0.01 vs champion``; drift levels ``psi: warn ≥ 0.1, alert ≥ 0.25`` (a p-value
    test: ``ks p-value: warn ≤ 0.05, alert ≤ 0.01``). A threshold that is a list or a single
    value is read with the check it belongs to (``between:age`` → ``between 17 and 100``,
    ``in_set:sex`` → ``one of Male, Female``, ``row_count`` → ``≥ 1,000 rows``). Anything
    else reads as ``key value`` pairs.

    Parameters
    ----------
    threshold : any
        The ``threshold`` of a check, a policy rule without its ``metric``, or drift levels
        with their ``test``.
    check : str, optional
        The check's name (``between:age``, ``disparate_impact_ratio:sex``).
    reference_groups : mapping, optional
        The privileged group of each sensitive feature, for ``reference_group`` rules.
    """
    if threshold is None:
        return MISSING
    if isinstance(threshold, Mapping):
        given = {str(key): item for key, item in threshold.items() if item is not None}
        if not given:
            return MISSING
        return _mapping_rule(given, check, reference_groups)
    kind = (check or "").partition(":")[0]
    if isinstance(threshold, Sequence) and not isinstance(threshold, str):
        return _list_rule(kind, list(threshold))
    return _scalar_rule(kind, threshold)


def bounds_text(low: Any, high: Any) -> str:
    """Return ``≥ low``, ``≤ high`` or ``between low and high`` (a dash without bounds)."""
    if low is not None and high is not None:
        return f"between {format_value(low)} and {format_value(high)}"
    if low is not None:
        return f"≥ {format_value(low)}"
    if high is not None:
        return f"≤ {format_value(high)}"
    return MISSING


_NO_BREAK = (
    ("≥ ", "≥\u00a0"),
    ("≤ ", "≤\u00a0"),
    ("< ", "<\u00a0"),
    ("> ", ">\u00a0"),
    (" %", "\u00a0%"),
    (" UTC", "\u00a0UTC"),
)
_INTERVAL = re.compile(r"\[([-+]?[\w.]+), ([-+]?[\w.]+)\]")


def no_break(value: Any) -> str:
    """Return text for HTML with no-break spaces where a line break would mislead.

    After ``≥``, ``≤``, ``<`` and ``>``, before ``%`` and ``UTC``, inside an interval ``[a, b]``.
    """
    shown = str(value)
    for plain, joined in _NO_BREAK:
        shown = shown.replace(plain, joined)
    return _INTERVAL.sub("[\\1,\u00a0\\2]", shown)


def _mapping_rule(
    given: dict[str, Any], check: str | None, reference_groups: Mapping[str, Any] | None
) -> str:
    keys = given.keys()
    if "test" in keys or keys <= {"warn", "alert"}:
        return _drift_rule(given)
    if keys & {"max_drop", "max_increase"} and not keys & _BOUND_KEYS:
        return _champion_rule(given)
    if keys & {"min_overlap", "min_rank_correlation"}:
        return _stability_rule(given)
    if keys <= {"allow", "deny"}:
        return "; ".join(
            f"{key} {format_value(given[key])}" for key in ("allow", "deny") if key in given
        )
    if keys <= {"min_rows", "min_labels"}:
        return ", ".join(
            f"≥ {_count(given[key])} {'rows' if key == 'min_rows' else 'labelled rows'}"
            for key in ("min_rows", "min_labels")
            if key in given
        )
    if keys & _BOUND_KEYS or "vs_champion" in keys:
        return _metric_rule(given, check, reference_groups)
    return _pairs(given)


def _metric_rule(
    given: Mapping[str, Any], check: str | None, reference_groups: Mapping[str, Any] | None
) -> str:
    """Format a metric rule: bounds, the champion comparison, what undefined counts as."""
    parts: list[str] = []
    if given.keys() & _BOUND_KEYS:
        parts.append(_bounded_rule(given, check, reference_groups))
    champion = given.get("vs_champion")
    if isinstance(champion, Mapping):
        parts.append(_champion_rule(champion))
    undefined = given.get("undefined")
    if undefined is not None:
        parts.append(f"undefined counts as {undefined}")
    rest = {key: item for key, item in given.items() if key not in _RULE_KEYS}
    if rest:
        parts.append(_pairs(rest))
    return "; ".join(parts)


def _bounded_rule(
    given: Mapping[str, Any], check: str | None, reference_groups: Mapping[str, Any] | None
) -> str:
    between = given.get("between")
    if isinstance(between, Sequence) and not isinstance(between, str) and len(between) == 2:
        low, high = between
    else:
        low, high = given.get("min"), given.get("max")
    text = bounds_text(low, high)
    compare = given.get("compare")
    if compare == "reference_group":
        text += " vs " + _reference(check, reference_groups)
    elif compare is not None:
        text += " " + COMPARISONS.get(str(compare), str(compare).replace("_", " "))
    confidence = number(given.get("confidence"))
    if confidence is not None:
        which = "interval" if low is not None and high is not None else None
        which = which or ("lower bound" if low is not None else "upper bound")
        detail = f"{format_number(round(confidence * 100, 6))} % {which}"
        replicates = number(given.get("n_boot"))
        if replicates is not None:
            detail += f", {_count(replicates)} replicates"
        text += f" ({detail})"
    return text


def _reference(check: str | None, reference_groups: Mapping[str, Any] | None) -> str:
    """Name the group a ``reference_group`` rule compares with: ``group Male``."""
    features = [f for f in (check or "").partition(":")[2].split("*") if f]
    groups = reference_groups or {}
    if features and all(feature in groups for feature in features):
        return "group " + " × ".join(format_value(groups[feature]) for feature in features)
    if not features and groups:
        named = ", ".join(f"{key}={format_value(value)}" for key, value in groups.items())
        return f"the reference groups ({named})"
    return "the reference group"


def _champion_rule(given: Mapping[str, Any]) -> str:
    parts = []
    if given.get("max_drop") is not None:
        parts.append(f"drop ≤ {format_value(given['max_drop'])} vs champion")
    if given.get("max_increase") is not None:
        parts.append(f"increase ≤ {format_value(given['max_increase'])} vs champion")
    return "; ".join(parts)


def _stability_rule(given: Mapping[str, Any]) -> str:
    k = given.get("k")
    parts = []
    if given.get("min_overlap") is not None:
        top = f"top-{format_value(k)}" if k is not None else "top-k"
        parts.append(f"{top} overlap ≥ {format_value(given['min_overlap'])}")
    if given.get("min_rank_correlation") is not None:
        parts.append(f"rank correlation ≥ {format_value(given['min_rank_correlation'])}")
    return ", ".join(parts)


def _drift_rule(given: Mapping[str, Any]) -> str:
    test = given.get("test")
    p_value = test in P_VALUE_TESTS
    sign = "≤" if p_value else "≥"
    levels = [
        f"{level} {sign} {format_value(given[level])}"
        for level in ("warn", "alert")
        if given.get(level) is not None
    ]
    name = "" if test is None else f"{test} p-value" if p_value else str(test)
    text = ", ".join(levels) or "default levels"
    return f"{name}: {text}" if name else text


def _list_rule(kind: str, items: list[Any]) -> str:
    if kind in ("between", "row_count") and len(items) == 2:
        text = bounds_text(items[0], items[1])
        if kind == "row_count":
            counts = [None if item is None else _count(item) for item in items]
            text = bounds_text(*counts) + " rows"
        return text
    if kind == "in_set":
        return "one of " + ", ".join(format_value(item) for item in items)
    if kind == "documentation":
        return "required: " + ", ".join(format_value(item) for item in items)
    return format_value(items)


def _scalar_rule(kind: str, value: Any) -> str:
    shown = format_value(value)
    if kind == "no_nulls" and value == 0:
        return "no missing values"
    if kind == "unique" and value == 0:
        return "no duplicates"
    if kind == "personal_data":
        return f"share of personal-looking values < {shown}"
    if kind == "proxy_association":
        return f"association with a sensitive feature < {shown}"
    if kind == "feature_importance":
        return f"top {shown}"
    if kind == "forbidden_in_top_k":
        return f"none in the top {shown}"
    if kind == "vulnerabilities":
        return f"no known vulnerability at or above {shown}"
    if kind == "serialization":
        return _SERIALIZATION.get(str(value), shown.replace("_", " "))
    if kind == "regex":
        return f"matches {shown}"
    return shown


def _count(value: Any) -> str:
    """Return a count with thousands separators (``1,000``); other values as they are."""
    counted = number(value)
    if counted is not None and counted.is_integer():
        return f"{int(counted):,}"
    return format_value(value)


def _pairs(value: Mapping[Any, Any]) -> str:
    """Return ``key value`` pairs joined with semicolons, nested mappings in parentheses."""
    parts = []
    for key, item in value.items():
        shown = f"({_pairs(item)})" if isinstance(item, Mapping) else format_value(item)
        parts.append(f"{str(key).replace('_', ' ')} {shown}")
    return "; ".join(parts) or MISSING


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
    """One check as the renderers show it, every cell already text.

    ``numeric`` says the value is a number (shown right-aligned, unbroken); ``check_parts``
    are the check's name cut after each ``:`` and ``*``, where the HTML report lets a
    long name wrap (never inside a word).
    """

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
    numeric: bool = False
    check_parts: tuple[str, ...] = ()


def check_row(
    check: Mapping[str, Any], *, reference_groups: Mapping[str, Any] | None = None
) -> CheckRow:
    """Return the cells of one check (``reference_groups`` name AIF360's privileged groups)."""
    reason = check.get("reason")
    name = str(check.get("check") or MISSING)
    value = check.get("value")
    return CheckRow(
        category=str(check.get("category") or "other"),
        check=name,
        outcome=outcome_of(check),
        status=str(check.get("status") or "undefined"),
        value=format_value(value),
        threshold=format_threshold(
            check.get("threshold"), check=name, reference_groups=reference_groups
        ),
        interval=interval_text(check.get("interval")),
        message=str(check.get("message") or ""),
        reason="" if reason is None else str(reason),
        duration=format_seconds(check.get("duration_s")),
        numeric=number(value) is not None,
        check_parts=name_parts(name),
    )


def name_parts(name: str) -> tuple[str, ...]:
    """Cut a name after each ``:`` and ``*``: the only places a long name may wrap."""
    return tuple(part for part in re.split(r"(?<=[:*])", name) if part)


def by_category(
    document: Mapping[str, Any], *, reference_groups: Mapping[str, Any] | None = None
) -> list[tuple[str, list[CheckRow]]]:
    """Group the checks by category: the known categories in policy order, then others.

    Categories without checks are left out; checks keep their order within a category.
    ``reference_groups`` (the privileged group of each sensitive feature, as the fairness
    evidence records them) name the group a ``reference_group`` rule compares with.
    """
    groups: dict[str, list[CheckRow]] = {}
    for check in checks_of(document):
        row = check_row(check, reference_groups=reference_groups)
        groups.setdefault(row.category, []).append(row)
    known = [category for category in CATEGORIES if category in groups]
    others = [category for category in groups if category not in CATEGORIES]
    return [(category, groups[category]) for category in known + others]


def reference_groups_of(fairness: Mapping[str, Any] | None) -> dict[str, Any]:
    """Return the privileged groups a stored fairness report was computed with (may be empty)."""
    options = _mapping(_mapping(fairness).get("options"))
    return dict(_mapping(options.get("privileged")))


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
        ("positive label", inputs.get("pos_label")),
        ("favourable outcome", favourable_text(inputs)),
        ("champion", subject_name({"subject": champion}) if champion else None),
        ("started at", document.get("started_at")),
        ("actor", document.get("actor")),
        ("duration", format_seconds(document.get("duration_s"))),
        ("govml version", document.get("govml_version")),
    ]
    return [(label, text(value)) for label, value in pairs if value not in (None, "", MISSING)]


def favourable_text(inputs: Mapping[str, Any]) -> str | None:
    """Say which outcome fairness rules treat as good for the person, and who said so."""
    label = inputs.get("favourable_label")
    if label is None:
        return None
    if inputs.get("favourable_label_source") == "assumed":
        return f"{text(label)} (assumed: the positive label; set fairness.favourable_label)"
    return f"{text(label)} (from the policy)"


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
