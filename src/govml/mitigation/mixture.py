"""Reductions: Fairlearn's ExponentiatedGradient kept as a deterministic weighted mixture."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.pipeline import Pipeline
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

ReductionConstraint = Literal[
    "demographic_parity",
    "equalized_odds",
    "true_positive_rate_parity",
    "false_positive_rate_parity",
    "error_rate_parity",
]

EG_CONSTRAINTS: dict[str, str] = {
    "demographic_parity": "DemographicParity",
    "equalized_odds": "EqualizedOdds",
    "true_positive_rate_parity": "TruePositiveRateParity",
    "false_positive_rate_parity": "FalsePositiveRateParity",
    "error_rate_parity": "ErrorRateParity",
}
"""ExponentiatedGradient constraints, with the Fairlearn moment class of each."""


def exponentiated_gradient(
    estimator: Any,
    X: Any,
    y: Any,
    *,
    sensitive: str | Sequence[str],
    constraints: ReductionConstraint = "demographic_parity",
    difference_bound: float | None = None,
    ratio_bound: float | None = None,
    eps: float = 0.01,
    max_iter: int = 50,
    nu: float | None = None,
    eta0: float = 2.0,
) -> MixtureClassifier:
    """Train a fair mixture of classifiers with Fairlearn's ExponentiatedGradient.

    Parameters
    ----------
    estimator : scikit-learn classifier or Pipeline
        Unfitted template; its ``fit`` must take ``sample_weight``. For a Pipeline, the
        steps before the last are fitted once (without weights) and only the last step
        is trained by Fairlearn, on their output. A fast final step (e.g.
        ``LogisticRegression``) keeps this quick: Fairlearn fits it up to ``max_iter``
        times.
    X : table or array
        Training rows; must contain the sensitive column(s), which are features too
        when the estimator uses them.
    y : array-like
        Labels (two classes; the larger one, in sorted order, is positive).
    sensitive : str or sequence of str
        Sensitive column(s) of ``X``; read in ``fit`` only.
    constraints : str, default "demographic_parity"
        One of :data:`EG_CONSTRAINTS`.
    difference_bound, ratio_bound : float, optional
        Bound of the constraint (at most one); Fairlearn's default is a difference of
        0.01.
    eps : float, default 0.01
        Fairlearn's allowed violation of the constraint.
    max_iter, nu, eta0
        Fairlearn's iteration limit, convergence threshold and learning rate.

    Returns
    -------
    MixtureClassifier
        The fitted, deterministic classifier.

    Raises
    ------
    InputError
        When a sensitive column is missing or has missing values, the labels are not
        binary, the constraint is unknown, or Fairlearn refuses the data.
    GovmlError
        When Fairlearn is not installed.
    """
    model = MixtureClassifier(
        estimator,
        sensitive=sensitive,
        constraints=constraints,
        difference_bound=difference_bound,
        ratio_bound=ratio_bound,
        eps=eps,
        max_iter=max_iter,
        nu=nu,
        eta0=eta0,
    )
    return model.fit(X, y)


class MixtureClassifier(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """A weighted mixture of classifiers trained by Fairlearn's ExponentiatedGradient.

    Fairlearn's result is randomised: for each row it draws classifier ``j`` with
    probability ``weights_[j]`` and returns its decision. This class keeps the
    classifiers with a non-zero weight and their weights, and answers deterministically:
    :meth:`predict_proba` is the weighted mean of their ``predict_proba`` (of their 0/1
    decisions for classifiers without one), and :meth:`predict` the more probable class
    (the negative class on a tie). :meth:`randomized_proba` gives Fairlearn's own
    probability of a positive decision (the weighted mean of the decisions).

    Parameters
    ----------
    estimator : scikit-learn classifier or Pipeline
        Unfitted template; see :func:`exponentiated_gradient`.
    sensitive : str or sequence of str
        Sensitive column(s) of ``X``; read in ``fit`` only.
    constraints, difference_bound, ratio_bound, eps, max_iter, nu, eta0
        Passed to Fairlearn; see :func:`exponentiated_gradient`.

    Attributes
    ----------
    classes_ : ndarray
        The two classes, sorted; the second is positive.
    preprocessor_ : Pipeline or None
        The fitted steps before the last, for a Pipeline template.
    estimators_ : list
        Fitted classifiers with a non-zero weight (trained on 0/1 labels, 1 positive).
    weights_ : ndarray of float
        Their weights (summing to one).
    """

    def __init__(
        self,
        estimator: Any,
        *,
        sensitive: str | Sequence[str],
        constraints: str = "demographic_parity",
        difference_bound: float | None = None,
        ratio_bound: float | None = None,
        eps: float = 0.01,
        max_iter: int = 50,
        nu: float | None = None,
        eta0: float = 2.0,
    ) -> None:
        self.estimator = estimator
        self.sensitive = sensitive
        self.constraints = constraints
        self.difference_bound = difference_bound
        self.ratio_bound = ratio_bound
        self.eps = eps
        self.max_iter = max_iter
        self.nu = nu
        self.eta0 = eta0

    def fit(self, X: Any, y: Any) -> MixtureClassifier:
        """Run Fairlearn's ExponentiatedGradient and keep the weighted classifiers.

        Parameters
        ----------
        X : table
            Training rows, sensitive column(s) included.
        y : array-like
            Labels.

        Returns
        -------
        MixtureClassifier
            ``self``.
        """
        moment_name = EG_CONSTRAINTS.get(self.constraints)
        if moment_name is None:
            raise unknown_constraint(self.constraints, "ExponentiatedGradient", EG_CONSTRAINTS)
        columns = column_names(self.sensitive)
        frame = as_frame(X, columns)
        target = np.asarray(y)
        classes = binary_classes(np.unique(target) if len(target) else None)
        labels = binary_labels(target, classes, len(frame))
        groups = group_keys(frame, columns)
        codes = group_codes(frame, columns, groups)
        reductions = import_fairlearn("reductions")
        bounds = {
            key: value
            for key, value in (
                ("difference_bound", self.difference_bound),
                ("ratio_bound", self.ratio_bound),
            )
            if value is not None
        }
        preprocessor, final = _split(self.estimator)
        features: Any = frame
        if preprocessor is not None:
            features = preprocessor.fit_transform(frame, target)
        try:
            moment = getattr(reductions, moment_name)(**bounds)
            mitigator = reductions.ExponentiatedGradient(
                final,
                constraints=moment,
                eps=self.eps,
                max_iter=self.max_iter,
                nu=self.nu,
                eta0=self.eta0,
            )
            mitigator.fit(features, labels, sensitive_features=codes)
        except ValueError as exc:
            message = f"Fairlearn's ExponentiatedGradient refused the data: {exc}"
            raise InputError(message) from exc
        weights = np.asarray(mitigator.weights_, dtype=float)
        predictors = list(mitigator.predictors_)
        keep = [j for j in range(len(weights)) if weights[j] > 0]
        self.classes_ = classes
        self.preprocessor_ = preprocessor
        self.estimators_ = [predictors[j] for j in keep]
        self.weights_ = weights[keep]
        self.feature_names_in_ = np.asarray(frame.columns, dtype=object)
        self.n_features_in_ = frame.shape[1]
        return self

    def predict(self, X: Any) -> NDArray[Any]:
        """Return the more probable class of each row (the negative class on a tie).

        Parameters
        ----------
        X : table or array
            Rows with the training features.

        Returns
        -------
        ndarray
            One label from :attr:`classes_` per row.
        """
        positive = self.predict_proba(X)[:, 1]
        return np.asarray(self.classes_[(positive > 0.5).astype(int)])

    def predict_proba(self, X: Any) -> NDArray[np.float64]:
        """Return the weighted mean of the mixture's class probabilities.

        Parameters
        ----------
        X : table or array
            Rows with the training features.

        Returns
        -------
        ndarray of shape (n_rows, 2)
            Columns in :attr:`classes_` order.
        """
        positive = self._mixture(X, soft=True)
        return np.column_stack([1.0 - positive, positive])

    def randomized_proba(self, X: Any) -> NDArray[np.float64]:
        """Return Fairlearn's probability of a positive decision (``_pmf_predict``).

        Parameters
        ----------
        X : table or array
            Rows with the training features.

        Returns
        -------
        ndarray of shape (n_rows, 2)
            Columns in :attr:`classes_` order.
        """
        positive = self._mixture(X, soft=False)
        return np.column_stack([1.0 - positive, positive])

    def _mixture(self, X: Any, *, soft: bool) -> NDArray[np.float64]:
        check_is_fitted(self)
        features = X if self.preprocessor_ is None else self.preprocessor_.transform(X)
        total = np.zeros(_row_count(features))
        for weight, estimator in zip(self.weights_, self.estimators_, strict=True):
            total += weight * _positive_part(estimator, features, soft=soft)
        return np.asarray(np.clip(total, 0.0, 1.0))


def _split(estimator: Any) -> tuple[Any, Any]:
    """Return a clone of the preprocessing steps (None without) and of the final step."""
    if isinstance(estimator, Pipeline) and len(estimator.steps) > 1:
        return clone(estimator[:-1]), clone(estimator.steps[-1][1])
    if isinstance(estimator, Pipeline):
        return None, clone(estimator.steps[0][1])
    return None, clone(estimator)


def _row_count(features: Any) -> int:
    shape = getattr(features, "shape", None)
    return int(shape[0]) if shape is not None else len(features)


def _positive_part(estimator: Any, features: Any, *, soft: bool) -> NDArray[np.float64]:
    """Return one mixture member's positive-class probability, or its 0/1 decision."""
    classes = list(getattr(estimator, "classes_", [0, 1]))
    if soft and hasattr(estimator, "predict_proba"):
        if 1 not in classes:
            return np.zeros(_row_count(features))
        proba = np.asarray(estimator.predict_proba(features), dtype=float)
        return np.asarray(proba[:, classes.index(1)])
    return np.asarray(np.asarray(estimator.predict(features)) == 1, dtype=float)
