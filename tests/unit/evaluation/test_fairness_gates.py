"""Fairness gates: the favourable outcome, and the groups a check did not judge.

Known answers come from Fairlearn and AIF360 on the same vectors with the favourable label
flipped: a selection-rate rule about the favourable outcome ``0`` equals the library's
number on ``y_pred == 0``.
"""

from __future__ import annotations

from typing import Any

import fairlearn.metrics as flm
import numpy as np
import pandas as pd
import pytest

from govml.evaluation.gates import fairness_checks, fairness_reports
from govml.metrics import binary_confusion
from govml.policy import Fairness

pytestmark = pytest.mark.filterwarnings("ignore")


def _section(**fields: Any) -> Fairness:
    return Fairness.model_validate(
        {
            "sensitive": ["group"],
            "min_group_size": 1,
            "rules": [{"metric": "demographic_parity_ratio", "min": 0.8}],
            **fields,
        }
    )


def _checks(
    y: Any, y_pred: Any, group: Any, section: Fairness, pos_label: Any = 1
) -> dict[str, Any]:
    stats = binary_confusion(
        y, y_pred, sensitive_features=pd.Series(group, name="group"), pos_label=pos_label
    )
    reports = fairness_reports(stats, section, default_n_boot=200, random_state=0)
    return {c.check: c for c in fairness_checks(reports, section, default_n_boot=200)}


@pytest.fixture
def vectors() -> tuple[np.ndarray[Any, Any], ...]:
    rng = np.random.default_rng(3)
    group = rng.choice(["young", "middle", "old"], size=900, p=[0.2, 0.5, 0.3])
    y = rng.integers(0, 2, 900)
    # The young are predicted to default (1) more often.
    y_pred = (rng.random(900) < np.where(group == "young", 0.9, 0.3)).astype(int)
    return y, y_pred, group


@pytest.mark.parametrize("metric", ["demographic_parity_ratio", "demographic_parity_difference"])
@pytest.mark.parametrize("method", ["between_groups", "to_overall"])
def test_selection_rate_rules_measure_the_favourable_outcome_as_fairlearn(
    vectors: tuple[np.ndarray[Any, Any], ...], metric: str, method: str
) -> None:
    y, y_pred, group = vectors
    rule = {"metric": metric, "max": 1.0, "compare": method}
    section = _section(rules=[rule], favourable_label=0)
    check = _checks(y, y_pred, group, section)[f"{metric}:group"]
    fairlearn = getattr(flm, metric)
    expected = fairlearn(
        (y == 0).astype(int), (y_pred == 0).astype(int), sensitive_features=group, method=method
    )
    assert check.value == pytest.approx(expected, abs=1e-12)
    assert check.evidence["outcome"] == "favourable"
    assert check.evidence["favourable_label"] == 0
    assert check.evidence["favourable_rate"] == pytest.approx(
        [float(np.mean(y_pred[group == g] == 0)) for g in sorted(set(group))]
    )
    if metric.endswith("_ratio"):  # the ratio depends on which outcome is counted
        positive = fairlearn(y, y_pred, sensitive_features=group, method=method)
        assert abs(expected - positive) > 0.1


def test_disparate_impact_of_the_favourable_outcome_equals_aif360(
    vectors: tuple[np.ndarray[Any, Any], ...],
) -> None:
    am = pytest.importorskip("aif360.sklearn.metrics")
    y, y_pred, group = vectors
    rules = [
        {"metric": "disparate_impact_ratio", "min": 0.8},
        {"metric": "statistical_parity_difference", "min": -0.1},
    ]
    section = _section(rules=rules, reference_groups={"group": "old"}, favourable_label=0)
    checks = _checks(y, y_pred, group, section)
    privileged = group == "old"
    index = pd.Index(privileged.astype(int), name="old")
    for name, function in (
        ("disparate_impact_ratio", am.disparate_impact_ratio),
        ("statistical_parity_difference", am.statistical_parity_difference),
    ):
        expected = function(
            pd.Series(y, index=index), y_pred, prot_attr="old", priv_group=1, pos_label=0
        )
        assert checks[f"{name}:group"].value == pytest.approx(expected, abs=1e-12), name
    # With default = 1 as the selection, the young look favoured; with 0 they do not.
    assert checks["disparate_impact_ratio:group"].status == "fail"
    positive = _section(rules=rules, reference_groups={"group": "old"})
    assert _checks(y, y_pred, group, positive)["disparate_impact_ratio:group"].status == "pass"


def test_error_rate_rules_keep_the_positive_label(
    vectors: tuple[np.ndarray[Any, Any], ...],
) -> None:
    y, y_pred, group = vectors
    rules = [{"metric": "equal_opportunity_ratio", "min": 0.0}]
    flipped = _checks(y, y_pred, group, _section(rules=rules, favourable_label=0))
    plain = _checks(y, y_pred, group, _section(rules=rules))
    key = "equal_opportunity_ratio:group"
    assert flipped[key].value == plain[key].value
    expected = flm.equal_opportunity_ratio(y, y_pred, sensitive_features=group)
    assert flipped[key].value == pytest.approx(expected, abs=1e-12)
    assert "outcome" not in flipped[key].evidence


def test_a_favourable_label_that_is_the_positive_one_changes_nothing(
    vectors: tuple[np.ndarray[Any, Any], ...],
) -> None:
    y, y_pred, group = vectors
    same = _checks(y, y_pred, group, _section(favourable_label=1))["demographic_parity_ratio:group"]
    plain = _checks(y, y_pred, group, _section())["demographic_parity_ratio:group"]
    assert {**same.to_dict(), "duration_s": 0} == {**plain.to_dict(), "duration_s": 0}


# -- groups too small to judge ------------------------------------------------------------------


def _small_group() -> tuple[np.ndarray[Any, Any], ...]:
    # Two large groups with equal selection rates, one of 6 rows selected far more often.
    group = np.array(["a"] * 100 + ["b"] * 100 + ["c"] * 6)
    y = np.tile([0, 1], 103)
    y_pred = np.array([1] * 27 + [0] * 73 + [1] * 27 + [0] * 73 + [1] * 4 + [0] * 2)
    return y, y_pred, group


@pytest.mark.parametrize(
    ("unjudged", "status"), [("warn", "warn"), ("fail", "fail"), ("ignore", "pass")]
)
def test_unjudged_groups_are_named_and_count_as_the_policy_says(unjudged: str, status: str) -> None:
    y, y_pred, group = _small_group()
    section = _section(min_group_size=30, unjudged=unjudged)
    check = _checks(y, y_pred, group, section)["demographic_parity_ratio:group"]
    assert check.status == status
    assert check.value == pytest.approx(1.0)
    assert check.message == (
        "demographic_parity_ratio over group 1 meets ≥ 0.8; judged 2 of 3 groups; not judged "
        "(below min_group_size 30): c (6 rows)"
    )
    assert check.evidence["groups_judged"] == [["a"], ["b"]]
    assert check.evidence["groups_unjudged"] == [{"group": ["c"], "rows": 6}]


def test_a_failing_check_stays_failing_and_all_judged_says_nothing() -> None:
    y, y_pred, group = _small_group()
    judged = _checks(y, y_pred, group, _section(min_group_size=5))
    check = judged["demographic_parity_ratio:group"]
    assert check.status == "fail"  # 0.27 against 0.67 for c
    assert "judged" not in check.message
    assert len(check.evidence["groups_judged"]) == 3 and check.evidence["groups_unjudged"] == []


def test_min_judged_groups_fails_a_check_that_judged_too_few() -> None:
    y, y_pred, group = _small_group()
    section = _section(min_group_size=30, min_judged_groups=3, unjudged="ignore")
    check = _checks(y, y_pred, group, section)["demographic_parity_ratio:group"]
    assert check.status == "fail"
    assert check.message.endswith("c (6 rows); fewer than min_judged_groups 3")
    # Too few groups for a value at all: undefined becomes a failure, with no reason left.
    alone = _section(min_group_size=101, min_judged_groups=2)
    check = _checks(y, y_pred, group, alone)["demographic_parity_ratio:group"]
    assert (check.status, check.reason) == ("fail", None)
    assert "judged 0 of 3 groups" in check.message


def test_reference_group_rules_pool_every_group() -> None:
    y, y_pred, group = _small_group()
    rules = [{"metric": "disparate_impact_ratio", "min": 0.5}]
    section = _section(rules=rules, reference_groups={"group": "a"}, min_group_size=30)
    check = _checks(y, y_pred, group, section)["disparate_impact_ratio:group"]
    assert check.evidence["groups_unjudged"] == []
    assert check.status == "pass"


def test_a_reference_group_rule_names_a_pooled_side_below_min_group_size() -> None:
    # Two groups: the pool of every group but the reference is the 6-row group alone.
    y, y_pred, group = _small_group()
    keep = group != "b"
    rules = [{"metric": "disparate_impact_ratio", "min": 0.5}]
    section = _section(rules=rules, reference_groups={"group": "a"}, min_group_size=30)
    check = _checks(y[keep], y_pred[keep], group[keep], section)["disparate_impact_ratio:group"]
    assert check.evidence["groups_judged"] == [["a"]]
    assert check.evidence["groups_unjudged"] == [{"group": ["c"], "rows": 6}]
    assert check.status == "warn"  # a passing value on a side too small to judge
    assert "not judged (below min_group_size 30): c (6 rows)" in check.message
