"""Notes on a valid policy: choices that are allowed but that a reviewer should see."""

from __future__ import annotations

from govml.policy import messages as msg
from govml.policy.diagnostics import Path
from govml.policy.rules import FairnessRule
from govml.policy.schema import Policy
from govml.policy.vocabulary import fairness_traits, performance_traits

# Fewer replicates than this beyond each bound make a percentile bound jump between runs.
MIN_TAIL_REPLICATES = 5


def policy_notes(policy: Policy) -> list[tuple[Path, str]]:
    """Return ``(path, message)`` for each remark about ``policy``."""
    notes: list[tuple[Path, str]] = []
    # Tier notes point at the list: validation reorders the tiers, so an index could mislead.
    tiers = list(policy.tiers)
    if "unacceptable" in tiers:
        notes.append((("tiers",), msg.NOTE_UNACCEPTABLE))
    if policy.undefined == "pass" and "high" in tiers:
        notes.append((("undefined",), msg.NOTE_UNDEFINED_PASSES))
    approvals = policy.approvals
    if "high" in tiers and (approvals is None or approvals.required == 0):
        where: Path = ("approvals", "required") if approvals else ("tiers",)
        notes.append((where, msg.NOTE_NO_APPROVALS))
    if approvals is not None and approvals.required == 0 and approvals.roles:
        notes.append((("approvals", "roles"), msg.NOTE_ROLES_WITHOUT_APPROVALS))
    if policy.security is not None and policy.security.serialization == "scanned_pickle":
        notes.append((("security", "serialization"), msg.NOTE_PICKLE))
    if policy.security is not None and policy.security.serialization == "custom_code":
        notes.append((("security", "serialization"), msg.NOTE_CUSTOM_CODE))
    notes.extend(_bound_notes(policy))
    return notes


def _bound_notes(policy: Policy) -> list[tuple[Path, str]]:
    notes: list[tuple[Path, str]] = []
    for index, rule in enumerate(policy.performance):
        found = rule.never_binding(metric=rule.metric, traits=rule.traits())
        notes += [(("performance", index, *path), text) for path, text in found]
    if policy.fairness is not None:
        notes += _fairness_notes(("fairness", "rules"), policy.fairness.rules)
    if policy.monitoring is not None:
        for index, monitored in enumerate(policy.monitoring.performance):
            traits = performance_traits(monitored.metric)
            found = monitored.never_binding(metric=monitored.metric, traits=traits)
            notes += [(("monitoring", "performance", index, *p), t) for p, t in found]
        notes += _fairness_notes(("monitoring", "fairness"), policy.monitoring.fairness)
    return notes


def _fairness_notes(prefix: Path, rules: list[FairnessRule]) -> list[tuple[Path, str]]:
    notes: list[tuple[Path, str]] = []
    for index, rule in enumerate(rules):
        traits = fairness_traits(rule.metric, rule.compare)
        found = rule.never_binding(metric=rule.metric, traits=traits)
        notes += [((*prefix, index, *path), text) for path, text in found]
        if rule.n_boot is not None and rule.confidence is not None:
            tail = rule.n_boot * (1 - rule.confidence) / 2
            if tail < MIN_TAIL_REPLICATES:
                text = msg.NOTE_FEW_REPLICATES.format(
                    n_boot=rule.n_boot, tail=tail, confidence=rule.confidence
                )
                notes.append(((*prefix, index, "n_boot"), text))
    return notes
