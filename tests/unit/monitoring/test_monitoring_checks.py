"""The monitoring checks on statistics: drift grading, false alarms, attribution, windows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from govml.datasets import profile
from govml.errors import InputError
from govml.metrics import current_statistics
from govml.monitoring.checks import (
    DEFAULT_LEVELS,
    DriftLevels,
    attribution_outcome,
    count_drift,
    feature_drift,
    grade,
)
from govml.monitoring.records import worst
from govml.monitoring.webhook import sign, verify_signature
from govml.monitoring.window import Window, parse_length

EXAMPLE_POLICY = (
    DriftLevels(test="psi", warn=0.1, alert=0.25),
    DriftLevels(test="ks", warn=0.05, alert=0.01),
)


def _population(n: int, seed: int, *, shift: float = 0.0) -> pd.DataFrame:
    """An Adult-like mix: skewed and integer numerics, categories of uneven shares."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "age": np.clip(rng.normal(39 + shift, 13, n), 17, 90).round(),
            "hours": np.clip(rng.normal(40, 12, n), 1, 99).round(),
            "gain": np.where(rng.random(n) < 0.08, rng.lognormal(8, 1, n), 0.0),
            "score": rng.normal(0, 1, n),
            "education": rng.choice(
                ["hs", "college", "bachelors", "masters", "doctorate"],
                n,
                p=[0.4, 0.3, 0.2, 0.08, 0.02],
            ),
            "sex": rng.choice(["m", "f"], n, p=[0.67, 0.33]),
        }
    )


@pytest.fixture(scope="module")
def reference() -> object:
    return profile(_population(30_000, seed=0))


def _alerting_windows(reference: object, levels: tuple, seeds: range) -> int:
    features = ["age", "hours", "gain", "score", "education", "sex"]
    alerts = 0
    for seed in seeds:
        stats = current_statistics(reference, _population(2000, seed=seed))
        outcomes = feature_drift(reference, stats, features, levels)
        alerts += worst(o.status for o in outcomes) in ("alert", "critical")
    return alerts


def test_same_distribution_windows_raise_no_alert_with_the_default_tests(reference: object) -> None:
    # 200 windows of 2,000 rows from the training distribution, each its own seed:
    # measured false-alarm rate 0/200 (Wasserstein / Jensen-Shannon at twice Evidently's
    # threshold).
    assert _alerting_windows(reference, DEFAULT_LEVELS, range(1, 201)) == 0


def test_p_value_alerts_stay_at_their_family_wise_level(reference: object) -> None:
    # The example policy's KS alerts at p <= 0.01, divided by the 4 numeric features, so a
    # window of unchanged traffic alerts with probability at most 1 %: measured 2/200.
    # PSI (0.1 / 0.25) never alerts on these windows.
    assert _alerting_windows(reference, EXAMPLE_POLICY, range(1, 201)) <= 4
    psi_only = (EXAMPLE_POLICY[0],)
    assert _alerting_windows(reference, psi_only, range(1, 201)) == 0


def test_a_shifted_feature_alerts_and_the_others_do_not(reference: object) -> None:
    stats = current_statistics(reference, _population(2000, seed=7, shift=8.0))
    outcomes = {o.check: o for o in feature_drift(reference, stats, ["age", "sex"], EXAMPLE_POLICY)}
    assert outcomes["data_drift:age"].status == "alert"
    assert outcomes["data_drift:sex"].status in ("ok", "warn")
    tests = {t["test"] for t in outcomes["data_drift:age"].evidence["tests"]}
    assert tests == {"psi", "ks"}
    # KS does not apply to a categorical column: only PSI ran there
    assert {t["test"] for t in outcomes["data_drift:sex"].evidence["tests"]} == {"psi"}


def test_p_value_levels_are_divided_by_the_number_of_features() -> None:
    assert grade("ks", 0.004, 0.05, 0.01, family=1) == "alert"
    assert grade("ks", 0.004, 0.05, 0.01, family=5) == "warn"  # 0.004 > 0.01 / 5
    assert grade("ks", 0.02, 0.05, 0.01, family=5) == "ok"
    assert grade("psi", 0.3, 0.1, 0.25, family=5) == "alert"
    assert grade("psi", 0.12, 0.1, 0.25, family=5) == "warn"


def test_prediction_drift_on_class_counts() -> None:
    same = count_drift({"0": 760, "1": 240}, {"0": 7500, "1": 2500}, EXAMPLE_POLICY, source="eval")
    assert same.status == "ok" and same.threshold["test"] == "psi"  # KS skipped: classes
    moved = count_drift({"0": 760, "1": 240}, {"0": 300, "1": 700}, EXAMPLE_POLICY, source="eval")
    assert moved.status == "alert" and moved.value is not None and moved.value > 0.25
    large = {"0": 7600, "1": 2400}  # Evidently: z-test up to 1,000 reference rows, then JS
    default = count_drift(large, {"0": 300, "1": 700}, DEFAULT_LEVELS, source="e")
    assert default.threshold["test"] == "jensenshannon" and default.status == "alert"


def test_attribution_drift() -> None:
    baseline = {"a": 0.5, "b": 0.3, "c": 0.1, "d": 0.05, "e": 0.03, "f": 0.02}
    same = attribution_outcome(
        {k: v * 1.1 for k, v in baseline.items()},
        baseline,
        k=3,
        min_overlap=None,
        min_rank_correlation=None,
        evidence={},
    )
    assert same.status == "ok" and same.value == pytest.approx(0.0)
    flipped = {k: baseline[o] for k, o in zip("abcdef", "fedcba", strict=True)}
    moved = attribution_outcome(
        flipped, baseline, k=3, min_overlap=None, min_rank_correlation=None, evidence={}
    )
    assert moved.status == "alert"
    assert moved.evidence["entered"] == ["f", "e", "d"] and moved.evidence["overlap"] == 0.0
    swapped = dict(baseline, c=0.04, d=0.1)  # the third place changes hands
    assert (
        attribution_outcome(
            swapped, baseline, k=3, min_overlap=None, min_rank_correlation=None, evidence={}
        ).status
        == "warn"
    )


def test_windows() -> None:
    now = datetime(2026, 3, 2, 12, tzinfo=UTC)
    window = Window.resolve(window="6h", since=None, until=None, now=now)
    assert (window.start, window.end) == (now - timedelta(hours=6), now)
    assert parse_length("2w") == timedelta(weeks=2)
    span = Window.resolve(window=None, since="2026-03-01T23:00Z", until="2026-03-03", now=now)
    assert [d.isoformat() for d in span.days()] == ["2026-03-01", "2026-03-02"]
    naive = Window.resolve(window=None, since="2026-03-01T06:00", until=None, now=now)
    assert naive.start == datetime(2026, 3, 1, 6, tzinfo=UTC)
    for bad in ("0d", "1y", "1.5h", "", "d"):
        with pytest.raises(InputError, match="is not a length"):
            parse_length(bad)
    with pytest.raises(InputError, match="not both"):
        Window.resolve(window="1d", since="2026-03-01", until=None, now=now)
    with pytest.raises(InputError, match="at most 366 days"):
        Window.resolve(window="400d", since=None, until=None, now=now)


def test_webhook_signature_covers_timestamp_and_body() -> None:
    body = b'{"event":"monitoring.alert"}'
    signature = sign("k", "1700000000", body)
    assert signature.startswith("sha256=") and len(signature) == 71
    assert verify_signature("k", "1700000000", body, signature)
    assert not verify_signature("k", "1700000001", body, signature)
    assert not verify_signature("other", "1700000000", body, signature)
    assert not verify_signature("k", "1700000000", body + b" ", signature)
