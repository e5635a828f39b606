"""Multinomial bootstrap on statistics: reproducible, and distributed like row resampling."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from scipy import stats as scipy_stats

from govml.metrics import (
    MetricFrame,
    MetricInputError,
    binary_confusion,
    bootstrap,
    fairness_report,
    regression_moments,
)
from govml.metrics._aggregate import difference
from govml.metrics.bootstrap import BAD_CONFIDENCE, BAD_N_BOOT, NOT_CONFUSION, resample

N_BOOT = 2000


def _sample(n: int = 300, seed: int = 0) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    g = rng.choice(["a", "b", "c"], n, p=[0.6, 0.3, 0.1])
    y = (rng.random(n) < np.where(g == "a", 0.5, 0.3)).astype(int)
    p = np.where(rng.random(n) < 0.8, y, 1 - y)
    return {"y": y, "p": p, "g": g}


def _naive_replicates(d: dict[str, Any], *, stratified: bool, seed: int) -> dict[str, np.ndarray]:
    """Resample rows, then build statistics: the slow reference the multinomial must match."""
    rng = np.random.default_rng(seed)
    n = len(d["y"])
    groups = np.unique(d["g"])
    members = [np.flatnonzero(d["g"] == g) for g in groups]
    tpr, dpd = [], []
    for _ in range(N_BOOT):
        if stratified:
            rows = np.concatenate([rng.choice(m, len(m)) for m in members])
        else:
            rows = rng.integers(0, n, n)
        stats = binary_confusion(d["y"][rows], d["p"][rows], sensitive_features=d["g"][rows])
        w = np.zeros((len(groups), 2, 2))
        present = np.searchsorted(groups, [k[0] for k in stats.groups.keys])
        w[present] = stats.weight
        with np.errstate(invalid="ignore", divide="ignore"):
            tpr.append(w[:, 1, 1] / w[:, 1].sum(axis=1))
            sr = w[:, :, 1].sum(axis=1) / w.sum(axis=(1, 2))
        dpd.append(difference(sr, np.array(np.nan), "between_groups", skipna=False))
    return {"tpr": np.array(tpr), "dpd": np.array(dpd)}


@pytest.mark.parametrize("stratified", [False, True])
def test_multinomial_bootstrap_matches_row_resampling(stratified: bool) -> None:
    d = _sample()
    stats = binary_confusion(d["y"], d["p"], sensitive_features=d["g"])
    result = bootstrap(
        stats,
        metrics=["selection_rate", "true_positive_rate"],
        n_boot=N_BOOT,
        stratified=stratified,
        random_state=11,
    )
    naive = _naive_replicates(d, stratified=stratified, seed=12)
    draws = {
        "tpr": result.values["recall"],
        "dpd": difference(
            result.values["selection_rate"], np.array(np.nan), "between_groups", skipna=False
        ),
    }
    for name in ("tpr", "dpd"):
        ours, theirs = draws[name], naive[name]
        for column in range(ours.shape[1] if ours.ndim == 2 else 1):
            a = ours[:, column] if ours.ndim == 2 else ours
            b = theirs[:, column] if theirs.ndim == 2 else theirs
            a, b = a[~np.isnan(a)], b[~np.isnan(b)]
            spread = np.std(b)
            if spread == 0:  # a rate that cannot vary (no false negatives to draw)
                assert np.all(a == b[0])
                continue
            # Same distribution: means within 4 standard errors, quantiles within 0.15 sd,
            # and a two-sample KS test that does not reject (fixed seeds, so no flakes).
            assert abs(a.mean() - b.mean()) < 4 * spread * np.sqrt(2 / N_BOOT)
            for q in (0.025, 0.5, 0.975):
                assert abs(np.quantile(a, q) - np.quantile(b, q)) < 0.15 * spread + 1e-9
            assert scipy_stats.ks_2samp(a, b).pvalue > 0.001


def test_seeded_and_default_sized() -> None:
    d = _sample()
    stats = binary_confusion(d["y"], d["p"], sensitive_features=d["g"])
    first = bootstrap(stats, random_state=5)
    again = bootstrap(stats, random_state=5)
    other = bootstrap(stats, random_state=6)
    assert first.n_boot == 1000
    assert first.difference("selection_rate") == again.difference("selection_rate")
    assert first.difference("selection_rate") != other.difference("selection_rate")


def test_stratified_draws_keep_group_sizes_and_plain_draws_keep_the_total() -> None:
    d = _sample()
    stats = binary_confusion(d["y"], d["p"], sensitive_features=d["g"])
    rng = np.random.default_rng(0)
    _, count = resample(stats, n_boot=200, stratified=True, rng=rng)
    assert (count.sum(axis=(2, 3)) == stats.n_rows).all()
    _, count = resample(stats, n_boot=200, stratified=False, rng=rng)
    assert (count.sum(axis=(1, 2, 3)) == len(d["y"])).all()
    assert not (count.sum(axis=(2, 3)) == stats.n_rows).all()


def test_weighted_cells_carry_their_mean_weight() -> None:
    d = _sample()
    w = np.where(d["y"] == 1, 2.0, 0.5)  # constant within each cell
    stats = binary_confusion(d["y"], d["p"], sensitive_features=d["g"], sample_weight=w)
    weight, count = resample(stats, n_boot=500, stratified=False, rng=np.random.default_rng(1))
    mean_weight = np.divide(
        stats.weight, stats.count, out=np.zeros_like(stats.weight), where=stats.count > 0
    )
    np.testing.assert_allclose(weight, count * mean_weight)
    np.testing.assert_allclose(weight.mean(axis=0), stats.weight, rtol=0.1, atol=1.0)


def test_undefined_replicates_are_skipped_and_counted() -> None:
    # group "b" has a single positive: many replicates draw none, so its TPR is undefined
    y = np.array([1, 0, 1, 0] * 10 + [1] + [0] * 9)
    p = np.array([1, 0, 0, 0] * 10 + [1] + [0] * 9)
    g = np.array(["a"] * 40 + ["b"] * 10)
    result = bootstrap(binary_confusion(y, p, sensitive_features=g), n_boot=500, random_state=0)
    interval = result.group_intervals("true_positive_rate")[1]
    assert 0 < interval.skipped < 500
    assert interval.skipped == int(np.isnan(result.values["recall"][:, 1]).sum())
    assert result.named("equalized_odds_difference").skipped >= interval.skipped


def test_report_and_frame_carry_intervals() -> None:
    d = _sample()
    report = fairness_report(
        d["y"], d["p"], sensitive_features={"g": d["g"]}, n_boot=300, random_state=3
    )
    dpd = report.section("g").disparities["demographic_parity_difference"]
    assert dpd.interval is not None and dpd.replicates == 300 and dpd.skipped == 0
    assert dpd.interval[0] <= dpd.value <= dpd.interval[1]  # type: ignore[operator]
    frame = MetricFrame(
        metrics=["selection_rate", "true_positive_rate"],
        y_true=d["y"],
        y_pred=d["p"],
        sensitive_features=d["g"],
    )
    boot = frame.bootstrap(n_boot=300, random_state=3)
    assert boot.difference("selection_rate").bounds == dpd.interval


def test_bad_arguments() -> None:
    stats = binary_confusion([1, 0], [1, 1])
    with pytest.raises(MetricInputError) as info:
        bootstrap(stats, n_boot=0)
    assert info.value.message == BAD_N_BOOT.format(value=0)
    with pytest.raises(MetricInputError) as info:
        bootstrap(stats, confidence=95)
    assert info.value.message == BAD_CONFIDENCE.format(value=95)
    with pytest.raises(MetricInputError) as info:
        bootstrap(regression_moments([1.0], [2.0]))  # type: ignore[arg-type]
    assert info.value.message == NOT_CONFUSION.format(kind="RegressionMoments")
