"""A candidate's evaluation beside the production version's: metrics, groups, top features.

Pure functions of two evaluation documents and their stored evidence (the fairness report and
the explanation), so the comparison is the same wherever it is shown (the evaluations tab and
the approval queue) and is tested on documents written by hand. Every number keeps its
confidence interval when the evaluation computed one.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from govml.evaluation import Evaluation
from govml.reports._format import format_threshold, reference_groups_of

GROUP_METRICS = ("selection_rate", "true_positive_rate", "false_positive_rate", "accuracy")
TOP_FEATURES = 10
LOWER_IS_BETTER = ("log_loss", "brier", "mae", "mse", "rmse", "error", "_difference")

EvidenceReader = Callable[[Evaluation, str], bytes | None]


@dataclass(frozen=True, kw_only=True)
class Measure:
    """A value with its interval (None: not measured)."""

    value: float | None
    interval: tuple[float, float] | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dictionary."""
        return {
            "value": self.value,
            "interval": None if self.interval is None else list(self.interval),
        }


@dataclass(frozen=True, kw_only=True)
class Row:
    """One compared quantity: what it is, both measures, the difference, and the rule."""

    label: str
    candidate: Measure
    production: Measure
    rule: str = ""
    outcome: str = ""
    better: str = ""  # "candidate", "production" or "" (equal, unknown, or not ordered)

    @property
    def delta(self) -> float | None:
        """Candidate minus production, when both are numbers."""
        if self.candidate.value is None or self.production.value is None:
            return None
        return self.candidate.value - self.production.value

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dictionary."""
        return {
            "label": self.label,
            "candidate": self.candidate.to_dict(),
            "production": self.production.to_dict(),
            "delta": self.delta,
            "rule": self.rule,
            "outcome": self.outcome,
            "better": self.better,
        }


@dataclass(frozen=True, kw_only=True)
class GroupTable:
    """Per-group rates of one sensitive feature (or intersection), both evaluations."""

    features: str
    rows: list[tuple[str, str, Row]] = field(default_factory=list)  # (group, metric, row)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dictionary."""
        return {
            "features": self.features,
            "rows": [{"group": g, "metric": m, **row.to_dict()} for g, m, row in self.rows],
        }


@dataclass(frozen=True, kw_only=True)
class Comparison:
    """Everything compared between a candidate evaluation and the production one."""

    candidate: Evaluation
    production: Evaluation | None
    metrics: list[Row]
    fairness: list[Row]
    groups: list[GroupTable]
    features: list[tuple[str, Measure, int | None, Measure]]  # feature, cand., prod. rank, prod.

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dictionary."""
        return {
            "candidate": {"id": self.candidate.id, "subject": self.candidate.subject},
            "production": None
            if self.production is None
            else {"id": self.production.id, "subject": self.production.subject},
            "metrics": [row.to_dict() for row in self.metrics],
            "fairness": [row.to_dict() for row in self.fairness],
            "groups": [table.to_dict() for table in self.groups],
            "top_features": [
                {
                    "feature": name,
                    "candidate": cand.to_dict(),
                    "production_rank": rank,
                    "production": prod.to_dict(),
                }
                for name, cand, rank, prod in self.features
            ],
        }


def compare(
    candidate: Evaluation, production: Evaluation | None, evidence: EvidenceReader
) -> Comparison:
    """Compare ``candidate`` with ``production`` (None: the candidate's figures alone)."""
    cand_fair = _json(evidence(candidate, "fairness_report"))
    prod_fair = None if production is None else _json(evidence(production, "fairness_report"))
    refs = reference_groups_of(cand_fair)
    return Comparison(
        candidate=candidate,
        production=production,
        metrics=_check_rows(candidate, production, "performance", refs),
        fairness=_check_rows(candidate, production, "fairness", refs),
        groups=_group_tables(cand_fair, prod_fair),
        features=_features(
            _json(evidence(candidate, "explanation")),
            None if production is None else _json(evidence(production, "explanation")),
        ),
    )


def _json(blob: bytes | None) -> Mapping[str, Any] | None:
    if blob is None:
        return None
    try:
        data = json.loads(blob)
    except (UnicodeDecodeError, ValueError):
        return None
    return data if isinstance(data, Mapping) else None


def _measure(item: Mapping[str, Any] | None) -> Measure:
    if not item:
        return Measure(value=None)
    value = item.get("value")
    interval = item.get("interval")
    return Measure(
        value=float(value)
        if isinstance(value, int | float) and not isinstance(value, bool)
        else None,
        interval=(float(interval[0]), float(interval[1]))
        if isinstance(interval, list | tuple)
        and len(interval) == 2
        and all(isinstance(v, int | float) for v in interval)
        else None,
    )


def _better(label: str, row_c: Measure, row_p: Measure) -> str:
    if row_c.value is None or row_p.value is None or row_c.value == row_p.value:
        return ""
    lower = any(part in label for part in LOWER_IS_BETTER)
    candidate_wins = (row_c.value < row_p.value) if lower else (row_c.value > row_p.value)
    return "candidate" if candidate_wins else "production"


def _check_rows(
    candidate: Evaluation,
    production: Evaluation | None,
    category: str,
    refs: Mapping[str, Any],
) -> list[Row]:
    theirs = {}
    if production is not None:
        theirs = {c["check"]: c for c in production.checks if c.get("category") == category}
    rows = []
    for check in candidate.checks:
        name = str(check.get("check"))
        if check.get("category") != category or "_vs_champion" in name:
            continue
        mine, other = _measure(check), _measure(theirs.get(name))
        better = _better(name, mine, other) if category == "performance" else ""
        rows.append(
            Row(
                label=name,
                candidate=mine,
                production=other,
                rule=format_threshold(check.get("threshold"), check=name, reference_groups=refs),
                outcome=str(check.get("outcome") or check.get("status") or ""),
                better=better,
            )
        )
    return rows


def _group_label(group: Any) -> str:
    if isinstance(group, list | tuple):
        return " × ".join(str(part) for part in group)
    return str(group)


def _by_group(section: Mapping[str, Any]) -> dict[tuple[str, str], Measure]:
    found = {}
    for metric, results in (section.get("by_group") or {}).items():
        for result in results or ():
            if isinstance(result, Mapping):
                found[(_group_label(result.get("group")), metric)] = _measure(result)
    return found


def _group_tables(
    candidate: Mapping[str, Any] | None, production: Mapping[str, Any] | None
) -> list[GroupTable]:
    if candidate is None:
        return []
    theirs = {}
    for section in (production or {}).get("sections") or ():
        theirs[_group_label(section.get("features"))] = _by_group(section)
    tables = []
    for section in candidate.get("sections") or ():
        key = _group_label(section.get("features"))
        mine, other = _by_group(section), theirs.get(key, {})
        groups = [_group_label(g) for g in section.get("groups") or ()]
        rows = [
            (
                group,
                metric,
                Row(
                    label=metric,
                    candidate=mine[(group, metric)],
                    production=other.get((group, metric), Measure(value=None)),
                ),
            )
            for group in groups
            for metric in GROUP_METRICS
            if (group, metric) in mine
        ]
        tables.append(GroupTable(features=key, rows=rows))
    return tables


def _ranking(explanation: Mapping[str, Any] | None) -> list[tuple[str, float]]:
    importance = (explanation or {}).get("importance") or {}
    pairs = [
        (str(k), float(v))
        for k, v in importance.items()
        if isinstance(v, int | float) and not isinstance(v, bool)
    ]
    return sorted(pairs, key=lambda kv: (-abs(kv[1]), kv[0]))


def _features(
    candidate: Mapping[str, Any] | None, production: Mapping[str, Any] | None
) -> list[tuple[str, Measure, int | None, Measure]]:
    theirs = _ranking(production)
    rank = {name: index + 1 for index, (name, _) in enumerate(theirs)}
    value = dict(theirs)
    return [
        (
            name,
            Measure(value=importance),
            rank.get(name),
            Measure(value=value.get(name)),
        )
        for name, importance in _ranking(candidate)[:TOP_FEATURES]
    ]


def top_checks(
    evaluation: Evaluation, outcomes: Sequence[str] = ("fail", "warn")
) -> list[dict[str, Any]]:
    """Return the checks whose outcome is one of ``outcomes`` (what a reviewer reads first)."""
    return [c for c in evaluation.checks if c.get("outcome") in outcomes]
