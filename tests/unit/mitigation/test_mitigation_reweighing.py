"""Reweighing: AIF360's weights on shared data, independence, and bad input refused."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.integration.test_evaluate_bad_data import load_german

from govml.errors import InputError
from govml.mitigation import reweighing
from govml.mitigation.preprocessing import ERR_LENGTHS, ERR_MISSING_GROUP, ERR_WEIGHTS

logging.getLogger().setLevel(logging.ERROR)  # AIF360 logs its optional extras at import
aif360_sklearn = pytest.importorskip("aif360.sklearn.preprocessing")


def _aif360_sklearn(frame: pd.DataFrame, y: np.ndarray, columns: list[str], weights=None):
    indexed = frame.set_index(columns, drop=False)
    _, out = aif360_sklearn.Reweighing(prot_attr=columns).fit_transform(
        indexed, pd.Series(y, index=indexed.index), sample_weight=weights
    )
    return np.asarray(out)


def _synthetic(n: int = 3000, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "sex": rng.choice(["f", "m"], n, p=[0.35, 0.65]),
            "race": rng.choice(["a", "b", "c"], n, p=[0.7, 0.2, 0.1]),
        }
    )
    y = (rng.random(n) < np.where(frame["sex"] == "m", 0.45, 0.2)).astype(int)
    weights = rng.uniform(0.5, 2.0, n)
    return frame, y, weights


@pytest.mark.parametrize("columns", [["sex"], ["sex", "race"]])
@pytest.mark.parametrize("weighted", [False, True])
def test_the_weights_are_aif360s(columns: list[str], weighted: bool) -> None:
    frame, y, weights = _synthetic()
    given_weights = weights if weighted else None
    ours = reweighing(y, sensitive_features=frame[columns], sample_weight=given_weights)
    theirs = _aif360_sklearn(frame, y, columns, given_weights)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)


def test_the_weights_are_aif360s_classic_reweighing_on_a_binary_split() -> None:
    from aif360.algorithms.preprocessing import Reweighing
    from aif360.datasets import BinaryLabelDataset

    frame, y, weights = _synthetic(seed=4)
    data = pd.DataFrame({"male": (frame["sex"] == "m").astype(float), "label": y.astype(float)})
    dataset = BinaryLabelDataset(
        df=data,
        label_names=["label"],
        protected_attribute_names=["male"],
        favorable_label=1.0,
        unfavorable_label=0.0,
    )
    dataset.instance_weights = weights.copy()
    transformed = Reweighing(
        unprivileged_groups=[{"male": 0.0}], privileged_groups=[{"male": 1.0}]
    ).fit_transform(dataset)
    ours = reweighing(y, sensitive_features=frame["sex"], sample_weight=weights)
    np.testing.assert_allclose(ours, transformed.instance_weights, rtol=1e-12)


def test_german_credit_weights_are_aif360s(shared_datasets: Path) -> None:
    frame = load_german(shared_datasets)
    columns = ["sex", "age_group"]
    y = frame["default"].to_numpy()
    ours = reweighing(y, sensitive_features=frame[columns])
    np.testing.assert_allclose(ours, _aif360_sklearn(frame, y, columns), rtol=1e-12)
    # Under the weights, every group has the overall default rate.
    for _, rows in frame.groupby(columns).groups.items():
        share = np.average(y[rows], weights=ours[rows])
        assert share == pytest.approx(y.mean(), abs=1e-12)


@settings(max_examples=60, deadline=None)
@given(
    groups=st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=60),
    labels=st.lists(st.sampled_from([0, 1, 2]), min_size=60, max_size=60),
)
def test_labels_are_independent_of_groups_under_the_weights(
    groups: list[str], labels: list[int]
) -> None:
    y = np.asarray(labels[: len(groups)])
    weights = reweighing(y, sensitive_features=np.asarray(groups))
    g = np.asarray(groups)
    every_cell = len(set(zip(groups, y.tolist(), strict=True))) == len(set(groups)) * len(set(y))
    if every_cell:
        assert weights.sum() == pytest.approx(len(y))
    for group in set(groups):
        for label in set(labels[: len(groups)]):
            joint = weights[(g == group) & (y == label)].sum() / len(y)
            if joint:
                expected = np.mean(g == group) * np.mean(y == label)
                assert joint == pytest.approx(expected, rel=1e-9)


def test_bad_input_is_refused_with_the_reason() -> None:
    with pytest.raises(InputError) as caught:
        reweighing([0, 1, 1], sensitive_features=["a", "b"])
    assert caught.value.message == ERR_LENGTHS.format(labels=3, groups=2)
    with pytest.raises(InputError) as caught:
        reweighing([0, 1], sensitive_features=["a", None])
    assert caught.value.message == ERR_MISSING_GROUP.format(count=1)
    for weights in ([1.0, -1.0], [np.nan, 1.0], [0.0, 0.0], [1.0]):
        with pytest.raises(InputError) as caught:
            reweighing([0, 1], sensitive_features=["a", "b"], sample_weight=weights)
        assert caught.value.message == ERR_WEIGHTS
