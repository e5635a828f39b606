"""One loaded model version, ready to score validated records.

A `Deployment` bundles what the gateway needs about a version: its registry record, the
loaded model (artifact digest checked by the registry), an `InputValidator` built from its
signature and training profile, and the column types used to build the model's input frame
and the prediction log's schema. Deployments are immutable, so a request that started on
one keeps it even when the gateway switches to another version meanwhile.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from govml.domain.records import ModelVersion
from govml.domain.signature import ColumnSpec, Signature
from govml.flavors import LoadedModel
from govml.serving.scoring import Scorer
from govml.serving.validation import InputValidator


@dataclass(frozen=True)
class Scores:
    """What a model call returned for a batch of rows."""

    predictions: NDArray[Any]
    probabilities: NDArray[np.float64] | None
    features: NDArray[np.float64] | None = None  # a pipeline's transformed rows, when dense


@dataclass(frozen=True, eq=False)
class Deployment:
    """A version of the served model, loaded and checked.

    Attributes
    ----------
    version : ModelVersion
        The registry record.
    model : LoadedModel
        The loaded artifact.
    validator : InputValidator
        Checks requests against the version's signature and training profile.
    classes : tuple or None
        Class labels in the column order of the probabilities, for classifiers that
        give probabilities.
    labels : tuple or None
        The labels feedback may give: the model's classes when it knows them.
    loaded_at : float
        ``time.time()`` when loading finished.
    scorer : Scorer
        Calls the model (see :mod:`govml.serving.scoring`).
    profile : Mapping or None
        The training data's profile, when known (the explanations' baseline).
    """

    version: ModelVersion
    model: LoadedModel
    validator: InputValidator
    classes: tuple[Any, ...] | None
    labels: tuple[Any, ...] | None
    loaded_at: float
    scorer: Scorer
    profile: Mapping[str, Any] | None = None

    @property
    def name(self) -> str:
        """The model's name."""
        return self.version.model

    @property
    def number(self) -> int:
        """The version number."""
        return self.version.version

    @property
    def inputs(self) -> tuple[ColumnSpec, ...]:
        """Input columns in signature order."""
        return self.validator.columns

    @property
    def output_type(self) -> str | None:
        """The type of the prediction in the signature (``int64``, ``string``...), if known."""
        outputs = (self.version.signature or {}).get("outputs") or []
        return str(outputs[0]["type"]) if outputs else None

    @property
    def regressor(self) -> bool:
        """Whether the model predicts a number rather than a class."""
        return self.labels is None and self.output_type == "float64"

    def frame(self, values: dict[str, list[Any]]) -> pd.DataFrame:
        """Build the model's input table from validated column values."""
        data = {spec.name: _array(spec, values[spec.name]) for spec in self.inputs}
        return pd.DataFrame(data, copy=False)

    def score(self, values: dict[str, list[Any]]) -> Scores:
        """Predict, and compute class probabilities when the model has them.

        See :mod:`govml.serving.scoring` for how both come from as few model passes as
        give exactly the model's own answers.
        """
        predictions, probabilities, features = self.scorer.with_features(self.frame(values))
        return Scores(predictions=predictions, probabilities=probabilities, features=features)

    def score_in_chunks(self, values: dict[str, list[Any]], count: int, rows: int) -> Scores:
        """Score ``count`` records ``rows`` at a time (one model call per chunk).

        Rows are scored independently, so the answers are those of one call; between chunks
        the interpreter lock can pass to other threads (the event loop answering small
        requests), which one long model call on a large request would not allow.
        """
        if count <= rows:
            return self.score(values)
        parts = [
            self.score({name: column[start : start + rows] for name, column in values.items()})
            for start in range(0, count, rows)
        ]
        matrices = [p.probabilities for p in parts if p.probabilities is not None]
        probabilities = np.concatenate(matrices) if matrices else None
        features = [p.features for p in parts if p.features is not None]
        return Scores(
            predictions=np.concatenate([p.predictions for p in parts]),
            probabilities=probabilities,
            features=np.concatenate(features) if len(features) == len(parts) else None,
        )


def load_deployment(
    version: ModelVersion, model: LoadedModel, profile: dict[str, Any] | None
) -> Deployment:
    """Build a `Deployment` for ``version`` (its signature must list the inputs).

    Raises
    ------
    ValueError
        When the version has no input signature: the gateway cannot validate requests.
    """
    if not version.signature or not version.signature.get("inputs"):
        raise ValueError(
            f"{version.ref} has no input signature; register it with training data or an "
            "input example so the gateway can check requests"
        )
    signature = Signature.from_dict(version.signature)
    classes = None
    labels = None if model.classes is None else tuple(np.asarray(model.classes).tolist())
    if model.has_proba:
        classes = labels
    return Deployment(
        version=version,
        model=model,
        validator=InputValidator(signature, profile),
        classes=classes,
        labels=labels,
        loaded_at=time.time(),
        scorer=Scorer(model, probabilities=classes is not None),
        profile=profile,
    )


def _array(spec: ColumnSpec, values: list[Any]) -> Any:
    """Return a column in the dtype the training frame had for this signature type."""
    kind = spec.type
    if kind == "float64":
        return np.asarray(values, dtype=np.float64)
    if kind == "int64":
        if spec.nullable and None in values:
            return np.asarray(values, dtype=np.float64)  # pandas reads such columns as floats
        return np.asarray(values, dtype=np.int64)
    if kind == "bool":
        if spec.nullable and None in values:
            return np.asarray(values, dtype=object)
        return np.asarray(values, dtype=bool)
    if kind == "datetime":
        return pd.to_datetime(values, utc=False, format="ISO8601")
    # Text: missing values as NaN, as pandas reads them from CSV or Parquet.
    column = np.asarray(values, dtype=object)
    if spec.nullable and None in values:
        column[column == None] = np.nan  # noqa: E711 (element-wise comparison)
    return column
