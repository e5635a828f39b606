"""Helpers the document builders share: formatting, and numbers traced to their source.

Every number a document shows comes from an evaluation (its checks, or its stored fairness
evidence) or from a ledger entry; the functions here return each number together with a
``source`` naming where it was read, which the JSON documents keep.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from govml.documents.facts import FAIRNESS_EVIDENCE, ModelFacts
from govml.documents.outline import Block, Bullets, Section, Table
from govml.evaluation import Evaluation
from govml.reports._format import (
    format_number,
    format_threshold,
    format_value,
    reference_groups_of,
)

MISSING = "—"
NO_EVALUATION = (
    "{ref} has no evaluation: govml reports no measured performance or group metrics for it "
    "(run `govml evaluate {ref} --data FILE --target COLUMN`)"
)
NOT_WRITTEN = "not written yet: set it with `govml models card {model} --set {field}=TEXT`"


def monitoring_text(action: str, payload: Mapping[str, Any]) -> str:
    """Say in words what a ``monitoring.*`` ledger entry records (never as JSON)."""
    detail = _mapping(payload.get("detail"))
    run = f"run {payload.get('run_id')}"
    if action == "monitoring.run":
        window = _mapping(payload.get("window"))
        policy = _mapping(payload.get("policy"))
        under = f"policy {policy.get('name')} v{policy.get('version')}" if policy else "no policy"
        parts = [
            f"{run} on {day(window.get('start'))} to {day(window.get('end'))}: "
            f"{payload.get('status')} under {under}"
        ]
        for item in map(_mapping, _list(payload.get("versions"))):
            flagged = ", ".join(str(c) for c in _list(item.get("flagged"))) or "nothing"
            parts.append(
                f"version {item.get('version')}: {item.get('rows')} rows "
                f"({item.get('labelled')} labelled), {item.get('status')}; flagged {flagged}"
            )
        return "; ".join(parts)
    version = f"version {payload.get('version')}"
    if action == "monitoring.alert":
        messages = [str(_mapping(c).get("message")) for c in _list(detail.get("checks"))]
        return f"{run}: {version} {detail.get('status')}: " + "; ".join(messages)
    if action == "monitoring.rollback":
        return (
            f"{run}: production rolled back from version {detail.get('from_version')} to "
            f"{detail.get('to_version')} (alias change {detail.get('alias_change')})"
        )
    if action == "monitoring.rollback_refused":
        return f"{run}: rollback of {version} refused: {detail.get('reason')}"
    if action == "monitoring.webhook":
        state = "delivered" if detail.get("delivered") else "not delivered"
        attempts = len(_list(detail.get("attempts")))
        return (
            f"{run}: {detail.get('event')} for {version} {state} to {detail.get('url')} "
            f"({attempts} attempt(s))"
        )
    return f"{run}: {payload.get('action')} on {version}, {payload.get('status')}"


def number_text(value: Any) -> str:
    """Format a measured number for people (four significant digits), or ``undefined``."""
    if value is None:
        return "undefined"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return format_value(value)
    return format_number(value)


def interval_of(result: Mapping[str, Any]) -> list[float] | None:
    """Return a result's ``[low, high]`` interval, or None."""
    interval = result.get("interval")
    if isinstance(interval, Sequence) and len(interval) == 2:
        return [float(interval[0]), float(interval[1])]
    return None


def interval_text(interval: Sequence[float] | None) -> str:
    """Format an interval as ``[low, high]`` or a dash."""
    if interval is None:
        return MISSING
    return f"[{format_number(interval[0])}, {format_number(interval[1])}]"


def exact(value: Any) -> str | None:
    """Return a number as the exact text the Model Card Toolkit stores (``repr``), or None."""
    if value is None:
        return None
    if isinstance(value, float):
        return repr(value)
    return str(value)


def day(moment: datetime | str | None) -> str:
    """Return a time as ``YYYY-MM-DD HH:MM UTC``."""
    if moment is None:
        return MISSING
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def group_label(features: Sequence[str], group: Sequence[Any]) -> str:
    """Return ``sex=F, region=north`` for a group of a section."""
    return ", ".join(f"{f}={g}" for f, g in zip(features, group, strict=False))


def evaluation_source(facts: ModelFacts, evaluation: Evaluation) -> dict[str, Any]:
    """Where an evaluation's numbers are recorded: its id, digest and ledger entry."""
    return {
        "evaluation_id": evaluation.id,
        "evaluation_digest": evaluation.digest,
        "ledger_entry": facts.evaluation_entries.get(evaluation.id),
    }


def performance_metrics(facts: ModelFacts, evaluation: Evaluation) -> list[dict[str, Any]]:
    """Return the evaluation's performance checks as overall metrics, each with its source."""
    out = []
    for check in evaluation.checks:
        if check.get("category") != "performance":
            continue
        out.append(
            {
                "type": check["check"],
                "value": exact(check.get("value")),
                "confidence_interval": _mct_interval(interval_of(check)),
                "threshold": None
                if check.get("threshold") is None
                else format_threshold(check["threshold"], check=check["check"]),
                "slice": "overall",
                "status": check.get("outcome"),
                "undefined_reason": check.get("reason"),
                "source": {**evaluation_source(facts, evaluation), "check": check["check"]},
            }
        )
    return out


def fairness_checks(facts: ModelFacts, evaluation: Evaluation) -> list[dict[str, Any]]:
    """Return the evaluation's fairness checks (disparities over a grouping) with sources.

    A ``reference_group`` rule's threshold names the privileged group the evaluation's
    fairness evidence was computed with.
    """
    groups = reference_groups_of(facts.evidence_json(evaluation, FAIRNESS_EVIDENCE))
    out = []
    for check in evaluation.checks:
        if check.get("category") != "fairness":
            continue
        metric, _, grouping = str(check["check"]).partition(":")
        out.append(
            {
                "type": metric,
                "value": exact(check.get("value")),
                "confidence_interval": _mct_interval(interval_of(check)),
                "threshold": None
                if check.get("threshold") is None
                else format_threshold(
                    check["threshold"], check=check["check"], reference_groups=groups
                ),
                "slice": grouping.replace("*", " × ") or "all groups",
                "status": check.get("outcome"),
                "undefined_reason": check.get("reason"),
                "source": {**evaluation_source(facts, evaluation), "check": check["check"]},
            }
        )
    return out


def group_metrics(facts: ModelFacts, evaluation: Evaluation) -> list[dict[str, Any]]:
    """Return every per-group metric of the evaluation's stored fairness evidence.

    Each carries ``intersectional`` (a section over several features) and a ``source``
    naming the evaluation, the evidence artifact's digest, the section and the group.
    """
    report = facts.evidence_json(evaluation, FAIRNESS_EVIDENCE)
    if report is None:
        return []
    digest = evaluation.evidence_digest(FAIRNESS_EVIDENCE)
    out = []
    for index, section in enumerate(_list(report.get("sections"))):
        features = [str(name) for name in _list(section.get("features"))]
        by_group = section.get("by_group")
        if not isinstance(by_group, Mapping):
            continue
        for metric, results in by_group.items():
            for result in _list(results):
                group = [str(g) for g in _list(result.get("group"))]
                out.append(
                    {
                        "type": str(metric),
                        "value": exact(result.get("value")),
                        "confidence_interval": _mct_interval(interval_of(result)),
                        "slice": group_label(features, group),
                        "features": features,
                        "intersectional": len(features) > 1,
                        "confidence": result.get("confidence"),
                        "undefined_reason": result.get("reason"),
                        "source": {
                            **evaluation_source(facts, evaluation),
                            "evidence": FAIRNESS_EVIDENCE,
                            "evidence_digest": digest,
                            "section": index,
                            "metric": str(metric),
                            "group": group,
                        },
                    }
                )
    return out


def _mct_interval(interval: Sequence[float] | None) -> dict[str, str] | None:
    if interval is None:
        return None
    return {"lower_bound": repr(float(interval[0])), "upper_bound": repr(float(interval[1]))}


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else []


def metric_value(metric: Mapping[str, Any]) -> float | None:
    """Return a metric entry's value as a number (it is stored as exact text)."""
    value = metric.get("value")
    return None if value is None else float(value)


def metric_interval(metric: Mapping[str, Any]) -> list[float] | None:
    """Return a metric entry's interval as numbers."""
    interval = metric.get("confidence_interval")
    if not interval:
        return None
    return [float(interval["lower_bound"]), float(interval["upper_bound"])]


def metrics_table(metrics: Iterable[Mapping[str, Any]], *, with_status: bool) -> Table:
    """Return a table of metric entries: metric, slice, value, interval (status, threshold)."""
    header: tuple[str, ...] = ("metric", "slice", "value", "interval")
    if with_status:
        header += ("threshold", "outcome")
    header += ("evaluation",)
    rows = []
    for metric in metrics:
        value = metric_value(metric)
        shown = number_text(value) if value is not None else "undefined"
        if value is None and metric.get("undefined_reason"):
            shown += f" ({metric['undefined_reason']})"
        row: tuple[str, ...] = (
            str(metric["type"]),
            str(metric["slice"]),
            shown,
            interval_text(metric_interval(metric)),
        )
        if with_status:
            row += (str(metric.get("threshold") or MISSING), str(metric.get("status") or MISSING))
        row += (str(metric["source"]["evaluation_id"]),)
        rows.append(row)
    return Table(header=header, rows=rows)


def group_tables(metrics: Sequence[Mapping[str, Any]]) -> list[Section]:
    """One subsection per grouping: a row per group, a column per metric (value and interval).

    An undefined value reads ``undefined`` in its cell; why is said once per group under
    the table (a group too small to measure is undefined for every metric).
    """
    groupings: dict[tuple[str, ...], list[Mapping[str, Any]]] = {}
    for metric in metrics:
        groupings.setdefault(tuple(metric["features"]), []).append(metric)
    sections = []
    for features, items in groupings.items():
        names = list(dict.fromkeys(str(m["type"]) for m in items))
        slices = list(dict.fromkeys(str(m["slice"]) for m in items))
        cells = {(str(m["slice"]), str(m["type"])): m for m in items}
        rows = []
        reasons: dict[str, list[str]] = {}
        for slice_name in slices:
            row = [slice_name]
            for name in names:
                found = cells.get((slice_name, name))
                row.append(MISSING if found is None else _value_with_interval(found))
                if found is not None and metric_value(found) is None:
                    reason = str(found.get("undefined_reason") or "no reason recorded")
                    reasons.setdefault(slice_name, [])
                    if reason not in reasons[slice_name]:
                        reasons[slice_name].append(reason)
            rows.append(tuple(row))
        kind = "intersectional" if len(features) > 1 else "unitary"
        caption = "Value per group; no bootstrap interval was computed."
        confidence = _confidence(items)
        if confidence is not None:
            caption = f"Value [{format_number(confidence * 100)}% bootstrap interval] per group."
        blocks: list[Block] = [Table(header=("group", *names), rows=rows, caption=caption)]
        if reasons:
            blocks.append(
                Bullets(
                    items=[
                        f"{group}: undefined — {'; '.join(why)}" for group, why in reasons.items()
                    ]
                )
            )
        sections.append(Section(title=f"By {' × '.join(features)} ({kind})", blocks=blocks))
    return sections


def _value_with_interval(metric: Mapping[str, Any]) -> str:
    value = metric_value(metric)
    if value is None:
        return "undefined"
    interval = metric_interval(metric)
    text = number_text(value)
    return text if interval is None else f"{text} {interval_text(interval)}"


def _confidence(items: Sequence[Mapping[str, Any]]) -> float | None:
    for item in items:
        if item.get("confidence") is not None:
            return float(item["confidence"])
    return None


def rule_rows(rules: Sequence[Mapping[str, Any]], facts: ModelFacts) -> list[tuple[str, str, str]]:
    """Return ``(section, metric, rule)`` rows of the policy in force's metric rules."""
    fairness = facts.policy.policy.fairness if facts.policy is not None else None
    groups = dict(fairness.reference_groups) if fairness is not None else {}
    return [
        (
            str(rule["section"]),
            str(rule["metric"]),
            format_threshold(
                {k: v for k, v in rule.items() if k not in ("section", "metric")},
                reference_groups=groups,
            ),
        )
        for rule in rules
    ]
