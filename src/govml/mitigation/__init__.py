"""Fairness mitigation with Fairlearn's algorithms, as deterministic, registrable classifiers.

Fairlearn's mitigators are randomised: :class:`~fairlearn.postprocessing.ThresholdOptimizer`
flips a biased coin between two thresholds per group, and needs ``sensitive_features`` at
prediction time; :class:`~fairlearn.reductions.ExponentiatedGradient` draws one of several
classifiers per row. A registered model version has to give the same answer for the same
row, take nothing but ``X`` and load without Fairlearn, so this module fits Fairlearn's
algorithms and keeps their result as plain numbers and scikit-learn estimators:

:func:`reweighing`
    Pre-processing (Kamiran and Calders): one sample weight per training row that makes
    the label independent of the group; any estimator is then trained with them.
:func:`threshold_optimized` / :class:`MitigatedClassifier`
    Post-processing of an already fitted classifier. Each group (one value, or one
    combination of values, of the sensitive columns) gets one threshold on the base
    model's positive-class probability; the sensitive columns are read from ``X``.
:func:`exponentiated_gradient` / :class:`MixtureClassifier`
    Reductions: a weighted mixture of classifiers trained by Fairlearn on reweighted,
    relabelled data; its probability is the weighted mean of theirs.

The two classes are scikit-learn classifiers (``fit``, ``predict``, ``predict_proba``,
``classes_``), need Fairlearn only in ``fit``, and are on the sklearn flavor's list of
trusted types, so they register like any other estimator::

    model = threshold_optimized(pipeline, train[features], train["income"], sensitive="sex")
    client.register_version("adult-income", model=model)  # sklearn flavor, skops

Fairlearn is an optional dependency (``pip install govml[verify]``); ``import govml``,
:func:`reweighing` and loading a registered mitigated model work without it.

Explaining a mitigated model: :func:`govml.checks.explain` explains the classes through
their parts (TreeSHAP or linear SHAP on the base estimator or on each member of the
mixture, combined with the group thresholds or the mixture weights), never with a
model-agnostic explainer over the whole wrapper; see :mod:`govml.checks._composite`.
"""

from __future__ import annotations

from govml.mitigation.mixture import EG_CONSTRAINTS, MixtureClassifier, exponentiated_gradient
from govml.mitigation.preprocessing import reweighing
from govml.mitigation.thresholds import TO_CONSTRAINTS, MitigatedClassifier, threshold_optimized

# The classes are stored in artifacts under these names (skops records the module), and
# the sklearn flavor trusts exactly these names: keep them whatever module defines them.
MitigatedClassifier.__module__ = __name__
MixtureClassifier.__module__ = __name__

__all__ = [
    "EG_CONSTRAINTS",
    "TO_CONSTRAINTS",
    "MitigatedClassifier",
    "MixtureClassifier",
    "exponentiated_gradient",
    "reweighing",
    "threshold_optimized",
]
