"""Adult: the demo model fails demographic parity over sex; mitigated versions pass.

The base pipeline is trained on the train split; each mitigation is fitted on the train
split and every number is measured on the test split. The measured numbers are attached
to the test report (``record_property``) and printed (``pytest -s``).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

import govml
from govml.demo.adult import CATEGORICAL, NUMERIC, TARGET, load_adult
from govml.demo.run import build_pipeline
from govml.flavors import get_flavor
from govml.metrics import (
    accuracy_score,
    demographic_parity_difference,
    demographic_parity_ratio,
    roc_auc_score,
)
from govml.mitigation import (
    MitigatedClassifier,
    MixtureClassifier,
    exponentiated_gradient,
    threshold_optimized,
)

pytest.importorskip("fairlearn", reason="fitting a mitigation needs fairlearn (govml[verify])")
pytestmark = [pytest.mark.datasets, pytest.mark.slow]

FEATURES = CATEGORICAL + NUMERIC
MIN_RATIO = 0.8  # the demographic_parity_ratio rule of examples/policies/credit-high-risk.yaml


@pytest.fixture(scope="module")
def adult(shared_datasets: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    return load_adult("train", shared_datasets), load_adult("test", shared_datasets)


@pytest.fixture(scope="module")
def base(adult) -> Pipeline:
    train, _ = adult
    return build_pipeline().fit(train[FEATURES], train[TARGET])


@pytest.fixture(scope="module")
def thresholded(adult, base) -> MitigatedClassifier:
    train, _ = adult
    return threshold_optimized(base, train[FEATURES], train[TARGET], sensitive="sex")


@pytest.fixture(scope="module")
def mixture(adult) -> MixtureClassifier:
    train, _ = adult
    # Fairlearn refits the final step up to 50 times with sample weights: the encoder
    # of the demo pipeline is fitted once, and a logistic regression is mitigated.
    encode = build_pipeline().named_steps["encode"]
    template = Pipeline([("encode", encode), ("model", LogisticRegression(tol=1e-3))])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return exponentiated_gradient(template, train[FEATURES], train[TARGET], sensitive="sex")


def _measure(model: Any, test: pd.DataFrame) -> dict[str, float]:
    y = test[TARGET].to_numpy()
    decided = model.predict(test[FEATURES])
    scores = model.predict_proba(test[FEATURES])[:, 1]
    return {
        "accuracy": accuracy_score(y, decided),
        "roc_auc": roc_auc_score(y, scores),
        "dp_ratio_sex": demographic_parity_ratio(y, decided, sensitive_features=test["sex"]),
        "dp_difference_sex": demographic_parity_difference(
            y, decided, sensitive_features=test["sex"]
        ),
    }


def _report(record_property: Any, name: str, numbers: dict[str, float]) -> None:
    for key, value in numbers.items():
        record_property(f"{name}.{key}", round(value, 4))
    shown = ", ".join(f"{key} {value:.4f}" for key, value in numbers.items())
    print(f"{name}: {shown}")


def test_the_base_model_fails_demographic_parity(adult, base, record_property) -> None:
    _, test = adult
    numbers = _measure(base, test)
    _report(record_property, "base", numbers)
    assert numbers["dp_ratio_sex"] < MIN_RATIO
    assert numbers["roc_auc"] > 0.9


@pytest.mark.parametrize("which", ["thresholded", "mixture"])
def test_a_mitigated_model_passes_and_costs_little_accuracy(
    request, adult, base, which, record_property
) -> None:
    _, test = adult
    model = request.getfixturevalue(which)
    before = _measure(base, test)
    after = _measure(model, test)
    drop = before["accuracy"] - after["accuracy"]
    _report(record_property, which, {**after, "accuracy_drop": drop})
    assert after["dp_ratio_sex"] >= MIN_RATIO
    assert drop < 0.08
    assert after["roc_auc"] > 0.85


def test_govml_agrees_with_fairlearn_on_the_mitigated_ratio(adult, thresholded) -> None:
    from fairlearn.metrics import demographic_parity_ratio as fairlearn_ratio

    _, test = adult
    decided = thresholded.predict(test[FEATURES])
    ours = demographic_parity_ratio(test[TARGET], decided, sensitive_features=test["sex"])
    theirs = fairlearn_ratio(test[TARGET], decided, sensitive_features=test["sex"])
    assert ours == pytest.approx(theirs, abs=1e-12)


def test_mitigated_models_register_as_new_versions(
    tmp_path: Path, adult, base, thresholded, mixture
) -> None:
    _, test = adult
    rows = test[FEATURES]
    home = tmp_path / "home"
    url = f"sqlite:///{home / 'govml.db'}"
    with govml.connect(home, database_url=url, user="alice", create=True) as client:
        client.create_model("adult-income", risk_tier="high")
        versions = [
            client.register_version("adult-income", model=model, description=text)
            for model, text in (
                (base, "gradient-boosted trees"),
                (thresholded, "ThresholdOptimizer, demographic parity over sex"),
                (mixture, "ExponentiatedGradient, demographic parity over sex"),
            )
        ]
        assert [v.version for v in versions] == [1, 2, 3]
        for version, model in zip(versions[1:], (thresholded, mixture), strict=True):
            assert version.flavor == "sklearn"
            assert version.flavor_options["trusted"] == []
            loaded = client.load_model(version.ref)
            np.testing.assert_array_equal(loaded.predict(rows), model.predict(rows))
            np.testing.assert_array_equal(loaded.predict_proba(rows), model.predict_proba(rows))
        assert client.verify_ledger().versions == 3


def test_the_flavor_round_trip_is_exact_on_adult(adult, thresholded) -> None:
    _, test = adult
    flavor = get_flavor("sklearn")
    serialized = flavor.dump(thresholded)
    loaded = flavor.load(serialized.data, serialized.options)
    np.testing.assert_array_equal(
        loaded.predict(test[FEATURES]), thresholded.predict(test[FEATURES])
    )
