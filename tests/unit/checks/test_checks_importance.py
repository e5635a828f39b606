"""Rules on importance and proxy associations, against scipy's statistics."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.stats.contingency import association as scipy_association

from govml.checks import (
    association,
    forbidden_in_top_k,
    importance_plot,
    proxy_warnings,
    rank_correlation,
    stability,
)
from govml.demo.adult import datasets_dir, load_adult
from govml.errors import InputError

CURRENT = {"income": 0.9, "age": 0.5, "zip": 0.3, "tenure": 0.2, "sex": 0.1}
PRODUCTION = {"income": 0.8, "zip": 0.6, "tenure": 0.4, "age": 0.1, "region": 0.05}


def test_stability_overlap_and_rank_correlation() -> None:
    result = stability(CURRENT, PRODUCTION, 3, min_overlap=0.5)
    assert result.status == "pass"
    assert result.value == pytest.approx(2 / 3)  # income and zip stay in the top 3
    assert result.evidence["entered"] == ["age"] and result.evidence["left"] == ["tenure"]
    names = sorted(set(CURRENT) | set(PRODUCTION))
    expected = stats.spearmanr(
        [CURRENT.get(n, 0.0) for n in names], [PRODUCTION.get(n, 0.0) for n in names]
    ).statistic
    assert result.evidence["rank_correlation"] == pytest.approx(expected)
    assert stability(CURRENT, PRODUCTION, 3, min_overlap=0.9).status == "fail"
    failed = stability(CURRENT, PRODUCTION, 3, min_rank_correlation=0.99)
    assert failed.status == "fail" and "rank correlation below" in failed.message


def test_rank_correlation_handles_ties_like_scipy() -> None:
    first = {"a": 1.0, "b": 1.0, "c": 2.0, "d": 0.0}
    second = {"a": 3.0, "b": 1.0, "c": 1.0, "d": 2.0}
    names = sorted(first)
    expected = stats.spearmanr([first[n] for n in names], [second[n] for n in names]).statistic
    assert rank_correlation(first, second) == pytest.approx(expected)
    assert rank_correlation({"a": 1.0, "b": 1.0}, {"a": 2.0, "b": 1.0}) is None


def test_stability_without_production_is_undefined() -> None:
    result = stability(CURRENT, None, 3, min_overlap=0.5)
    assert result.status == "undefined" and "no production" in (result.reason or "")
    with pytest.raises(InputError, match="between 0 and 1"):
        stability(CURRENT, PRODUCTION, 3, min_overlap=1.5)


def test_forbidden_features_in_the_top_k_fail_with_their_rank() -> None:
    assert forbidden_in_top_k(CURRENT, 3, ["sex"]).status == "pass"
    result = forbidden_in_top_k(CURRENT, 5, ["sex", "race"])
    assert result.status == "fail" and result.evidence["in_top_k"] == [
        {"feature": "sex", "rank": 5}
    ]
    assert result.evidence["not_features"] == ["race"]
    near = forbidden_in_top_k({"Sex": 1.0, "age": 0.5}, 1, ["sex"])
    assert near.status == "warn" and "did you mean 'Sex'?" in near.message


def test_importance_plot_is_a_png() -> None:
    png = importance_plot(CURRENT)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    import matplotlib.image

    height, width, _ = matplotlib.image.imread(io.BytesIO(png)).shape
    assert width == 600 and height > 100


@pytest.fixture(scope="module")
def people() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    n = 2000
    sex = rng.choice(["F", "M"], size=n)
    return pd.DataFrame(
        {
            "sex": sex,
            "title": np.where(
                sex == "F",
                rng.choice(["Mrs", "Ms", "Dr"], n, p=[0.5, 0.4, 0.1]),
                rng.choice(["Mr", "Dr"], n, p=[0.9, 0.1]),
            ),
            "height": np.where(sex == "F", 165.0, 178.0) + rng.normal(scale=7, size=n),
            "income": rng.lognormal(10, 0.5, size=n),
            "age": rng.integers(18, 80, size=n),
            "region": rng.choice(["n", "s", "e", "w"], size=n),
        }
    )


def test_association_measures_agree_with_scipy(people: pd.DataFrame) -> None:
    cramer = association(people, "title", "sex")
    table = pd.crosstab(people["title"], people["sex"]).to_numpy()
    assert cramer.measure == "cramers_v"
    assert cramer.value == pytest.approx(scipy_association(table, method="cramer"))
    eta = association(people, "height", "sex")
    biserial = stats.pointbiserialr(people["sex"] == "M", people["height"]).statistic
    assert eta.measure == "correlation_ratio" and eta.value == pytest.approx(abs(biserial))
    pearson = association(people, "income", "age")
    assert pearson.value == pytest.approx(abs(np.corrcoef(people["income"], people["age"])[0, 1]))


def test_correlation_ratio_over_several_groups_is_sqrt_of_anova_share(people: pd.DataFrame) -> None:
    result = association(people, "income", "region")
    groups = [people.loc[people["region"] == g, "income"] for g in "nsew"]
    grand = people["income"].mean()
    between = sum(len(g) * (g.mean() - grand) ** 2 for g in groups)
    total = ((people["income"] - grand) ** 2).sum()
    assert result.value == pytest.approx(np.sqrt(between / total))


def test_proxy_warnings_flag_strong_associations_only(people: pd.DataFrame) -> None:
    results = proxy_warnings(people, ["title", "height", "income", "sex"], ["sex"], threshold=0.5)
    by_feature = {r.evidence["feature"]: r for r in results}
    assert set(by_feature) == {"title", "height", "income"}  # sex itself is not its own proxy
    assert by_feature["title"].status == "warn" and by_feature["height"].status == "warn"
    assert by_feature["income"].status == "pass"
    assert by_feature["title"].value == pytest.approx(association(people, "title", "sex").value)


def test_undefined_associations_are_reported_with_their_reason() -> None:
    data = pd.DataFrame({"x": ["a"] * 10, "s": ["F", "M"] * 5})
    (result,) = proxy_warnings(data, ["x"], ["s"])
    assert result.status == "undefined" and "single value" in (result.reason or "")
    with pytest.raises(InputError, match="not in the data"):
        proxy_warnings(data, ["x", "y"], ["z"])


@pytest.mark.datasets
def test_relationship_is_a_proxy_for_sex_in_adult() -> None:
    if not (datasets_dir() / "adult").is_dir():
        pytest.skip(f"the shared datasets are not at {datasets_dir()}")
    adult = load_adult("test")
    results = proxy_warnings(adult, ["relationship", "capital_gain"], ["sex", "race"])
    assert [r.status for r in results] == ["warn", "pass"]
    table = pd.crosstab(adult["relationship"], adult["sex"]).to_numpy()
    assert results[0].value == pytest.approx(scipy_association(table, method="cramer"))
