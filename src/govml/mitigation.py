"""Fairness mitigation with Fairlearn's algorithms, as deterministic, registrable classifiers.

Fairlearn's mitigators are randomised: :class:`~fairlearn.postprocessing.ThresholdOptimizer`
flips a biased coin between two thresholds per group, and needs ``sensitive_features`` at
prediction time; :class:`~fairlearn.reductions.ExponentiatedGradient` draws one of several
classifiers per row. A registered model version has to give the same answer for the same
row, take nothing but ``X`` and load without Fairlearn, so this module fits Fairlearn's
algorithms and keeps their result as plain numbers and scikit-learn estimators:

:func:`threshold_optimized` / :class:`MitigatedClassifier`
    Post-processing of an already fitted classifier. Each group (one value, or one
    combination of values, of the sensitive columns) gets one threshold on the base
    model's positive-class probability; the sensitive columns are read from ``X``.
:func:`exponentiated_gradient` / :class:`MixtureClassifier`
    Reductions: a weighted mixture of classifiers trained by Fairlearn on reweighted,
    relabelled data; its probability is the weighted mean of theirs.

Both classes are scikit-learn classifiers (``fit``, ``predict``, ``predict_proba``,
``classes_``), need Fairlearn only in ``fit``, and are on the sklearn flavor's list of
trusted types, so they register like any other estimator::

    model = threshold_optimized(pipeline, train[features], train["income"], sensitive="sex")
    client.register_version("adult-income", model=model)  # sklearn flavor, skops

Fairlearn is an optional dependency (``pip install govml[verify]``); ``import govml``
and loading a registered mitigated model work without it.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from govml.errors import GovmlError, InputError

__all__ = [
    "EG_CONSTRAINTS",
    "TO_CONSTRAINTS",
    "MitigatedClassifier",
    "MixtureClassifier",
    "exponentiated_gradient",
    "threshold_optimized",
]

ThresholdConstraint = Literal[
    "demographic_parity",
    "selection_rate_parity",
    "true_positive_rate_parity",
    "false_negative_rate_parity",
    "false_positive_rate_parity",
    "true_negative_rate_parity",
    "equalized_odds",
]
ReductionConstraint = Literal[
    "demographic_parity",
    "equalized_odds",
    "true_positive_rate_parity",
    "false_positive_rate_parity",
    "error_rate_parity",
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

EG_CONSTRAINTS: dict[str, str] = {
    "demographic_parity": "DemographicParity",
    "equalized_odds": "EqualizedOdds",
    "true_positive_rate_parity": "TruePositiveRateParity",
    "false_positive_rate_parity": "FalsePositiveRateParity",
    "error_rate_parity": "ErrorRateParity",
}
"""ExponentiatedGradient constraints, with the Fairlearn moment class of each."""

ERR_NO_FAIRLEARN = "fairness mitigation needs the 'fairlearn' package, which is not installed"
ERR_MISSING_COLUMNS = "X has no sensitive column(s) {columns}; the mitigated model reads them"
ERR_NOT_A_TABLE = (
    "X must be a table with named columns (pandas, polars or pyarrow) holding the "
    "sensitive column(s) {columns}, not {kind}"
)
ERR_UNSEEN_GROUP = (
    "{count} row(s) belong to group(s) not seen when the thresholds were fitted, "
    "e.g. {columns} = {example}"
)
ERR_MISSING_VALUES = "sensitive column(s) {columns} have missing values; every row needs a group"
ERR_NOT_BINARY = "fairness mitigation needs exactly two classes, got {count}: {classes}"
ERR_CONSTRAINT = "unknown constraint {name!r} for {method}; valid constraints: {valid}"

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
            raise _unknown_constraint(self.constraints, "ThresholdOptimizer", TO_CONSTRAINTS)
        check_is_fitted(self.estimator)
        if not hasattr(self.estimator, "predict_proba"):
            raise InputError(f"{type(self.estimator).__name__} has no predict_proba to threshold")
        classes = _binary_classes(getattr(self.estimator, "classes_", None))
        columns = _column_names(self.sensitive)
        frame = _frame(X, columns)
        labels = _labels(y, classes, len(frame))
        groups = _group_keys(frame, columns)
        codes = _group_codes(frame, columns, groups)
        postprocessing = _fairlearn("postprocessing")
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
        frame = _frame(X, self.sensitive_)
        codes = _group_codes(frame, self.sensitive_, self.groups_)
        scores = self._base_scores(frame)
        positive = np.empty(len(frame))
        for code in range(len(self.groups_)):
            member = codes == code
            positive[member] = _randomized(scores[member], self.interpolation_[code])
        return np.column_stack([1.0 - positive, positive])

    def _scores_and_thresholds(self, X: Any) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        check_is_fitted(self)
        frame = _frame(X, self.sensitive_)
        codes = _group_codes(frame, self.sensitive_, self.groups_)
        return self._base_scores(frame), self.thresholds_[codes]

    def _base_scores(self, frame: pd.DataFrame) -> NDArray[np.float64]:
        proba = np.asarray(self.estimator.predict_proba(frame), dtype=float)
        return np.asarray(proba[:, 1])


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
            raise _unknown_constraint(self.constraints, "ExponentiatedGradient", EG_CONSTRAINTS)
        columns = _column_names(self.sensitive)
        frame = _frame(X, columns)
        target = np.asarray(y)
        classes = _binary_classes(np.unique(target) if len(target) else None)
        labels = _labels(target, classes, len(frame))
        groups = _group_keys(frame, columns)
        codes = _group_codes(frame, columns, groups)
        reductions = _fairlearn("reductions")
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


def _fairlearn(submodule: str) -> Any:
    """Import ``fairlearn.<submodule>``: only ``fit`` needs Fairlearn."""
    try:
        return importlib.import_module(f"fairlearn.{submodule}")
    except ImportError as exc:
        raise GovmlError(ERR_NO_FAIRLEARN, hint="pip install govml[verify]") from exc


def _unknown_constraint(name: str, method: str, valid: dict[str, Any]) -> InputError:
    return InputError(ERR_CONSTRAINT.format(name=name, method=method, valid=", ".join(valid)))


def _column_names(sensitive: str | Sequence[str]) -> tuple[str, ...]:
    columns = (sensitive,) if isinstance(sensitive, str) else tuple(sensitive)
    if not columns or not all(isinstance(column, str) for column in columns):
        raise InputError("sensitive must name one or more columns")
    if len(set(columns)) != len(columns):
        raise InputError(f"sensitive names a column twice: {list(columns)}")
    return columns


def _frame(X: Any, columns: tuple[str, ...]) -> pd.DataFrame:
    """Return ``X`` as a pandas DataFrame holding ``columns``, or raise InputError."""
    from govml.flavors.base import as_table

    table = as_table(X)
    if not isinstance(table, pd.DataFrame):
        kind = f"a {table.ndim}-D numpy array"
        raise InputError(ERR_NOT_A_TABLE.format(columns=list(columns), kind=kind))
    missing = [column for column in columns if column not in table.columns]
    if missing:
        raise InputError(ERR_MISSING_COLUMNS.format(columns=", ".join(map(repr, missing))))
    return table


def _binary_classes(classes: Any) -> NDArray[Any]:
    values = np.asarray(classes if classes is not None else [])
    if values.ndim != 1 or len(values) != 2:
        raise InputError(ERR_NOT_BINARY.format(count=len(values.ravel()), classes=list(values)))
    return values


def _labels(y: Any, classes: NDArray[Any], rows: int) -> NDArray[np.int64]:
    """Return ``y`` as 0/1 (1 for the positive class), checking it has only those classes."""
    target = np.asarray(y)
    if target.ndim != 1 or len(target) != rows:
        raise InputError(f"y must be one label per row of X ({rows}), got shape {target.shape}")
    unknown = sorted(set(target.tolist()) - set(classes.tolist()), key=repr)
    if unknown:
        raise InputError(f"y has labels the classifier does not know: {unknown[:5]}")
    return np.asarray(target == classes[1], dtype=np.int64)


def _plain(value: Any) -> Any:
    """Return a numpy scalar as the Python scalar it holds (skops stores those natively)."""
    return value.item() if isinstance(value, np.generic) else value


def _group_keys(frame: pd.DataFrame, columns: tuple[str, ...]) -> tuple[tuple[Any, ...], ...]:
    values = frame[list(columns)]
    if values.isna().to_numpy().any():
        raise InputError(ERR_MISSING_VALUES.format(columns=", ".join(map(repr, columns))))
    keys = {tuple(_plain(v) for v in row) for row in values.itertuples(index=False, name=None)}
    try:
        return tuple(sorted(keys))
    except TypeError:
        return tuple(sorted(keys, key=repr))


def _group_codes(
    frame: pd.DataFrame, columns: tuple[str, ...], groups: tuple[tuple[Any, ...], ...]
) -> NDArray[np.int64]:
    """Return each row's index into ``groups``; raise for rows of unknown groups."""
    arrays = [frame[column].to_numpy(dtype=object) for column in columns]
    codes = np.full(len(frame), -1, dtype=np.int64)
    for code, key in enumerate(groups):
        member = np.ones(len(frame), dtype=bool)
        for array, value in zip(arrays, key, strict=True):
            member &= array == value
        codes[member & (codes < 0)] = code
    unseen = np.flatnonzero(codes < 0)
    if len(unseen):
        example = tuple(_plain(array[unseen[0]]) for array in arrays)
        raise InputError(
            ERR_UNSEEN_GROUP.format(
                count=len(unseen),
                columns=columns[0] if len(columns) == 1 else list(columns),
                example=example[0] if len(columns) == 1 else list(example),
            ),
            hint="fit the mitigation on data with every group",
        )
    return codes


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
