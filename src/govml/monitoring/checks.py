"""The monitoring checks, on statistics already counted: no file, store or network here.

Drift (data, prediction, training–serving skew)
    Each feature is tested against the version's training profile with the tests the
    policy's ``monitoring.drift`` names (``psi: {warn: 0.1, alert: 0.25}``); a feature
    whose kind no named test applies to (KS and Wasserstein are numeric only) gets the
    default. Without a ``drift`` section every feature gets Evidently's default test
    (normalised Wasserstein for numeric features with more than 5 values, Jensen–Shannon
    distance otherwise; KS / chi-square / z for references of at most 1,000 rows) at
    :data:`DEFAULT_LEVELS`: a distance warns at the test's Evidently threshold and alerts
    at twice it; a p-value warns at 0.05 and alerts at 0.01. P-value levels are
    family-wise: divided by the number of features tested (Bonferroni), so a window of
    unchanged traffic alerts with probability at most the level, not once per feature.
    A feature's status is the worst over its tests.
Performance and fairness
    The ``monitoring.performance`` and ``monitoring.fairness`` rules, on the window's
    labelled rows: a broken bound is ``critical``; fewer labelled rows than
    ``min_labels`` (or a group under ``min_group_size``) is ``insufficient``, never a
    pass or a failure.
Attribution
    Mean |SHAP| importance on a sample of the window against the importance stored by
    the version's evaluation: ``alert`` when the top-k overlap or Spearman's rank
    correlation falls below ``explainability.stability_vs_production`` (default 0.5 and
    0.5; the correlation counts from :data:`MIN_RANKED` features on, below which a rank
    correlation says little), ``warn`` when the top-k set changed at all.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from govml.checks import CheckResult, rank_correlation, top_features
from govml.datasets import NumericColumnProfile, Profile
from govml.metrics import CurrentStatistics, data_drift, metric_result
from govml.metrics.drift.report import ColumnDrift
from govml.metrics.drift.tests import (
    SPECS,
    DriftTestName,
    chi_square,
    default_test,
    hellinger,
    jensen_shannon,
    kl_divergence,
    proportions_z,
    psi,
)
from govml.monitoring.records import CheckOutcome, Status, worst

DEFAULT_MIN_ROWS = 200
DEFAULT_MIN_LABELS = 200
DEFAULT_OVERLAP = 0.5
DEFAULT_RANK_CORRELATION = 0.5
MIN_RANKED = 5
DISTANCE_ALERT_FACTOR = 2.0
P_VALUE_WARN = 0.05
P_VALUE_ALERT = 0.01
COUNT_TESTS: tuple[DriftTestName, ...] = (
    "psi",
    "jensenshannon",
    "kl_div",
    "hellinger",
    "chisquare",
    "z",
)


@dataclass(frozen=True, kw_only=True)
class DriftLevels:
    """A drift test and the scores at which it warns and alerts.

    ``test`` None means each feature's default test at :data:`DEFAULT_LEVELS`.
    """

    test: DriftTestName | None
    warn: float | None = None
    alert: float | None = None


DEFAULT_LEVELS = (DriftLevels(test=None),)


def levels_for(
    test: str, warn: float | None, alert: float | None
) -> tuple[float | None, float | None]:
    """Return the warn and alert levels of ``test``, defaults filled in."""
    if warn is not None or alert is not None:
        return warn, alert
    spec = SPECS[test]  # type: ignore[index]
    if spec.score == "p_value":
        return P_VALUE_WARN, P_VALUE_ALERT
    return spec.default_threshold, spec.default_threshold * DISTANCE_ALERT_FACTOR


def grade(test: str, score: float, warn: float | None, alert: float | None, family: int) -> Status:
    """Return the status of a drift ``score`` for ``test`` at the given levels.

    P-value levels are divided by ``family`` (the number of features tested together).
    """
    p_value = SPECS[test].score == "p_value"  # type: ignore[index]
    if p_value:
        if alert is not None and score <= alert / family:
            return "alert"
        if warn is not None and score <= warn / family:
            return "warn"
        return "ok"
    if alert is not None and score >= alert:
        return "alert"
    if warn is not None and score >= warn:
        return "warn"
    return "ok"


def _kind(profile: Profile, name: str) -> str:
    return "numeric" if isinstance(profile.column(name), NumericColumnProfile) else "categorical"


def feature_drift(
    profile: Profile,
    stats: CurrentStatistics,
    features: Sequence[str],
    levels: Sequence[DriftLevels],
    *,
    category: str = "data_drift",
) -> list[CheckOutcome]:
    """Test each feature's window statistics against the training profile.

    Parameters
    ----------
    profile
        The version's training profile.
    stats
        The window's statistics counted against it.
    features
        Features to test (columns of both).
    levels
        The policy's tests and levels (:data:`DEFAULT_LEVELS` without a drift section).
    category
        ``data_drift`` or ``skew`` (check names are ``<category>:<feature>``).

    Returns
    -------
    list of CheckOutcome
        One per feature, its status the worst over its tests.
    """
    kinds = {name: _kind(profile, name) for name in features}
    plan: dict[str, list[DriftLevels]] = {name: [] for name in features}
    for level in levels:
        for name in features:
            if level.test is None or kinds[name] in SPECS[level.test].kinds:
                plan[name].append(level)
    for name in features:
        if not plan[name]:
            plan[name].append(DriftLevels(test=None))
    # Group the features by test so that each test runs once over its features.
    by_test: dict[DriftTestName | None, list[str]] = {}
    for name in features:
        for level in plan[name]:
            by_test.setdefault(level.test, []).append(name)
    results: dict[tuple[DriftTestName | None, str], ColumnDrift] = {}
    for test, names in by_test.items():
        report = data_drift(profile, stats, columns=names, tests=test)
        for column in report.columns:
            results[(test, column.column)] = column
    out = []
    for name in features:
        scored = []
        for level in plan[name]:
            column = results[(level.test, name)]
            family = len(by_test[level.test])
            scored.append(_scored(column, level, family))
        out.append(_feature_outcome(name, category, scored))
    return out


@dataclass(frozen=True)
class _Scored:
    test: str | None
    score: float | None
    warn: float | None
    alert: float | None
    status: Status
    family: int
    column: ColumnDrift


def _scored(column: ColumnDrift, level: DriftLevels, family: int) -> _Scored:
    score = column.score
    if column.test is None or score is None or math.isnan(score):
        return _Scored(None, None, level.warn, level.alert, "insufficient", family, column)
    warn, alert = levels_for(column.test, level.warn, level.alert)
    status = grade(column.test, score, warn, alert, family)
    return _Scored(column.test, score, warn, alert, status, family, column)


def _feature_outcome(name: str, category: str, scored: list[_Scored]) -> CheckOutcome:
    status = worst(s.status for s in scored)
    first = max(scored, key=lambda s: _rank_key(s.status))
    tests = []
    for s in scored:
        entry = s.column.to_dict()
        entry.update({"warn": s.warn, "alert": s.alert, "status": s.status, "family": s.family})
        tests.append(entry)
    if first.test is None or first.score is None:
        reason = first.column.reason or "not enough values"
        message = f"{name}: not tested ({reason})"
    else:
        message = f"{name}: {_describe(first)}"
    threshold = {"test": first.test, "warn": first.warn, "alert": first.alert}
    value = None if first.score is None or not math.isfinite(first.score) else first.score
    return CheckOutcome(
        check=f"{category}:{name}",
        category=category,
        status=status,
        value=value,
        threshold=threshold,
        message=message,
        evidence={"tests": tests},
    )


def _rank_key(status: str) -> int:
    return ["insufficient", "ok", "warn", "alert", "critical"].index(status)


def _describe(s: _Scored) -> str:
    assert s.test is not None and s.score is not None
    p_value = SPECS[s.test].score == "p_value"  # type: ignore[index]
    shown = f"{s.score:.3g}"
    if p_value:
        where = f" (levels divided by {s.family} features)" if s.family > 1 else ""
        if s.status == "alert" and s.alert is not None:
            return f"{s.test} p = {shown} ≤ alert {s.alert:g}{where}"
        if s.status == "warn" and s.warn is not None:
            return f"{s.test} p = {shown} ≤ warn {s.warn:g}{where}"
        return f"{s.test} p = {shown}"
    if s.status == "alert" and s.alert is not None:
        return f"{s.test} {shown} ≥ alert {s.alert:g}"
    if s.status == "warn" and s.warn is not None:
        return f"{s.test} {shown} ≥ warn {s.warn:g}"
    return f"{s.test} {shown}"


def count_drift(
    reference: Mapping[str, int],
    current: Mapping[str, int],
    levels: Sequence[DriftLevels],
    *,
    check: str = "prediction_drift",
    source: str,
) -> CheckOutcome:
    """Compare two distributions of labels given as counts (predicted classes).

    Only the tests that apply to categories run (PSI, Jensen–Shannon, KL, Hellinger,
    chi-square, z); without one in ``levels``, Evidently's default for a categorical
    column.
    """
    labels = sorted(set(reference) | set(current))
    ref = np.array([int(reference.get(k, 0)) for k in labels], dtype=np.int64)
    cur = np.array([int(current.get(k, 0)) for k in labels], dtype=np.int64)
    chosen = [level for level in levels if level.test in COUNT_TESTS]
    if not chosen:
        test = default_test("categorical", int(ref.sum()), len(labels))
        chosen = [DriftLevels(test=test)]
    results: list[dict[str, Any]] = []
    scores: list[float] = []
    for level in chosen:
        assert level.test is not None
        score = _count_score(level.test, ref, cur, labels)
        warn, alert = levels_for(level.test, level.warn, level.alert)
        status = grade(level.test, score, warn, alert, 1)
        results.append(
            {"test": level.test, "score": score, "warn": warn, "alert": alert, "status": status}
        )
        scores.append(score)
    index = max(range(len(results)), key=lambda i: _rank_key(str(results[i]["status"])))
    top, top_score = results[index], scores[index]
    status = worst(str(r["status"]) for r in results)
    ref_share = {k: int(v) / max(int(ref.sum()), 1) for k, v in zip(labels, ref, strict=True)}
    cur_share = {k: int(v) / max(int(cur.sum()), 1) for k, v in zip(labels, cur, strict=True)}
    shares = ", ".join(f"{k}: {ref_share[k]:.1%} → {cur_share[k]:.1%}" for k in labels)
    return CheckOutcome(
        check=check,
        category="prediction_drift",
        status=status,
        value=top_score,
        threshold={"test": top["test"], "warn": top["warn"], "alert": top["alert"]},
        message=f"predicted classes ({shares}): {top['test']} {top_score:.3g} ({source})",
        evidence={
            "labels": labels,
            "reference": ref.tolist(),
            "current": cur.tolist(),
            "reference_source": source,
            "tests": results,
        },
    )


def _count_score(test: DriftTestName, ref: Any, cur: Any, labels: list[str]) -> float:
    if test == "psi":
        return psi(ref, cur)
    if test == "jensenshannon":
        return jensen_shannon(ref, cur)
    if test == "kl_div":
        return kl_divergence(ref, cur)
    if test == "hellinger":
        return hellinger(ref, cur)
    if test == "chisquare":
        return chi_square(ref, cur)[1]
    # z: the share of values other than the smallest one, as Evidently counts it
    hits_ref, hits_cur = int(ref[1:].sum()), int(cur[1:].sum())
    return proportions_z(hits_ref, int(ref.sum()), hits_cur, int(cur.sum()))[1]


def bounded(
    check: str,
    category: str,
    metric: str,
    value: float | None,
    low: float | None,
    high: float | None,
    *,
    reason: str | None = None,
    evidence: dict[str, Any] | None = None,
) -> CheckOutcome:
    """Return a rule's outcome: ``critical`` outside ``[low, high]``, ``insufficient`` if None."""
    threshold: dict[str, Any] = {}
    if low is not None:
        threshold["min"] = low
    if high is not None:
        threshold["max"] = high
    if value is None or not math.isfinite(value):
        return CheckOutcome(
            check=check,
            category=category,
            status="insufficient",
            value=None,
            threshold=threshold,
            message=f"{metric} is undefined: {reason or 'no value'}",
            evidence=evidence or {},
        )
    ok = (low is None or value >= low) and (high is None or value <= high)
    bound = " and ".join(
        text
        for text in (
            None if low is None else f"≥ {low:g}",
            None if high is None else f"≤ {high:g}",
        )
        if text
    )
    return CheckOutcome(
        check=check,
        category=category,
        status="ok" if ok else "critical",
        value=value,
        threshold=threshold,
        message=f"{metric} {value:.4g} {'meets' if ok else 'breaks'} {bound}",
        evidence=evidence or {},
    )


def performance_outcome(
    metric: str, low: float | None, high: float | None, stats: Any | None, why: str | None
) -> CheckOutcome:
    """Return the outcome of one ``monitoring.performance`` rule on mergeable statistics."""
    check = f"performance:{metric}"
    if stats is None:
        return bounded(check, "performance", metric, None, low, high, reason=why)
    result = metric_result(stats, metric)
    rows = getattr(stats, "n_rows", None)
    evidence = {"statistics": stats.to_dict(), "rows": None if rows is None else int(rows.sum())}
    return bounded(
        check,
        "performance",
        metric,
        result.value,
        low,
        high,
        reason=result.reason,
        evidence=evidence,
    )


def fairness_outcome(result: CheckResult) -> CheckOutcome:
    """Map a fairness check of the evaluation engine to a monitoring outcome."""
    status: Status = {"pass": "ok", "warn": "warn", "fail": "critical"}.get(
        result.status, "insufficient"
    )  # type: ignore[assignment]
    value = result.value if isinstance(result.value, int | float) else None
    threshold = result.threshold if isinstance(result.threshold, dict) else {}
    return CheckOutcome(
        check=f"fairness:{result.check}",
        category="fairness",
        status=status,
        value=None if value is None else float(value),
        threshold=dict(threshold),
        message=result.message,
        evidence=dict(result.evidence or {}),
    )


def attribution_outcome(
    current: Mapping[str, float],
    baseline: Mapping[str, float],
    *,
    k: int,
    min_overlap: float | None,
    min_rank_correlation: float | None,
    evidence: dict[str, Any],
) -> CheckOutcome:
    """Compare the window's SHAP importance with the evaluation's (module docstring).

    The value is the importance shift: half the L1 distance between the two importance
    profiles normalised to sum 1 (0 same shares, 1 disjoint).
    """
    overlap_level = DEFAULT_OVERLAP if min_overlap is None else min_overlap
    rho_level = DEFAULT_RANK_CORRELATION if min_rank_correlation is None else min_rank_correlation
    k = max(1, min(k, len(baseline)))
    now, before = top_features(current, k), top_features(baseline, k)
    overlap = len(set(now) & set(before)) / len(before) if before else 0.0
    rho = rank_correlation(current, baseline)
    names = sorted(set(current) | set(baseline))
    a = np.array([max(float(current.get(n, 0.0)), 0.0) for n in names])
    b = np.array([max(float(baseline.get(n, 0.0)), 0.0) for n in names])
    shift = (
        float(np.abs(a / a.sum() - b / b.sum()).sum() / 2) if a.sum() > 0 and b.sum() > 0 else None
    )
    status: Status = "ok"
    problems = []
    if overlap < overlap_level:
        problems.append(f"top-{k} overlap {overlap:.0%} below {overlap_level:.0%}")
    if rho is not None and len(names) >= MIN_RANKED and rho < rho_level:
        problems.append(f"rank correlation {rho:.2f} below {rho_level:.2f}")
    if problems:
        status = "alert"
    elif set(now) != set(before):
        status = "warn"
    rho_text = "undefined" if rho is None else f"{rho:.2f}"
    message = (
        f"top {k} now {', '.join(now)} (was {', '.join(before)}): overlap {overlap:.0%}, "
        f"rank correlation {rho_text}"
    )
    if problems:
        message += "; " + "; ".join(problems)
    return CheckOutcome(
        check="attribution",
        category="attribution",
        status=status,
        value=shift,
        threshold={"min_overlap": overlap_level, "min_rank_correlation": rho_level, "k": k},
        message=message,
        evidence={
            **evidence,
            "current": dict(current),
            "baseline": dict(baseline),
            "current_top": now,
            "baseline_top": before,
            "entered": [n for n in now if n not in before],
            "left": [n for n in before if n not in now],
            "overlap": overlap,
            "rank_correlation": rho,
        },
    )


def coverage_outcome(
    rows: int,
    labelled: int,
    feedback_rows: int,
    delays: Sequence[float],
    min_labels: int,
    *,
    corrections: int = 0,
    skipped: int = 0,
    skipped_examples: Sequence[str] = (),
) -> CheckOutcome:
    """Say how many served rows have labels, how late they arrive, and what was left out.

    ``corrections`` is how many of the labels used corrected an earlier one; ``skipped`` how
    many labels were left out because they cannot be true (a class the model does not have,
    a value that is not a number), with the first few named in ``skipped_examples``.
    """
    share = labelled / rows if rows else None
    p50 = float(np.percentile(delays, 50)) if len(delays) else None
    p90 = float(np.percentile(delays, 90)) if len(delays) else None
    delay = (
        ""
        if p50 is None or p90 is None
        else (
            f"; labels arrive {_duration(p50)} after the prediction (median), "
            f"{_duration(p90)} at p90"
        )
    )
    enough = labelled >= min_labels
    verdict = (
        ""
        if enough
        else (f": fewer than {min_labels} labelled rows, performance and fairness are not judged")
    )
    coverage = "no rows" if share is None else f"{share:.1%}"
    extra = ""
    if corrections:
        extra += f"; {corrections:,} of the labels are corrections"
    if skipped:
        extra += f"; {skipped:,} label(s) skipped as they cannot be true ({skipped_examples[0]})"
    return CheckOutcome(
        check="label_coverage",
        category="coverage",
        status="ok" if enough else "insufficient",
        value=share,
        threshold={"min_labels": min_labels},
        message=(
            f"{labelled:,} of {rows:,} served rows labelled ({coverage}){verdict}{delay}{extra}"
        ),
        evidence={
            "rows": rows,
            "labelled": labelled,
            "feedback_rows": feedback_rows,
            "delay_p50_s": p50,
            "delay_p90_s": p90,
            "corrections": corrections,
            "skipped_labels": skipped,
            "skipped_examples": list(skipped_examples),
        },
    )


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"
