"""Bad input to data_drift: clear errors naming what is wrong, undefined columns with reasons."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from govml.datasets import profile
from govml.errors import InputError
from govml.metrics.drift import (
    EXACT_NEEDS_DATA,
    INVALID_THRESHOLD,
    UNKNOWN_METHOD,
    UNKNOWN_TEST,
    WRONG_KIND,
    DriftTest,
    compare,
    data_drift,
)
from govml.metrics.drift.inputs import EMPTY_DATA, MISSING_COLUMNS, TYPE_MISMATCH
from govml.metrics.drift.stats import current_statistics

REF = pd.DataFrame(
    {
        "age": [30.0, 41.0, 52.0, 23.0, 35.0, 60.0],
        "city": ["a", "b", "a", "c", "b", "a"],
        "score": [0.1, 0.5, 0.3, 0.9, 0.7, 0.2],
    }
)


def both_paths(reference: pd.DataFrame) -> list:
    return [reference, profile(reference)]


@pytest.mark.parametrize("reference", both_paths(REF), ids=["exact", "profile"])
def test_missing_columns_are_all_named(reference) -> None:
    current = REF.drop(columns=["age", "score"])
    with pytest.raises(InputError) as caught:
        data_drift(reference, current)
    assert caught.value.message == MISSING_COLUMNS.format(names="'age', 'score'")
    assert "columns=" in caught.value.diagnostics()


@pytest.mark.parametrize("reference", both_paths(REF), ids=["exact", "profile"])
def test_type_mismatch_names_columns_and_types(reference) -> None:
    current = REF.assign(age=REF["age"].astype(str), city=[1, 2, 3, 4, 5, 6])
    with pytest.raises(InputError) as caught:
        data_drift(reference, current)
    details = (
        "'age' is number in the reference but string in the current data; "
        "'city' is string in the reference but number in the current data"
    )
    assert caught.value.message == TYPE_MISMATCH.format(details=details)


@pytest.mark.parametrize("reference", both_paths(REF), ids=["exact", "profile"])
def test_empty_current_data(reference) -> None:
    with pytest.raises(InputError) as caught:
        data_drift(reference, REF.iloc[:0])
    assert caught.value.message == EMPTY_DATA.format(side="current")


def test_empty_reference_data() -> None:
    with pytest.raises(InputError, match="reference data has no rows"):
        data_drift(REF.iloc[:0], REF)
    with pytest.raises(InputError, match="reference data has no rows"):
        data_drift(profile(REF.iloc[:0]), REF)


def test_unknown_test_suggests_the_closest() -> None:
    with pytest.raises(InputError) as caught:
        data_drift(REF, REF, tests="jensen_shannon")
    assert caught.value.message == UNKNOWN_TEST.format(name="jensen_shannon")
    assert caught.value.hint == "did you mean 'jensenshannon'?"
    with pytest.raises(InputError) as caught:
        data_drift(REF, REF, tests={"age": DriftTest("wasserstien")})  # type: ignore[arg-type]
    assert caught.value.hint == "did you mean 'wasserstein'?"
    with pytest.raises(InputError) as caught:
        data_drift(REF, REF, tests="t-test")  # type: ignore[arg-type]
    assert "choose one of" in (caught.value.hint or "")


def test_unknown_test_fails_before_any_data_is_read(tmp_path) -> None:
    with pytest.raises(InputError) as caught:
        data_drift(tmp_path / "missing.csv", tmp_path / "missing.csv", tests="bogus")
    assert caught.value.message == UNKNOWN_TEST.format(name="bogus")


def test_tests_for_unknown_columns_and_wrong_kinds() -> None:
    with pytest.raises(InputError, match="'agee'") as caught:
        data_drift(REF, REF, tests={"agee": "ks"})
    assert caught.value.hint == "did you mean 'age'?"
    with pytest.raises(InputError) as caught:
        data_drift(REF, REF, tests="ks")
    assert caught.value.message == WRONG_KIND.format(name="ks", columns="'city'")


@pytest.mark.parametrize(
    ("test", "rule"),
    [(DriftTest("ks", 1.5), "in (0, 1)"), (DriftTest("psi", -0.1), "a positive number")],
)
def test_invalid_thresholds(test: DriftTest, rule: str) -> None:
    with pytest.raises(InputError) as caught:
        data_drift(REF, REF, tests=test if test.name == "psi" else {"age": test})
    assert caught.value.message == INVALID_THRESHOLD.format(
        name=test.name, rule=rule, value=test.threshold
    )


def test_unknown_selected_columns_and_options() -> None:
    with pytest.raises(InputError, match="not in the reference: 'ag'") as caught:
        data_drift(REF, REF, columns=["ag", "city"])
    assert caught.value.hint == "did you mean 'age'?"
    with pytest.raises(InputError, match="drift_share"):
        data_drift(REF, REF, drift_share=0.0)
    with pytest.raises(InputError, match="min_sample_size"):
        data_drift(REF, REF, min_sample_size=0)
    with pytest.raises(InputError, match="cannot read a list as a table"):
        data_drift([1, 2], REF)
    with pytest.raises(InputError, match="invalid profile"):
        data_drift({"rows": 3}, REF)


@pytest.mark.parametrize(
    "reference", both_paths(REF.assign(empty=np.nan)), ids=["exact", "profile"]
)
def test_columns_without_values_are_undefined_with_a_reason(reference) -> None:
    current = REF.assign(empty=np.nan, age=[np.nan, np.inf, -np.inf, None, np.nan, np.nan])
    report = data_drift(reference, current)
    age, empty = report.column("age"), report.column("empty")
    assert age.drifted is None and age.reason == (
        "the current data has no values (only nulls, NaN or infinities)"
    )
    assert age.reference_size == 6 and age.current_size == 0
    assert empty.drifted is None and empty.reason is not None
    assert empty.reason.startswith("the reference has no values")
    assert report.tested_columns == 2
    json.dumps(report.to_dict(), allow_nan=False)


@pytest.mark.parametrize("reference", both_paths(REF), ids=["exact", "profile"])
def test_all_null_object_column_and_min_sample_size(reference) -> None:
    current = REF.assign(city=[None] * 6)
    report = data_drift(reference, current, tests={"city": "psi"}, min_sample_size=4)
    city = report.column("city")
    assert city.test == "psi" and city.threshold == 0.1 and city.drifted is None
    assert report.column("age").drifted is not None
    small = data_drift(reference, REF.iloc[:3], min_sample_size=4)
    assert small.column("age").reason == (
        "the current data has 3 values, fewer than min_sample_size=4"
    )
    assert small.dataset_drift is None and small.share_drifted is None


def test_z_test_from_sketches_is_undefined() -> None:
    rng = np.random.default_rng(0)
    reference = pd.DataFrame({"v": rng.normal(size=200)})
    result = data_drift(profile(reference), reference, tests="z").column("v")
    assert result.drifted is None and "exact value counts" in (result.reason or "")


def test_json_output_is_safe_with_infinite_statistics() -> None:
    report = data_drift(
        pd.DataFrame({"c": ["a", "a"]}), pd.DataFrame({"c": ["b", "b"]}), tests="chisquare"
    )
    data = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert data["columns"][0]["statistic"] == "inf"
    assert data["columns"][0]["status"] == "drift" and data["dataset_drift"] is True


def test_current_statistics_report_missing_columns() -> None:
    with pytest.raises(InputError) as caught:
        current_statistics(profile(REF), REF[["city"]])
    assert caught.value.message == MISSING_COLUMNS.format(names="'age', 'score'")


def test_statistics_of_the_wrong_kind_are_refused() -> None:
    stored = profile(REF)
    stats = current_statistics(stored, REF).to_dict()
    city = next(c for c in stats["columns"] if c["name"] == "city")
    stats["columns"] = [
        {**city, "name": "age"} if c["name"] == "age" else c for c in stats["columns"]
    ]
    with pytest.raises(InputError, match="'age' is numeric in the reference profile but cat"):
        data_drift(stored, stats)


def test_raw_frames_by_the_profile_path_report_the_same_input_errors() -> None:
    with pytest.raises(InputError) as caught:
        data_drift(REF, REF.drop(columns=["age", "score"]), method="profile")
    assert caught.value.message == MISSING_COLUMNS.format(names="'age', 'score'")
    with pytest.raises(InputError) as caught:
        data_drift(REF, REF.assign(city=[1, 2, 3, 4, 5, 6]), method="profile")
    assert "'city' is string in the reference but number" in caught.value.message
    with pytest.raises(InputError) as caught:
        data_drift(REF, REF.iloc[:0], method="profile")
    assert caught.value.message == EMPTY_DATA.format(side="current")
    with pytest.raises(InputError, match="reference data has no rows"):
        data_drift(REF.iloc[:0], REF, method="profile")


def test_methods_are_checked() -> None:
    with pytest.raises(InputError) as caught:
        data_drift(REF, REF, method="fast")  # type: ignore[arg-type]
    assert caught.value.message == UNKNOWN_METHOD.format(method="fast")
    with pytest.raises(InputError) as caught:
        data_drift(profile(REF), REF, method="exact")
    assert caught.value.message == EXACT_NEEDS_DATA


def test_auto_is_exact_up_to_the_row_limit_on_either_side(tmp_path, monkeypatch) -> None:
    # The current side's size comes from the Parquet footer: the file is then streamed.
    path = tmp_path / "current.parquet"
    REF.to_parquet(path)
    assert data_drift(REF, path).method == "exact"
    monkeypatch.setattr(compare, "EXACT_MAX_ROWS", 5)
    assert data_drift(REF, path).method == "profile"
    assert data_drift(REF.iloc[:5], path).method == "profile"
    assert data_drift(REF.iloc[:5], REF.iloc[:4]).method == "exact"
    assert data_drift(REF, path, method="exact").method == "exact"
    selected = data_drift(REF, path, columns=["city"])
    assert selected.to_dict() == data_drift(profile(REF[["city"]]), path).to_dict()
