"""Post-processing: Fairlearn's ThresholdOptimizer kept as one threshold per group."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from govml.errors import InputError
from govml.mitigation._common import (
    as_frame,
    binary_classes,
    binary_labels,
    column_names,
    group_codes,
    group_keys,
    import_fairlearn,
    unknown_constraint,
)

ThresholdConstraint = Literal[
    "demographic_parity",
    "selection_rate_parity",
    "true_positive_rate_parity",
    "false_negative_rate_parity",
    "false_positive_rate_parity",
    "true_negative_rate_parity",
    "equalized_odds",
]

# The group rates each ThresholdOptimizer constraint equalises; the deterministic
# threshold of a group reproduces the randomised rule's expected value of these rates.
TO_CONSTRAINTS: dict[str, tuple[str, ...]] = {
    "demographic_parity": ("selection_rate",),
    "selection_rate_parity": ("selection_rate",),
    "true_positive_rate_parity": ("true_positive_rate",),
    "false_negative_rate_parity": ("true_positive_rate",),
    "false_positive_rate_parity": ("false_positive_rate",),
    "true_negative_rate_parity": ("false_positive_rate",),
    "equalized_odds": ("true_positive_rate", "false_positive_rate"),
}
"""ThresholdOptimizer constraints, with the group rates each one equalises."""

# Probabilities are clipped this far from 0 and 1 before taking log-odds.
_EPS = 1e-15
# The smallest probability above one half: "positive" rows never show exactly 0.5.
_ABOVE_HALF = float(np.nextafter(0.5, 1.0))


def threshold_optimized(
    estimator: Any,
    X: Any,
    y: Any,
    *,
    sensitive: str | Sequence[str],
    constraints: ThresholdConstraint = "demographic_parity",
    objective: str = "balanced_accuracy_score",
    grid_size: int = 1000,
    tol: float | None = None,
) -> MitigatedClassifier:
    """Post-process a fitted classifier with Fairlearn's ThresholdOptimizer.

    Parameters
    ----------
    estimator : fitted scikit-learn classifier
        Binary classifier with ``predict_proba``; it is used as is, not refitted. It is
        given ``X`` unchanged, sensitive columns included.
    X : table
        Rows to fit the thresholds on (pandas, polars or pyarrow); must contain the
        sensitive column(s). Use data the base model was not trained on when you can.
    y : array-like
        True labels (two classes; the second of ``estimator.classes_`` is positive).
    sensitive : str or sequence of str
        Sensitive column(s) of ``X``. With several columns every combination of their
        values is a group.
    constraints : str, default "demographic_parity"
        One of :data:`TO_CONSTRAINTS`.
    objective : str, default "balanced_accuracy_score"
        What Fairlearn maximises under the constraint: ``accuracy_score``,
        ``balanced_accuracy_score``, ``selection_rate``, ``true_positive_rate`` or
        ``true_negative_rate`` (the last three not with ``equalized_odds``).
    grid_size : int, default 1000
        Fairlearn's grid over the constrained rate.
    tol : float, optional
        Fairlearn's relaxation: group rates may differ by up to ``tol`` (not with
        ``equalized_odds``).

    Returns
    -------
    MitigatedClassifier
        The fitted, deterministic classifier.

    Raises
    ------
    InputError
        When a sensitive column is missing or has missing values, the labels are not
        binary, the constraint is unknown, or Fairlearn refuses the data.
    GovmlError
        When Fairlearn is not installed.
    """
    model = MitigatedClassifier(
        estimator,
        sensitive=sensitive,
        constraints=constraints,
        objective=objective,
        grid_size=grid_size,
        tol=tol,
    )
    return model.fit(X, y)


class MitigatedClassifier(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """A fitted classifier with one decision threshold per sensitive group.

    :meth:`fit` runs Fairlearn's ``ThresholdOptimizer`` (``prefit=True``,
    ``predict_method="predict_proba"``) on the already fitted ``estimator``. Fairlearn's
    rule for group ``g`` is randomised: with score ``s`` (the base model's
    positive-class probability) it says positive with probability
    ``(1 - q) * (p0 * [s > t0] + p1 * [s > t1]) + q * c``. This class keeps that rule
    (:attr:`interpolation_`, used by :meth:`randomized_proba`) and replaces it by a
    deterministic one, ``s > thresholds_[g]``: the threshold is the one whose group rates
    on the fitting data come closest to the randomised rule's expected rates, for the
    rates the constraint equalises (:data:`TO_CONSTRAINTS`; the selection rate for
    demographic parity), ties broken by the selection rate. On the fitting data the
    deterministic rule therefore meets the constraint as the randomised one does in
    expectation, and it never needs random numbers.

    :meth:`predict_proba` returns the base model's probability moved, per group, in
    log-odds so that the group's threshold lands on 0.5:
    ``p = sigmoid(logit(s) - logit(thresholds_[g]))``. Within a group it ranks rows as
    the base model does, and ``predict`` is exactly ``proba[:, 1] > 0.5``. It is a score
    for ranking metrics (ROC AUC) and thresholds, not a calibrated probability.

    Parameters
    ----------
    estimator : fitted scikit-learn classifier
        Binary classifier with ``predict_proba``; not refitted (so :func:`sklearn.clone`
        gives an unusable copy, as with Fairlearn's ``prefit=True``).
    sensitive : str or sequence of str
        Sensitive column(s), read from ``X`` in ``fit`` and in every prediction.
    constraints, objective, grid_size, tol
        Passed to Fairlearn; see :func:`threshold_optimized`.

    Attributes
    ----------
    classes_ : ndarray
        The base estimator's two classes; the second is positive.
    sensitive_ : tuple of str
        The sensitive column names.
    groups_ : tuple of tuple
        One key per group: the values of the sensitive columns, in their order.
    group_rows_ : ndarray of int
        Rows of each group in the fitting data.
    thresholds_ : ndarray of float
        Deterministic threshold of each group (positive when ``s > threshold``).
    interpolation_ : ndarray of float, shape (n_groups, 6)
        Fairlearn's randomised rule per group: ``p0, t0, p1, t1, q, c`` as above.
    """

    def __init__(
        self,
        estimator: Any,
        *,
        sensitive: str | Sequence[str],
        constraints: str = "demographic_parity",
        objective: str = "balanced_accuracy_score",
        grid_size: int = 1000,
        tol: float | None = None,
    ) -> None:
        self.estimator = estimator
        self.sensitive = sensitive
        self.constraints = constraints
        self.objective = objective
        self.grid_size = grid_size
        self.tol = tol

    def fit(self, X: Any, y: Any) -> MitigatedClassifier:
        """Fit Fairlearn's ThresholdOptimizer and keep its rule as thresholds.

        Parameters
        ----------
        X : table
            Rows with the base model's features and the sensitive column(s).
        y : array-like
            True labels.

        Returns
        -------
        MitigatedClassifier
            ``self``.
        """
        rates = TO_CONSTRAINTS.get(self.constraints)
        if rates is None:
            raise unknown_constraint(self.constraints, "ThresholdOptimizer", TO_CONSTRAINTS)
        check_is_fitted(self.estimator)
        if not hasattr(self.estimator, "predict_proba"):
            raise InputError(f"{type(self.estimator).__name__} has no predict_proba to threshold")
        classes = binary_classes(getattr(self.estimator, "classes_", None))
        columns = column_names(self.sensitive)
        frame = as_frame(X, columns)
        labels = binary_labels(y, classes, len(frame))
        groups = group_keys(frame, columns)
        codes = group_codes(frame, columns, groups)
        postprocessing = import_fairlearn("postprocessing")
        mitigator = postprocessing.ThresholdOptimizer(
            estimator=self.estimator,
            constraints=self.constraints,
            objective=self.objective,
            grid_size=self.grid_size,
            prefit=True,
            predict_method="predict_proba",
            tol=self.tol,
        )
        try:
            mitigator.fit(frame, labels, sensitive_features=codes)
        except ValueError as exc:
            raise InputError(f"Fairlearn's ThresholdOptimizer refused the data: {exc}") from exc
        rules = mitigator.interpolated_thresholder_.interpolation_dict
        interpolation = np.array([_rule(rules[code]) for code in range(len(groups))])
        scores = self._base_scores(frame)
        thresholds = np.empty(len(groups))
        for code in range(len(groups)):
            member = codes == code
            thresholds[code] = _matching_threshold(
                scores[member],
                labels[member],
                _randomized(scores[member], interpolation[code]),
                rates,
            )
        self.classes_ = classes
        self.sensitive_ = columns
        self.groups_ = groups
        self.group_rows_ = np.bincount(codes, minlength=len(groups))
        self.thresholds_ = thresholds
        self.interpolation_ = interpolation
        names = getattr(self.estimator, "feature_names_in_", None)
        if names is not None:
            # The base model's inputs, and the sensitive columns this model reads too.
            names = list(names) + [column for column in columns if column not in set(names)]
            self.feature_names_in_ = np.asarray(names, dtype=object)
            self.n_features_in_ = len(names)
        return self

    def predict(self, X: Any) -> NDArray[Any]:
        """Return the class of each row: positive when its score exceeds its group's threshold.

        Parameters
        ----------
        X : table
            Rows with the base model's features and the sensitive column(s).

        Returns
        -------
        ndarray
            One label from :attr:`classes_` per row.

        Raises
        ------
        InputError
            When a sensitive column is missing, or a row's group was not seen in ``fit``.
        """
        scores, thresholds = self._scores_and_thresholds(X)
        return np.asarray(self.classes_[(scores > thresholds).astype(int)])

    def predict_proba(self, X: Any) -> NDArray[np.float64]:
        """Return the group-recentred scores described in the class docstring.

        Parameters
        ----------
        X : table
            Rows with the base model's features and the sensitive column(s).

        Returns
        -------
        ndarray of shape (n_rows, 2)
            Columns in :attr:`classes_` order; ``proba[:, 1] > 0.5`` exactly where
            :meth:`predict` says positive.
        """
        scores, thresholds = self._scores_and_thresholds(X)
        positive = _sigmoid(_logit(scores) - _logit(thresholds))
        # Log-odds can round a score just above its threshold to exactly 0.5; keep the
        # promise that the decision and the probability agree.
        decided = scores > thresholds
        positive = np.where(decided, np.maximum(positive, _ABOVE_HALF), np.minimum(positive, 0.5))
        return np.column_stack([1.0 - positive, positive])

    def randomized_proba(self, X: Any) -> NDArray[np.float64]:
        """Return Fairlearn's probability of a positive decision per row.

        This is what ``ThresholdOptimizer._pmf_predict`` returns, computed from
        :attr:`interpolation_`; Fairlearn's ``predict`` draws a decision from it.

        Parameters
        ----------
        X : table
            Rows with the base model's features and the sensitive column(s).

        Returns
        -------
        ndarray of shape (n_rows, 2)
            Probabilities of the two classes, in :attr:`classes_` order.
        """
        check_is_fitted(self)
        frame = as_frame(X, self.sensitive_)
        codes = group_codes(frame, self.sensitive_, self.groups_)
        scores = self._base_scores(frame)
        positive = np.empty(len(frame))
        for code in range(len(self.groups_)):
            member = codes == code
            positive[member] = _randomized(scores[member], self.interpolation_[code])
        return np.column_stack([1.0 - positive, positive])

    def group_index(self, X: Any) -> NDArray[np.int64]:
        """Return each row's group: its index into :attr:`groups_` and :attr:`thresholds_`.

        Parameters
        ----------
        X : table
            Rows with the sensitive column(s).

        Returns
        -------
        ndarray of int
            One group index per row.

        Raises
        ------
        InputError
            When a sensitive column is missing, or a row's group was not seen in ``fit``.
        """
        check_is_fitted(self)
        frame = as_frame(X, self.sensitive_)
        return group_codes(frame, self.sensitive_, self.groups_)

    def threshold_offsets(self, output: str) -> NDArray[np.float64]:
        """Return what each group's threshold subtracts from the base model's output.

        The decision is ``s > thresholds_[g]`` for the base model's probability ``s``; in
        log-odds it is ``logit(s) - logit(thresholds_[g]) > 0``. This returns, per group,
        ``-logit(thresholds_[g])`` (``output="log_odds"``) or ``-thresholds_[g]`` clipped to
        [0, 1] (``output="probability"``), the term a threshold adds to the base model's
        output on the scale an explainer reads it.

        Raises
        ------
        ValueError
            For another ``output``.
        """
        check_is_fitted(self)
        if output == "log_odds":
            return -_logit(np.asarray(self.thresholds_, dtype=float))
        if output == "probability":
            return np.asarray(-np.clip(np.asarray(self.thresholds_, dtype=float), 0.0, 1.0))
        raise ValueError(f"no threshold offsets on the {output!r} scale")

    def _scores_and_thresholds(self, X: Any) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        check_is_fitted(self)
        frame = as_frame(X, self.sensitive_)
        codes = group_codes(frame, self.sensitive_, self.groups_)
        return self._base_scores(frame), self.thresholds_[codes]

    def _base_scores(self, frame: pd.DataFrame) -> NDArray[np.float64]:
        proba = np.asarray(self.estimator.predict_proba(frame), dtype=float)
        return np.asarray(proba[:, 1])


def _rule(rule: Any) -> list[float]:
    """Return Fairlearn's per-group rule as ``[p0, t0, p1, t1, q, c]``."""
    for operation in (rule.operation0, rule.operation1):
        if operation.operator != ">":
            raise InputError(f"unexpected Fairlearn threshold operation {operation!r}")
    return [
        float(rule.p0),
        float(rule.operation0.threshold),
        float(rule.p1),
        float(rule.operation1.threshold),
        float(rule.get("p_ignore", 0.0)),
        float(rule.get("prediction_constant", 0.0)),
    ]


def _randomized(scores: NDArray[np.float64], rule: NDArray[np.float64]) -> NDArray[np.float64]:
    p0, t0, p1, t1, ignore, constant = rule
    mixed = p0 * (scores > t0) + p1 * (scores > t1)
    return np.asarray((1.0 - ignore) * mixed + ignore * constant, dtype=float)


def _matching_threshold(
    scores: NDArray[np.float64],
    labels: NDArray[np.int64],
    chance: NDArray[np.float64],
    rates: tuple[str, ...],
) -> float:
    """Return the threshold whose deterministic rates best match the randomised rule's.

    Candidates are ``-inf`` and every distinct score (positive means ``score > t``).
    The deviation is the largest absolute difference over ``rates`` (rates without rows
    of their class are skipped); ties go to the selection rate closest to the target.
    """
    candidates = np.concatenate([[-np.inf], np.unique(scores)])

    def above(values: NDArray[np.float64]) -> NDArray[np.float64]:
        ordered = np.sort(values)
        return np.asarray(len(ordered) - np.searchsorted(ordered, candidates, side="right"))

    positive = labels == 1
    masks = {
        "selection_rate": np.ones(len(scores), dtype=bool),
        "true_positive_rate": positive,
        "false_positive_rate": ~positive,
    }
    deviation = np.zeros(len(candidates))
    for rate in rates:
        mask = masks[rate]
        if mask.any():
            actual = above(scores[mask]) / mask.sum()
            deviation = np.maximum(deviation, np.abs(actual - chance[mask].mean()))
    selection = np.abs(above(scores) / len(scores) - chance.mean())
    best = np.lexsort((selection, deviation))[0]
    return float(candidates[best])


def _logit(p: NDArray[np.float64]) -> NDArray[np.float64]:
    q = np.clip(p, _EPS, 1.0 - _EPS)
    return np.asarray(np.log(q) - np.log1p(-q))


def _sigmoid(z: NDArray[np.float64]) -> NDArray[np.float64]:
    from scipy.special import expit

    return np.asarray(expit(z), dtype=float)
