"""The robustness, baseline and training_data sections: validation with positions and hints."""

from __future__ import annotations

from pathlib import Path

import pytest

from govml.policy import InvalidPolicyError, load_policy, parse_policy

HEAD = "apiVersion: govml/v1\nkind: Policy\nmetadata: {name: x}\ntiers: [high]\n"

BAD = (
    HEAD
    + """\
robustness:
  sample_rows: 200
  perturbations:
    - {kind: numeric_nois, scale: 0.1, max_flip_rate: 0.1}
    - {kind: category_swap, scale: 0.1, max_flip_rate: 0.1}
    - {kind: missing_values}
  monotone: {duration: increasin}
  counterfactual: {features: [sex], proxies: {age: [job]}, max_flip_rate: 0.1}
baseline: {models: [majorty], margin: 0.01}
training_data:
  expectations:
    - {expect: mean_betwen, column: age, min: 20}
    - {expect: max_share, column: age, max: 1.5}
    - {expect: quantile_between, column: age, quantile: 0.5}
"""
)


def test_every_problem_is_named_at_its_line_with_a_suggestion(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(BAD, encoding="utf-8")
    with pytest.raises(InvalidPolicyError) as caught:
        load_policy(path)
    found = {(d.line, d.path): d.message for d in caught.value.errors}
    assert "did you mean 'numeric_noise'?" in found[(8, "robustness.perturbations[0].kind")]
    assert found[(9, "robustness.perturbations[1].scale")] == (
        "scale applies to numeric_noise; category_swap takes a rate"
    )
    assert found[(10, "robustness.perturbations[2]")] == (
        "give max_flip_rate, max_metric_drop or both"
    )
    assert "did you mean 'increasing'?" in found[(11, "robustness.monotone.duration")]
    assert (
        "'age' is not one of counterfactual.features"
        in found[(12, "robustness.counterfactual.proxies.age")]
    )
    assert "did you mean 'majority'?" in found[(13, "baseline.models[0]")]
    assert "did you mean 'mean_between'?" in found[(16, "training_data.expectations[0].expect")]
    assert found[(17, "training_data.expectations[1].max")] == "must be at most 1, got 1.5"
    assert found[(18, "training_data.expectations[2]")] == "give min, max or both"


def test_the_sections_make_a_policy_on_their_own_and_leave_old_digests_alone() -> None:
    plain = parse_policy(HEAD + "documentation: {required: [owner]}\n", source="a.yaml")
    assert "robustness" not in plain.policy.document()
    robust = parse_policy(
        HEAD
        + "robustness:\n  monotone: {income: increasing}\n"
        + "baseline: {margin: 0.02}\n"
        + "training_data: {sensitive: [sex], min_group_share: 0.1}\n",
        source="b.yaml",
    )
    section = robust.policy.robustness
    assert section is not None and section.sample_rows == 1000
    assert robust.policy.baseline is not None
    assert robust.policy.baseline.models == ["majority", "linear"]
    assert robust.policy.document()["training_data"]["min_group_share"] == 0.1


def test_monitoring_refuses_rules_only_evaluations_check() -> None:
    text = (
        HEAD
        + "fairness: {sensitive: [sex], rules: [{metric: demographic_parity_ratio, min: 0.8}]}\n"
        + "monitoring:\n  fairness:\n    - {metric: calibration_gap, max: 0.1}\n"
    )
    with pytest.raises(InvalidPolicyError) as caught:
        parse_policy(text, source="m.yaml")
    (problem,) = caught.value.errors
    assert (problem.line, problem.path) == (8, "monitoring.fairness[0].metric")
    assert problem.message.startswith("calibration_gap is checked by evaluations only")
