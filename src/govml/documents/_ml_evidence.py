"""What the ML Test Score's rules share: scores, and the evidence found in evaluations and runs.

A test earns 1 point when its evidence comes from the policy in force and that policy makes
it repeat: a section every evaluation under it runs (promotion needs a passing one), or a
monitoring rule every run applies. The same evidence from anywhere else is documented once
(½): an evaluation against a ``--policy`` file or under a policy since replaced, a monitoring
run under another policy, a check the policy in force does not ask for.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from govml.documents import _common as common
from govml.documents.facts import ModelFacts
from govml.evaluation import Evaluation
from govml.monitoring.records import RANK, MonitorPoint


@dataclass(frozen=True)
class Score:
    """One test's points and the evidence for them."""

    points: float
    evidence: list[str]


Found = list[tuple[Evaluation, Mapping[str, Any]]]


def ids(values: Iterable[int]) -> str:
    """Return numbers sorted, without repeats, joined with commas."""
    return ", ".join(str(value) for value in sorted(set(values)))


def policy_name(facts: ModelFacts) -> str:
    """Return ``policy NAME vN`` of the policy in force (``no policy`` without one)."""
    policy = facts.policy
    return "no policy" if policy is None else f"policy {policy.name} v{policy.version}"


def checks(facts: ModelFacts, predicate: Callable[[Mapping[str, Any]], bool]) -> Found:
    """Return every ``(evaluation, check)`` of the model's evaluations that ``predicate`` keeps."""
    return [(e, c) for e in facts.evaluations for c in e.checks if predicate(c)]


def check_kind(check: Mapping[str, Any]) -> str:
    """Return a check's name without its grouping (``between:age`` → ``between``)."""
    return str(check.get("check", "")).partition(":")[0]


def ran(found: Found) -> str:
    """Say which checks ran in which evaluations (check names without their groupings)."""
    names = sorted({check_kind(c) for _, c in found})
    return f"{', '.join(names)} ran in evaluation(s) {ids(e.id for e, _ in found)}"


def elsewhere(facts: ModelFacts, evaluations: Iterable[Evaluation]) -> list[str]:
    """Say under which policy each evaluation not made under the policy in force was made."""
    by_policy: dict[tuple[str, str], list[int]] = {}
    for evaluation in evaluations:
        used = evaluation.document.get("policy") or {}
        key = (str(used.get("name")), str(used.get("source") or ""))
        by_policy.setdefault(key, []).append(evaluation.id)
    out = []
    for (name, source), numbers in sorted(by_policy.items(), key=lambda item: min(item[1])):
        how = "a --policy file" if source == "file" else "not the policy in force"
        out.append(f"evaluation(s) {ids(numbers)} used policy {name} ({how})")
    return out


def gated(facts: ModelFacts, section: str, found: Found, what: str) -> Score:
    """Score checks of policy section ``section``.

    1 when an evaluation under the policy in force ran them and that policy has the section
    (every evaluation runs it); ½ when they ran only under another policy, or the policy in
    force has no such section; 0 when they never ran.
    """
    if not found:
        return Score(0, [f"no evaluation of this model ran {what}"])
    current = [(e, c) for e, c in found if facts.under_policy_in_force(e)]
    others = {e.id: e for e, _ in found if not facts.under_policy_in_force(e)}
    sections = facts.policy.policy.document() if facts.policy is not None else {}
    if current and sections.get(section):
        evidence = [
            ran(current),
            f"{policy_name(facts)}, in force, gates every evaluation on its {section} section",
        ]
        if others:
            evidence.append("not counted: " + "; ".join(elsewhere(facts, others.values())))
        return Score(1, evidence)
    if facts.policy is None:
        why = "no policy is in force: nothing repeats it"
    elif not sections.get(section):
        why = f"{policy_name(facts)}, in force, has no {section} section: nothing repeats it"
    else:
        why = f"none under {policy_name(facts)}, in force: " + "; ".join(
            elsewhere(facts, others.values())
        )
    return Score(0.5, [ran(found), why])


def best(scores: Sequence[Score]) -> Score:
    """Return the score with the most points (the first of equals)."""
    return max(scores, key=lambda score: score.points)


# -- monitoring --------------------------------------------------------------------------------


def runs_in_force(facts: ModelFacts) -> set[int]:
    """Return the ids of the monitoring runs made under the policy in force."""
    if facts.policy is None:
        return set()
    return {
        int(entry.payload["run_id"])
        for entry in facts.monitoring_runs()
        if (entry.payload.get("policy") or {}).get("digest") == facts.policy.digest
    }


def measured(points: Iterable[MonitorPoint]) -> list[MonitorPoint]:
    """Return the points with a value (too little data to judge is ``insufficient``)."""
    return [p for p in points if p.value is not None and p.status != "insufficient"]


def window_day(point: MonitorPoint) -> str:
    """Return the end of a point's window as people read it."""
    return common.day(point.window_end)


def monitored(facts: ModelFacts, category: str, label: str, rule: str | None) -> Score:
    """Score a monitoring check category as ``govml monitor history`` shows it.

    1 when runs under the policy in force measured it and that policy has the rule ``rule``
    describes (None: it has none); ½ when it was measured otherwise; 0 when no run
    measured it, saying whether runs were recorded at all.
    """
    points = [p for p in facts.monitoring if p.category == category]
    values = measured(points)
    runs = facts.monitoring_runs()
    if values:
        current = [p for p in values if p.run_id in runs_in_force(facts)]
        worst = max(values, key=lambda p: RANK[p.status]).status
        evidence = [
            f"{label} measured in monitoring run(s) {ids(p.run_id for p in values)} "
            f"({len(values)} point(s), windows ending {window_day(values[0])} to "
            f"{window_day(values[-1])}; worst status {worst})"
        ]
        if current and rule is not None:
            return Score(1, [*evidence, f"{policy_name(facts)}, in force, sets {rule}"])
        if rule is None:
            why = f"{policy_name(facts)}, in force, sets no {label} rule: nothing repeats it"
        else:
            why = f"no run under {policy_name(facts)}, in force, measured it"
        return Score(0.5, [*evidence, why])
    if points:
        return Score(
            0,
            [
                f"{label} checked in monitoring run(s) {ids(p.run_id for p in points)}, each "
                "with too little data to judge (insufficient)"
            ],
        )
    if runs:
        return Score(
            0,
            [
                f"{len(runs)} monitoring run(s) recorded "
                f"({ids(int(e.payload['run_id']) for e in runs)}); none measured {label}"
            ],
        )
    if rule is not None:
        return Score(
            0, [f"{policy_name(facts)}, in force, sets {rule}, but no monitoring run is recorded"]
        )
    return Score(0, [f"no monitoring rule for {label} and no monitoring run is recorded"])


def monitoring_rule(facts: ModelFacts, key: str) -> str | None:
    """Describe the policy in force's ``monitoring`` rule ``key`` (``drift``, ``performance``).

    Drift is judged on every run of a policy with a ``monitoring`` section (default tests when
    it names none); performance and fairness need rules of their own. None when there is no
    such rule.
    """
    if facts.policy is None or facts.policy.policy.monitoring is None:
        return None
    rules = facts.policy.policy.document().get("monitoring") or {}
    if key == "drift":
        tests = ", ".join(rules.get("drift") or {}) or "the default tests"
        return f"the drift levels every run applies ({tests})"
    found = rules.get(key) or []
    if not found:
        return None
    metrics = ", ".join(str(rule.get("metric")) for rule in found)
    return f"{key} rules every run applies ({metrics})"
