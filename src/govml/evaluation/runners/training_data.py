"""The ``training_data`` section: who the training data represents, and aggregate expectations.

Representation, base rates and label coverage are measured on the training data given to
the evaluation (``--training-data``). Without it, representation is read from the category
counts of the version's training profile (recorded at registration) when they are complete,
and the other checks are undefined and say so.
``expectations`` run on the training data and ``evaluation_expectations`` on the evaluation
data; ``psi_vs_training`` compares an evaluation column with the training data, or with the
version's training profile when no training data is given. Checks: ``group_share:<feature>``,
``group_count:<feature>``, ``base_rate_ratio:<feature>``, ``label_coverage``,
``training_<expect>:<column>`` and ``<expect>:<column>``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from govml.checks import CheckResult
from govml.checks.result import Category, Status
from govml.checks.training_data import (
    GroupCounts,
    aggregate,
    base_rates,
    label_coverage,
    profile_counts,
    representation,
)
from govml.errors import InputError
from govml.evaluation.gates import judged_text, not_run, shown, threshold_of, within
from govml.evaluation.inputs import EvaluationInputs, coerce_label, plain
from govml.evaluation.runners.base import EvaluationRun, Finding, SectionOutput
from govml.policy import Policy
from govml.policy._base import suggestion
from govml.policy.diagnostics import Path as FieldPath
from govml.policy.training_data import (
    AggregateExpectation,
    DistinctCount,
    MaxShare,
    PsiVsTraining,
    QuantileBetween,
    TrainingData,
)

CATEGORY: Category = "training_data"
NO_TRAINING = "no training data was given to the evaluation (--training-data)"
NO_REFERENCE = "no training data was given and no training profile is recorded"
NOT_IN = "{name!r} is not a column of the {what}{hint}"
PSI_ON_TRAINING = "psi_vs_training compares the evaluation data with the training data"
NO_LABEL_RATE = "base rates are about a classifier's labels; {subject} is a regression model"
NO_TARGET = "the training data has no target column {target!r}"
UNDEFINED_GROUP = "group {group} has no labelled row"
ZERO_RATES = "no group has the label {label!r}, so the ratio is 0/0"


class TrainingDataRunner:
    """Audits the training data and checks aggregate expectations on both data sets."""

    section: Category = CATEGORY
    stage = "training data"
    clock = "training_data"
    on_raw_data = False

    def applies(self, policy: Policy) -> bool:
        """Return whether the policy has a training_data section."""
        return policy.training_data is not None

    def problems(self, run: EvaluationRun) -> list[tuple[FieldPath, str]]:
        """Return columns the section names that the data sets do not have."""
        section = run.policy.training_data
        assert section is not None
        found: list[tuple[FieldPath, str]] = []
        evaluation = [str(c) for c in run.table.column_names]
        for index, item in enumerate(section.evaluation_expectations):
            path: FieldPath = ("training_data", "evaluation_expectations", index, "column")
            found += _absent(path, item.column, evaluation, "evaluation data")
        for index, item in enumerate(section.expectations):
            path = ("training_data", "expectations", index)
            if isinstance(item, PsiVsTraining):
                found.append(((*path, "expect"), PSI_ON_TRAINING))
            elif run.training_table is not None:
                columns = [str(c) for c in run.training_table.column_names]
                found += _absent((*path, "column"), item.column, columns, "training data")
        if run.training_table is not None:
            columns = [str(c) for c in run.training_table.column_names]
            for index, name in enumerate(section.sensitive):
                path = ("training_data", "sensitive", index)
                found += _absent(path, name, columns, "training data")
        return found

    def run(self, run: EvaluationRun) -> SectionOutput:
        """Measure the training data and check every expectation."""
        section = run.policy.training_data
        assert section is not None
        inputs = run.predictions()
        results: list[CheckResult] = []
        training = None if run.training_table is None else run.training_table.to_pandas()
        results += _groups(run, section, inputs, training)
        if section.min_label_coverage is not None:
            limit = section.min_label_coverage
            if training is None or inputs.target not in training.columns:
                reason = NO_TRAINING if training is None else NO_TARGET.format(target=inputs.target)
                results.append(not_run("label_coverage", CATEGORY, reason, {"min": limit}))
            else:
                coverage = label_coverage(training, inputs.target)
                results.append(
                    _judged(
                        "label_coverage",
                        coverage,
                        limit,
                        None,
                        f"share of the {len(training):,} training rows with a label",
                        {"rows": len(training)},
                    )
                )
        for item in section.expectations:
            name = f"training_{item.expect}:{item.column}"
            if training is None:
                results.append(not_run(name, CATEGORY, NO_TRAINING, _threshold(item)))
            else:
                results.append(_expectation(name, item, training, run))
        evaluation = run.table.to_pandas() if section.evaluation_expectations else None
        for item in section.evaluation_expectations:
            assert evaluation is not None
            results.append(_expectation(f"{item.expect}:{item.column}", item, evaluation, run))
        return SectionOutput(findings=[Finding(result=r) for r in results])


def _absent(
    path: FieldPath, name: str, columns: list[str], what: str
) -> list[tuple[FieldPath, str]]:
    if name in columns:
        return []
    return [(path, NOT_IN.format(name=name, what=what, hint=suggestion(name, columns)))]


def _sensitive(run: EvaluationRun, section: TrainingData) -> list[str]:
    if section.sensitive:
        return list(section.sensitive)
    return [] if run.policy.fairness is None else list(run.policy.fairness.sensitive)


def _label(run: EvaluationRun, inputs: EvaluationInputs) -> Any:
    fairness = run.policy.fairness
    if fairness is not None and fairness.favourable_label is not None:
        label = coerce_label(fairness.favourable_label, inputs.y_true)
        if inputs.y_true.dtype.kind in "OUS" and not isinstance(label, str):
            label = str(label)
        return label
    return inputs.pos_label


def _groups(
    run: EvaluationRun,
    section: TrainingData,
    inputs: EvaluationInputs,
    training: pd.DataFrame | None,
) -> list[CheckResult]:
    out: list[CheckResult] = []
    for feature in _sensitive(run, section):
        wanted = [
            (f"group_share:{feature}", section.min_group_share),
            (f"group_count:{feature}", section.min_group_count),
            (f"base_rate_ratio:{feature}", section.min_base_rate_ratio),
        ]
        counts = None if training is None else representation(training, feature)
        if counts is None:
            counts = profile_counts(run.training_profile, feature)
        if counts is None:
            out += [
                not_run(name, CATEGORY, NO_TRAINING, {"min": limit})
                for name, limit in wanted
                if limit is not None
            ]
            continue
        total = sum(counts.rows)
        evidence = _evidence(counts)
        if training is None:
            evidence["source"] = "training profile"
        if section.min_group_share is not None:
            low = min(counts.shares)
            out.append(
                _judged(
                    f"group_share:{feature}",
                    low,
                    section.min_group_share,
                    _smallest(counts, counts.shares),
                    f"share of the {total:,} training rows in the smallest group",
                    evidence,
                )
            )
        if section.min_group_count is not None:
            fewest = float(min(counts.rows))
            out.append(
                _judged(
                    f"group_count:{feature}",
                    fewest,
                    float(section.min_group_count),
                    _smallest(counts, [float(r) for r in counts.rows]),
                    "training rows in the smallest group",
                    evidence,
                )
            )
        if section.min_base_rate_ratio is not None and training is None:
            limit = {"min": section.min_base_rate_ratio}
            out.append(not_run(f"base_rate_ratio:{feature}", CATEGORY, NO_TRAINING, limit))
        elif section.min_base_rate_ratio is not None:
            assert training is not None
            out.append(_base_rate(run, section, inputs, training, feature))
    return out


def _base_rate(
    run: EvaluationRun,
    section: TrainingData,
    inputs: EvaluationInputs,
    training: pd.DataFrame,
    feature: str,
) -> CheckResult:
    name = f"base_rate_ratio:{feature}"
    limit = section.min_base_rate_ratio
    assert limit is not None
    if inputs.task == "regression":
        why = NO_LABEL_RATE.format(subject=run.subject)
        return not_run(name, CATEGORY, why, {"min": limit})
    if inputs.target not in training.columns:
        why = NO_TARGET.format(target=inputs.target)
        return not_run(name, CATEGORY, why, {"min": limit})
    label = _label(run, inputs)
    counts = base_rates(training, feature, inputs.target, label)
    rates = counts.base_rates or []
    evidence = {**_evidence(counts), "label": plain(label), "base_rates": rates}
    missing = [g for g, r in zip(counts.groups, rates, strict=True) if r is None]
    defined = [r for r in rates if r is not None]
    reason: str | None = None
    if missing:
        reason = UNDEFINED_GROUP.format(group=f"{feature}={missing[0]}")
    elif max(defined) == 0:
        reason = ZERO_RATES.format(label=plain(label))
    if reason is not None:
        return CheckResult(
            check=name,
            category=CATEGORY,
            status="undefined",
            message=f"base_rate_ratio over {feature} is undefined: {reason}",
            threshold={"min": limit},
            reason=reason,
            evidence=evidence,
        )
    ratio = min(defined) / max(defined)
    return _judged(
        name,
        ratio,
        limit,
        None,
        f"smallest over largest rate of the label {plain(label)!r} by {feature}",
        evidence,
    )


def _evidence(counts: GroupCounts) -> dict[str, Any]:
    return {
        "feature": counts.feature,
        "groups": [plain(g) for g in counts.groups],
        "rows": counts.rows,
        "shares": counts.shares,
    }


def _smallest(counts: GroupCounts, values: Sequence[float]) -> str:
    index = min(range(len(values)), key=lambda i: values[i])
    return f"{counts.feature}={counts.groups[index]}"


def _judged(
    check: str,
    value: float,
    low: float,
    where: str | None,
    what: str,
    evidence: dict[str, Any],
) -> CheckResult:
    status: Status = "pass" if value >= low else "fail"
    relation = "meets" if status == "pass" else "breaks"
    place = f", {where}" if where else ""
    measure = check.split(":", 1)[0]
    return CheckResult(
        check=check,
        category=CATEGORY,
        status=status,
        message=f"{measure} {shown(value)} ({what}{place}) {relation} ≥ {shown(low)}",
        value=value,
        threshold={"min": low},
        evidence=evidence,
    )


def _threshold(item: AggregateExpectation) -> dict[str, Any]:
    if isinstance(item, MaxShare | PsiVsTraining):
        return {"max": item.max}
    low = None if item.min is None else float(item.min)
    high = None if item.max is None else float(item.max)
    return threshold_of(low, high)


def _expectation(
    name: str, item: AggregateExpectation, frame: pd.DataFrame, run: EvaluationRun
) -> CheckResult:
    threshold = _threshold(item)
    try:
        value = _measure(item, frame, run)
    except (ValueError, InputError) as exc:
        reason = str(exc).splitlines()[0]
        return not_run(name, CATEGORY, reason, threshold)
    low: float | None
    high: float | None
    if isinstance(item, MaxShare | PsiVsTraining):
        low, high = None, item.max
    else:
        low = None if item.min is None else float(item.min)
        high = None if item.max is None else float(item.max)
    status: Status = "pass" if within(value, low, high) else "fail"
    relation = judged_text(status == "pass", low, high)
    what = {
        "mean_between": "mean",
        "quantile_between": f"quantile {shown(getattr(item, 'quantile', 0.5))}",
        "distinct_count": "distinct values",
        "max_share": "largest share of one value",
        "psi_vs_training": "PSI against the training data",
    }[item.expect]
    return CheckResult(
        check=name,
        category=CATEGORY,
        status=status,
        message=f"{what} of {item.column} {shown(value)} {relation}",
        value=value,
        threshold=threshold,
        evidence={"column": item.column, "rows": len(frame)},
    )


def _measure(item: AggregateExpectation, frame: pd.DataFrame, run: EvaluationRun) -> float:
    if isinstance(item, PsiVsTraining):
        from govml.metrics import data_drift

        reference: Any = run.training_table
        if reference is None:
            reference = run.training_profile
        if reference is None:
            raise ValueError(NO_REFERENCE)
        report = data_drift(reference, frame[[item.column]], columns=[item.column], tests="psi")
        (column,) = report.columns
        if column.score is None:
            raise ValueError(column.reason or "the PSI is undefined")
        return float(column.score)
    quantile = item.quantile if isinstance(item, QuantileBetween) else 0.5
    if isinstance(item, DistinctCount):
        return aggregate(frame, "distinct_count", item.column)
    return aggregate(frame, item.expect, item.column, quantile)
