"""Statistics builders: input types, JSON round trips, and merge == build on the union."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from govml.metrics import (
    BinaryConfusion,
    MetricInputError,
    MulticlassConfusion,
    RegressionMoments,
    ScoreHistogram,
    ScoreSamples,
    binary_confusion,
    multiclass_confusion,
    regression_moments,
    score_histogram,
    score_samples,
)
from govml.metrics._confusion import POS_LABEL_DIFFERS
from govml.metrics._groups import FEATURES_DIFFER, MISSING_SENSITIVE
from govml.metrics._scores import EDGES_DIFFER

SEX = ["F", "F", "M", "M", "M", "X"]
RACE = ["a", "b", "a", "a", "b", "b"]
Y = [1, 0, 1, 1, 0, 0]
P = [1, 1, 0, 1, 0, 1]


@st.composite
def datasets(draw: Any, *, labels: int = 2, weighted: bool | None = None) -> dict[str, Any]:
    n = draw(st.integers(2, 60))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if weighted is None:
        weighted = draw(st.booleans())
    return {
        "sex": rng.choice(["F", "M", "X"], n),
        "race": rng.choice([1, 2, 3, 4], n),
        "y": rng.integers(0, labels, n),
        "p": rng.integers(0, labels, n),
        "score": np.round(rng.random(n), draw(st.integers(1, 3))),
        "value": rng.normal(5, 2, n),
        "w": rng.uniform(0.1, 5, n) if weighted else None,
        "split": draw(st.integers(1, n - 1)),
    }


def _features(d: dict[str, Any], rows: slice) -> dict[str, Any]:
    return {"sex": d["sex"][rows], "race": d["race"][rows]}


def _weight(d: dict[str, Any], rows: slice) -> Any:
    return None if d["w"] is None else d["w"][rows]


def _assert_same(a: Any, b: Any) -> None:
    """Counts equal exactly; float sums to 1e-9 relative."""
    assert a.groups == b.groups
    da, db = a.to_dict(), b.to_dict()
    assert da.keys() == db.keys()
    for key in da:
        if key in ("count", "n", "groups", "kind", "pos_label", "labels", "edges", "cells"):
            assert da[key] == db[key], key
        elif da[key] is None:
            assert db[key] is None
        else:
            np.testing.assert_allclose(
                np.asarray(da[key]), np.asarray(db[key]), rtol=1e-9, atol=1e-9
            )


def _round_trip(stats: Any) -> Any:
    return type(stats).from_dict(json.loads(json.dumps(stats.to_dict())))


BUILDERS = {
    "binary": lambda d, r: binary_confusion(
        d["y"][r], d["p"][r], sensitive_features=_features(d, r), sample_weight=_weight(d, r)
    ),
    "multiclass": lambda d, r: multiclass_confusion(
        d["y"][r], d["p"][r], sensitive_features=_features(d, r), sample_weight=_weight(d, r)
    ),
    "regression": lambda d, r: regression_moments(
        d["value"][r],
        d["value"][r] + d["score"][r],
        sensitive_features=_features(d, r),
        sample_weight=_weight(d, r),
    ),
    "samples": lambda d, r: score_samples(
        d["y"][r], d["score"][r], sensitive_features=_features(d, r), sample_weight=_weight(d, r)
    ),
    "histogram": lambda d, r: score_histogram(
        d["y"][r],
        d["score"][r],
        sensitive_features=_features(d, r),
        sample_weight=_weight(d, r),
        bins=50,
    ),
}


@pytest.mark.parametrize("kind", sorted(BUILDERS))
@given(data=datasets())
@settings(max_examples=40, deadline=None)
def test_merge_of_parts_equals_stats_of_union(kind: str, data: dict[str, Any]) -> None:
    build = BUILDERS[kind]
    cut = data["split"]
    whole = build(data, slice(None))
    merged = build(data, slice(None, cut)).merge(build(data, slice(cut, None)))
    if kind == "samples":  # row order differs after a merge; compare the rows as a set
        order_a = np.lexsort((whole.scores, whole.codes))
        order_b = np.lexsort((merged.scores, merged.codes))
        assert whole.groups == merged.groups
        np.testing.assert_array_equal(whole.codes[order_a], merged.codes[order_b])
        np.testing.assert_array_equal(whole.scores[order_a], merged.scores[order_b])
        return
    _assert_same(whole, merged)


@pytest.mark.parametrize("kind", sorted(BUILDERS))
@given(data=datasets())
@settings(max_examples=20, deadline=None)
def test_json_round_trip_is_exact(kind: str, data: dict[str, Any]) -> None:
    stats = BUILDERS[kind](data, slice(None))
    again = _round_trip(stats)
    assert again.to_dict() == stats.to_dict()


@given(data=datasets(labels=4))
@settings(max_examples=30, deadline=None)
def test_multiclass_merge_aligns_labels_seen_in_one_part_only(data: dict[str, Any]) -> None:
    cut = data["split"]
    whole = BUILDERS["multiclass"](data, slice(None))
    merged = BUILDERS["multiclass"](data, slice(None, cut)).merge(
        BUILDERS["multiclass"](data, slice(cut, None))
    )
    _assert_same(whole, merged)


@given(data=datasets())
@settings(max_examples=30, deadline=None)
def test_marginal_equals_stats_built_on_that_feature(data: dict[str, Any]) -> None:
    both = BUILDERS["binary"](data, slice(None))
    alone = binary_confusion(
        data["y"], data["p"], sensitive_features={"race": data["race"]}, sample_weight=data["w"]
    )
    _assert_same(both.marginal(["race"]), alone)
    moments = BUILDERS["regression"](data, slice(None))
    regression_alone = regression_moments(
        data["value"],
        data["value"] + data["score"],
        sensitive_features={"race": data["race"]},
        sample_weight=data["w"],
    )
    _assert_same(moments.marginal(["race"]), regression_alone)


def test_binary_cells_hold_weighted_and_row_counts() -> None:
    w = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    stats = binary_confusion(Y, P, sensitive_features=SEX, sample_weight=w)
    assert stats.groups.keys == (("F",), ("M",), ("X",))
    # F: (y=1,p=1) w1 and (y=0,p=1) w2; M: TN? (1,0) w3, (1,1) w4, (0,0) w5; X: (0,1) w6
    np.testing.assert_array_equal(stats.weight[0], [[0, 2], [0, 1]])
    np.testing.assert_array_equal(stats.weight[1], [[5, 0], [3, 4]])
    np.testing.assert_array_equal(stats.weight[2], [[0, 6], [0, 0]])
    np.testing.assert_array_equal(stats.count.sum(axis=(1, 2)), [2, 3, 1])


@pytest.mark.parametrize(
    "features",
    [
        np.array(SEX),
        pd.Series(SEX, name="sex"),
        pd.Series(SEX, name="sex", dtype="category"),
        pd.Series(SEX, name="sex", dtype="string"),
        pl.Series("sex", SEX),
        pl.Series("sex", SEX, dtype=pl.Categorical),
        pa.array(SEX),
        pa.chunked_array([SEX[:2], SEX[2:]]),
        SEX,
    ],
    ids=lambda f: type(f).__name__ + str(getattr(f, "dtype", "")),
)
def test_every_input_type_gives_the_same_counts(features: Any) -> None:
    stats = binary_confusion(pl.Series(Y), pa.array(P), sensitive_features=features)
    reference = binary_confusion(np.array(Y), np.array(P), sensitive_features=np.array(SEX))
    assert [k for k in stats.groups.keys] == [k for k in reference.groups.keys]
    np.testing.assert_array_equal(stats.count, reference.count)


@pytest.mark.parametrize(
    "features",
    [
        pd.DataFrame({"sex": SEX, "race": RACE}),
        pl.DataFrame({"sex": SEX, "race": RACE}),
        pa.table({"sex": SEX, "race": RACE}),
        {"sex": SEX, "race": RACE},
    ],
    ids=lambda f: type(f).__name__,
)
def test_several_features_give_observed_intersections(features: Any) -> None:
    stats = binary_confusion(Y, P, sensitive_features=features)
    assert stats.groups.names == ("sex", "race")
    # X only has race b; combinations nobody has are absent
    assert stats.groups.keys == (("F", "a"), ("F", "b"), ("M", "a"), ("M", "b"), ("X", "b"))


def test_unnamed_features_are_named_like_fairlearn() -> None:
    two = np.column_stack([SEX, RACE])
    assert binary_confusion(Y, P, sensitive_features=two).groups.names == (
        "sensitive_feature_0",
        "sensitive_feature_1",
    )
    assert binary_confusion(Y, P, sensitive_features=SEX).groups.names == ("sensitive_feature_0",)


def test_numbers_sort_numerically_and_missing_group_comes_last() -> None:
    stats = binary_confusion(Y, P, sensitive_features=[10, 9, None, 10, 9, 100], missing="group")
    assert stats.groups.keys == ((9,), (10,), (100,), (None,))


def test_missing_sensitive_value_is_an_error_by_default() -> None:
    with pytest.raises(MetricInputError) as info:
        binary_confusion(
            Y, P, sensitive_features=pd.Series(["F", None, "M", "M", np.nan, "X"], name="sex")
        )
    assert info.value.message == MISSING_SENSITIVE.format(name="sex", count=2)
    assert "missing='group'" in (info.value.hint or "")


@pytest.mark.parametrize(
    "column",
    [
        pd.Series(["F", None, "M", "M", np.nan, "X"]),
        pl.Series(["F", None, "M", "M", None, "X"]),
        pa.array(["F", None, "M", "M", None, "X"]),
        np.array([1.0, np.nan, 2.0, 2.0, np.nan, 3.0]),
        pd.array([1, None, 2, 2, None, 3], dtype="Int64"),
    ],
    ids=lambda c: type(c).__name__,
)
def test_missing_values_can_form_their_own_group(column: Any) -> None:
    stats = binary_confusion(Y, P, sensitive_features=column, missing="group")
    assert stats.groups.keys[-1] == (None,)
    assert stats.count[-1].sum() == 2


def test_merge_refuses_different_pos_label_features_and_edges() -> None:
    a = binary_confusion(Y, P, sensitive_features=SEX)
    b = binary_confusion(
        [2 - v for v in Y], [2 - v for v in P], sensitive_features=SEX, pos_label=2
    )
    with pytest.raises(MetricInputError) as info:
        a.merge(b)
    assert info.value.message == POS_LABEL_DIFFERS.format(first=1, second=2)
    c = binary_confusion(Y, P, sensitive_features={"race": RACE})
    with pytest.raises(MetricInputError) as info:
        a.merge(c)
    assert info.value.message == FEATURES_DIFFER.format(
        first=["sensitive_feature_0"], second=["race"]
    )
    h1 = score_histogram(Y, [0.1, 0.2, 0.3, 0.4, 0.5, 0.6], sensitive_features=SEX, bins=10)
    h2 = score_histogram(Y, [0.1, 0.2, 0.3, 0.4, 0.5, 0.6], sensitive_features=SEX, bins=20)
    with pytest.raises(MetricInputError) as info:
        h1.merge(h2)
    assert info.value.message == EDGES_DIFFER
    with pytest.raises(MetricInputError, match="expected statistics of kind"):
        a.merge(h1)  # type: ignore[arg-type]


def test_from_dict_refuses_another_kind_and_bad_shapes() -> None:
    data = binary_confusion(Y, P, sensitive_features=SEX).to_dict()
    with pytest.raises(MetricInputError, match="expected statistics of kind"):
        MulticlassConfusion.from_dict(data)
    data["count"] = data["count"][:2]
    with pytest.raises(MetricInputError, match="shape"):
        BinaryConfusion.from_dict(data)


def test_histogram_is_sparse_in_json_and_keeps_loss_sums() -> None:
    hist = score_histogram(Y, [0.1, 0.2, 0.3, 0.4, 0.5, 0.6], sensitive_features=SEX)
    data = hist.to_dict()
    assert len(data["weight"]) == 6  # six non-empty cells out of 3 x 2 x 10,000
    assert isinstance(ScoreHistogram.from_dict(data), ScoreHistogram)
    wide = score_histogram(Y, [-1.0, 0.2, 0.3, 0.4, 0.5, 2.0], edges=[-1, 0, 1, 2])
    assert wide.loss_sums() is None  # scores outside [0, 1] are not probabilities


def test_samples_and_moments_types() -> None:
    assert isinstance(score_samples(Y, [0.1] * 6), ScoreSamples)
    assert isinstance(regression_moments([1.0, 2.0], [1.5, 2.5]), RegressionMoments)
