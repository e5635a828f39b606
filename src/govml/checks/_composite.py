"""Mitigated models explained through their parts, never as one opaque function.

govml's mitigation classes (:mod:`govml.mitigation`) wrap ordinary models, and a
model-agnostic explainer over the whole wrapper costs thousands of predictions per row. SHAP
values are additive, so each wrapper is explained through the models it holds, with the
explainer each one takes (TreeSHAP for tree ensembles, linear SHAP for linear models, the
model-agnostic explainer only for a part that is neither), and the parts' values are
combined row by row before the mean absolute value is taken:

:class:`~govml.mitigation.MitigatedClassifier` (one threshold per group)
    The decision is ``s > t_g``: in log-odds, ``logit(s) - logit(t_g) > 0``. The base
    model is explained on its own output (log-odds for boosted trees and logistic
    regression, probability for random forests and the model-agnostic explainers) and the
    group's offset (``-logit(t_g)``, or ``-t_g`` on the probability scale) is added. The
    offset is a function of the sensitive columns only; its SHAP values are the exact
    Shapley values over those columns with the *observational* value function
    ``v(T) = E[offset | sensitive columns in T as in the row]``, the expectation over the
    rows given to the explainer (exact: ``2^k`` groupings for ``k`` sensitive columns).
    Per row the values add up to the wrapper's output minus its mean, on the base model's
    scale.
:class:`~govml.mitigation.MixtureClassifier` (a weighted mixture)
    Each member is explained (with the shared preprocessing in front of it) and its values
    are weighted by the mixture weight. On the probability scale this is exactly the
    mixture's probability (a weighted mean of the members'); on the log-odds scale of
    TreeSHAP and linear SHAP it explains the weighted mean of the members' log-odds, which
    ranks rows as the mixture does when there is one member and is the usual, documented
    approximation otherwise.

An explicit ``explainer="permutation"`` or ``"kernel"`` still explains the whole wrapper,
as asked.
"""

from __future__ import annotations

from collections.abc import Callable
from math import factorial
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from govml.checks._pipeline import input_features
from govml.checks._shap import ExplainerName, Plan, Run, Values
from govml.errors import InputError
from govml.flavors import LoadedModel

COMPOSABLE: tuple[ExplainerName, ...] = ("auto", "tree", "linear")
"""Requests under which a wrapper is explained through its parts."""
OFFSET_SCALES = ("log_odds", "probability")
ERR_MIXED = "the parts of {model} were explained on different scales ({scales})"

Offsets = Callable[[Any, str], NDArray[np.float64]]
"""Each row's group offset, on the given output scale, for the rows of a DataFrame."""


class CompositePlan:
    """Explains a govml mitigation wrapper through its parts (see the module docstring).

    Attributes
    ----------
    chosen : str
        The explainers the parts took, joined with ``+`` when they differ.
    level : str
        ``aggregated`` when some part was explained after its preprocessing.
    fallback_reason : str or None
        Why a part fell back to the model-agnostic explainer.
    method : dict
        How the parts were combined, for the explanation's parameters.
    """

    def __init__(
        self,
        wrapper: LoadedModel,
        requested: ExplainerName,
        features: list[str],
        members: list[tuple[float, Any]],
        offsets: Offsets | None,
        sensitive: tuple[str, ...],
    ) -> None:
        self.wrapper = wrapper
        self.requested = requested
        self.features = features
        self.members = members
        self.offsets = offsets
        self.sensitive = sensitive
        self.plans = [self._plan(member, requested) for _, member in members]
        self.fallback_reason: str | None = next(
            (plan.fallback_reason for plan in self.plans if plan.fallback_reason), None
        )
        kind = type(wrapper.raw).__name__
        self.method: dict[str, Any] = {
            "wrapper": kind,
            "parts": len(members),
            "weights": [float(weight) for weight, _ in members],
            "combined": "group thresholds as offsets on the sensitive columns"
            if offsets is not None
            else "mixture weights",
        }

    @property
    def chosen(self) -> str:
        """The explainers of the parts (``tree``; ``tree+permutation`` when they differ)."""
        return "+".join(dict.fromkeys(plan.chosen for plan in self.plans))

    @property
    def level(self) -> str:
        """``aggregated`` when some part was explained on transformed features."""
        aggregated = any(plan.level == "aggregated" for plan in self.plans)
        return "aggregated" if aggregated else "input"

    def values(self, run: Run) -> tuple[Values, str, int]:
        """Return the wrapper's SHAP values per input column, their scale and background rows."""
        parts = [plan.values(run.columns(plan.features)) for plan in self.plans]
        scales = {scale for _, scale, _ in parts}
        usable = len(scales) == 1 and (self.offsets is None or scales <= set(OFFSET_SCALES))
        if not usable:
            # Parts on different scales cannot be added: explain each on its probability.
            self.fallback_reason = ERR_MIXED.format(
                model=self.wrapper.description, scales=", ".join(sorted(scales))
            )
            self.plans = [self._plan(member, "permutation") for _, member in self.members]
            parts = [plan.values(run.columns(plan.features)) for plan in self.plans]
        scale = parts[0][1]
        total = np.zeros((len(run.sample), len(self.features), 1))
        for (weight, _), plan, (values, _, _) in zip(self.members, self.plans, parts, strict=True):
            where = [self.features.index(name) for name in plan.features]
            total[:, where, :] += weight * values[:, :, :1]
        if self.offsets is not None:
            offsets = self.offsets(run.frame, scale)
            where = [self.features.index(name) for name in self.sensitive]
            total[:, where, 0] += group_attribution(run.frame, run.sample, self.sensitive, offsets)
        return total, scale, max(used for _, _, used in parts)

    def _plan(self, member: Any, requested: ExplainerName) -> Plan:
        from govml.flavors.sklearn import SklearnModel

        loaded = SklearnModel(raw=member, classes=getattr(member, "classes_", None))
        columns = input_features(member) or list(self.features)
        unknown = [name for name in columns if name not in self.features]
        if unknown:
            raise InputError(
                f"{loaded.description} reads columns its wrapper does not: {unknown[:5]}"
            )
        return Plan(loaded, requested, columns)


def composite_plan(
    model: LoadedModel, requested: ExplainerName, features: list[str]
) -> CompositePlan | None:
    """Return the plan that explains a govml mitigation wrapper by its parts, or None.

    None for any other model, and when the explainer asked for is model-agnostic.
    """
    if requested not in COMPOSABLE or type(model.raw).__module__ != "govml.mitigation":
        return None
    # Known by the stored names of govml's own mitigation classes (their module is checked
    # above), so the checks do not import the mitigation package, which imports the flavors.
    raw = model.raw
    kind = type(raw).__name__
    if kind == "MitigatedClassifier":
        base = raw.estimator

        def offsets(frame: Any, scale: str) -> NDArray[np.float64]:
            return np.asarray(raw.threshold_offsets(scale)[raw.group_index(frame)])

        return CompositePlan(
            model, requested, features, [(1.0, base)], offsets, tuple(raw.sensitive_)
        )
    if kind == "MixtureClassifier":
        members = [
            (float(weight), _with_preprocessing(raw.preprocessor_, estimator))
            for weight, estimator in zip(raw.weights_, raw.estimators_, strict=True)
        ]
        return CompositePlan(model, requested, features, members, None, ())
    return None


def _with_preprocessing(preprocessor: Any, estimator: Any) -> Any:
    """Return a mixture member with the mixture's fitted preprocessing steps in front of it."""
    if preprocessor is None:
        return estimator
    from sklearn.pipeline import Pipeline

    return Pipeline([*preprocessor.steps, ("model", estimator)])


def group_attribution(
    frame: pd.DataFrame,
    sample: NDArray[np.intp],
    sensitive: tuple[str, ...],
    offsets: NDArray[np.float64],
) -> NDArray[np.float64]:
    """Return exact Shapley values of a function of the sensitive columns, per sampled row.

    ``offsets`` holds the function's value on every row of ``frame``. The value of a
    coalition ``T`` of sensitive columns for a row is the mean of ``offsets`` over the rows
    of ``frame`` that share the row's values in ``T`` (all rows for the empty coalition,
    the row's own value for all columns). Returns shape ``(len(sample), len(sensitive))``;
    each row's values add up to its offset minus the mean offset.
    """
    k = len(sensitive)
    series = pd.Series(np.asarray(offsets, dtype=float))
    data = frame[list(sensitive)].reset_index(drop=True)
    value: dict[int, NDArray[np.float64]] = {}
    for mask in range(1 << k):
        columns = [data[sensitive[i]] for i in range(k) if mask >> i & 1]
        if not columns:
            value[mask] = np.full(len(sample), float(series.mean()))
            continue
        means = series.groupby(columns, dropna=False, sort=False).transform("mean")
        value[mask] = np.asarray(means.to_numpy(dtype=float)[sample])
    phi = np.zeros((len(sample), k))
    for i in range(k):
        for mask in range(1 << k):
            if mask >> i & 1:
                continue
            size = bin(mask).count("1")
            weight = factorial(size) * factorial(k - size - 1) / factorial(k)
            phi[:, i] += weight * (value[mask | 1 << i] - value[mask])
    return phi
