"""Differential tests against AIF360 0.6.1's scikit-learn API, 1e-12."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import govml.metrics.reference_group as rg
from govml.metrics import MetricInputError, fairness_report

logging.getLogger().setLevel(logging.ERROR)  # AIF360 logs optional extras it cannot import
am = pytest.importorskip("aif360.sklearn.metrics")

pytestmark = pytest.mark.filterwarnings("ignore")
VECTOR = json.loads((Path(__file__).parents[2] / "vectors" / "fairness.json").read_text())["aif360"]
PAIRWISE = [
    "statistical_parity_difference",
    "disparate_impact_ratio",
    "equal_opportunity_difference",
    "average_odds_difference",
    "average_odds_error",
]


def _same(a: float, b: float) -> None:
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12, equal_nan=True)


def test_reference_vector() -> None:
    y, p = np.array(VECTOR["y_true"]), np.array(VECTOR["y_pred"])
    g, priv = np.array(VECTOR["groups"]), VECTOR["privileged"]
    expected = VECTOR["expected"]
    for name in PAIRWISE[:4]:
        ours = getattr(rg, name)(y, p, prot_attr=g, priv_group=priv)
        _same(ours, getattr(am, name)(y, p, prot_attr=g, priv_group=priv))
        assert ours == pytest.approx(expected[name], abs=1e-5)
    assert rg.generalized_entropy_error(y, p) == pytest.approx(
        expected["generalized_entropy_error"], abs=1e-6
    )
    assert rg.theil_index(p - y + 1) == pytest.approx(expected["theil_index"], abs=1e-6)
    _same(rg.generalized_entropy_error(y, p, alpha=1), am.generalized_entropy_error(y, p, alpha=1))


def test_report_says_undefined_where_aif360_substitutes_zero() -> None:
    y, p, g = VECTOR["y_true"], VECTOR["y_pred"], VECTOR["groups"]
    report = fairness_report(y, p, sensitive_features={"sex": g}, privileged={"sex": "M"})
    reference = report.section("sex").reference
    for name in VECTOR["undefined"]:
        assert reference[name].undefined
        assert "no actual negatives" in (reference[name].reason or "")
    assert reference["statistical_parity_difference"].value == pytest.approx(0.4)
    assert reference["disparate_impact_ratio"].value == pytest.approx(2.0)


@st.composite
def data(draw: Any) -> dict[str, Any]:
    n = draw(st.integers(4, 60))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    g = rng.choice(["u1", "u2", "priv"], n)
    g[:2] = ["priv", "u1"]  # both sides present
    return {
        "y": rng.integers(0, 2, n),
        "p": (rng.random(n) < draw(st.sampled_from([0.0, 0.3, 0.8]))).astype(int),
        "g": g,
        "w": rng.uniform(0.1, 3, n) if draw(st.booleans()) else None,
    }


@given(d=data(), name=st.sampled_from(PAIRWISE))
@settings(max_examples=80, deadline=None)
def test_reference_group_forms_equal_aif360(d: dict[str, Any], name: str) -> None:
    kwargs = {"prot_attr": d["g"], "priv_group": "priv", "sample_weight": d["w"]}
    _same(getattr(rg, name)(d["y"], d["p"], **kwargs), getattr(am, name)(d["y"], d["p"], **kwargs))


@given(d=data(), alpha=st.sampled_from([0.5, 1, 2, 3]))
@settings(max_examples=40, deadline=None)
def test_entropy_indices_equal_aif360(d: dict[str, Any], alpha: float) -> None:
    y, p = d["y"], d["p"]
    _same(
        rg.generalized_entropy_error(y, p, alpha=alpha),
        am.generalized_entropy_error(y, p, alpha=alpha),
    )
    b = p - y + 1
    _same(
        rg.generalized_entropy_index(b, alpha=alpha), am.generalized_entropy_index(b, alpha=alpha)
    )
    _same(rg.theil_index(b), am.theil_index(b))
    _same(rg.coefficient_of_variation(b), am.coefficient_of_variation(b))
    two = np.where(d["g"] == "priv", "priv", "other")
    _same(
        rg.between_group_generalized_entropy_error(y, p, prot_attr=two, alpha=alpha),
        am.between_group_generalized_entropy_error(y, p, prot_attr=two, alpha=alpha),
    )


def test_index_levels_work_as_protected_attributes() -> None:
    rng = np.random.default_rng(3)
    index = pd.MultiIndex.from_arrays(
        [rng.choice(["a", "b"], 40), rng.choice([0, 1], 40)], names=["sex", "age"]
    )
    y = pd.Series(rng.integers(0, 2, 40), index=index)
    p = rng.integers(0, 2, 40)
    _same(
        rg.statistical_parity_difference(y, p, prot_attr="sex", priv_group="a"),
        am.statistical_parity_difference(y, p, prot_attr="sex", priv_group="a"),
    )
    _same(
        rg.average_odds_difference(y, p, priv_group=("a", 1)),
        am.average_odds_difference(y, p, priv_group=("a", 1)),
    )
    _same(
        rg.average_odds_error(y, p, prot_attr="age"), am.average_odds_error(y, p, prot_attr="age")
    )


def test_errors_name_the_problem() -> None:
    with pytest.raises(MetricInputError) as info:
        rg.statistical_parity_difference(
            [1, 0], [1, 1], prot_attr=np.array(["a", "b"]), priv_group="Z"
        )
    assert info.value.message == rg.PRIVILEGED_NOT_FOUND.format(group="Z", groups=["a", "b"])
    with pytest.raises(MetricInputError) as info:
        rg.statistical_parity_difference([1, 0], [1, 1])
    assert info.value.message == rg.NEED_PROT_ATTR
    # as in AIF360, a list of strings names index levels
    with pytest.raises(MetricInputError) as info:
        rg.statistical_parity_difference(pd.Series([1, 0]), [1, 1], prot_attr=["a", "b"])
    assert info.value.message == rg.NOT_AN_INDEX_LEVEL.format(name="a")
