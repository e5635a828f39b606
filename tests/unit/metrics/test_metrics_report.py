"""The rich fairness report: values where defined, reasons where not, sections, evidence."""

from __future__ import annotations

import json

import fairlearn.metrics as flm
import numpy as np
import pytest

from govml.metrics import (
    BinaryConfusion,
    MetricResult,
    binary_confusion,
    fairness_report,
    group_results,
    report_from_stats,
)
from govml.metrics._registry import NO_ACTUAL_POSITIVES, NO_PREDICTED_POSITIVES
from govml.metrics.results import GROUP_UNDEFINED, SMALL_GROUP, TOO_FEW_GROUPS

pytestmark = pytest.mark.filterwarnings("ignore")


def _data(seed: int = 0, n: int = 400) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "y": rng.integers(0, 2, n),
        "p": rng.integers(0, 2, n),
        "sex": rng.choice(["F", "M"], n),
        "race": rng.choice(["a", "b", "c"], n),
    }


def test_defined_values_equal_fairlearn() -> None:
    d = _data()
    features = {"sex": d["sex"], "race": d["race"]}
    report = fairness_report(d["y"], d["p"], sensitive_features=features)
    both = report.section("sex", "race")
    for name, method in [
        ("demographic_parity_difference", "between_groups"),
        ("equalized_odds_ratio", "to_overall"),
    ]:
        label = name if method == "between_groups" else f"{name}_to_overall"
        expected = getattr(flm, name)(d["y"], d["p"], sensitive_features=features, method=method)
        assert both.disparities[label].value == pytest.approx(expected, abs=1e-12)
    sex_only = report.section("sex")
    expected = flm.equal_opportunity_difference(d["y"], d["p"], sensitive_features=d["sex"])
    assert sex_only.disparities["equal_opportunity_difference"].value == pytest.approx(
        expected, abs=1e-12
    )
    assert [s.features for s in report.sections] == [("sex",), ("race",), ("sex", "race")]


def test_group_without_positives_is_undefined_and_so_are_its_disparities() -> None:
    y = [1, 1, 0, 0, 0, 0]
    p = [1, 0, 0, 1, 0, 0]
    g = ["a", "a", "a", "b", "b", "b"]
    report = fairness_report(y, p, sensitive_features={"g": g})
    section = report.section("g")
    tpr_b = section.by_group["true_positive_rate"][1]
    assert tpr_b.undefined and tpr_b.reason == NO_ACTUAL_POSITIVES and tpr_b.group == ("b",)
    eod = section.disparities["equal_opportunity_difference"]
    assert eod.reason == GROUP_UNDEFINED.format(
        metric="recall", group="g=b", reason=NO_ACTUAL_POSITIVES
    )
    # Fairlearn gives a number here (TPR 0.0 for b); the report refuses to
    assert flm.equal_opportunity_difference(y, p, sensitive_features=g) == 0.5
    assert section.disparities["demographic_parity_difference"].value == pytest.approx(
        1 / 3 - 1 / 3 + 0.0
    )


def test_nobody_selected_gives_undefined_ratio_and_zero_difference() -> None:
    report = fairness_report(
        [1, 0, 1, 0], [0, 0, 0, 0], sensitive_features={"g": ["a", "a", "b", "b"]}
    )
    section = report.section("g")
    assert section.disparities["demographic_parity_difference"].value == 0.0
    ratio = section.disparities["demographic_parity_ratio"]
    assert ratio.undefined and "is 0" in (ratio.reason or "")
    assert section.by_group["precision"][0].reason == NO_PREDICTED_POSITIVES


def test_small_groups_are_undefined_and_left_out_of_disparities() -> None:
    d = _data(n=200)
    race = d["race"].astype(object)
    race[:5] = "tiny"
    report = fairness_report(d["y"], d["p"], sensitive_features={"race": race}, min_group_size=30)
    section = report.section("race")
    tiny = section.groups.index(("tiny",))
    result = section.by_group["selection_rate"][tiny]
    assert result.reason == SMALL_GROUP.format(n=5, minimum=30)
    others = race != "tiny"
    expected = flm.demographic_parity_difference(
        d["y"][others], d["p"][others], sensitive_features=race[others]
    )
    assert section.disparities["demographic_parity_difference"].value == pytest.approx(
        expected, abs=1e-12
    )
    lonely = fairness_report(d["y"], d["p"], sensitive_features={"race": race}, min_group_size=150)
    dpd = lonely.section("race").disparities["demographic_parity_difference"]
    assert dpd.reason == TOO_FEW_GROUPS.format(count=0, total=4)


def test_missing_values_can_be_their_own_group() -> None:
    d = _data(n=50)
    sex = d["sex"].astype(object)
    sex[:3] = None
    report = fairness_report(d["y"], d["p"], sensitive_features={"sex": sex}, missing="group")
    assert report.section("sex").groups[-1] == (None,)
    assert report.section("sex").rows[-1] == 3


def test_report_is_json_and_recomputable_from_its_statistics() -> None:
    d = _data()
    report = fairness_report(
        d["y"],
        d["p"],
        sensitive_features={"sex": d["sex"], "race": d["race"]},
        privileged={"sex": "M", "race": "a"},
        n_boot=100,
        random_state=1,
    )
    text = json.dumps(report.to_dict())
    stored = json.loads(text)
    again = report_from_stats(
        BinaryConfusion.from_dict(stored["statistics"]),
        **{k: v for k, v in stored["options"].items() if k != "metrics"},
        metrics=stored["options"]["metrics"],
    )
    assert json.dumps(again.to_dict()) == text
    reference = report.section("sex", "race").reference
    assert set(reference) >= {
        "statistical_parity_difference",
        "disparate_impact_ratio",
        "average_odds_difference",
    }
    round_tripped = MetricResult.from_dict(
        stored["sections"][0]["disparities"]["demographic_parity_difference"]
    )
    assert round_tripped == report.sections[0].disparities["demographic_parity_difference"]


def test_group_results_from_stored_statistics() -> None:
    stats = binary_confusion([1, 1, 0, 0], [1, 0, 0, 0], sensitive_features=["a", "a", "b", "b"])
    results = group_results(stats, "true_positive_rate", min_group_size=1)
    assert [r.value for r in results] == [0.5, None]
    assert results[1].reason == NO_ACTUAL_POSITIVES


def test_inequality_indices_are_reported() -> None:
    report = fairness_report(
        [1, 1, 0, 0], [1, 0, 1, 0], sensitive_features={"g": ["a", "a", "b", "b"]}
    )
    assert report.inequality["generalized_entropy_error"].value == pytest.approx(0.25)
    all_missed = fairness_report([1, 1], [0, 0], sensitive_features={"g": ["a", "b"]})
    assert all_missed.inequality["theil_index"].undefined
