"""Mitigated classifiers: deterministic, faithful to Fairlearn, and safe to register."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone, is_classifier
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import govml.mitigation as mitigation
from govml.errors import GovmlError, InputError
from govml.flavors import flavor_for, get_flavor
from govml.flavors.sklearn import GOVML_TYPES, TRUSTED_TYPES
from govml.metrics import demographic_parity_ratio
from govml.mitigation import (
    MitigatedClassifier,
    MixtureClassifier,
    exponentiated_gradient,
    threshold_optimized,
)

pytest.importorskip("fairlearn", reason="fitting a mitigation needs fairlearn (govml[verify])")


def _frame(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Rows where the label depends on a feature that men score higher on."""
    rng = np.random.default_rng(seed)
    sex = rng.choice(["Female", "Male"], n, p=[0.4, 0.6])
    race = rng.choice(["A", "B", "C"], n, p=[0.6, 0.3, 0.1])
    skill = rng.normal(size=n) + 0.9 * (sex == "Male")
    hours = rng.normal(40, 8, n)
    y = (skill + 0.03 * (hours - 40) + rng.normal(0, 0.8, n) > 0.7).astype(int)
    frame = pd.DataFrame({"sex": sex, "race": race, "skill": skill, "hours": hours})
    return frame, y


def _encoder() -> ColumnTransformer:
    return ColumnTransformer(
        [
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["sex", "race"]),
            ("num", StandardScaler(), ["skill", "hours"]),
        ]
    )


def _pipeline() -> Pipeline:
    return Pipeline([("encode", _encoder()), ("model", LogisticRegression(max_iter=500))])


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, np.ndarray, pd.DataFrame, np.ndarray]:
    X, y = _frame(3000, seed=1)
    X_test, y_test = _frame(1500, seed=2)
    return X, y, X_test, y_test


@pytest.fixture(scope="module")
def base(data) -> Pipeline:
    X, y, _, _ = data
    return _pipeline().fit(X, y)


@pytest.fixture(scope="module")
def thresholded(data, base) -> MitigatedClassifier:
    X, y, _, _ = data
    return threshold_optimized(base, X, y, sensitive="sex")


@pytest.fixture(scope="module")
def mixture(data) -> MixtureClassifier:
    X, y, _, _ = data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return exponentiated_gradient(_pipeline(), X, y, sensitive="sex")


def _round_trip(model: object) -> tuple[object, dict[str, object], bytes]:
    serialized = flavor_for(model).dump(model)
    loaded = get_flavor("sklearn").load(serialized.data, serialized.options)
    return loaded, serialized.options, serialized.data


def test_base_model_is_unfair_and_both_mitigations_fix_it(data, base, thresholded, mixture):
    _, _, X_test, y_test = data
    sex = X_test["sex"]
    assert demographic_parity_ratio(y_test, base.predict(X_test), sensitive_features=sex) < 0.6
    for model in (thresholded, mixture):
        ratio = demographic_parity_ratio(y_test, model.predict(X_test), sensitive_features=sex)
        assert ratio >= 0.8, type(model).__name__


@pytest.mark.parametrize("which", ["thresholded", "mixture"])
def test_round_trip_through_the_sklearn_flavor(request, data, which) -> None:
    model = request.getfixturevalue(which)
    _, _, X_test, _ = data
    loaded, options, blob = _round_trip(model)
    assert options["estimator"] == f"govml.mitigation.{type(model).__name__}"
    assert options["trusted"] == []  # allowlisted, not trusted by the registrant
    assert options["classes"] == [0, 1]
    assert loaded.has_proba
    np.testing.assert_array_equal(loaded.predict(X_test), model.predict(X_test))
    np.testing.assert_array_equal(loaded.predict_proba(X_test), model.predict_proba(X_test))
    # The content-addressed store needs equal models to give equal bytes.
    assert flavor_for(model).dump(model).data == blob


def test_predictions_are_deterministic(data, base, thresholded, mixture) -> None:
    X, y, X_test, _ = data
    for model in (thresholded, mixture):
        np.testing.assert_array_equal(model.predict(X_test), model.predict(X_test))
    again = threshold_optimized(base, X, y, sensitive="sex")
    np.testing.assert_array_equal(again.thresholds_, thresholded.thresholds_)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        refit = clone(mixture).fit(X, y)
    np.testing.assert_array_equal(refit.predict_proba(X_test), mixture.predict_proba(X_test))


def test_predict_is_the_group_threshold_rule(data, base, thresholded) -> None:
    _, _, X_test, _ = data
    scores = base.predict_proba(X_test)[:, 1]
    index = {key[0]: i for i, key in enumerate(thresholded.groups_)}
    thresholds = thresholded.thresholds_[X_test["sex"].map(index).to_numpy()]
    expected = (scores > thresholds).astype(int)
    np.testing.assert_array_equal(thresholded.predict(X_test), expected)
    proba = thresholded.predict_proba(X_test)
    np.testing.assert_array_equal(proba[:, 1] > 0.5, expected == 1)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    # Within a group the scores keep the base model's order.
    for value in ("Female", "Male"):
        rows = (X_test["sex"] == value).to_numpy()
        order = np.argsort(scores[rows], kind="stable")
        assert np.all(np.diff(proba[rows, 1][order]) >= 0)


def test_thresholds_reproduce_fairlearns_selection_rates(data, thresholded) -> None:
    X, _, _, _ = data
    chance = thresholded.randomized_proba(X)[:, 1]
    decided = thresholded.predict(X)
    for value, rows in zip(thresholded.groups_, thresholded.group_rows_, strict=True):
        member = (X["sex"] == value[0]).to_numpy()
        assert abs(decided[member].mean() - chance[member].mean()) <= 1.5 / rows


def test_randomized_proba_is_fairlearns_pmf(data, base, thresholded, mixture) -> None:
    from fairlearn.postprocessing import ThresholdOptimizer
    from fairlearn.reductions import DemographicParity, ExponentiatedGradient

    X, y, X_test, _ = data
    reference = ThresholdOptimizer(
        estimator=base,
        constraints="demographic_parity",
        objective="balanced_accuracy_score",
        prefit=True,
        predict_method="predict_proba",
    ).fit(X, y, sensitive_features=X["sex"])
    np.testing.assert_allclose(
        thresholded.randomized_proba(X_test),
        reference._pmf_predict(X_test, sensitive_features=X_test["sex"]),
        atol=1e-12,
    )
    encode = _encoder().fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        eg = ExponentiatedGradient(LogisticRegression(max_iter=500), DemographicParity())
        eg.fit(encode.transform(X), y, sensitive_features=X["sex"])
    np.testing.assert_allclose(
        mixture.randomized_proba(X_test), eg._pmf_predict(encode.transform(X_test)), atol=1e-12
    )


def test_mixture_probability_is_the_weighted_mean(data, mixture) -> None:
    _, _, X_test, _ = data
    assert mixture.weights_.sum() == pytest.approx(1.0)
    assert len(mixture.estimators_) == len(mixture.weights_) >= 1
    features = mixture.preprocessor_.transform(X_test)
    expected = sum(
        w * est.predict_proba(features)[:, 1]
        for w, est in zip(mixture.weights_, mixture.estimators_, strict=True)
    )
    np.testing.assert_allclose(mixture.predict_proba(X_test)[:, 1], expected, atol=1e-12)
    np.testing.assert_array_equal(mixture.predict(X_test), (expected > 0.5).astype(int))


def test_a_missing_sensitive_column_names_the_column(data, thresholded) -> None:
    _, _, X_test, _ = data
    without = X_test.drop(columns=["sex"])
    with pytest.raises(InputError, match="no sensitive column.*'sex'"):
        thresholded.predict(without)
    loaded, _, _ = _round_trip(thresholded)
    with pytest.raises(InputError, match="'sex'"):
        loaded.predict(without)
    with pytest.raises(InputError, match="table with named columns"):
        thresholded.predict(X_test.to_numpy())


def test_an_unseen_group_is_refused(data, thresholded) -> None:
    _, _, X_test, _ = data
    other = X_test.assign(sex=np.where(np.arange(len(X_test)) < 3, "Unknown", X_test["sex"]))
    with pytest.raises(InputError, match=r"3 row\(s\) belong to group\(s\) not seen.*Unknown"):
        thresholded.predict(other)


def test_several_sensitive_columns_form_intersectional_groups(data, base) -> None:
    X, y, X_test, _ = data
    model = threshold_optimized(base, X, y, sensitive=["sex", "race"], constraints="equalized_odds")
    assert model.sensitive_ == ("sex", "race")
    assert len(model.groups_) == 6 and ("Female", "C") in model.groups_
    assert model.group_rows_.sum() == len(X)
    loaded, _, _ = _round_trip(model)
    np.testing.assert_array_equal(loaded.predict(X_test), model.predict(X_test))
    with pytest.raises(InputError, match="'race'"):
        model.predict(X_test.drop(columns=["race"]))


def test_string_labels_are_kept(data) -> None:
    X, y, X_test, _ = data
    labels = np.where(y == 1, "grant", "deny")
    base = _pipeline().fit(X, labels)
    model = threshold_optimized(base, X, labels, sensitive="sex")
    np.testing.assert_array_equal(model.classes_, ["deny", "grant"])
    assert set(model.predict(X_test)) <= {"deny", "grant"}
    loaded, options, _ = _round_trip(model)
    assert options["classes"] == ["deny", "grant"]
    np.testing.assert_array_equal(loaded.predict(X_test), model.predict(X_test))


def test_bad_arguments_are_input_errors(data, base) -> None:
    X, y, _, _ = data
    with pytest.raises(InputError, match="unknown constraint 'parity'.*demographic_parity"):
        threshold_optimized(base, X, y, sensitive="sex", constraints="parity")
    with pytest.raises(InputError, match="unknown constraint"):
        exponentiated_gradient(LogisticRegression(), X, y, sensitive="sex", constraints="x")
    with pytest.raises(InputError, match="'gender'"):
        threshold_optimized(base, X, y, sensitive="gender")
    with pytest.raises(InputError, match="exactly two classes"):
        exponentiated_gradient(LogisticRegression(), X, np.arange(len(y)) % 3, sensitive="sex")
    with pytest.raises(InputError, match="missing values"):
        threshold_optimized(base, X.assign(sex=X["sex"].where(X.index > 0)), y, sensitive="sex")


def test_fitting_without_fairlearn_says_what_to_install(data, base, monkeypatch) -> None:
    X, y, _, _ = data
    monkeypatch.setitem(sys.modules, "fairlearn.postprocessing", None)
    with pytest.raises(GovmlError, match="needs the 'fairlearn' package") as caught:
        threshold_optimized(base, X, y, sensitive="sex")
    assert "pip install govml[verify]" in caught.value.diagnostics()


def test_registered_models_load_and_predict_without_fairlearn(
    tmp_path: Path, data, thresholded, mixture
) -> None:
    _, _, X_test, _ = data
    X_test.to_parquet(tmp_path / "rows.parquet")
    for name, model in (("thresholded", thresholded), ("mixture", mixture)):
        serialized = flavor_for(model).dump(model)
        (tmp_path / f"{name}.skops").write_bytes(serialized.data)
        np.save(tmp_path / f"{name}.npy", model.predict_proba(X_test))
    script = textwrap.dedent(
        f"""
        import sys
        sys.modules["fairlearn"] = None  # any import of fairlearn now fails
        from pathlib import Path
        import numpy as np
        import pandas as pd
        import govml.mitigation
        from govml.flavors import get_flavor
        folder = Path({str(tmp_path)!r})
        rows = pd.read_parquet(folder / "rows.parquet")
        for name in ("thresholded", "mixture"):
            loaded = get_flavor("sklearn").load((folder / f"{{name}}.skops").read_bytes(), {{}})
            expected = np.load(folder / f"{{name}}.npy")
            np.testing.assert_array_equal(loaded.predict_proba(rows), expected)
        print("ok")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_importing_govml_mitigation_does_not_import_fairlearn() -> None:
    script = (
        "import sys, govml, govml.mitigation, govml.flavors.sklearn; "
        "print(any(m == 'fairlearn' or m.startswith('fairlearn.') for m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.strip() == "False"


def test_the_classes_are_scikit_learn_classifiers(thresholded, mixture) -> None:
    for model in (thresholded, mixture):
        assert is_classifier(model)
        assert "sensitive" in model.get_params()


def test_only_the_mitigation_classes_are_trusted_from_govml() -> None:
    assert {
        "govml.mitigation.MitigatedClassifier",
        "govml.mitigation.MixtureClassifier",
    } == GOVML_TYPES
    assert not GOVML_TYPES & TRUSTED_TYPES
    for name in GOVML_TYPES:
        module, _, attribute = name.rpartition(".")
        assert module == mitigation.__name__
        assert isinstance(getattr(mitigation, attribute), type)
