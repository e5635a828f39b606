"""govml.metrics as a drop-in for fairlearn.metrics: the same names, signatures and numbers.

Every comparison runs Fairlearn itself on the same vectors and checks govml's answer,
pandas index and column names included.
"""

from __future__ import annotations

import functools
import inspect
import warnings
from typing import Any

import fairlearn.metrics as flm
import numpy as np
import pandas as pd
import pytest
import sklearn.metrics as skm
from hypothesis import given, settings
from hypothesis import strategies as st

import govml.metrics as gm
from govml.metrics import MetricInputError

RNG = np.random.default_rng(7)
N = 400
Y = RNG.integers(0, 2, N)
P = RNG.integers(0, 2, N)
SCORE = np.clip(Y * 0.3 + RNG.random(N) * 0.7, 0.01, 0.99)
W = RNG.random(N) + 0.1
SEX = pd.Series(RNG.choice(["f", "m"], N), name="sex")
RACE = pd.Series(RNG.choice(["a", "b", "c"], N), name="race")
REGION = pd.Series(RNG.choice(["north", "south"], N), name="region")


def _quiet(function: Any, *args: Any, **kwargs: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return function(*args, **kwargs)


def _equal(ours: Any, theirs: Any) -> None:
    if isinstance(theirs, pd.DataFrame):
        pd.testing.assert_frame_equal(ours, theirs, check_dtype=False, atol=1e-12)
    elif isinstance(theirs, pd.Series):
        pd.testing.assert_series_equal(ours, theirs, check_dtype=False, atol=1e-12)
    elif isinstance(theirs, float) and np.isnan(theirs):
        assert np.isnan(ours)
    else:
        assert ours == pytest.approx(theirs, abs=1e-12)


# -- the public surface -------------------------------------------------------------------


def test_every_fairlearn_name_is_exported_with_its_signature() -> None:
    for name in flm.__all__:
        assert hasattr(gm, name), name
        theirs, ours = getattr(flm, name), getattr(gm, name)
        if name.endswith(("_difference", "_ratio", "_group_min", "_group_max")) and not (
            name.startswith(("demographic", "equal"))
        ):
            continue  # generated: Fairlearn's are callable objects, checked by their results
        expected = inspect.signature(theirs).parameters
        actual = inspect.signature(ours).parameters
        for parameter in expected.values():
            assert parameter.name in actual, f"{name} lacks {parameter.name}"
            mine = actual[parameter.name]
            assert mine.kind == parameter.kind, f"{name}({parameter.name}) kind"
            assert mine.default == parameter.default, f"{name}({parameter.name}) default"
    assert len(gm._generated_metric_dict) == len(flm._generated_metric_dict) == 25


@pytest.mark.parametrize("name", sorted(flm._generated_metric_dict))
def test_generated_metrics_equal_fairlearn(name: str) -> None:
    pred = SCORE if name.startswith(("roc_auc", "log_loss")) else P
    for kwargs in ({}, {"sample_weight": W}):
        theirs = _quiet(getattr(flm, name), Y, pred, sensitive_features=RACE, **kwargs)
        ours = _quiet(getattr(gm, name), Y, pred, sensitive_features=RACE, **kwargs)
        _equal(ours, theirs)
    if name.endswith(("difference", "ratio")):
        theirs = getattr(flm, name)(Y, pred, sensitive_features=SEX, method="to_overall")
        _equal(getattr(gm, name)(Y, pred, sensitive_features=SEX, method="to_overall"), theirs)


def test_make_derived_metric_binds_options_and_aggregates() -> None:
    theirs = flm.make_derived_metric(metric=skm.fbeta_score, transform="difference")
    ours = gm.make_derived_metric(metric=skm.fbeta_score, transform="difference")
    for beta in (0.5, 2.0):
        expected = theirs(Y, P, sensitive_features=RACE, beta=beta, sample_weight=W)
        assert ours(Y, P, sensitive_features=RACE, beta=beta, sample_weight=W) == pytest.approx(
            expected, abs=1e-12
        )

    def share_of_ones(y_true: Any, y_pred: Any) -> float:
        return float(np.mean(y_pred))

    maximum = gm.make_derived_metric(metric=share_of_ones, transform="group_max")
    expected = flm.make_derived_metric(metric=share_of_ones, transform="group_max")
    assert maximum(Y, P, sensitive_features=SEX) == pytest.approx(
        expected(Y, P, sensitive_features=SEX)
    )


def test_make_derived_metric_refuses_what_fairlearn_refuses() -> None:
    def with_method(y_true: Any, y_pred: Any, method: str) -> float:
        return 0.0

    for kwargs in (
        {"metric": "selection_rate", "transform": "difference"},
        {"metric": with_method, "transform": "difference"},
        {"metric": skm.accuracy_score, "transform": "spread"},
    ):
        with pytest.raises(ValueError) as ours:
            gm.make_derived_metric(**kwargs)
        with pytest.raises(ValueError) as theirs:
            flm.make_derived_metric(**kwargs)
        assert ours.value.args[0] == theirs.value.args[0]


def test_base_metrics_take_scalars_and_positional_arguments() -> None:
    assert gm.selection_rate(1, 1) == flm.selection_rate(1, 1) == 1
    assert gm.selection_rate(0, 0) == flm.selection_rate(0, 0) == 0
    assert gm.true_positive_rate([1, 1, 0], [1, 0, 0], [1, 3, 1]) == pytest.approx(0.25)
    assert gm.false_positive_rate(["n", "y"], ["y", "y"], None, "y") == pytest.approx(
        flm.false_positive_rate(["n", "y"], ["y", "y"], None, "y")
    )
    assert gm.mean_prediction(None, [1.0, 2.0, 6.0]) == pytest.approx(3.0)
    assert gm.mean_prediction(Y, SCORE, W) == pytest.approx(flm.mean_prediction(Y, SCORE, W))
    assert gm.mean_prediction([0], 5) == flm.mean_prediction([0], 5) == 5
    assert gm.count(Y, P) == flm.count(Y, P) == N
    with pytest.raises(ValueError, match="values must be from"):
        gm.true_positive_rate([2, 3], [2, 2])


# -- MetricFrame ----------------------------------------------------------------------------


def _frames(**kwargs: Any) -> tuple[Any, Any]:
    return _quiet(gm.MetricFrame, **kwargs), _quiet(flm.MetricFrame, **kwargs)


def _same_frame(ours: Any, theirs: Any) -> None:
    _equal(ours.by_group, theirs.by_group)
    _equal(ours.overall, theirs.overall)
    for errors in ("raise", "coerce"):
        _equal(ours.group_min(errors=errors), theirs.group_min(errors=errors))
        _equal(ours.group_max(errors=errors), theirs.group_max(errors=errors))
    for method in ("between_groups", "to_overall"):
        _equal(ours.difference(method=method), theirs.difference(method=method))
        _equal(ours.ratio(method=method), theirs.ratio(method=method))


def test_control_features_and_sample_params_per_metric() -> None:
    metrics = {
        "tpr": flm.true_positive_rate,
        "sel": flm.selection_rate,
        "acc": skm.accuracy_score,
        "n": flm.count,
        "auc": skm.roc_auc_score,
    }
    preds = {"tpr": P, "sel": P, "acc": P, "n": P, "auc": SCORE}
    # one y_pred per frame: scores for AUC, labels for the others
    for keys in (["tpr", "sel", "acc", "n"], ["auc"]):
        ours, theirs = _frames(
            metrics={k: metrics[k] for k in keys},
            y_true=Y,
            y_pred=preds[keys[0]],
            sensitive_features=pd.concat([SEX, RACE], axis=1),
            control_features=REGION,
            sample_params={k: {"sample_weight": W} for k in keys if k != "n"},
        )
        assert ours.control_levels == theirs.control_levels == ["region"]
        assert ours.sensitive_levels == theirs.sensitive_levels == ["sex", "race"]
        _same_frame(ours, theirs)


def test_missing_combinations_are_nan_like_fairlearn() -> None:
    sex = pd.Series(["f", "f", "m", "m", "f"], name="sex")
    race = pd.Series(["a", "b", "a", "a", "a"], name="race")
    ours, theirs = _frames(
        metrics={"sel": flm.selection_rate, "n": flm.count},
        y_true=[1, 0, 1, 1, 0],
        y_pred=[1, 1, 0, 1, 0],
        sensitive_features=pd.concat([sex, race], axis=1),
    )
    _same_frame(ours, theirs)


def test_arbitrary_callables_run_per_group_on_the_rows() -> None:
    labels = RNG.integers(0, 3, N)
    guesses = RNG.integers(0, 3, N)
    macro = functools.partial(skm.recall_score, average="macro")
    ours, theirs = _frames(
        metrics={
            "macro": macro,
            "spread": lambda y_true, y_pred: float(np.std(y_pred)),
            "balanced": skm.balanced_accuracy_score,
        },
        y_true=labels,
        y_pred=guesses,
        sensitive_features=RACE,
    )
    _same_frame(ours, theirs)


def test_non_scalar_metrics_are_kept_per_group() -> None:
    ours, theirs = _frames(
        metrics={"cm": skm.confusion_matrix, "acc": skm.accuracy_score},
        y_true=Y,
        y_pred=P,
        sensitive_features=SEX,
    )
    for group in ("f", "m"):
        np.testing.assert_array_equal(ours.by_group["cm"][group], theirs.by_group["cm"][group])
        assert ours.by_group["acc"][group] == pytest.approx(theirs.by_group["acc"][group])
    np.testing.assert_array_equal(ours.overall["cm"], theirs.overall["cm"])
    _equal(ours.difference(), theirs.difference())  # the matrix is NaN when coerced
    with pytest.raises(ValueError) as mine:
        ours.group_min(errors="raise")
    with pytest.raises(ValueError) as fairlearn:
        theirs.group_min(errors="raise")
    assert mine.value.args[0] == fairlearn.value.args[0]


def test_bootstrap_api_shapes_and_reproducibility() -> None:
    kwargs: dict[str, Any] = {
        "metrics": {"tpr": flm.true_positive_rate, "sel": flm.selection_rate},
        "y_true": Y,
        "y_pred": P,
        "sensitive_features": RACE,
        "control_features": REGION,
        "n_boot": 200,
        "ci_quantiles": [0.05, 0.5, 0.95],
        "random_state": 3,
    }
    ours, theirs = _frames(**kwargs)
    again = gm.MetricFrame(**kwargs)
    assert ours.n_boot == 200 and ours.ci_quantiles == [0.05, 0.5, 0.95]
    for name in ("overall_ci", "by_group_ci"):
        mine, fairlearn = getattr(ours, name), getattr(theirs, name)
        assert len(mine) == len(fairlearn) == 3
        for a, b in zip(mine, fairlearn, strict=True):
            pd.testing.assert_index_equal(a.index, b.index)
            pd.testing.assert_index_equal(a.columns, b.columns)
        low, mid, high = (t.to_numpy() for t in mine)
        assert np.all(low <= mid) and np.all(mid <= high)
        for a, b in zip(mine, getattr(again, name), strict=True):
            pd.testing.assert_frame_equal(a, b)
    for method in ("between_groups", "to_overall"):
        for a, b in zip(ours.difference_ci(method), theirs.difference_ci(method), strict=True):
            pd.testing.assert_index_equal(a.index, b.index)
    # the median replicate is close to the nominal value (confusion counts, 200 draws)
    nominal = ours.by_group.to_numpy()
    assert np.nanmax(np.abs(ours.by_group_ci[1].to_numpy() - nominal)) < 0.1


def test_bootstrap_arguments_are_checked_like_fairlearn() -> None:
    base = {"metrics": flm.selection_rate, "y_true": Y, "y_pred": P, "sensitive_features": SEX}
    for extra in (
        {"n_boot": 10},
        {"n_boot": 0, "ci_quantiles": [0.5]},
        {"n_boot": 5, "ci_quantiles": [1.5]},
    ):
        with pytest.raises(ValueError) as ours:
            gm.MetricFrame(**base, **extra)
        with pytest.raises(ValueError) as theirs:
            flm.MetricFrame(**base, **extra)
        assert ours.value.args[0] == theirs.value.args[0]
    with pytest.raises(ValueError) as ours:
        _ = gm.MetricFrame(**base).overall_ci
    with pytest.raises(ValueError) as theirs:
        _ = flm.MetricFrame(**base).overall_ci
    assert ours.value.args[0] == theirs.value.args[0]


def test_unknown_metric_name_is_refused_with_a_suggestion() -> None:
    with pytest.raises(MetricInputError) as info:
        gm.MetricFrame(metrics="selection_rat", y_true=[1], y_pred=[1], sensitive_features=["a"])
    assert info.value.hint == "did you mean 'selection_rate'?"


# -- mergeable statistics -------------------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.integers(0, 1), st.integers(0, 1), st.sampled_from("xyz"), st.sampled_from("pq")
        ),
        min_size=2,
        max_size=60,
    ),
    cut=st.integers(1, 59),
)
def test_frame_statistics_merge_across_batches(
    rows: list[tuple[int, int, str, str]], cut: int
) -> None:
    cut = min(cut, len(rows) - 1)
    y, p, s, c = (list(column) for column in zip(*rows, strict=True))

    def stats(lo: int, hi: int) -> Any:
        frame = gm.MetricFrame(
            metrics=flm.true_positive_rate,
            y_true=y[lo:hi],
            y_pred=p[lo:hi],
            sensitive_features=pd.Series(s[lo:hi], name="s"),
            control_features=pd.Series(c[lo:hi], name="c"),
        )
        return frame.stats[0]

    whole, merged = stats(0, len(rows)), stats(0, cut).merge(stats(cut, len(rows)))
    mine = dict(zip(merged.groups.keys, merged.count.reshape(len(merged.groups), -1), strict=True))
    expected = dict(zip(whole.groups.keys, whole.count.reshape(len(whole.groups), -1), strict=True))
    assert mine.keys() == expected.keys()
    for key, counts in expected.items():
        np.testing.assert_array_equal(mine[key], counts)


# -- plots ----------------------------------------------------------------------------------


def test_plots_draw_fairlearns_figures(tmp_path: Any) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ax = gm.plot_roc_curve_by_group(Y, SCORE, sensitive_features=RACE, title="by race")
    labels = [line.get_label() for line in ax.get_lines()]
    for group in ("a", "b", "c"):
        rows = RACE.eq(group).to_numpy()
        auc = skm.roc_auc_score(Y[rows], SCORE[rows])
        assert f"{group} (AUC = {auc:.2f})" in labels
    assert any(label.startswith("Overall (AUC = ") for label in labels)
    ax.figure.savefig(tmp_path / "roc.png")
    plt.close(ax.figure)

    models = {"labels": P, "all ones": np.ones(N, dtype=int)}
    ax = gm.plot_model_comparison(
        y_preds=models,
        y_true=Y,
        sensitive_features=SEX,
        x_axis_metric=skm.accuracy_score,
        y_axis_metric=gm.selection_rate_difference,
        point_labels=True,
    )
    points = ax.collections[0].get_offsets()
    expected = [
        (skm.accuracy_score(Y, p), flm.selection_rate_difference(Y, p, sensitive_features=SEX))
        for p in models.values()
    ]
    np.testing.assert_allclose(np.asarray(points), expected, atol=1e-12)
    assert ax.get_xlabel() == "accuracy score"
    ax.figure.savefig(tmp_path / "comparison.png")
    plt.close(ax.figure)
    with pytest.raises(ValueError, match="two strings"):
        gm.plot_model_comparison(
            y_preds=models,
            y_true=Y,
            x_axis_metric=skm.accuracy_score,
            y_axis_metric=skm.recall_score,
            axis_labels=["x"],
        )


@settings(max_examples=20, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.integers(0, 1),
            st.integers(0, 1),
            st.sampled_from(["x", "y", "z"]),
            st.sampled_from([1, 2]),
            st.floats(0.5, 2.0),
        ),
        min_size=4,
        max_size=40,
    )
)
def test_metric_frame_equals_fairlearn_on_any_small_data(
    rows: list[tuple[int, int, str, int, float]],
) -> None:
    y, p, s, c, w = (np.array(column) for column in zip(*rows, strict=True))
    metrics = {"tpr": flm.true_positive_rate, "sel": flm.selection_rate, "n": flm.count}
    ours, theirs = _frames(
        metrics=metrics,
        y_true=y,
        y_pred=p,
        sensitive_features=pd.Series(s, name="s"),
        control_features=pd.Series(c, name="c"),
        sample_params={"tpr": {"sample_weight": w}, "sel": {"sample_weight": w}},
    )
    _same_frame(ours, theirs)
