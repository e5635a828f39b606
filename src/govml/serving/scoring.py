"""Predictions and class probabilities from one model call where that is exact.

The gateway returns a classifier's decision (``predict``) and its class probabilities
(``predict_proba``). Calling both costs two passes through the model. Two shortcuts keep
the answers identical while saving most of the second pass:

1. A scikit-learn ``Pipeline`` runs its preprocessing steps once; both methods of its last
   step are called on their output (what ``Pipeline.predict`` and ``Pipeline.predict_proba``
   each do on their own).
2. For the classifiers in :data:`ARGMAX_CLASSIFIERS`, scikit-learn's ``predict`` is the
   class of the largest probability (trees and forests compute it that way; boosting and
   logistic regression threshold a score that their probabilities are an increasing
   function of). There the decision is read from the probabilities, except for rows whose
   two largest probabilities are closer than :data:`TIE` (a score within rounding of the
   threshold), for which ``predict`` itself is called.

Any other model (including govml's fairness-mitigated classifiers, whose decision is not
the most probable class) gets both calls.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from govml.flavors import LoadedModel

ARGMAX_CLASSIFIERS = frozenset(
    {
        "DecisionTreeClassifier",
        "ExtraTreeClassifier",
        "ExtraTreesClassifier",
        "GradientBoostingClassifier",
        "HistGradientBoostingClassifier",
        "LogisticRegression",
        "RandomForestClassifier",
    }
)
TIE = 1e-9


def _sklearn_class(obj: object, names: frozenset[str]) -> bool:
    kind = type(obj)
    return kind.__module__.split(".", 1)[0] == "sklearn" and kind.__qualname__ in names


class Scorer:
    """Scores a table with a loaded classifier or regressor.

    Parameters
    ----------
    model : LoadedModel
        The loaded artifact.
    probabilities : bool
        Whether to compute class probabilities (the model must have them).
    """

    def __init__(self, model: LoadedModel, *, probabilities: bool) -> None:
        self.model = model
        self.probabilities = probabilities
        raw = model.raw
        self.head: Any = None
        self.last: Any = raw
        if _sklearn_class(raw, frozenset({"Pipeline"})) and len(raw.steps) > 1:
            last = raw.steps[-1][1]
            if hasattr(last, "predict") and hasattr(last, "predict_proba"):
                self.head, self.last = raw[:-1], last
        self.native = model.flavor == "sklearn" and (self.head is not None or raw is self.last)
        self.argmax = (
            probabilities
            and self.native
            and _sklearn_class(self.last, ARGMAX_CLASSIFIERS)
            and getattr(self.last, "classes_", None) is not None
        )

    def __call__(self, frame: Any) -> tuple[NDArray[Any], NDArray[np.float64] | None]:
        """Return the predictions and, when asked for, the class probabilities."""
        predictions, probabilities, _ = self.with_features(frame)
        return predictions, probabilities

    def with_features(
        self, frame: Any
    ) -> tuple[NDArray[Any], NDArray[np.float64] | None, NDArray[np.float64] | None]:
        """Return the predictions, the probabilities and the pipeline's transformed features.

        The features are those the last step of a scikit-learn pipeline read, as a dense
        matrix (None when there is no such step or they are sparse), so that an explanation
        of the same rows need not transform them again.
        """
        if not self.probabilities:
            return np.asarray(self.model.predict(frame)), None, None
        if not self.native:
            predictions = np.asarray(self.model.predict(frame))
            return predictions, np.asarray(self.model.predict_proba(frame), dtype=np.float64), None
        features = frame if self.head is None else self.head.transform(frame)
        kept = None
        if self.head is not None and isinstance(features, np.ndarray):
            kept = np.asarray(features, dtype=np.float64)
        probabilities = np.asarray(self.last.predict_proba(features), dtype=np.float64)
        if not self.argmax:
            return np.asarray(self.last.predict(features)), probabilities, kept
        predictions = np.asarray(self.last.classes_)[probabilities.argmax(axis=1)]
        if probabilities.shape[1] > 1:
            top = np.partition(probabilities, -2, axis=1)
            if np.any(top[:, -1] - top[:, -2] < TIE):
                predictions = np.asarray(self.last.predict(features))
        return predictions, probabilities, kept
