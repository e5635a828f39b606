"""Policy rules turned into checks: data expectations, performance and fairness.

Each function reads one section of a :class:`~govml.policy.Policy` and returns
:class:`~govml.checks.CheckResult` items; the measurements come from :mod:`govml.checks`
(data) and :mod:`govml.metrics` (performance, fairness). Nothing here reads files or the
store: the evaluation service gathers the inputs.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from govml import checks
from govml.checks import CheckResult, Status
from govml.metrics import BinaryConfusion, metric_result
from govml.metrics.report import FairnessReport, FairnessSection, report_from_stats
from govml.metrics.results import MetricResult
from govml.policy.expectations import (
    Between,
    DataExpectation,
    InSet,
    NoNulls,
    NoPersonalData,
    Regex,
    RowCount,
    SchemaMatchesTraining,
    Unique,
)
from govml.policy.rules import Fairness, FairnessRule, PerformanceRule
from govml.policy.vocabulary import INEQUALITY_INDICES, format_number, performance_traits

NO_TRAINING_SCHEMA = "no training data is recorded for {subject}, so there is no schema to match"
NO_CHAMPION = "no version of {model} holds the production alias; nothing to compare with"
SAME_CHAMPION = "{subject} holds the production alias itself; nothing to compare with"
NO_REFERENCE = "no reference group is given for {features}"
DEFAULT_CONFIDENCE_BOOT = 1000


def threshold_of(low: float | None, high: float | None) -> dict[str, Any]:
    """Return a rule's bounds as stored: ``{"min": a}``, ``{"max": b}`` or ``{"between": [a, b]}``.

    Both bounds given make a ``between``.
    """
    if low is not None and high is not None:
        return {"between": [low, high]}
    if low is not None:
        return {"min": low}
    return {"max": high}


def bounds_text(low: float | None, high: float | None) -> str:
    """Return ``≥ a``, ``≤ b`` or ``in [a, b]``."""
    if low is not None and high is not None:
        return f"in [{format_number(low)}, {format_number(high)}]"
    if low is not None:
        return f"≥ {format_number(low)}"
    return f"≤ {format_number(high if high is not None else math.inf)}"


def within(value: float, low: float | None, high: float | None) -> bool:
    """Return True when ``low <= value <= high`` (a missing bound does not limit)."""
    return (low is None or value >= low) and (high is None or value <= high)


def shown(value: float) -> str:
    """Return a metric value as messages show it (4 significant digits)."""
    return f"{value:.4g}"


# -- data ------------------------------------------------------------------------------------


def data_checks(
    table: Any,
    expectations: Sequence[DataExpectation],
    *,
    training_schema: Sequence[Mapping[str, Any]] | None,
    subject: str,
) -> list[CheckResult]:
    """Run the policy's data expectations on ``table`` (a ``pyarrow.Table``).

    ``training_schema`` is the schema of the version's training fingerprint, or None when
    none is recorded (``schema_matches_training`` is then undefined).
    """
    out: list[CheckResult] = []
    for expectation in expectations:
        started = time.perf_counter()
        result = _data_check(table, expectation, training_schema, subject)
        column = getattr(expectation, "column", None)
        if isinstance(column, str):
            result = replace(result, check=f"{result.check}:{column}")
        out.append(result.with_duration(time.perf_counter() - started))
    return out


def _data_check(
    table: Any,
    rule: DataExpectation,
    training_schema: Sequence[Mapping[str, Any]] | None,
    subject: str,
) -> CheckResult:
    if isinstance(rule, NoNulls):
        return checks.no_nulls(table, rule.columns)
    if isinstance(rule, Between):
        return checks.between(table, rule.column, rule.min, rule.max, strict=rule.strict)
    if isinstance(rule, InSet):
        return checks.in_set(table, rule.column, rule.values)
    if isinstance(rule, Unique):
        return checks.unique(table, rule.columns)
    if isinstance(rule, Regex):
        return checks.regex(table, rule.column, rule.pattern, full_match=rule.full_match)
    if isinstance(rule, RowCount):
        return checks.row_count(table, rule.min, rule.max)
    if isinstance(rule, SchemaMatchesTraining):
        if training_schema is None:
            reason = NO_TRAINING_SCHEMA.format(subject=subject)
            return CheckResult(
                check="schema_matches",
                category="data",
                status="undefined",
                message=reason,
                reason=reason,
            )
        return checks.schema_matches(
            table, list(training_schema), allow_extra=rule.allow_extra_columns
        )
    assert isinstance(rule, NoPersonalData)
    return checks.personal_data(
        table,
        columns=rule.columns or None,
        threshold=rule.threshold,
        sample_rows=rule.sample_rows,
        kinds=rule.kinds,
        status=rule.status,
    )


def expectation_columns(expectation: DataExpectation) -> list[str]:
    """Return the columns a data expectation reads."""
    if isinstance(expectation, NoNulls | Unique):
        return list(expectation.columns)
    if isinstance(expectation, Between | InSet | Regex):
        return [expectation.column]
    if isinstance(expectation, NoPersonalData):
        return list(expectation.columns)
    return []


# -- performance -----------------------------------------------------------------------------


StatsFor = Callable[[str], "tuple[Any, None] | tuple[None, str]"]
"""Return the statistics metric ``name`` is computed from, or None and the reason."""


@dataclass(frozen=True, kw_only=True)
class Champion:
    """The version the candidate is compared with, and how to get its statistics."""

    subject: str
    stats_for: StatsFor | None
    """None when there is no champion (``reason`` says why)."""
    reason: str | None = None


def performance_checks(
    rules: Sequence[PerformanceRule],
    stats_for: StatsFor,
    *,
    champion: Champion,
) -> list[CheckResult]:
    """Check each performance rule's bounds and its comparison with the champion.

    A rule with bounds gives a check named after its metric; a rule with ``vs_champion``
    adds ``<metric>_vs_champion``, which passes with a note when there is no champion.
    """
    out: list[CheckResult] = []
    for rule in rules:
        started = time.perf_counter()
        stats, why = stats_for(rule.metric)
        value = None if stats is None else metric_result(stats, rule.metric)
        if rule.low is not None or rule.high is not None:
            out.append(
                _bounded(rule, value, why, stats).with_duration(time.perf_counter() - started)
            )
        if rule.vs_champion is not None:
            started = time.perf_counter()
            out.append(
                _versus(rule, value, why, champion).with_duration(time.perf_counter() - started)
            )
    return out


def _stats_evidence(stats: Any) -> dict[str, Any]:
    rows = getattr(stats, "n_rows", None)
    evidence: dict[str, Any] = {"statistics": type(stats).__name__}
    if rows is not None:
        evidence["rows"] = int(rows.sum())
    if isinstance(stats, BinaryConfusion):
        w = stats.overall().weight[0]
        evidence["confusion"] = {"tn": w[0, 0], "fp": w[0, 1], "fn": w[1, 0], "tp": w[1, 1]}
    return evidence


def _bounded(
    rule: PerformanceRule, value: MetricResult | None, why: str | None, stats: Any
) -> CheckResult:
    threshold = threshold_of(rule.low, rule.high)
    if value is None or value.value is None:
        reason = why if value is None else (value.reason or "undefined")
        return CheckResult(
            check=rule.metric,
            category="performance",
            status="undefined",
            message=f"{rule.metric} is undefined: {reason}",
            threshold=threshold,
            reason=reason,
        )
    ok = within(value.value, rule.low, rule.high)
    relation = "meets" if ok else "breaks"
    return CheckResult(
        check=rule.metric,
        category="performance",
        status="pass" if ok else "fail",
        message=f"{rule.metric} {shown(value.value)} {relation} {bounds_text(rule.low, rule.high)}",
        value=value.value,
        threshold=threshold,
        evidence=_stats_evidence(stats),
    )


def _versus(
    rule: PerformanceRule, value: MetricResult | None, why: str | None, champion: Champion
) -> CheckResult:
    comparison = rule.vs_champion
    assert comparison is not None
    check = f"{rule.metric}_vs_champion"
    threshold = comparison.model_dump(exclude_none=True)
    if champion.stats_for is None:
        return CheckResult(
            check=check,
            category="performance",
            status="pass",
            message=champion.reason or "no champion",
            threshold=threshold,
            evidence={"champion": None},
        )
    their_stats, their_why = champion.stats_for(rule.metric)
    theirs = None if their_stats is None else metric_result(their_stats, rule.metric)
    if value is None or value.value is None or theirs is None or theirs.value is None:
        if value is None or value.value is None:
            reason = (
                f"the candidate's {rule.metric} is undefined: {why or (value and value.reason)}"
            )
        else:
            detail = their_why if theirs is None else theirs.reason
            reason = f"the champion's {rule.metric} is undefined: {detail}"
        return CheckResult(
            check=check,
            category="performance",
            status="undefined",
            message=reason,
            threshold=threshold,
            reason=reason,
            evidence={"champion": champion.subject},
        )
    higher = performance_traits(rule.metric).direction == "higher"
    change = value.value - theirs.value
    worse = -change if higher else change
    limit = comparison.max_drop if comparison.max_drop is not None else comparison.max_increase
    assert limit is not None
    ok = worse <= limit + 1e-12
    word = "drop" if higher else "increase"
    message = (
        f"{rule.metric} {shown(value.value)} against {shown(theirs.value)} for "
        f"{champion.subject}: a {word} of {shown(max(worse, 0.0))} "
        f"({'within' if ok else 'beyond'} the allowed {format_number(limit)})"
    )
    return CheckResult(
        check=check,
        category="performance",
        status="pass" if ok else "fail",
        message=message,
        value=change,
        threshold=threshold,
        evidence={"champion": champion.subject, "candidate": value.value, "theirs": theirs.value},
    )


# -- fairness --------------------------------------------------------------------------------


def fairness_reports(
    stats: BinaryConfusion,
    section: Fairness,
    *,
    default_n_boot: int,
    random_state: int,
) -> dict[tuple[int, float], FairnessReport]:
    """Return the fairness reports the rules need, keyed by ``(n_boot, confidence)``.

    The point estimates come from one report without replicates (key ``(0, 0.95)``); rules
    gated on a confidence bound get a report with that many replicates and that coverage.
    All reports are computed from the same statistics ``stats``.
    """
    wanted = {(0, 0.95)}
    for rule in section.rules:
        if rule.confidence is not None:
            wanted.add((rule.n_boot or default_n_boot, rule.confidence))
    privileged = dict(section.reference_groups) or None
    return {
        key: report_from_stats(
            stats,
            min_group_size=section.min_group_size,
            intersections=section.intersectional,
            privileged=privileged,
            n_boot=key[0],
            confidence=key[1],
            random_state=random_state,
        )
        for key in sorted(wanted)
    }


def fairness_checks(
    reports: Mapping[tuple[int, float], FairnessReport],
    section: Fairness,
    *,
    default_n_boot: int,
) -> list[CheckResult]:
    """Check every fairness rule on every grouping of the reports.

    One check per rule and grouping, named ``<metric>:<feature>`` or
    ``<metric>:<feature>*<feature>`` for an intersection, and one ``<metric>`` check for an
    inequality index (computed over all rows).
    """
    out: list[CheckResult] = []
    point = reports[(0, 0.95)]
    for rule in section.rules:
        started = time.perf_counter()
        report = point
        if rule.confidence is not None:
            report = reports[(rule.n_boot or default_n_boot, rule.confidence)]
        found: list[CheckResult] = []
        if rule.metric in INEQUALITY_INDICES:
            found.append(_fair(rule, None, report.inequality[rule.metric]))
        else:
            for grouping in report.sections:
                found.append(_fair(rule, grouping, _lookup(rule, grouping)))
        elapsed = time.perf_counter() - started
        out.extend(result.with_duration(elapsed / len(found)) for result in found)
    return out


def _lookup(rule: FairnessRule, grouping: FairnessSection) -> MetricResult:
    if rule.compare == "to_overall":
        return grouping.disparities[f"{rule.metric}_to_overall"]
    if rule.compare == "reference_group":
        if rule.metric not in grouping.reference:
            reason = NO_REFERENCE.format(features=" × ".join(grouping.features))
            return MetricResult(metric=rule.metric, value=None, reason=reason)
        return grouping.reference[rule.metric]
    return grouping.disparities[rule.metric]


def _group_evidence(grouping: FairnessSection) -> dict[str, Any]:
    rates: dict[str, Any] = {}
    for metric in ("selection_rate", "true_positive_rate", "false_positive_rate"):
        if metric in grouping.by_group:
            rates[metric] = [r.value for r in grouping.by_group[metric]]
    return {
        "features": list(grouping.features),
        "groups": [list(key) for key in grouping.groups],
        "rows": list(grouping.rows),
        **rates,
    }


def _fair(rule: FairnessRule, grouping: FairnessSection | None, found: MetricResult) -> CheckResult:
    check = rule.metric if grouping is None else f"{rule.metric}:{'*'.join(grouping.features)}"
    threshold: dict[str, Any] = threshold_of(rule.low, rule.high)
    if rule.compare is not None:
        threshold["compare"] = rule.compare
    evidence = {} if grouping is None else _group_evidence(grouping)
    interval = found.interval
    if rule.confidence is not None:
        threshold["confidence"] = rule.confidence
        evidence["replicates"] = found.replicates
        evidence["skipped_replicates"] = found.skipped
    where = "" if grouping is None else f" over {' × '.join(grouping.features)}"
    if found.value is None or (rule.confidence is not None and interval is None):
        reason = found.reason or "no bootstrap replicate had a value"
        return CheckResult(
            check=check,
            category="fairness",
            status="undefined",
            message=f"{rule.metric}{where} is undefined: {reason}",
            threshold=threshold,
            reason=reason,
            evidence=evidence,
        )
    status: Status
    if rule.confidence is not None and interval is not None:
        low_ok = rule.low is None or interval[0] >= rule.low
        high_ok = rule.high is None or interval[1] <= rule.high
        status = "pass" if low_ok and high_ok else "fail"
        basis = (
            f" ({format_number(rule.confidence * 100)}% interval "
            f"[{shown(interval[0])}, {shown(interval[1])}])"
        )
    else:
        status = "pass" if within(found.value, rule.low, rule.high) else "fail"
        basis = ""
    relation = "meets" if status == "pass" else "breaks"
    message = (
        f"{rule.metric}{where} {shown(found.value)}{basis} {relation} "
        f"{bounds_text(rule.low, rule.high)}"
    )
    return CheckResult(
        check=check,
        category="fairness",
        status=status,
        message=message,
        value=found.value,
        threshold=threshold,
        interval=interval,
        evidence=evidence,
    )
