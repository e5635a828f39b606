"""Policy rules turned into checks: data expectations, performance and fairness.

Each function reads one section of a :class:`~govml.policy.Policy` and returns
:class:`~govml.checks.CheckResult` items; the measurements come from :mod:`govml.checks`
(data) and :mod:`govml.metrics` (performance, fairness). Nothing here reads files or the
store: the evaluation service gathers the inputs.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import pyarrow as pa

from govml import checks
from govml.checks import CheckResult, Status
from govml.checks.result import Category
from govml.metrics import BinaryConfusion
from govml.metrics.custom import (
    one_line,
)
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
from govml.policy.rules import Fairness, FairnessRule
from govml.policy.vocabulary import INEQUALITY_INDICES, format_number

NO_TRAINING_SCHEMA = "no training data is recorded for {subject}, so there is no schema to match"
NO_REFERENCE = "no reference group is given for {features}"
NOT_CHECKED = "could not be checked on this data: {error}"
_CHECK_NAMES = {"schema_matches_training": "schema_matches", "no_personal_data": "personal_data"}
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


def judged_text(passed: bool, low: float | None, high: float | None) -> str:
    """Return how a value stands to its bounds: ``meets ≥ a`` or ``is within [a, b]``."""
    if low is not None and high is not None:
        return ("is within " if passed else "is outside ") + bounds_text(low, high)[3:]
    return ("meets " if passed else "breaks ") + bounds_text(low, high)


def within(value: float, low: float | None, high: float | None) -> bool:
    """Return True when ``low <= value <= high`` (a missing bound does not limit)."""
    return (low is None or value >= low) and (high is None or value <= high)


def shown(value: float) -> str:
    """Return a metric value as messages show it (4 significant digits)."""
    return f"{value:.4g}"


def not_run(check: str, category: Category, reason: str, threshold: Any) -> CheckResult:
    """Return an undefined result whose message is ``reason`` (a check that could not run)."""
    return CheckResult(
        check=check,
        category=category,
        status="undefined",
        message=reason,
        threshold=threshold,
        reason=reason,
    )


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
        try:
            result = _data_check(table, expectation, training_schema, subject)
        except (pa.ArrowException, ValueError, TypeError) as exc:
            # Content the check's arithmetic cannot take: named in the result, never a crash.
            reason = NOT_CHECKED.format(error=one_line(exc))
            name = _CHECK_NAMES.get(expectation.expect, expectation.expect)
            result = not_run(name, "data", reason, None)
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


# -- fairness --------------------------------------------------------------------------------

ReportKey = tuple[int, float, bool]
"""``(n_boot, confidence, favourable)``: replicates, coverage, and whether the report is
computed with the favourable outcome as the positive label."""

POINT: ReportKey = (0, 0.95, False)

FAVOURABLE_OUTCOME_RULES: frozenset[str] = frozenset(
    {
        "demographic_parity_difference",
        "demographic_parity_ratio",
        "statistical_parity_difference",
        "disparate_impact_ratio",
        *INEQUALITY_INDICES,
    }
)
"""Rules that measure how often (or how much) people get the favourable outcome: rates of
selection, and the inequality of the benefit over all rows. Error-rate rules (equalized
odds, equal opportunity, FPR / FNR / PPV parity) keep the positive label."""

SHOWN_UNJUDGED = 5


def same_label(given: Any, label: Any) -> bool:
    """Return whether a policy's label (YAML) names ``label`` of the data (``1`` and ``"1"``)."""
    if given == label:
        return True
    return isinstance(given, str) and not isinstance(label, str) and given == str(label)


def on_favourable(rule: FairnessRule, section: Fairness, pos_label: Any) -> bool:
    """Return whether ``rule`` is measured on counts whose positive label is the favourable one.

    True when the policy names a favourable outcome other than the positive label and the
    rule is about the favourable outcome (`FAVOURABLE_OUTCOME_RULES`).
    """
    favourable = section.favourable_label
    if favourable is None or same_label(favourable, pos_label):
        return False
    return rule.metric in FAVOURABLE_OUTCOME_RULES


def fairness_reports(
    stats: BinaryConfusion,
    section: Fairness,
    *,
    default_n_boot: int,
    random_state: int,
) -> dict[ReportKey, FairnessReport]:
    """Return the fairness reports the rules need, keyed by `ReportKey`.

    The point estimates come from reports without replicates (``n_boot`` 0); rules gated on
    a confidence bound get a report with that many replicates and that coverage. Rules
    about the favourable outcome, when it is not the positive label of ``stats``, read
    reports of the same statistics with the labels swapped. All reports come from ``stats``.
    """
    wanted = {POINT}
    for rule in section.rules:
        favourable = on_favourable(rule, section, stats.pos_label)
        wanted.add((0, 0.95, favourable))
        if rule.confidence is not None:
            wanted.add((rule.n_boot or default_n_boot, rule.confidence, favourable))
    privileged = dict(section.reference_groups) or None
    swapped = stats if section.favourable_label is None else stats.swapped(section.favourable_label)
    return {
        key: report_from_stats(
            swapped if key[2] else stats,
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
    reports: Mapping[ReportKey, FairnessReport],
    section: Fairness,
    *,
    default_n_boot: int,
) -> list[CheckResult]:
    """Check every fairness rule on every grouping of the reports.

    One check per rule and grouping, named ``<metric>:<feature>`` or
    ``<metric>:<feature>*<feature>`` for an intersection, and one ``<metric>`` check for an
    inequality index (computed over all rows). Each grouping's check names the groups it
    did not judge (fewer rows than ``min_group_size``); the section's ``unjudged`` and
    ``min_judged_groups`` say what that does to its status.
    """
    out: list[CheckResult] = []
    pos_label = reports[POINT].statistics.pos_label
    for rule in section.rules:
        started = time.perf_counter()
        favourable = on_favourable(rule, section, pos_label)
        report = reports[(0, 0.95, favourable)]
        if rule.confidence is not None:
            report = reports[(rule.n_boot or default_n_boot, rule.confidence, favourable)]
        found: list[CheckResult] = []
        if rule.metric in INEQUALITY_INDICES:
            found.append(_fair(rule, section, None, report.inequality[rule.metric]))
        else:
            for grouping in report.sections:
                found.append(_fair(rule, section, grouping, _lookup(rule, grouping)))
        if favourable:
            found = [_on_favourable(result, section.favourable_label) for result in found]
        elapsed = time.perf_counter() - started
        out.extend(result.with_duration(elapsed / len(found)) for result in found)
    return out


def fairness_not_run(section: Fairness, sensitive: Sequence[str], reason: str) -> list[CheckResult]:
    """Return each fairness check an evaluation would have made, undefined with ``reason``.

    The checks carry the names they have when they run (one per rule and grouping), so that
    evaluations can be compared check by check.
    """
    groupings = [[name] for name in sensitive]
    if len(sensitive) > 1 and section.intersectional:
        groupings.append(list(sensitive))
    out: list[CheckResult] = []
    for rule in section.rules:
        names = (
            [rule.metric]
            if rule.metric in INEQUALITY_INDICES
            else [f"{rule.metric}:{'*'.join(features)}" for features in groupings]
        )
        out.extend(not_run(name, "fairness", reason, _fair_threshold(rule)) for name in names)
    return out


def _on_favourable(result: CheckResult, favourable: Any) -> CheckResult:
    evidence = {**result.evidence, "outcome": "favourable", "favourable_label": favourable}
    if "selection_rate" in evidence:
        evidence["favourable_rate"] = evidence.pop("selection_rate")
    return replace(result, evidence=evidence)


def _lookup(rule: FairnessRule, grouping: FairnessSection) -> MetricResult:
    if rule.compare == "to_overall":
        return grouping.disparities[f"{rule.metric}_to_overall"]
    if rule.compare == "reference_group":
        if rule.metric not in grouping.reference:
            reason = NO_REFERENCE.format(features=" × ".join(grouping.features))
            return MetricResult(metric=rule.metric, value=None, reason=reason)
        return grouping.reference[rule.metric]
    return grouping.disparities[rule.metric]


def group_rule_checks(
    sections: Mapping[tuple[int, float], Sequence[FairnessSection]],
    section: Fairness,
    *,
    default_n_boot: int,
) -> list[CheckResult]:
    """Check rules on sections of regression, multiclass or calibration statistics.

    ``sections`` are keyed by ``(n_boot, confidence)``, ``(0, 0.95)`` for point estimates.
    One check per rule and grouping, named as the binary checks are; a multiclass check's
    evidence lists each class's value under ``by_class`` (the check is on the worst one).
    """
    out: list[CheckResult] = []
    for rule in section.rules:
        started = time.perf_counter()
        key = (0, 0.95)
        if rule.confidence is not None:
            key = (rule.n_boot or default_n_boot, rule.confidence)
        found: list[CheckResult] = []
        for grouping in sections[key]:
            checked = _fair(rule, section, grouping, _lookup(rule, grouping))
            label = rule.metric if rule.compare != "to_overall" else f"{rule.metric}_to_overall"
            by_class = {
                name.split("@", 1)[1]: value.value
                for name, value in grouping.disparities.items()
                if name.startswith(f"{label}@")
            }
            if by_class:
                checked = replace(checked, evidence={**checked.evidence, "by_class": by_class})
            found.append(checked)
        elapsed = time.perf_counter() - started
        out.extend(result.with_duration(elapsed / max(len(found), 1)) for result in found)
    return out


def _group_evidence(grouping: FairnessSection) -> dict[str, Any]:
    rates: dict[str, Any] = {}
    for metric in ("selection_rate", "true_positive_rate", "false_positive_rate"):
        if metric in grouping.by_group:
            rates[metric] = [r.value for r in grouping.by_group[metric]]
    if not rates:  # regression, multiclass and calibration: every base metric per group
        rates = {m: [r.value for r in found] for m, found in grouping.by_group.items()}
    return {
        "features": list(grouping.features),
        "groups": [list(key) for key in grouping.groups],
        "rows": list(grouping.rows),
        **rates,
    }


@dataclass(frozen=True, kw_only=True)
class _Judged:
    """Which groups of a grouping a rule judged, and which it left out for their size."""

    judged: list[list[Any]]
    unjudged: list[dict[str, Any]]

    @classmethod
    def of(cls, rule: FairnessRule, section: Fairness, grouping: FairnessSection) -> _Judged:
        if rule.compare == "reference_group":
            return cls._sides(section, grouping)
        judged: list[list[Any]] = []
        unjudged: list[dict[str, Any]] = []
        for key, rows in zip(grouping.groups, grouping.rows, strict=True):
            if rows >= section.min_group_size:
                judged.append(list(key))
            else:
                unjudged.append({"group": list(key), "rows": rows})
        return cls(judged=judged, unjudged=unjudged)

    @classmethod
    def _sides(cls, section: Fairness, grouping: FairnessSection) -> _Judged:
        """Judge both sides of a reference-group form: the privileged group, the others pooled.

        Each side is judged when its rows reach ``min_group_size``; the groups of a side
        below it are named as not judged (a pool of one 9-row group says little more than
        the group alone).
        """
        reference = dict(section.reference_groups)
        wanted = [str(reference.get(feature)) for feature in grouping.features]
        sides: dict[bool, list[tuple[list[Any], int]]] = {True: [], False: []}
        for key, rows in zip(grouping.groups, grouping.rows, strict=True):
            sides[[str(value) for value in key] == wanted].append((list(key), rows))
        judged: list[list[Any]] = []
        unjudged: list[dict[str, Any]] = []
        for members in sides.values():
            small = sum(rows for _, rows in members) < section.min_group_size
            for members_key, count in members:
                if small:
                    unjudged.append({"group": members_key, "rows": count})
                else:
                    judged.append(members_key)
        return cls(judged=judged, unjudged=unjudged)

    def evidence(self) -> dict[str, Any]:
        return {"groups_judged": self.judged, "groups_unjudged": self.unjudged}

    def text(self, section: Fairness) -> str:
        total = len(self.judged) + len(self.unjudged)
        parts = []
        if self.unjudged:
            shown = ", ".join(
                f"{' × '.join(str(v) for v in item['group'])} ({item['rows']:,} rows)"
                for item in self.unjudged[:SHOWN_UNJUDGED]
            )
            more = len(self.unjudged) - SHOWN_UNJUDGED
            if more > 0:
                shown += f" and {more} more"
            parts.append(
                f"judged {len(self.judged)} of {total} groups; not judged "
                f"(below min_group_size {section.min_group_size}): {shown}"
            )
        minimum = section.min_judged_groups
        if minimum is not None and len(self.judged) < minimum:
            if not self.unjudged:
                parts.append(f"judged {len(self.judged)} of {total} groups")
            parts.append(f"fewer than min_judged_groups {minimum}")
        return "".join(f"; {part}" for part in parts)

    def status(self, status: Status, section: Fairness) -> Status:
        """Return the check's status once the groups it could not judge are counted."""
        minimum = section.min_judged_groups
        if minimum is not None and len(self.judged) < minimum:
            return "fail"
        if not self.unjudged or section.unjudged == "ignore":
            return status
        if section.unjudged == "fail":
            return "fail" if status in ("pass", "warn") else status
        return "warn" if status == "pass" else status


def _fair_threshold(rule: FairnessRule) -> dict[str, Any]:
    threshold: dict[str, Any] = threshold_of(rule.low, rule.high)
    if rule.compare is not None:
        threshold["compare"] = rule.compare
    if rule.confidence is not None:
        threshold["confidence"] = rule.confidence
    return threshold


def _fair(
    rule: FairnessRule,
    section: Fairness,
    grouping: FairnessSection | None,
    found: MetricResult,
) -> CheckResult:
    check = rule.metric if grouping is None else f"{rule.metric}:{'*'.join(grouping.features)}"
    threshold = _fair_threshold(rule)
    evidence = {} if grouping is None else _group_evidence(grouping)
    judged = None if grouping is None else _Judged.of(rule, section, grouping)
    suffix = ""
    if judged is not None:
        evidence.update(judged.evidence())
        suffix = judged.text(section)
    interval = found.interval
    if rule.confidence is not None:
        evidence["replicates"] = found.replicates
        evidence["skipped_replicates"] = found.skipped
    where = "" if grouping is None else f" over {' × '.join(grouping.features)}"
    status: Status
    if found.value is None or (rule.confidence is not None and interval is None):
        reason = found.reason or "no bootstrap replicate had a value"
        status = "undefined" if judged is None else judged.status("undefined", section)
        return CheckResult(
            check=check,
            category="fairness",
            status=status,
            message=f"{rule.metric}{where} is undefined: {reason}{suffix}",
            threshold=threshold,
            reason=reason if status == "undefined" else None,
            evidence=evidence,
        )
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
    relation = judged_text(status == "pass", rule.low, rule.high)
    message = f"{rule.metric}{where} {shown(found.value)}{basis} {relation}{suffix}"
    return CheckResult(
        check=check,
        category="fairness",
        status=status if judged is None else judged.status(status, section),
        message=message,
        value=found.value,
        threshold=threshold,
        interval=interval,
        evidence=evidence,
    )
