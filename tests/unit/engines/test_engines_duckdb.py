"""The DuckDB engine's statistics equal the numpy engine's on the same data.

Counts equal exactly, float sums within 1e-9 relative: with weights, nulls, NaN and
infinities, missing sensitive values, intersections of two sensitive features, categories
the reference does not know, values on sketch bucket boundaries and scores on bin edges.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.unit.engines.engine_cases import (
    current_table,
    reference_profile,
    same,
    scoring_table,
    write_parquet,
)

from govml.engines import UnknownEngineError, get_engine
from govml.metrics import MetricInputError


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("engines")
    frame = scoring_table()
    current = current_table()
    return {
        "frame": frame,
        "path": write_parquet(frame, root / "scores"),
        "current": write_parquet(current, root / "current"),
        "reference": reference_profile(frame.drop(columns=["empty"])),
    }


ENGINES = ["numpy", "duckdb"]


def both(call: Any) -> None:
    results = [call(get_engine(name)).to_dict() for name in ENGINES]
    same(results[0], results[1])


def test_binary_confusion_weighted_by_intersection_with_missing_group(data: dict[str, Any]) -> None:
    both(
        lambda e: e.binary_confusion(
            data["path"],
            y_true="default",
            y_pred="decision",
            sensitive=["sex", "age_band"],
            weight="weight",
            missing="group",
        )
    )


def test_multiclass_confusion_and_regression_moments(data: dict[str, Any]) -> None:
    both(
        lambda e: e.multiclass_confusion(
            data["path"],
            y_true="grade",
            y_pred="predicted_grade",
            sensitive=["region"],
            missing="group",
        )
    )
    both(
        lambda e: e.regression_moments(
            data["path"],
            y_true="loss",
            y_pred="predicted_loss",
            sensitive=["sex", "owner"],
            weight="weight",
            missing="group",
        )
    )


def test_score_histogram_with_scores_on_bin_edges(data: dict[str, Any]) -> None:
    both(
        lambda e: e.score_histogram(
            data["path"],
            y_true="default",
            score="score",
            sensitive=["sex"],
            bins=100,
            weight="weight",
            missing="group",
        )
    )


def test_profile_and_drift_counts_with_unseen_categories(data: dict[str, Any]) -> None:
    both(lambda e: e.profile(data["path"]))
    both(lambda e: e.current_statistics(data["reference"], data["current"]))


def test_sketch_quantiles_within_the_documented_error(data: dict[str, Any]) -> None:
    income = data["frame"]["income"].to_numpy()
    sketch = get_engine("duckdb").profile(data["path"]).column("income").sketch
    alpha = sketch.relative_accuracy
    for q in (0.01, 0.1, 0.5, 0.9, 0.99):
        exact = float(np.quantile(income, q, method="lower"))
        estimate = sketch.quantile(q)
        assert estimate is not None and abs(estimate - exact) <= alpha * abs(exact)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"sex": None}, "sensitive feature 'sex' has"),
        ({"default": None}, "y_true has 1 missing value(s)"),
        ({"weight": -1.0}, "sample_weight must be finite and non-negative; found minimum -1.0"),
        ({"decision": 7}, "binary metrics need at most two label values"),
    ],
)
def test_bad_input_gives_the_numpy_message(
    tmp_path: Path, change: dict[str, Any], message: str
) -> None:
    frame = scoring_table(300)
    for column, value in change.items():
        frame[column] = frame[column].astype(object)
        frame.loc[3, column] = value
    frame["sex"] = frame["sex"].fillna("unknown") if "sex" not in change else frame["sex"]
    path = write_parquet(frame, tmp_path / "bad")
    errors = []
    # The numpy engine reads the table whole here: by batches, a count names one batch's.
    for name, data in (("numpy", frame), ("duckdb", path)):
        with pytest.raises(MetricInputError) as caught:
            get_engine(name).binary_confusion(
                data, y_true="default", y_pred="decision", sensitive=["sex"], weight="weight"
            )
        errors.append(caught.value.message)
    assert message in errors[0]
    assert errors[0] == errors[1]


def test_unknown_engine_names_the_engines() -> None:
    with pytest.raises(UnknownEngineError, match="numpy, duckdb, spark") as caught:
        get_engine("sparkk")
    assert caught.value.hint == "did you mean 'spark'?"


values = st.lists(
    st.tuples(
        st.sampled_from([0, 1]),
        st.sampled_from([0, 1]),
        st.sampled_from(["a", "b", None]),
        st.floats(0, 5, allow_nan=False),
        st.one_of(st.none(), st.floats(-1e6, 1e6, allow_nan=False), st.just(0.0)),
    ),
    min_size=1,
    max_size=60,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=values)
def test_any_small_table_gives_equal_statistics(rows: list[tuple[Any, ...]]) -> None:
    frame = pd.DataFrame(rows, columns=["y", "p", "g", "w", "x"])
    frame["x"] = frame["x"].astype("float64")
    duck = get_engine("duckdb")
    numpy = get_engine("numpy")
    kwargs: dict[str, Any] = {
        "y_true": "y",
        "y_pred": "p",
        "sensitive": ["g"],
        "weight": "w",
        "missing": "group",
    }
    same(
        numpy.binary_confusion(frame, **kwargs).to_dict(),
        duck.binary_confusion(frame, **kwargs).to_dict(),
    )
    same(numpy.profile(frame).to_dict(), duck.profile(frame).to_dict())


def test_nan_left_out_of_parquet_statistics_is_still_counted_as_missing(tmp_path: Path) -> None:
    # Parquet writers keep NaN out of a row group's min / max; a query planner that trusts
    # those statistics would prove isnan() false and count NaN as values.
    rng = np.random.default_rng(3)
    values = rng.normal(50, 10, 20_000)
    values[rng.random(20_000) < 0.1] = np.nan
    path = write_parquet(pd.DataFrame({"x": values}), tmp_path / "nan", parts=1)
    assert pq.read_table(path).column("x").null_count == 0  # NaN, not null, in the file
    expected = get_engine("numpy").profile(path).column("x")
    found = get_engine("duckdb").profile(path).column("x")
    assert found.nulls == expected.nulls == int(np.isnan(values).sum())
    same(expected.to_dict(), found.to_dict())
