"""Differential tests: govml's drift against Evidently 0.7's stattests and DataDriftPreset.

On raw data both sides compute the same definitions, so values agree to 1e-12 and every
decision is the same. From a stored profile, decisions agree on realistic frames.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from govml.datasets import profile
from govml.metrics.drift import compare, data_drift

stattests = pytest.importorskip("evidently.legacy.calculations.stattests")
# Evidently's chi-square lets scipy divide by a zero expectation (govml returns inf without
# the warning).
pytestmark = [
    pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning"),
    pytest.mark.filterwarnings("ignore:ks_2samp. Exact calculation:RuntimeWarning"),
]
from evidently import DataDefinition, Dataset, Report  # noqa: E402
from evidently.legacy.calculations.stattests.registry import get_stattest  # noqa: E402
from evidently.legacy.core import ColumnType  # noqa: E402
from evidently.metrics import ValueDrift  # noqa: E402
from evidently.presets import DataDriftPreset  # noqa: E402

EVIDENTLY = {
    "psi": stattests.psi_stat_test,
    "jensenshannon": stattests.jensenshannon_stat_test,
    "kl_div": stattests.kl_div_stat_test,
    "chisquare": stattests.chi_stat_test,
    "hellinger": stattests.hellinger_stat_test,
    "z": stattests.z_stat_test,
    "ks": stattests.ks_stat_test,
    "wasserstein": stattests.wasserstein_stat_test,
}
NUMERIC_TESTS = list(EVIDENTLY)
CATEGORICAL_TESTS = ["psi", "jensenshannon", "kl_div", "chisquare", "hellinger", "z"]

# Few distinct values (one bin per value), many (Sturges bins), and ties in between.
few = st.lists(st.integers(-3, 3).map(float), min_size=1, max_size=80)
many = st.lists(
    st.floats(-1e3, 1e3, allow_nan=False, allow_subnormal=False), min_size=1, max_size=150
)
tied = st.lists(st.integers(0, 40).map(lambda i: i / 4), min_size=1, max_size=150)
# Integer columns: numpy widens integer Sturges bins narrower than 1 to 1.
integers = st.lists(st.integers(-3, 3), min_size=1, max_size=80) | st.lists(
    st.integers(-60, 60), min_size=1, max_size=150
)
numeric_samples = few | many | tied | integers
categorical_samples = st.lists(st.sampled_from(["a", "b", "c", "dd", "é", "Z"]), min_size=1)


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12)


def evidently_result(test: str, ref: list[Any], cur: list[Any], kind: ColumnType) -> Any:
    # Copies: Evidently's Hellinger drops NaN in place.
    return EVIDENTLY[test](pd.Series(ref), pd.Series(cur), kind, None)


def check_same(test: str, ref: list[Any], cur: list[Any], kind: ColumnType) -> None:
    ours = data_drift(pd.DataFrame({"x": ref}), pd.DataFrame({"x": cur}), tests=test).column("x")
    theirs = evidently_result(test, ref, cur, kind)
    if test == "chisquare" and math.isnan(theirs.drift_score):
        # One value on both sides: scipy's p-value with 0 degrees of freedom is NaN;
        # govml reports 1.0 (identical distributions). Neither calls it drift.
        assert ours.score == 1.0
    elif test == "hellinger":
        # sqrt(1 - BC) turns a rounding difference of 1e-16 in the Bhattacharyya
        # coefficient BC into 1e-8 near 0, so compare what is rounded: 1 - BC.
        assert ours.score is not None
        assert close(ours.score**2, float(theirs.drift_score) ** 2), (ours, theirs)
    else:
        assert ours.score is not None
        assert close(ours.score, float(theirs.drift_score)), (ours, theirs)
    assert ours.drifted == bool(theirs.drifted)
    assert ours.threshold == theirs.actual_threshold


@settings(max_examples=40, deadline=None)
@given(numeric_samples, numeric_samples, st.sampled_from(NUMERIC_TESTS))
def test_numeric_tests_equal_evidently(ref: list, cur: list, test: str) -> None:
    # Evidently applies chi-square to numeric columns only by default, at most 5 values;
    # govml bins columns with more than 20 reference values for it, like PSI.
    assume(test != "chisquare" or len(set(ref)) <= 20)
    check_same(test, ref, cur, ColumnType.Numerical)


@settings(max_examples=40, deadline=None)
@given(categorical_samples, categorical_samples, st.sampled_from(CATEGORICAL_TESTS))
def test_categorical_tests_equal_evidently(ref: list[str], cur: list[str], test: str) -> None:
    check_same(test, ref, cur, ColumnType.Categorical)


@settings(max_examples=30, deadline=None)
@given(numeric_samples, numeric_samples, st.booleans())
def test_default_test_equals_evidently(ref: list[float], cur: list[float], large: bool) -> None:
    if large:  # Evidently switches tests above 1,000 reference values
        ref = ref * (1001 // len(ref) + 1)
    ours = data_drift(pd.DataFrame({"x": ref}), pd.DataFrame({"x": cur})).column("x")
    theirs = get_stattest(pd.Series(ref), pd.Series(cur), ColumnType.Numerical, None)
    assert ours.test == theirs.name
    profiled = data_drift(profile(pd.DataFrame({"x": ref})), pd.DataFrame({"x": cur}))
    assert profiled.column("x").test == theirs.name


@settings(max_examples=30, deadline=None)
@given(categorical_samples, categorical_samples, st.booleans())
def test_default_categorical_test_equals_evidently(
    ref: list[str], cur: list[str], large: bool
) -> None:
    if large:
        ref = ref * (1001 // len(ref) + 1)
    ours = data_drift(pd.DataFrame({"x": ref}), pd.DataFrame({"x": cur})).column("x")
    theirs = get_stattest(pd.Series(ref), pd.Series(cur), ColumnType.Categorical, None)
    assert ours.test == theirs.name
    profiled = data_drift(profile(pd.DataFrame({"x": ref})), pd.DataFrame({"x": cur}))
    assert profiled.column("x").test == theirs.name


def realistic_frames(n_ref: int, n_cur: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)

    def frame(n: int, shift: float) -> pd.DataFrame:
        income = rng.lognormal(10 + shift, 0.5, n)
        income[rng.random(n) < 0.03] = np.nan
        return pd.DataFrame(
            {
                "age": rng.normal(40 + 8 * shift, 10, n).round(),
                "income": income,
                "score": rng.beta(2, 5 - 2 * shift, n),
                "children": rng.poisson(1.2, n),
                "rating": rng.integers(1, 5 + (shift > 0), n),
                "member": rng.integers(0, 2, n),
                "city": rng.choice(["paris", "lyon", "nice", "lille"], n, p=[0.4, 0.3, 0.2, 0.1]),
                "channel": rng.choice(["web", "shop"], n, p=[0.6 + shift / 2, 0.4 - shift / 2]),
                "segment": rng.choice(list("ABCDEFGH"), n),
            }
        )

    return frame(n_ref, 0.0), frame(n_cur, 0.3)


NUMERIC = ["age", "income", "score", "children", "rating", "member"]
CATEGORICAL = ["city", "channel", "segment"]


def evidently_decisions(
    ref: pd.DataFrame, cur: pd.DataFrame, method: str | None = None
) -> dict[str, tuple[float, bool]]:
    definition = DataDefinition(numerical_columns=NUMERIC, categorical_columns=CATEGORICAL)
    metrics: list[Any] = [DataDriftPreset()]
    if method is not None:
        metrics = [ValueDrift(column=c, method=method) for c in NUMERIC + CATEGORICAL]
    snapshot = Report(metrics, include_tests=True).run(
        Dataset.from_pandas(cur, data_definition=definition),
        Dataset.from_pandas(ref, data_definition=definition),
    )
    result = snapshot.dict()
    scores = {
        m["config"]["column"]: m["value"]
        for m in result["metrics"]
        if m["config"]["type"].endswith("ValueDrift")
    }
    return {
        t["metric_config"]["params"]["column"]: (
            scores[t["metric_config"]["params"]["column"]],
            t["status"] == "FAIL",
        )
        for t in result["tests"]
        if t["metric_config"]["params"]["type"].endswith("ValueDrift")
    }


@pytest.mark.parametrize(("n_ref", "n_cur"), [(600, 400), (5_000, 3_000)])
def test_data_drift_preset_decisions(n_ref: int, n_cur: int) -> None:
    ref, cur = realistic_frames(n_ref, n_cur, seed=n_ref)
    theirs = evidently_decisions(ref, cur)
    exact = data_drift(ref, cur)
    profiled = data_drift(profile(ref), cur)
    assert set(theirs) == {c.column for c in exact.columns}
    for column in exact.columns:
        score, drifted = theirs[column.column]
        assert column.score is not None and close(column.score, score), column
        assert column.drifted == drifted, column
        assert profiled.column(column.column).drifted == drifted, profiled.column(column.column)
    assert 0 < exact.drifted_columns < len(exact.columns)


@pytest.mark.parametrize("method", ["psi", "hellinger"])
def test_value_drift_with_a_chosen_test(method: str) -> None:
    ref, cur = realistic_frames(5_000, 3_000, seed=7)
    theirs = evidently_decisions(ref, cur, method)
    exact = data_drift(ref, cur, tests=method)
    profiled = data_drift(profile(ref), cur, tests=method)
    for column in exact.columns:
        score, drifted = theirs[column.column]
        assert column.score is not None
        power = 2 if method == "hellinger" else 1  # see check_same
        assert close(column.score**power, score**power), column
        assert column.drifted == drifted, column
        assert profiled.column(column.column).drifted == drifted, profiled.column(column.column)
    assert 0 < exact.drifted_columns < len(exact.columns)


def test_large_raw_frames_profile_the_reference_and_decide_as_evidently(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Above EXACT_MAX_ROWS rows (lowered here) two raw frames take the profile path: the
    # numbers are those of the stored-profile path, the decisions Evidently's.
    monkeypatch.setattr(compare, "EXACT_MAX_ROWS", 4_000)
    ref, cur = realistic_frames(5_000, 3_000, seed=11)
    theirs = evidently_decisions(ref, cur)
    fast = data_drift(ref, cur)
    assert fast.method == "profile"
    assert fast.to_dict() == data_drift(profile(ref), cur).to_dict()
    exact = data_drift(ref, cur, method="exact")
    assert exact.method == "exact"
    for column in exact.columns:
        score, drifted = theirs[column.column]
        assert column.score is not None and close(column.score, score), column
        assert column.drifted == drifted == fast.column(column.column).drifted, column
    assert 0 < fast.drifted_columns < len(fast.columns)
