"""LightGBM flavor: the native text model format, for sklearn wrappers and Boosters.

Options written by :meth:`LightGBMFlavor.dump` and :meth:`LightGBMFlavor.from_bytes`:

``model_type``
    ``classifier``, ``regressor`` or ``ranker``: the sklearn wrapper that was saved or,
    for a raw :class:`lightgbm.Booster` and a model file (the text format does not record
    the wrapper), what its objective makes it (``binary`` / ``multiclass`` /
    ``multiclassova``: a classifier with classes ``0..k-1``; ``lambdarank`` /
    ``rank_xendcg``: a ranker; the regression objectives: a regressor).  ``booster`` for
    an objective of none of these kinds (a custom one): raw scores.
``task``
    ``classification``, ``regression`` or ``ranking`` (absent for ``booster``).
``estimator``
    Dotted class name of the wrapper that was saved (absent for Boosters and files).
``objective``, ``num_class``
    The objective line of the model (e.g. ``binary sigmoid:1``) and its class count.
``lightgbm_version``
    Version that wrote or checked the artifact.
``classes``, ``classes_dtype``
    Class labels of a classifier, which LightGBM's own format does not keep.

A classifier's :meth:`~govml.flavors.base.LoadedModel.predict` returns labels (the most
probable class, as ``LGBMClassifier``) and ``predict_proba`` the probabilities, whatever
``model_type`` a version recorded: probabilities are never returned as labels.

Input: numeric columns, and categorical columns for models trained on pandas
categoricals.  A table is reduced to the model's own features, in its order (a missing
one is named), and the features trained as categoricals are given the training
categories, whether they arrive as text or categoricals (an unseen value is missing).

LightGBM crashes or loops forever, rather than raising, on some truncated or
internally inconsistent model texts, so the text's structure (tree sizes, array
lengths, child links, feature indices, parameter lines) is checked before LightGBM
parses it.
"""

from __future__ import annotations

import itertools
import math
import os
import re
from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from govml.errors import FlavorError
from govml.flavors.base import (
    LoadedModel,
    ScoresOnlyModel,
    SerializedModel,
    defined_in,
    hinted_model_type,
    labels_from_options,
    labels_to_options,
    model_options,
    read_artifact,
    require,
    select_features,
    string_columns,
    wrapper_name,
)

__all__ = ["LightGBMFlavor", "check_model_text"]

ERR_INVALID = "{source} is not a valid LightGBM model: {reason}"

_MODEL_TYPES = ("classifier", "regressor", "ranker", "booster")
_WRAPPER_NAMES = {
    "classifier": "LGBMClassifier",
    "regressor": "LGBMRegressor",
    "ranker": "LGBMRanker",
}
_CLASSIFICATION_OBJECTIVES = ("binary", "multiclass", "multiclassova")
_RANKING_OBJECTIVES = ("lambdarank", "rank_xendcg")
_REGRESSION_OBJECTIVES = (
    "regression",
    "regression_l1",
    "huber",
    "fair",
    "poisson",
    "quantile",
    "mape",
    "gamma",
    "tweedie",
    "cross_entropy",
    "cross_entropy_lambda",
)
# Names LightGBM gives the features of a model trained without column names.
_DEFAULT_NAME = re.compile(r"Column_[0-9]+")


class LightGBMFlavor:
    """Serialise LightGBM models as LightGBM model text."""

    name = "lightgbm"

    def matches(self, obj: object) -> bool:
        """Return whether ``obj`` is a LightGBM sklearn wrapper or Booster.

        Parameters
        ----------
        obj : object
            Candidate model.

        Returns
        -------
        bool
            True for ``LGBMModel`` subclasses and ``Booster``.
        """
        names = {klass.__name__ for klass in type(obj).__mro__}
        return defined_in(obj, "lightgbm") and bool(names & {"LGBMModel", "Booster"})

    def dump(self, obj: Any) -> SerializedModel:
        """Serialise a fitted wrapper or Booster with ``model_to_string``.

        Parameters
        ----------
        obj : LGBMModel or Booster
            Fitted model.

        Returns
        -------
        SerializedModel
            UTF-8 model text and options.
        """
        lgb = _lightgbm()
        if isinstance(obj, lgb.Booster):
            booster, wrapper = obj, None
        elif isinstance(obj, lgb.LGBMModel):
            wrapper = _model_type(obj, lgb)
            if callable(obj.objective):
                # A Python objective is not part of the model text; the loaded model
                # would return raw scores where the original returned labels.
                raise FlavorError(
                    "LightGBM models with a custom objective function cannot be saved"
                )
            try:
                booster = obj.booster_
            except Exception as exc:  # LGBMNotFittedError
                raise FlavorError(f"{type(obj).__qualname__} is not fitted: {exc}") from exc
        else:
            raise FlavorError(f"not a LightGBM model: {type(obj).__qualname__}")
        data = str(booster.model_to_string()).encode("utf-8")
        objective = _header(data).get("objective", "")
        model_type = wrapper or _model_type_of(objective)
        options = _options(data, model_type, lgb)
        if wrapper is not None:
            kind = type(obj)
            options["estimator"] = f"{kind.__module__}.{kind.__qualname__}"
            options.update(labels_to_options(getattr(obj, "classes_", None)))
        elif model_type == "classifier":
            options.update(labels_to_options(_class_indices(booster)))
        return SerializedModel(data=data, flavor=self.name, options=options)

    def load(self, data: bytes, options: Mapping[str, Any]) -> LoadedModel:
        """Load LightGBM model text.

        Parameters
        ----------
        data : bytes
            UTF-8 model text.
        options : Mapping
            ``model_type`` and, for classifiers, ``classes``.

        Returns
        -------
        LoadedModel
            Wraps the Booster with the semantics of the saved model type; a Booster with a
            classification objective loads as a classifier with classes ``0..k-1``.
        """
        model_type = str(options.get("model_type", "booster"))
        if model_type not in _MODEL_TYPES:
            raise FlavorError(f"unknown lightgbm model_type '{model_type}' in flavor options")
        booster = _load_booster(data, source="the artifact")
        objective = _header(data).get("objective", "")
        if model_type == "booster" and _model_type_of(objective) == "classifier":
            # Recorded before boosters were told apart by objective: its scores are
            # probabilities, so it is loaded as the classifier it is.
            return LightGBMClassifierModel(raw=booster, classes=_class_indices(booster))
        if model_type == "classifier":
            classes = labels_from_options(options)
            _check_class_count(classes, booster, source="the artifact")
            assert classes is not None
            return LightGBMClassifierModel(raw=booster, classes=classes)
        if model_type == "booster":
            return LightGBMBoosterModel(raw=booster)
        return LightGBMRegressorModel(raw=booster)

    def from_bytes(
        self,
        data: bytes,
        *,
        source: str = "the artifact",
        hints: Mapping[str, Any] | None = None,
    ) -> SerializedModel:
        """Check and describe LightGBM model text; the bytes are kept as is.

        The objective, class count and version are read from the text, and the model type
        follows from the objective.  The wrapper class and a classifier's labels, which the
        text does not keep, come from ``hints`` (the options of :meth:`dump`) when the
        objective agrees with the hinted type and the labels match the model's class count;
        a classifier without hinted labels has classes ``0..k-1``.

        Parameters
        ----------
        data : bytes
            UTF-8 model text.
        source : str
            How messages name the bytes.
        hints : Mapping, optional
            Options written by :meth:`dump` on a client.

        Returns
        -------
        SerializedModel
            The bytes with their options.

        Raises
        ------
        FlavorError
            For text that is not a valid model, or hinted labels that do not fit it.
        """
        lgb = _lightgbm()
        hints = hints or {}
        booster = _load_booster(data, source=source)
        objective = _header(data).get("objective", "")
        classification = _model_type_of(objective) == "classifier"
        hinted = hinted_model_type(hints, _WRAPPER_NAMES, classification=classification)
        model_type = hinted or _model_type_of(objective)
        options = _options(data, model_type, lgb)
        if hinted is not None:
            # The wrapper's own class name (it may be a subclass) is descriptive only.
            standard = f"lightgbm.sklearn.{_WRAPPER_NAMES[hinted]}"
            options["estimator"] = wrapper_name(hints, package="lightgbm", default=standard)
        if model_type == "classifier":
            classes = labels_from_options(hints) if hinted else None
            if classes is None:
                classes = _class_indices(booster)
            _check_class_count(classes, booster, source=source)
            options.update(labels_to_options(classes))
        return SerializedModel(data=data, flavor=self.name, options=options)

    def from_file(self, path: str | os.PathLike[str]) -> SerializedModel:
        """Check and describe a LightGBM model text file; its bytes are kept as is.

        Parameters
        ----------
        path : str or os.PathLike
            File written by ``Booster.save_model``.

        Returns
        -------
        SerializedModel
            The file's bytes with the options :meth:`from_bytes` reads.
        """
        return self.from_bytes(read_artifact(path), source=f"model file {os.fspath(path)}")


class _LightGBMModel(LoadedModel):
    """Shared input handling: the model's own features, categoricals as trained."""

    def __init__(self, *, raw: Any, classes: NDArray[Any] | None = None) -> None:
        super().__init__(flavor="lightgbm", raw=raw, classes=classes)
        names = [str(name) for name in raw.feature_name()]
        # Features trained without names are read by position; named ones by name.
        self._names = None if all(_DEFAULT_NAME.fullmatch(n) for n in names) else names
        self._categories = _categories(raw, names)

    @property
    def feature_names(self) -> list[str] | None:
        """The columns the model reads, in its order (None when trained without names)."""
        return None if self._names is None else list(self._names)

    @property
    def input_errors(self) -> tuple[type[Exception], ...]:
        """LightGBM's own error type in addition to the defaults."""
        return (ValueError, KeyError, _lightgbm().basic.LightGBMError)

    def _scores(self, X: Any) -> NDArray[Any]:
        return np.asarray(self.raw.predict(self._prepared(X)))

    def _prepared(self, X: Any) -> Any:
        if isinstance(X, np.ndarray):
            return X
        X = select_features(X, self._names)
        if self._categories:
            import pandas as pd

            X = X.copy(deep=False)
            for name, categories in self._categories.items():
                if name in X.columns and not isinstance(X[name].dtype, pd.CategoricalDtype):
                    X[name] = pd.Categorical(X[name], categories=categories)
        elif self.raw.pandas_categorical:
            text = string_columns(X)
            if text:
                X = X.astype(dict.fromkeys(text, "category"))
        return X

    def _proba_from_scores(self, scores: NDArray[Any]) -> NDArray[Any]:
        # Binary objectives give P(class 1) only; the sklearn wrapper stacks 1 - p, p.
        if scores.ndim == 1:
            return np.column_stack([1.0 - scores, scores])
        return scores


class LightGBMClassifierModel(_LightGBMModel):
    """A LightGBM classifier: labels and probabilities as ``LGBMClassifier`` gives them."""

    @property
    def has_proba(self) -> bool:
        """Always true."""
        return True

    def _predict(self, X: Any) -> NDArray[Any]:
        assert self.classes is not None
        # Same rule as LGBMClassifier.predict: the most probable class, first on ties.
        labels: NDArray[Any] = self.classes[np.argmax(self._predict_proba(X), axis=1)]
        return labels

    def _predict_proba(self, X: Any) -> NDArray[Any]:
        return self._proba_from_scores(self._scores(X))


class LightGBMRegressorModel(_LightGBMModel, ScoresOnlyModel):
    """A LightGBM regressor or ranker."""

    def _predict(self, X: Any) -> NDArray[Any]:
        return self._scores(X)


class LightGBMBoosterModel(LightGBMRegressorModel):
    """A raw LightGBM Booster whose objective is of no known kind: its raw scores."""


def _lightgbm() -> Any:
    return require("lightgbm", flavor="lightgbm")


def _model_type(obj: Any, lgb: Any) -> str:
    if isinstance(obj, lgb.LGBMClassifier):
        return "classifier"
    if isinstance(obj, lgb.LGBMRanker):
        return "ranker"
    if isinstance(obj, lgb.LGBMRegressor):
        return "regressor"
    raise FlavorError(f"unsupported LightGBM model class {type(obj).__qualname__}")


def _model_type_of(objective: str) -> str:
    """Return the model type an objective line (``binary sigmoid:1``) makes a Booster."""
    kind = objective.split(" ", 1)[0]
    if kind in _CLASSIFICATION_OBJECTIVES:
        return "classifier"
    if kind in _RANKING_OBJECTIVES:
        return "ranker"
    if kind in _REGRESSION_OBJECTIVES:
        return "regressor"
    return "booster"


def _class_indices(booster: Any) -> NDArray[Any]:
    return np.arange(max(int(booster.num_model_per_iteration()), 2))


def _categories(booster: Any, names: list[str]) -> dict[str, list[Any]]:
    """Return ``{feature: training categories}`` of the features trained as categoricals."""
    # LightGBM pairs the pandas categoricals of an input, in column order, with the
    # categories it stored; the parameters say which features those were.
    stored = booster.pandas_categorical or []
    indices = booster.params.get("categorical_feature") if booster.params else None
    if not stored or not isinstance(indices, list) or len(indices) != len(stored):
        return {}
    if not all(isinstance(i, int) and 0 <= i < len(names) for i in indices):
        return {}
    return {names[i]: list(values) for i, values in zip(sorted(indices), stored, strict=True)}


def _check_class_count(classes: NDArray[Any] | None, booster: Any, *, source: str) -> None:
    # Labels are picked by probability column, so the counts must agree.
    if classes is None:
        raise FlavorError(f"the options of {source}, a LightGBM classifier, must list its classes")
    expected = max(booster.num_model_per_iteration(), 2)
    if len(classes) != expected:
        raise FlavorError(
            f"the options of {source} list {len(classes)} classes, the model predicts {expected}"
        )
    if len(set(classes.tolist())) != len(classes):
        raise FlavorError(f"the options of {source} list the same class label twice")


def _load_booster(data: bytes, *, source: str) -> Any:
    lgb = _lightgbm()
    # LightGBM's parser trusts its input: a truncated or damaged model can abort the
    # whole process instead of raising, so the structure is checked here first.
    check_model_text(data, source=source)
    try:
        return lgb.Booster(model_str=data.decode("utf-8"))
    except Exception as exc:  # LightGBMError, or a JSON error in pandas_categorical
        raise FlavorError(ERR_INVALID.format(source=source, reason=exc)) from exc


def check_model_text(data: bytes, *, source: str) -> None:
    """Check LightGBM model text before LightGBM's parser reads it.

    Parameters
    ----------
    data : bytes
        Model text, as ``Booster.model_to_string`` writes it.
    source : str
        How the message names the text.

    Raises
    ------
    FlavorError
        Naming the first structural problem (tree sizes, array lengths, child links,
        feature indices, parameter lines).
    """
    problem = _find_problem(data)
    if problem is not None:
        raise FlavorError(ERR_INVALID.format(source=source, reason=problem))


def _options(data: bytes, model_type: str, lgb: Any) -> dict[str, Any]:
    header = _header(data)
    return model_options(
        model_type,
        header.get("objective", ""),
        library="lightgbm",
        version=lgb.__version__,
        num_class=int(header["num_class"]) if "num_class" in header else None,
    )


# --- Structure of the model text -------------------------------------------------
#
# tree                          <- model type
# version=v4                    <- header: key=value lines
# ...
# tree_sizes=570 581            <- byte length of each tree block below
#
# Tree=0                        <- tree blocks: key=value lines, then blank lines
# num_leaves=4
# ...
# end of trees
# (feature importances, parameters, pandas_categorical: read by Python code)

_REQUIRED_HEADER = (
    "version",
    "num_class",
    "num_tree_per_iteration",
    "label_index",
    "max_feature_idx",
    "feature_names",
    "feature_infos",
    "tree_sizes",
)
# Per-node arrays (num_leaves - 1 values) and per-leaf arrays (num_leaves values),
# with the parser used for each; LightGBM reads exactly that many values.
_NODE_ARRAYS = {
    "left_child": int,
    "right_child": int,
    "split_feature": int,
    "threshold": float,
    "split_gain": float,
    "internal_value": float,
    "internal_weight": float,
    "internal_count": int,
    "decision_type": int,
}
_REQUIRED_NODE_ARRAYS = ("left_child", "right_child", "split_feature", "threshold")
_LEAF_ARRAYS = {"leaf_value": float, "leaf_weight": float, "leaf_count": int}
_CATEGORICAL_SPLIT = 1  # bit 0 of decision_type
# Numbers as LightGBM writes them: 32-bit integers, and floats with at most a
# three-digit exponent (a longer one overflows LightGBM's parser).
# LightGBM ends a line at "\r", "\n" or "\r\n" (and at nothing else).
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_INT_TOKEN = re.compile(r"[+-]?[0-9]{1,10}")
_INT_RANGE = (-(2**31), 2**32 - 1)  # int32, and uint32 for cat_threshold
_FLOAT_TOKEN = re.compile(
    r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]{1,3})?|[+-]?(?:inf|nan|infinity)",
    re.IGNORECASE,
)
_PARAMETER_LINE = re.compile(rb"\[[^\r\n]*:[^\r\n]*\]\r?")


class _Corrupt(Exception):
    """A structural problem in model text, reported as the FlavorError reason."""


def _header(data: bytes) -> dict[str, str]:
    """Return the header's key=value pairs (everything before the first tree)."""
    end = data.find(b"\nTree=")
    trees_end = data.find(b"\nend of trees")
    cut = min(pos for pos in (end, trees_end, len(data)) if pos >= 0)
    fields: dict[str, str] = {}
    for line in _LINE_BREAK.split(data[:cut].decode("utf-8", errors="replace"))[1:]:
        key, sep, value = line.partition("=")
        if sep and value:
            fields[key] = value
    return fields


def _find_problem(data: bytes) -> str | None:
    """Return why ``data`` is not well-formed LightGBM model text, or None."""
    try:
        _check_model(data)
    except _Corrupt as exc:
        return str(exc)
    return None


def _check_model(data: bytes) -> None:
    if not data.startswith(b"tree\n"):
        raise _Corrupt("it does not start with a 'tree' line")
    trees_end = data.find(b"\nend of trees")
    if trees_end < 0:
        raise _Corrupt("'end of trees' is missing, the text is truncated")
    _check_header_lines(data)
    header = _header(data)
    for key in _REQUIRED_HEADER:
        if key not in header:
            raise _Corrupt(f"the header has no {key}")
    per_iteration = _int(header["num_tree_per_iteration"], "num_tree_per_iteration", low=1)
    _int(header["num_class"], "num_class", low=1)
    max_feature = _int(header["max_feature_idx"], "max_feature_idx", low=0)
    for key in ("feature_names", "feature_infos"):
        if len(header[key].split(" ")) != max_feature + 1:
            raise _Corrupt(f"{key} does not list max_feature_idx + 1 features")
    # A multiclass objective names its class count; LightGBM trusts it to match the
    # trees per iteration when it transforms scores.
    for token in header.get("objective", "").split(" ")[1:]:
        key, _, value = token.partition(":")
        if key == "num_class" and value != str(per_iteration):
            raise _Corrupt("the objective's num_class does not match num_tree_per_iteration")
    sizes = [_int(size, "tree_sizes", low=1) for size in header["tree_sizes"].split(" ")]
    if len(sizes) % per_iteration:
        raise _Corrupt("the number of trees is not a multiple of num_tree_per_iteration")
    offset = data.find(b"\nTree=") + 1
    if offset == 0 or offset > trees_end:
        raise _Corrupt("no trees found")
    for index, size in enumerate(sizes):
        block = data[offset : offset + size]
        if len(block) < size:
            raise _Corrupt(f"tree {index} is truncated")
        _check_tree(block, index, max_feature)
        offset += size
    if not data.startswith(b"end of trees", offset):
        raise _Corrupt("tree_sizes do not match the tree blocks")
    _check_parameters(data[offset:])


def _check_parameters(trailer: bytes) -> None:
    # LightGBM crashes on a parameters line that is not "[key: value]".
    start = trailer.find(b"\nparameters:\n")
    if start < 0:
        return
    end = trailer.find(b"\nend of parameters", start)
    if end < 0:
        raise _Corrupt("'end of parameters' is missing, the text is truncated")
    for line in trailer[start + len(b"\nparameters:\n") : end].splitlines():
        if not _PARAMETER_LINE.fullmatch(line):
            raise _Corrupt(f"malformed parameter line {line[:40]!r}")


def _check_header_lines(data: bytes) -> None:
    end = data.find(b"\nTree=")
    try:
        lines = _LINE_BREAK.split(data[: max(end, 0)].decode("utf-8"))[1:]
    except UnicodeDecodeError as exc:
        raise _Corrupt("the header is not UTF-8 text") from exc
    for line in lines:
        key, sep, value = line.partition("=")
        if key and not sep and key != "average_output":
            raise _Corrupt(f"malformed header line {line[:40]!r}")
        if key == "objective" and not value:
            # LightGBM crashes on an empty objective instead of reporting it.
            raise _Corrupt("the objective is empty")


def _check_tree(block: bytes, index: int, max_feature: int) -> None:
    try:
        lines = _LINE_BREAK.split(block.decode("ascii"))
    except UnicodeDecodeError as exc:
        raise _Corrupt(f"tree {index} is not ASCII text") from exc
    if lines[0] != f"Tree={index}":
        raise _Corrupt(f"tree {index} is not where tree_sizes puts it")
    fields: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            break
        key, sep, value = line.partition("=")
        if not sep:
            raise _Corrupt(f"tree {index} has a line without '=': {line[:40]!r}")
        fields[key] = value
    where = f"tree {index}"
    leaves = _int(fields.get("num_leaves"), f"{where} num_leaves", low=1)
    num_cat = _int(fields.get("num_cat"), f"{where} num_cat", low=0)
    arrays = {
        key: _array(fields, key, parse, leaves, where)
        for key, parse in _LEAF_ARRAYS.items()
        if key in fields or key == "leaf_value"
    }
    if "shrinkage" in fields:
        _array(fields, "shrinkage", float, 1, where)
    linear = _int(fields.get("is_linear", "0"), f"{where} is_linear", low=0) > 0
    if leaves > 1 or linear:
        for key, parse in _NODE_ARRAYS.items():
            if key in fields or key in _REQUIRED_NODE_ARRAYS:
                arrays[key] = _array(fields, key, parse, leaves - 1, where)
        _check_links(arrays, leaves, max_feature, num_cat, where)
    if linear:
        _check_linear(fields, leaves, max_feature, where)
    if num_cat and (leaves > 1 or linear):
        bounds = _array(fields, "cat_boundaries", int, num_cat + 1, where)
        if bounds[0] != 0 or any(b < a for a, b in itertools.pairwise(bounds)):
            raise _Corrupt(f"{where} has invalid cat_boundaries")
        _array(fields, "cat_threshold", int, int(bounds[-1]), where)


def _check_linear(fields: dict[str, str], leaves: int, max_feature: int, where: str) -> None:
    # Linear trees keep a small regression per leaf: num_features[i] coefficients for
    # leaf i, concatenated in leaf_features / leaf_coeff.
    if "leaf_const" in fields:
        _array(fields, "leaf_const", float, leaves, where)
    if "num_features" not in fields:
        return
    counts = _array(fields, "num_features", int, leaves, where)
    if any(count < 0 for count in counts):
        raise _Corrupt(f"{where} has a negative num_features")
    total = int(sum(counts))
    if total == 0:
        return
    features = _array(fields, "leaf_features", int, total, where)
    if any(not 0 <= feature <= max_feature for feature in features):
        raise _Corrupt(f"{where} has a leaf feature that does not exist")
    _array(fields, "leaf_coeff", float, total, where)


def _check_links(
    arrays: dict[str, list[float]], leaves: int, max_feature: int, num_cat: int, where: str
) -> None:
    # Out-of-range indices make LightGBM read outside its arrays at predict time, and a
    # child pointing back up the tree makes it loop forever: every node but the root
    # and every leaf (written as ~index) must be the child of exactly one node.
    children = sorted(int(child) for child in arrays["left_child"] + arrays["right_child"])
    if children != list(range(-leaves, 0)) + list(range(1, leaves - 1)):
        raise _Corrupt(f"{where} is not a tree: its child links are inconsistent")
    if any(not 0 <= feature <= max_feature for feature in arrays["split_feature"]):
        raise _Corrupt(f"{where} splits on a feature that does not exist")
    for decision, threshold in zip(
        arrays.get("decision_type", []), arrays["threshold"], strict=False
    ):
        if int(decision) & _CATEGORICAL_SPLIT and not 0 <= threshold < num_cat:
            raise _Corrupt(f"{where} has a categorical split without its categories")


def _int(value: str | None, what: str, *, low: int) -> int:
    if value is None or not _INT_TOKEN.fullmatch(value):
        raise _Corrupt(f"{what} is missing or invalid: {value!r}")
    number = int(value)
    if number < low:
        raise _Corrupt(f"{what} is missing or invalid: {value!r}")
    return number


def _array(
    fields: dict[str, str], key: str, parse: type[int] | type[float], count: int, where: str
) -> list[float]:
    value = fields.get(key)
    if value is None:
        raise _Corrupt(f"{where} has no {key}")
    # Python's int() and float() accept more than LightGBM does ("1_0", control
    # characters as spaces), so each token is matched first.
    pattern = _INT_TOKEN if parse is int else _FLOAT_TOKEN
    tokens = [token for token in value.split(" ") if token]
    if not all(pattern.fullmatch(token) for token in tokens):
        raise _Corrupt(f"{where} has a non-numeric {key}")
    numbers = [parse(token) for token in tokens]
    if parse is int and any(not _INT_RANGE[0] <= n <= _INT_RANGE[1] for n in numbers):
        raise _Corrupt(f"{where} has an out-of-range {key}")
    # Overflowing literals such as 1e999; "inf" and "nan" written as such are fine.
    if parse is float and any(
        not math.isfinite(n) and token[-1].isdigit()
        for n, token in zip(numbers, tokens, strict=True)
    ):
        raise _Corrupt(f"{where} has an out-of-range {key}")
    if len(numbers) != count:
        raise _Corrupt(f"{where} {key} has {len(numbers)} values, expected {count}")
    return numbers
