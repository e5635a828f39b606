"""Valid policies: the examples, defaults, the digest, notes, and the names govml knows."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from textwrap import dedent
from typing import get_args

import numpy as np
import pytest
import yaml

from govml.domain.records import RiskTier
from govml.metrics import DRIFT_TESTS, fairness_report, metric_names
from govml.policy import Policy, load_policy, parse_policy
from govml.policy import messages as msg
from govml.policy.sections import Monitoring
from govml.policy.vocabulary import (
    FAIRNESS_METRICS,
    PERFORMANCE_TRAITS,
    TIERS,
)

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "policies"

MINIMAL = """\
apiVersion: govml/v1
kind: Policy
metadata: {name: credit}
tiers: [high, limited]
performance:
  - {metric: roc_auc, min: 0.8}
fairness:
  sensitive: [sex]
  rules:
    - {metric: demographic_parity_ratio, min: 0.8}
approvals: {required: 1}
"""


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.name)
def test_the_examples_validate_without_notes(path: Path) -> None:
    loaded = load_policy(path)
    assert loaded.source == str(path)
    assert loaded.notes == ()
    assert loaded.digest.startswith("sha256:") and len(loaded.digest) == 71
    assert loaded.to_dict()["valid"] is True


def test_the_high_risk_example_reads_as_written() -> None:
    policy = load_policy(EXAMPLES / "credit-high-risk.yaml").policy
    assert policy.name == "credit-high-risk" and policy.tiers == ["high"]
    assert [d.expect for d in policy.data][:3] == ["no_nulls", "between", "in_set"]
    accuracy = policy.performance[1]
    assert accuracy.vs_champion is not None and accuracy.vs_champion.max_drop == 0.01
    assert policy.fairness is not None
    assert policy.fairness.reference_groups == {"sex": "Male", "race": "White"}
    rules = policy.fairness.rules
    assert [r.compare for r in rules] == ["between_groups", "reference_group", "between_groups"]
    assert (rules[2].confidence, rules[2].n_boot) == (0.95, 1000)
    assert policy.approvals is not None and policy.approvals.required == 2
    assert policy.monitoring is not None and policy.monitoring.on_critical == ["notify", "rollback"]


def test_defaults_are_filled_in() -> None:
    policy = parse_policy(MINIMAL).policy
    assert policy.undefined is None
    assert policy.fairness is not None
    assert (policy.fairness.intersectional, policy.fairness.min_group_size) == (True, 30)
    assert policy.approvals is not None and policy.approvals.separation_of_duties is True
    document = policy.document()
    assert document["apiVersion"] == "govml/v1"
    assert document["fairness"]["rules"][0]["compare"] == "between_groups"
    assert Monitoring().window == "1d"


def test_undefined_means_fail_for_high_risk_and_warn_otherwise() -> None:
    policy = parse_policy(MINIMAL).policy
    assert policy.undefined_outcome("high") == "fail"
    assert policy.undefined_outcome("unacceptable") == "fail"
    assert policy.undefined_outcome("limited") == "warn"
    assert policy.undefined_outcome("limited", "fail") == "fail"
    explicit = parse_policy(MINIMAL.replace("tiers:", "undefined: warn\ntiers:")).policy
    assert explicit.undefined_outcome("high") == "warn"
    assert explicit.undefined_outcome("high", "pass") == "pass"


def _reformatted(text: str) -> str:
    """The same policy in block style, keys in reverse order, with comments."""
    data = yaml.safe_load(text)

    def reverse(value: object) -> object:
        if isinstance(value, dict):
            return {k: reverse(value[k]) for k in reversed(list(value))}
        if isinstance(value, list):
            return [reverse(v) for v in value]
        return value

    body = yaml.safe_dump(reverse(data), default_flow_style=False, sort_keys=False, indent=4)
    return "# a comment\n" + body.replace("\n", "   # trailing\n", 1)


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.name)
def test_the_digest_ignores_layout_comments_and_key_order(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    other = _reformatted(text)
    assert other != text
    assert parse_policy(other).digest == parse_policy(text).digest


def test_the_digest_ignores_spelled_out_defaults_and_tier_order() -> None:
    spelled = MINIMAL.replace("tiers: [high, limited]", "tiers: [limited, high]").replace(
        "sensitive: [sex]", "sensitive: [sex]\n  intersectional: true\n  min_group_size: 30"
    )
    spelled = spelled.replace(
        "min: 0.8}\napprovals", "min: 0.8, compare: between_groups}\napprovals"
    )
    assert spelled != MINIMAL
    assert parse_policy(spelled).digest == parse_policy(MINIMAL).digest
    assert parse_policy(spelled).policy.tiers == ["limited", "high"]


def test_the_digest_changes_with_the_content() -> None:
    base = parse_policy(MINIMAL).digest
    assert parse_policy(MINIMAL.replace("min: 0.8}", "min: 0.81}", 1)).digest != base
    assert parse_policy(MINIMAL.replace("name: credit", "name: credit2")).digest != base


def test_the_digest_is_the_sha256_of_the_canonical_json() -> None:
    loaded = parse_policy(MINIMAL)
    canonical = loaded.policy.canonical()
    assert json.loads(canonical) == loaded.policy.document()
    assert loaded.digest == "sha256:" + hashlib.sha256(canonical).hexdigest()
    again = Policy.model_validate_json(canonical)
    assert again == loaded.policy and again.digest() == loaded.digest


def test_integers_and_floats_give_the_same_digest() -> None:
    assert (
        parse_policy(MINIMAL.replace("min: 0.8}", "min: 1}", 1)).digest
        == parse_policy(MINIMAL.replace("min: 0.8}", "min: 1.0}", 1)).digest
    )


# -- notes -------------------------------------------------------------------------------------


def _notes(text: str) -> list[str]:
    return [str(n) for n in parse_policy(dedent(text), source="p.yaml").notes]


def test_notes_for_choices_a_reviewer_should_see() -> None:
    found = _notes(
        """\
        apiVersion: govml/v1
        kind: Policy
        metadata: {name: p}
        tiers: [unacceptable, high]
        undefined: pass
        security: {serialization: scanned_pickle}
        fairness:
          sensitive: [sex]
          rules:
            - {metric: demographic_parity_ratio, between: [0.8, 1.25]}
            - {metric: equalized_odds_difference, max: 0.1, confidence: 0.99, n_boot: 500}
        """
    )
    assert found == [
        "p.yaml:4:8: note: tiers: " + msg.NOTE_UNACCEPTABLE,
        "p.yaml:5:12: note: undefined: " + msg.NOTE_UNDEFINED_PASSES,
        "p.yaml:4:8: note: tiers: " + msg.NOTE_NO_APPROVALS,
        "p.yaml:6:27: note: security.serialization: " + msg.NOTE_PICKLE,
        "p.yaml:10:57: note: fairness.rules[0].between[1]: demographic_parity_ratio lies in "
        "[0, 1], so max 1.25 never binds",
        "p.yaml:11:79: note: fairness.rules[1].n_boot: 500 replicates leave about 2.5 in each "
        "tail at confidence 0.99; the bound is unstable",
    ]


def test_roles_without_required_approvals_is_a_note() -> None:
    found = _notes(
        """\
        apiVersion: govml/v1
        kind: Policy
        metadata: {name: p}
        tiers: [limited]
        approvals: {required: 0, roles: [approver]}
        """
    )
    assert found == ["p.yaml:5:33: note: approvals.roles: " + msg.NOTE_ROLES_WITHOUT_APPROVALS]


# -- the names a policy may use ----------------------------------------------------------------


def test_tiers_are_the_risk_tiers() -> None:
    assert list(TIERS) == [tier.value for tier in RiskTier]


def test_every_performance_metric_has_a_range_and_a_direction() -> None:
    assert set(PERFORMANCE_TRAITS) == set(metric_names())


def test_fairness_metrics_are_the_labels_of_the_fairness_report() -> None:
    y = np.array([0, 1, 0, 1, 1, 0, 1, 0])
    report = fairness_report(
        y,
        y[::-1],
        sensitive_features={"s": np.array(["a", "a", "b", "b", "a", "b", "a", "b"])},
        privileged={"s": "a"},
    )
    section = report.sections[0]
    labels = set(section.reference) | set(report.inequality)
    labels |= {k for k in section.disparities if not k.endswith("_to_overall")}
    assert set(FAIRNESS_METRICS) == labels
    assert not set(FAIRNESS_METRICS) & set(metric_names())


def test_drift_tests_are_the_metrics_engines() -> None:
    field = Monitoring.model_fields["drift"].annotation
    assert get_args(get_args(field)[0]) == DRIFT_TESTS


def test_in_set_values_keep_their_types() -> None:
    text = MINIMAL + "data:\n  - {expect: in_set, column: flag, values: [1, true, '1']}\n"
    (expectation,) = parse_policy(text).policy.data
    assert expectation.expect == "in_set" and expectation.values == [1, True, "1"]


def test_the_names_are_those_of_the_checks_library() -> None:
    from govml import checks
    from govml.checks.security.vulns import Threshold
    from govml.policy import vocabulary

    assert get_args(vocabulary.PersonalDataKind) == checks.PERSONAL_DATA_KINDS
    assert get_args(vocabulary.DocumentationField) == checks.DOCUMENTATION_FIELDS
    assert get_args(vocabulary.Serialization) == checks.SERIALIZATION_MODES
    assert get_args(vocabulary.Explainer) == get_args(checks.ExplainerName)
    assert get_args(vocabulary.Severity) == get_args(Threshold)


def test_between_takes_dates_as_iso_text() -> None:
    dated = MINIMAL + "data:\n  - {expect: between, column: day, min: 2024-01-01}\n"
    quoted = dated.replace("min: 2024-01-01", "min: '2024-01-01'")
    (expectation,) = parse_policy(dated).policy.data
    assert expectation.expect == "between" and expectation.min == "2024-01-01"
    assert parse_policy(dated).digest == parse_policy(quoted).digest
