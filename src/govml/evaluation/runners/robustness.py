"""The ``robustness`` section: perturbations, monotone features, counterfactual swaps.

Runs on at most ``sample_rows`` rows of the evaluation data drawn with the evaluation's seed,
with the model itself (outside predictions cannot be perturbed: the checks are undefined
and say so). A model that raises on perturbed inputs fails the perturbation's checks with
the error named. Checks: ``flip_rate:<kind>``, ``metric_drop:<kind>``,
``monotone:<feature>`` and ``counterfactual_flip_rate:<feature>``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from govml.checks import CheckResult
from govml.checks.result import Category, Status
from govml.checks.robustness import (
    Decider,
    categorical_columns,
    counterfactual_flips,
    monotone_violations,
    numeric_columns,
    perturb,
)
from govml.evaluation.gates import not_run, shown
from govml.evaluation.inputs import EvaluationInputs, plain
from govml.evaluation.runners.base import EvaluationRun, Finding, SectionOutput
from govml.metrics.custom import one_line
from govml.policy import Policy
from govml.policy._base import suggestion
from govml.policy.diagnostics import Path as FieldPath
from govml.policy.robustness import Perturbation, Robustness

NO_MODEL = (
    "robustness needs the model itself: {subject} is predictions made elsewhere or an "
    "artifact the scan refused"
)
NOT_INPUT = "{name!r} is not an input of the model{hint}"
NOT_COLUMN = "{name!r} is not a column of the data{hint}"
NOT_READ = (
    "; the model reads neither {feature} nor a proxy of it (name its proxies in "
    "robustness.counterfactual.proxies to swap them)"
)
NO_FEATURES = "name the features to swap, or give the policy a fairness section"
NOT_NUMERIC = "{name!r} is not numeric, so it cannot be monotone"
NO_SCORE = "the model gives no score to judge monotonicity on (a multiclass classifier)"
CANNOT_PREDICT = "the model cannot predict on inputs with {kind}: {error}"
HIGHER_BETTER = {"accuracy", "balanced_accuracy", "r2"}
MAX_SWAP_GROUPS = 50
"""Each row is swapped to every other group: at most this many groups bound the cost."""
TOO_MANY_GROUPS = (
    "{feature} has {groups} groups in the sample, more than the counterfactual test swaps "
    "(50): group its values first"
)

CATEGORY: Category = "robustness"


class RobustnessRunner:
    """Perturbs a sample of the evaluation's inputs and checks what the model does with them."""

    section: Category = CATEGORY
    stage = "robustness"
    clock = "robustness"
    on_raw_data = False

    def applies(self, policy: Policy) -> bool:
        """Return whether the policy has a robustness section."""
        return policy.robustness is not None

    def problems(self, run: EvaluationRun) -> list[tuple[FieldPath, str]]:
        """Return columns the section names that are not inputs of the model (or not numeric)."""
        section = run.policy.robustness
        assert section is not None
        inputs = run.predictions()
        columns = [str(c) for c in inputs.features.columns]
        found: list[tuple[FieldPath, str]] = []

        def need(path: FieldPath, name: str) -> bool:
            if name in columns:
                return True
            hint = suggestion(name, columns)
            found.append((path, NOT_INPUT.format(name=name, hint=hint)))
            return False

        for index, item in enumerate(section.perturbations):
            for position, name in enumerate(item.columns):
                need(("robustness", "perturbations", index, "columns", position), name)
        numeric = set(numeric_columns(inputs.features))
        for name in section.monotone:
            if need(("robustness", "monotone", name), name) and name not in numeric:
                found.append((("robustness", "monotone", name), NOT_NUMERIC.format(name=name)))
        counterfactual = section.counterfactual
        if counterfactual is not None:
            if not _swapped(run):
                found.append((("robustness", "counterfactual", "features"), NO_FEATURES))
            data = [str(c) for c in inputs.frame.columns]
            for position, name in enumerate(_swapped(run)):
                if name not in data:
                    path: FieldPath = ("robustness", "counterfactual", "features", position)
                    if not counterfactual.features:
                        path = ("fairness", "sensitive", position)
                    hint = suggestion(name, data)
                    found.append((path, NOT_COLUMN.format(name=name, hint=hint)))
            for feature, proxies in counterfactual.proxies.items():
                for position, name in enumerate(proxies):
                    need(("robustness", "counterfactual", "proxies", feature, position), name)
        return found

    def run(self, run: EvaluationRun) -> SectionOutput:
        """Run every perturbation, monotone feature and counterfactual swap of the section."""
        section = run.policy.robustness
        assert section is not None
        inputs = run.predictions()
        reason = inputs.blocked
        if reason is None and run.loaded is None:
            reason = NO_MODEL.format(subject=run.subject)
        if reason is not None:
            return SectionOutput(
                findings=[Finding(result=r) for r in _not_run(section, _swapped(run), reason)]
            )
        rng = np.random.default_rng(run.random_state)
        size = min(section.sample_rows, len(inputs.features))
        rows = np.sort(rng.choice(len(inputs.features), size=size, replace=False))
        sample = inputs.features.iloc[rows].reset_index(drop=True)
        truth = inputs.y_true[rows]
        decider = _decider(run, inputs)
        results: list[CheckResult] = []
        base = decider.decide(sample)
        metric = section.metric or ("mean_absolute_error" if decider.regression else "accuracy")
        for item in section.perturbations:
            results += _perturbation(item, sample, truth, base, decider, metric, rng)
        for feature, direction in section.monotone.items():
            results.append(_monotone(feature, direction, sample, decider, section))
        counterfactual = section.counterfactual
        if counterfactual is not None:
            for feature in _swapped(run):
                proxies = counterfactual.proxies.get(feature, [])
                groups = inputs.frame[feature].iloc[rows].nunique()
                if groups > MAX_SWAP_GROUPS:
                    name = f"counterfactual_flip_rate:{feature}"
                    why = TOO_MANY_GROUPS.format(feature=feature, groups=groups)
                    limit = {"max": counterfactual.max_flip_rate}
                    results.append(not_run(name, CATEGORY, why, limit))
                    continue
                found = counterfactual_flips(
                    decider,
                    sample,
                    inputs.frame[feature].iloc[rows],
                    feature,
                    proxies,
                    inputs.features,
                    inputs.frame[feature],
                    rng,
                )
                reads = feature in sample.columns or bool(proxies)
                results.append(_counterfactual(feature, found, counterfactual.max_flip_rate, reads))
        return SectionOutput(
            findings=[Finding(result=r) for r in results],
            facts={"robustness_sample_rows": size},
        )


def _swapped(run: EvaluationRun) -> list[str]:
    section = run.policy.robustness
    assert section is not None
    if section.counterfactual is None:
        return []
    if section.counterfactual.features:
        return list(section.counterfactual.features)
    return [] if run.policy.fairness is None else list(run.policy.fairness.sensitive)


def _decider(run: EvaluationRun, inputs: EvaluationInputs) -> Decider:
    loaded = run.loaded
    assert loaded is not None
    regression = inputs.task == "regression"

    def decide(frame: pd.DataFrame) -> np.ndarray[Any, Any]:
        return np.asarray(loaded.predict(frame))

    score = None
    if regression:
        score = decide
    elif inputs.task == "binary" and loaded.has_proba and loaded.classes is not None:
        index = [i for i, c in enumerate(loaded.classes) if plain(c) == inputs.pos_label]
        if index:

            def positive(frame: pd.DataFrame) -> np.ndarray[Any, Any]:
                return np.asarray(loaded.predict_proba(frame))[:, index[0]]

            score = positive
    return Decider(decide=decide, score=score, regression=regression)


def _metric(name: str, truth: np.ndarray[Any, Any], predicted: np.ndarray[Any, Any]) -> float:
    from sklearn import metrics

    function = {
        "accuracy": metrics.accuracy_score,
        "balanced_accuracy": metrics.balanced_accuracy_score,
        "mean_absolute_error": metrics.mean_absolute_error,
        "r2": metrics.r2_score,
    }[name]
    return float(function(truth, predicted))


def _perturbation(
    item: Perturbation,
    sample: pd.DataFrame,
    truth: np.ndarray[Any, Any],
    base: np.ndarray[Any, Any],
    decider: Decider,
    metric: str,
    rng: np.random.Generator,
) -> list[CheckResult]:
    columns = list(item.columns) or (
        numeric_columns(sample)
        if item.kind == "numeric_noise"
        else categorical_columns(sample)
        if item.kind == "category_swap"
        else [str(c) for c in sample.columns]
    )
    names = []
    if item.max_flip_rate is not None:
        names.append(f"flip_rate:{item.kind}")
    if item.max_metric_drop is not None:
        names.append(f"metric_drop:{item.kind}")
    perturbed = perturb(sample, item.kind, item.amount, columns, rng)
    evidence = {"columns": columns, "amount": item.amount, "rows": len(sample), "metric": metric}
    try:
        after = decider.decide(perturbed)
    except Exception as exc:  # the model's own code: any failure is the finding
        message = CANNOT_PREDICT.format(kind=item.kind.replace("_", " "), error=one_line(exc))
        return [
            CheckResult(
                check=name, category=CATEGORY, status="fail", message=message, evidence=evidence
            )
            for name in names
        ]
    out: list[CheckResult] = []
    if item.max_flip_rate is not None:
        flips = decider.flips(base, after)
        rate = float(np.mean(flips))
        out.append(
            _bounded(
                f"flip_rate:{item.kind}",
                rate,
                item.max_flip_rate,
                f"{int(flips.sum())} of {len(flips)} sampled decisions changed under "
                f"{item.kind.replace('_', ' ')} ({_amount(item)})",
                evidence,
            )
        )
    if item.max_metric_drop is not None:
        before, later = _metric(metric, truth, base), _metric(metric, truth, after)
        drop = before - later if metric in HIGHER_BETTER else later - before
        out.append(
            _bounded(
                f"metric_drop:{item.kind}",
                drop,
                item.max_metric_drop,
                f"{metric} {shown(before)} on the sample, {shown(later)} under "
                f"{item.kind.replace('_', ' ')}",
                {**evidence, "before": before, "after": later},
            )
        )
    return out


def _amount(item: Perturbation) -> str:
    if item.kind == "numeric_noise":
        return f"noise of {shown(item.amount)} standard deviations"
    return f"{shown(item.amount * 100)}% of cells"


def _monotone(
    feature: str, direction: str, sample: pd.DataFrame, decider: Decider, section: Robustness
) -> CheckResult:
    name = f"monotone:{feature}"
    if decider.score is None:
        return not_run(name, CATEGORY, NO_SCORE, {"max": section.max_monotone_violation_rate})
    rate, count, step = monotone_violations(decider, sample, feature, direction)
    return _bounded(
        name,
        rate,
        section.max_monotone_violation_rate,
        f"raising {feature} by {shown(step)} moved the score the wrong way ({direction} "
        f"declared) for {count} of {len(sample)} sampled rows",
        {"direction": direction, "step": step, "rows": len(sample), "violations": count},
    )


def _counterfactual(feature: str, found: Any, limit: float, reads: bool) -> CheckResult:
    rates = found.rates
    worst = max(rates) if rates else 0.0
    where = found.groups[rates.index(worst)] if rates else None
    detail = f"; most often for {feature}={where}" if worst > 0 else ""
    if not reads:
        detail = NOT_READ.format(feature=feature)
    return _bounded(
        f"counterfactual_flip_rate:{feature}",
        worst,
        limit,
        f"swapping {feature} changed the decision of {sum(found.flipped)} of "
        f"{sum(found.rows)} sampled rows{detail}",
        {
            "groups": [plain(g) for g in found.groups],
            "rows": found.rows,
            "flipped": found.flipped,
            "flip_rate": rates,
        },
    )


def _bounded(
    check: str, value: float, limit: float, what: str, evidence: dict[str, Any]
) -> CheckResult:
    status: Status = "pass" if value <= limit else "fail"
    relation = "meets" if status == "pass" else "breaks"
    return CheckResult(
        check=check,
        category=CATEGORY,
        status=status,
        message=f"{check.split(':', 1)[0]} {shown(value)} {relation} ≤ {shown(limit)}: {what}",
        value=value,
        threshold={"max": limit},
        evidence=evidence,
    )


def _not_run(section: Robustness, swapped: Sequence[str], reason: str) -> list[CheckResult]:
    names = []
    for item in section.perturbations:
        if item.max_flip_rate is not None:
            names.append(f"flip_rate:{item.kind}")
        if item.max_metric_drop is not None:
            names.append(f"metric_drop:{item.kind}")
    names += [f"monotone:{feature}" for feature in section.monotone]
    if section.counterfactual is not None:
        names += [f"counterfactual_flip_rate:{feature}" for feature in swapped]
    return [not_run(name, CATEGORY, reason, None) for name in names]
