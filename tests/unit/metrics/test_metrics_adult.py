"""UCI Adult: a real model's per-group report for sex, race and sex x race equals Fairlearn."""

from __future__ import annotations

from typing import Any

import fairlearn.metrics as flm
import numpy as np
import pandas as pd
import pytest
import sklearn.metrics as skm
from sklearn.compose import make_column_transformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from govml.demo.adult import CATEGORICAL, NUMERIC, TARGET, datasets_dir, load_adult
from govml.metrics import MetricFrame, fairness_report

pytestmark = [pytest.mark.datasets, pytest.mark.filterwarnings("ignore")]
FEATURES = {"sex": ["sex"], "race": ["race"], "sex x race": ["sex", "race"]}


@pytest.fixture(scope="module")
def predictions() -> dict[str, Any]:
    folder = datasets_dir() / "adult"
    if not (folder / "adult-train.csv").is_file() or not (folder / "adult-test.csv").is_file():
        pytest.skip(f"Adult data not found in {folder} (set GOVML_DATASETS)")
    train, test = load_adult("train"), load_adult("test")
    features = [*NUMERIC, *CATEGORICAL]
    linear = make_pipeline(
        make_column_transformer(
            (StandardScaler(), NUMERIC),
            (OneHotEncoder(handle_unknown="ignore"), CATEGORICAL),
        ),
        LogisticRegression(max_iter=300),
    )
    boosted = HistGradientBoostingClassifier(
        max_iter=60, categorical_features="from_dtype", random_state=0
    )
    as_category = {c: "category" for c in CATEGORICAL}
    linear.fit(train[features].fillna("missing"), train[TARGET])
    boosted.fit(train[features].astype(as_category), train[TARGET])
    return {
        "test": test,
        "linear": linear.predict(test[features].fillna("missing")),
        "boosted": boosted.predict(test[features].astype(as_category)),
        "boosted_score": boosted.predict_proba(test[features].astype(as_category))[:, 1],
    }


@pytest.mark.parametrize("model", ["linear", "boosted"])
@pytest.mark.parametrize("grouping", sorted(FEATURES))
def test_per_group_rates_equal_fairlearn(
    predictions: dict[str, Any], model: str, grouping: str
) -> None:
    test, y_pred = predictions["test"], predictions[model]
    sensitive = test[FEATURES[grouping]]
    ours = MetricFrame(
        metrics={
            "selection_rate": "selection_rate",
            "tpr": "true_positive_rate",
            "fpr": "false_positive_rate",
            "accuracy": "accuracy",
        },
        y_true=test[TARGET],
        y_pred=y_pred,
        sensitive_features=sensitive,
    )
    theirs = flm.MetricFrame(
        metrics={
            "selection_rate": flm.selection_rate,
            "tpr": flm.true_positive_rate,
            "fpr": flm.false_positive_rate,
            "accuracy": skm.accuracy_score,
        },
        y_true=test[TARGET],
        y_pred=y_pred,
        sensitive_features=sensitive,
    )
    pd.testing.assert_frame_equal(
        ours.by_group, theirs.by_group, check_dtype=False, rtol=1e-12, atol=1e-12
    )
    for method in ("between_groups", "to_overall"):
        pd.testing.assert_series_equal(
            ours.difference(method=method), theirs.difference(method=method), rtol=1e-12, atol=1e-12
        )
        pd.testing.assert_series_equal(
            ours.ratio(method=method), theirs.ratio(method=method), rtol=1e-12, atol=1e-12
        )
    kwargs = {"sensitive_features": sensitive}
    assert ours.difference()["selection_rate"] == pytest.approx(
        flm.demographic_parity_difference(test[TARGET], y_pred, **kwargs), abs=1e-12
    )


def test_report_matches_fairlearn_and_auc_by_group(predictions: dict[str, Any]) -> None:
    test = predictions["test"]
    y, y_pred = test[TARGET], predictions["boosted"]
    report = fairness_report(y, y_pred, sensitive_features=test[["sex", "race"]], min_group_size=30)
    section = report.section("sex", "race")
    theirs = flm.MetricFrame(
        metrics=flm.true_positive_rate,
        y_true=y,
        y_pred=y_pred,
        sensitive_features=test[["sex", "race"]],
    ).by_group
    for key, result in zip(section.groups, section.by_group["true_positive_rate"], strict=True):
        if result.value is not None:
            assert result.value == pytest.approx(theirs.loc[key], abs=1e-12)
        else:  # only groups below min_group_size are undefined here
            assert "min_group_size" in (result.reason or "")
    scores = MetricFrame(
        metrics="roc_auc",
        y_true=y,
        y_pred=predictions["boosted_score"],
        sensitive_features=test["sex"],
    )
    for sex in ("Female", "Male"):
        mask = (test["sex"] == sex).to_numpy()
        expected = skm.roc_auc_score(y[mask], predictions["boosted_score"][mask])
        assert scores.by_group.loc[sex] == pytest.approx(expected, abs=1e-12)
    assert np.isfinite(report.section("sex").disparities["equalized_odds_difference"].value)  # type: ignore[arg-type]
