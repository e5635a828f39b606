"""XGBoost flavor: the native UBJSON model format, for sklearn wrappers and Boosters.

Options written by :meth:`XGBoostFlavor.dump` and :meth:`XGBoostFlavor.from_bytes`:

``model_type``
    ``classifier``, ``regressor`` or ``ranker``: loaded into ``XGBClassifier`` /
    ``XGBRegressor`` / ``XGBRanker``.  That is the wrapper that was saved or, for a raw
    :class:`xgboost.Booster` and a file that does not record a wrapper, what the objective
    makes it (``binary:logistic`` / ``multi:softprob`` / ``multi:softmax``: a classifier
    with classes ``0..k-1``; ``rank:*``: a ranker; ``reg:*``, ``count:*``, ``survival:*``:
    a regressor).  ``booster`` for any other objective (``binary:logitraw``, a custom
    one): the Booster's own output.
``task``
    ``classification``, ``regression`` or ``ranking`` (absent for ``booster``).
``estimator``
    Dotted class name of the wrapper (absent for ``booster``).
``objective``, ``num_class``
    The learning objective and, for classification objectives, the number of classes.
``xgboost_version``
    Version that wrote or checked the artifact.
``classes``, ``classes_dtype``
    Class labels of a classifier.

A classifier's :meth:`~govml.flavors.base.LoadedModel.predict` returns labels and
``predict_proba`` probabilities, whatever ``model_type`` a version recorded:
probabilities are never returned as labels.

Not supported: the deprecated binary format and multi-target trees with vector leaves
(``multi_strategy="multi_output_tree"``).

Input: numeric pandas / polars / pyarrow columns and numpy arrays; pandas categorical
columns for models trained with ``enable_categorical=True``.  A table is reduced to the
model's own features, in its order (a missing one is named).  With XGBoost 3.1 and
later, which stores the training categories and re-codes input with them, string
columns of such models are converted to categoricals first.

XGBoost crashes the process, rather than raising, on some truncated or internally
inconsistent models, so the document is decoded and its tree indices checked before
XGBoost parses it (:func:`check_booster_state` does the same for a Booster's pickled
state inside a skops archive).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from govml.errors import FlavorError
from govml.flavors.base import (
    LoadedModel,
    ScoresOnlyModel,
    SerializedModel,
    defined_in,
    first_line,
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

__all__ = ["XGBoostFlavor", "check_booster_state"]

ERR_INVALID = "{source} is not a valid XGBoost model: {reason}"

# Wrapper class per model type; the XGBRF* variants load into these unchanged since
# the forest layout lives in the booster.
_WRAPPERS = {"classifier": "XGBClassifier", "regressor": "XGBRegressor", "ranker": "XGBRanker"}
_CLASSIFIER_OBJECTIVES = ("binary:logistic", "multi:softprob", "multi:softmax")
_REGRESSOR_PREFIXES = ("reg:", "count:", "survival:")


class XGBoostFlavor:
    """Serialise XGBoost models in XGBoost's own UBJSON format."""

    name = "xgboost"

    def matches(self, obj: object) -> bool:
        """Return whether ``obj`` is an XGBoost sklearn wrapper or Booster.

        Parameters
        ----------
        obj : object
            Candidate model.

        Returns
        -------
        bool
            True for ``XGBModel`` subclasses and ``Booster``.
        """
        return defined_in(obj, "xgboost") and _is_xgboost_model(obj)

    def dump(self, obj: Any) -> SerializedModel:
        """Serialise a fitted wrapper or Booster with ``save_raw("ubj")``.

        Parameters
        ----------
        obj : XGBModel or Booster
            Fitted model.

        Returns
        -------
        SerializedModel
            UBJSON bytes (byte-stable for a given model) and options.
        """
        xgb = _xgboost()
        if isinstance(obj, xgb.Booster):
            booster, model_type, estimator = obj, None, None
        elif isinstance(obj, xgb.XGBModel):
            model_type = _model_type(obj, xgb)
            estimator = obj
            try:
                booster = obj.get_booster()
            except Exception as exc:  # NotFittedError from sklearn
                raise FlavorError(f"{type(obj).__qualname__} is not fitted: {exc}") from exc
        else:
            raise FlavorError(f"not an XGBoost model: {type(obj).__qualname__}")
        data = bytes(booster.save_raw(raw_format="ubj"))
        # Fail at registration, not at first load, on models this flavor cannot load.
        _check_document(data, source="the model")
        learner = _describe(booster, source="the model")
        options = _options(learner, model_type or _model_type_of(learner), xgb)
        if estimator is not None:
            kind = type(estimator)
            options["estimator"] = f"{kind.__module__}.{kind.__qualname__}"
            options.update(labels_to_options(getattr(estimator, "classes_", None)))
        else:
            _describe_wrapper(options)
        return SerializedModel(data=data, flavor=self.name, options=options)

    def load(self, data: bytes, options: Mapping[str, Any]) -> LoadedModel:
        """Load UBJSON or JSON model bytes.

        Parameters
        ----------
        data : bytes
            Model bytes.
        options : Mapping
            ``model_type`` chooses the wrapper; ``booster`` (or none) loads a Booster,
            unless its objective makes it a classifier.

        Returns
        -------
        LoadedModel
            Wraps the sklearn wrapper or the Booster.
        """
        xgb = _xgboost()
        model_type = options.get("model_type", "booster")
        if model_type == "booster":
            booster = _load_booster(data, xgb, source="the artifact")
            learner = _describe(booster, "the artifact")
            if _model_type_of(learner) != "classifier":
                return XGBoostBoosterModel(raw=booster, learner=learner)
            # Recorded before boosters were told apart by objective: its scores are
            # probabilities, so it is loaded as the classifier it is.
            model_type = "classifier"
        wrapper = _WRAPPERS.get(str(model_type))
        if wrapper is None:
            raise FlavorError(f"unknown xgboost model_type '{model_type}' in flavor options")
        _check_document(data, source="the artifact")
        estimator = getattr(xgb, wrapper)()
        try:
            estimator.load_model(bytearray(data))
        except (xgb.core.XGBoostError, ValueError, KeyError) as exc:
            # The wrapper also parses the booster's JSON config; a damaged model can
            # fail there instead of in XGBoost itself.
            reason = first_line(exc)
            raise FlavorError(ERR_INVALID.format(source="the artifact", reason=reason)) from None
        _describe(estimator.get_booster(), "the artifact")
        return XGBoostSklearnModel(raw=estimator, classes=labels_from_options(options))

    def from_bytes(
        self,
        data: bytes,
        *,
        source: str = "the artifact",
        hints: Mapping[str, Any] | None = None,
    ) -> SerializedModel:
        """Check and describe UBJSON or JSON model bytes; they are kept as is.

        Every option is read from the model.  The model type is the wrapper a wrapper's
        ``save_model`` recorded; else the one ``hints`` (the options of :meth:`dump`)
        name, when the objective agrees with it; else what the objective makes it.

        Parameters
        ----------
        data : bytes
            Model bytes.
        source : str
            How messages name the bytes.
        hints : Mapping, optional
            Options written by :meth:`dump` on a client.

        Returns
        -------
        SerializedModel
            The bytes with options read from the model.
        """
        xgb = _xgboost()
        hints = hints or {}
        booster = _load_booster(data, xgb, source=source)
        learner = _describe(booster, source)
        hinted = hinted_model_type(hints, _WRAPPERS, classification=learner.num_class >= 2)
        model_type = learner.wrapper or hinted or _model_type_of(learner)
        options = _options(learner, model_type, xgb)
        if model_type != "booster":
            # The wrapper's own class name (a subclass, an XGBRF* variant) is descriptive.
            standard = f"xgboost.sklearn.{_WRAPPERS[model_type]}"
            options["estimator"] = wrapper_name(hints, package="xgboost", default=standard)
        if model_type == "classifier":
            options.update(labels_to_options(np.arange(options["num_class"])))
        return SerializedModel(data=data, flavor=self.name, options=options)

    def from_file(self, path: str | os.PathLike[str]) -> SerializedModel:
        """Check and describe a ``.ubj`` or ``.json`` model file; its bytes are kept as is.

        Parameters
        ----------
        path : str or os.PathLike
            Model file.

        Returns
        -------
        SerializedModel
            The file's bytes with the options :meth:`from_bytes` reads.
        """
        return self.from_bytes(read_artifact(path), source=f"model file {os.fspath(path)}")


class XGBoostSklearnModel(LoadedModel):
    """An XGBoost sklearn wrapper restored from its booster."""

    def __init__(self, *, raw: Any, classes: NDArray[Any] | None) -> None:
        if classes is None and hasattr(raw, "classes_"):
            classes = np.asarray(raw.classes_)
        super().__init__(flavor="xgboost", raw=raw, classes=classes)

    @property
    def has_proba(self) -> bool:
        """True for classifiers."""
        return hasattr(self.raw, "predict_proba")

    @property
    def feature_names(self) -> list[str] | None:
        """The columns the model was trained on, in order (None for an array)."""
        return _feature_names(self.raw.get_booster())

    def _predict(self, X: Any) -> NDArray[Any]:
        return np.asarray(self.raw.predict(_prepared(X, self.raw.get_booster())))

    def _predict_proba(self, X: Any) -> NDArray[Any]:
        return np.asarray(self.raw.predict_proba(_prepared(X, self.raw.get_booster())))


class XGBoostBoosterModel(ScoresOnlyModel):
    """A raw XGBoost Booster whose objective makes it no classifier: its own output.

    Classification objectives load as classifiers, so it has no probabilities.
    """

    def __init__(self, *, raw: Any, learner: _Learner) -> None:
        self.objective = learner.objective
        super().__init__(flavor="xgboost", raw=raw, classes=None)

    @property
    def feature_names(self) -> list[str] | None:
        """The columns the model was trained on, in order (None for an array)."""
        return _feature_names(self.raw)

    def _predict(self, X: Any) -> NDArray[Any]:
        return np.asarray(self.raw.predict(self._matrix(X)))

    def _matrix(self, X: Any) -> Any:
        xgb = _xgboost()
        return xgb.DMatrix(_prepared(X, self.raw), enable_categorical=True)


def _xgboost() -> Any:
    return require("xgboost", flavor="xgboost")


def _is_xgboost_model(obj: object) -> bool:
    names = {klass.__name__ for klass in type(obj).__mro__}
    return "Booster" in names or "XGBModel" in names


def _model_type(obj: Any, xgb: Any) -> str:
    if isinstance(obj, xgb.XGBClassifier):
        return "classifier"
    if isinstance(obj, xgb.XGBRanker):
        return "ranker"
    if isinstance(obj, xgb.XGBRegressor):
        return "regressor"
    raise FlavorError(f"unsupported XGBoost model class {type(obj).__qualname__}")


def _model_type_of(learner: _Learner) -> str:
    """Return the model type a Booster's objective makes it."""
    if learner.objective in _CLASSIFIER_OBJECTIVES:
        return "classifier"
    if learner.objective.startswith("rank:"):
        return "ranker"
    if learner.objective.startswith(_REGRESSOR_PREFIXES):
        return "regressor"
    return "booster"


def _describe_wrapper(options: dict[str, Any]) -> None:
    # A raw Booster given a wrapper's model type gets that wrapper's name and labels.
    model_type = options["model_type"]
    if model_type == "booster":
        return
    options["estimator"] = f"xgboost.sklearn.{_WRAPPERS[model_type]}"
    if model_type == "classifier":
        options.update(labels_to_options(np.arange(options["num_class"])))


def _feature_names(booster: Any) -> list[str] | None:
    names = booster.feature_names
    return None if not names else [str(name) for name in names]


def _check_document(data: bytes, *, source: str) -> None:
    # XGBoost's parsers trust their input: an empty buffer, a truncated UBJSON document
    # or an out-of-range node index crashes the process instead of raising.
    try:
        _check_framing(data)
    except _Corrupt as exc:
        raise FlavorError(ERR_INVALID.format(source=source, reason=exc)) from None


def check_booster_state(data: bytes, *, source: str) -> None:
    """Check the state a pickled Booster carries (``XGBoosterSerializeToBuffer`` bytes).

    That state is ``{"Config": ..., "Model": ...}`` in UBJSON or JSON.  Its model is
    checked as a model file is, and its configuration must describe that model (same
    booster, objective and model parameters), since XGBoost applies both.

    Parameters
    ----------
    data : bytes
        The Booster's ``handle`` state.
    source : str
        How the message names the state.

    Raises
    ------
    FlavorError
        Naming the first problem.
    """
    try:
        document = _decode(data)
        _check_state(document)
    except _Corrupt as exc:
        raise FlavorError(ERR_INVALID.format(source=source, reason=exc)) from None
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        reason = f"unexpected layout ({type(exc).__name__}: {exc})"
        raise FlavorError(ERR_INVALID.format(source=source, reason=reason)) from None


def _check_state(document: Any) -> None:
    if not isinstance(document, dict) or set(document) != {"Config", "Model"}:
        raise _Corrupt("a Booster's state holds exactly a Config and a Model")
    model, config = document["Model"]["learner"], document["Config"]["learner"]
    _check_learner(model)
    model_booster = model["gradient_booster"]["name"]
    if config["gradient_booster"]["name"] != model_booster:
        raise _Corrupt("the configuration names another booster than the model")
    if config["objective"]["name"] != model["objective"]["name"]:
        raise _Corrupt("the configuration names another objective than the model")
    if dict(config["learner_model_param"]) != dict(model["learner_model_param"]):
        raise _Corrupt("the configuration's model parameters differ from the model's")


def _load_booster(data: bytes, xgb: Any, *, source: str) -> Any:
    _check_document(data, source=source)
    booster = xgb.Booster()
    try:
        booster.load_model(bytearray(data))
    except (xgb.core.XGBoostError, ValueError) as exc:
        # ValueError: XGBoost's own message can fail to decode for damaged input.
        raise FlavorError(ERR_INVALID.format(source=source, reason=first_line(exc))) from None
    return booster


class _Learner(NamedTuple):
    """What the loader needs from a booster's configuration."""

    objective: str
    num_class: int  # 0 for non-classification objectives
    wrapper: str | None  # model type recorded by a wrapper's save_model, if any


def _describe(booster: Any, source: str) -> _Learner:
    xgb = _xgboost()
    try:
        learner = json.loads(booster.save_config())["learner"]
        objective = str(learner["objective"]["name"])
        num_class = int(learner["learner_model_param"].get("num_class", "0"))
        meta = booster.attr("scikit_learn")
    except (xgb.core.XGBoostError, ValueError, KeyError, TypeError) as exc:
        # UnicodeDecodeError and JSONDecodeError are ValueErrors.
        raise FlavorError(ERR_INVALID.format(source=source, reason=first_line(exc))) from None
    if num_class <= 1:
        # Binary objectives store num_class=0 although they predict two classes.
        num_class = 2 if objective.startswith("binary:") else 0
    return _Learner(objective, num_class, _wrapper_type(meta))


def _wrapper_type(meta: str | None) -> str | None:
    # A wrapper's save_model stores {"_estimator_type": ...} as a booster attribute.
    if meta is None:
        return None
    try:
        kind = json.loads(meta).get("_estimator_type")
    except (ValueError, AttributeError):
        return None
    return kind if kind in _WRAPPERS else None


def _options(learner: _Learner, model_type: str, xgb: Any) -> dict[str, Any]:
    return model_options(
        model_type,
        learner.objective,
        library="xgboost",
        version=xgb.__version__,
        num_class=learner.num_class or None,
    )


def _prepared(X: Any, booster: Any) -> Any:
    """Reduce a table to the model's features, in order; give categoricals their type."""
    if isinstance(X, np.ndarray):
        return X
    names = booster.feature_names
    X = select_features(X, names)
    # Only XGBoost versions that store the training categories (those with
    # Booster.get_categories, 3.1 and later) re-code a batch's own categories; with
    # older versions the codes of a converted batch would silently mean other values.
    types = booster.feature_types
    if not types or not names or "c" not in types or not hasattr(booster, "get_categories"):
        return X
    categorical = {name for name, kind in zip(names, types, strict=True) if kind == "c"}
    wanted = [name for name in string_columns(X) if name in categorical]
    return X.astype(dict.fromkeys(wanted, "category")) if wanted else X


# --- Checking a model document ---------------------------------------------------
#
# XGBoost writes models as JSON or as UBJSON (https://ubjson.org): one marker byte per
# value, big-endian numbers, strings and counts prefixed by an integer length, and
# containers that are either counted ("#" count, optionally "$" typed) or closed by
# "]" / "}".  The document is decoded here, and the tree arrays XGBoost indexes
# without bounds checks (children, parents, split features, categories) are checked.

_UBJ_NUMBERS: dict[int, np.dtype[Any]] = {
    ord("i"): np.dtype("i1"),
    ord("U"): np.dtype("u1"),
    ord("I"): np.dtype(">i2"),
    ord("l"): np.dtype(">i4"),
    ord("L"): np.dtype(">i8"),
    ord("d"): np.dtype(">f4"),
    ord("D"): np.dtype(">f8"),
}
_UBJ_CONSTANTS = {ord("Z"): None, ord("T"): True, ord("F"): False}
_UBJ_MAX_DEPTH = 64
_TREE_ARRAYS = (
    "left_children",
    "right_children",
    "parents",
    "split_indices",
    "split_conditions",
    "split_type",
    "default_left",
    "base_weights",
    "loss_changes",
    "sum_hessian",
)
_CATEGORICAL_SPLIT = 1


class _Corrupt(Exception):
    """A structural problem, reported as the FlavorError reason."""


def _decode(data: bytes) -> Any:
    """Decode an XGBoost JSON or UBJSON document, raising `_Corrupt` on malformed bytes."""
    if not data.strip():
        raise _Corrupt("it is empty")
    text = data.lstrip()
    if text[:1] != b"{":
        raise _Corrupt("it is neither XGBoost JSON nor UBJSON")
    if text[1:2].isspace() or text[1:2] in (b'"', b"}"):
        try:
            return json.loads(data)
        except (UnicodeDecodeError, ValueError) as exc:
            raise _Corrupt(f"invalid JSON ({exc})") from None
    reader = _UBJReader(data)
    document = reader.value(reader.take(1)[0], depth=0)
    if reader.pos != len(data):
        raise _Corrupt(f"unexpected bytes after the document at byte {reader.pos}")
    return document


def _check_framing(data: bytes) -> None:
    document = _decode(data)
    try:
        _check_learner(document["learner"])
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise _Corrupt(f"unexpected model layout ({type(exc).__name__}: {exc})") from None


def _check_learner(learner: dict[str, Any]) -> None:
    params = learner["learner_model_param"]
    num_feature = int(params["num_feature"])
    booster = learner["gradient_booster"]
    if booster["name"] == "dart":
        booster = booster["gbtree"]
    if booster["name"] != "gbtree":
        return  # gblinear: a dense weight vector, no indices to check
    model = booster["model"]
    trees = model["trees"]
    if int(model["gbtree_model_param"]["num_trees"]) != len(trees):
        raise _Corrupt("num_trees does not match the trees")
    # tree_info gives each tree's output group (class, or target), used as an index.
    groups = max(int(params.get("num_class", "0")), int(params.get("num_target", "1")), 1)
    info = np.asarray(model["tree_info"], dtype=np.int64)
    if info.shape != (len(trees),) or np.any((info < 0) | (info >= groups)):
        raise _Corrupt("tree_info does not match the trees")
    indptr = np.asarray(model.get("iteration_indptr", [0, len(trees)]), dtype=np.int64)
    if len(indptr) and (np.any(np.diff(indptr) < 0) or indptr[-1] != len(trees)):
        raise _Corrupt("iteration_indptr does not match the trees")
    for index, tree in enumerate(trees):
        _check_tree(tree, num_feature, f"tree {index}")
    if "cats" in model:
        _check_categories(model["cats"], num_feature)


def _check_tree(tree: dict[str, Any], num_feature: int, where: str) -> None:
    param = tree["tree_param"]
    nodes = int(param["num_nodes"])
    if nodes < 1:
        raise _Corrupt(f"{where} has no nodes")
    if int(param.get("size_leaf_vector", "1")) > 1:
        raise _Corrupt(f"{where} has vector leaves, which govml does not load")
    arrays = {key: np.asarray(tree[key]) for key in _TREE_ARRAYS}
    for key, values in arrays.items():
        if values.shape != (nodes,):
            raise _Corrupt(f"{where} {key} has {values.size} values, expected {nodes}")
    left, right = arrays["left_children"], arrays["right_children"]
    for key, children in (("left_children", left), ("right_children", right)):
        if np.any((children != -1) & ((children < 1) | (children >= nodes))):
            raise _Corrupt(f"{where} has a {key} entry outside the tree")
    if np.any((left == -1) != (right == -1)):
        raise _Corrupt(f"{where} has a node with only one child")
    parents = arrays["parents"][1:]
    if np.any((parents < 0) | (parents >= nodes)):
        raise _Corrupt(f"{where} has a parent outside the tree")
    internal = left != -1
    features = arrays["split_indices"][internal]
    if np.any((features < 0) | (features >= num_feature)):
        raise _Corrupt(f"{where} splits on a feature that does not exist")
    categorical = np.flatnonzero(internal & (arrays["split_type"] == _CATEGORICAL_SPLIT))
    _check_split_categories(tree, nodes, categorical, where)


def _check_split_categories(
    tree: dict[str, Any], nodes: int, categorical: NDArray[Any], where: str
) -> None:
    segments = np.asarray(tree["categories_segments"], dtype=np.int64)
    sizes = np.asarray(tree["categories_sizes"], dtype=np.int64)
    owners = np.asarray(tree["categories_nodes"], dtype=np.int64)
    total = len(tree["categories"])
    if not segments.shape == sizes.shape == owners.shape:
        raise _Corrupt(f"{where} has inconsistent category arrays")
    if np.any((segments < 0) | (sizes < 0) | (segments + sizes > total)):
        raise _Corrupt(f"{where} has category segments outside its categories")
    if np.any((owners < 0) | (owners >= nodes)) or not set(categorical) <= set(owners):
        raise _Corrupt(f"{where} has a categorical split without its categories")


def _check_categories(cats: dict[str, Any], num_feature: int) -> None:
    # Categories recorded at training time (XGBoost 3.1+), used to re-code input.
    encoders = cats["enc"]
    segments = np.asarray(cats["feature_segments"], dtype=np.int64)
    order = np.asarray(cats["sorted_idx"], dtype=np.int64)
    if not encoders:
        return
    if len(encoders) != num_feature or segments.shape != (num_feature + 1,):
        raise _Corrupt("the stored categories do not match the features")
    if segments[0] != 0 or np.any(np.diff(segments) < 0) or segments[-1] != len(order):
        raise _Corrupt("the stored category segments are inconsistent")
    for feature, encoder in enumerate(encoders):
        count = int(segments[feature + 1] - segments[feature])
        if np.any(order[segments[feature] : segments[feature + 1]] < 0) or np.any(
            order[segments[feature] : segments[feature + 1]] >= max(count, 1)
        ):
            raise _Corrupt(f"the stored categories of feature {feature} are out of order")
        offsets = np.asarray(encoder.get("offsets", []), dtype=np.int64)
        values = encoder.get("values", [])
        if len(offsets) and (
            offsets[0] != 0 or np.any(np.diff(offsets) < 0) or offsets[-1] != len(values)
        ):
            raise _Corrupt(f"the stored categories of feature {feature} are inconsistent")
        names = len(offsets) - 1 if len(offsets) else len(values)
        if names != count:
            raise _Corrupt(f"feature {feature} stores {names} categories, expected {count}")


class _UBJReader:
    """Decodes UBJSON, raising :class:`_Corrupt` on anything out of bounds."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, size: int) -> bytes:
        if size < 0 or self.pos + size > len(self.data):
            raise _Corrupt(f"the document is truncated at byte {self.pos}")
        chunk = self.data[self.pos : self.pos + size]
        self.pos += size
        return chunk

    def peek(self) -> int:
        if self.pos >= len(self.data):
            raise _Corrupt(f"the document is truncated at byte {self.pos}")
        return self.data[self.pos]

    def number(self, marker: int) -> Any:
        dtype = _UBJ_NUMBERS[marker]
        return np.frombuffer(self.take(dtype.itemsize), dtype=dtype)[0].item()

    def length(self) -> int:
        marker = self.take(1)[0]
        if marker not in _UBJ_NUMBERS or _UBJ_NUMBERS[marker].kind == "f":
            raise _Corrupt(f"expected a length at byte {self.pos - 1}")
        value = int(self.number(marker))
        if value < 0:
            raise _Corrupt(f"negative length before byte {self.pos}")
        return value

    def text(self) -> str:
        try:
            return self.take(self.length()).decode("utf-8")
        except UnicodeDecodeError:
            raise _Corrupt(f"a string before byte {self.pos} is not UTF-8") from None

    def value(self, marker: int, *, depth: int) -> Any:
        if marker in _UBJ_CONSTANTS:
            return _UBJ_CONSTANTS[marker]
        if marker in _UBJ_NUMBERS:
            return self.number(marker)
        if marker in (ord("S"), ord("H")):
            return self.text()
        if marker == ord("C"):
            return chr(self.take(1)[0])
        if marker in (ord("["), ord("{")):
            if depth >= _UBJ_MAX_DEPTH:
                raise _Corrupt("the document is nested too deeply")
            return self.container(is_object=marker == ord("{"), depth=depth + 1)
        raise _Corrupt(f"unknown UBJSON marker {chr(marker)!r} at byte {self.pos - 1}")

    def container(self, *, is_object: bool, depth: int) -> Any:
        typed = count = None
        if self.peek() == ord("$"):
            self.take(1)
            typed = self.take(1)[0]
            if self.peek() != ord("#"):
                raise _Corrupt(f"a typed container without a count at byte {self.pos}")
        if self.peek() == ord("#"):
            self.take(1)
            count = self.length()
        if count is None:
            end = ord("}") if is_object else ord("]")
            items: list[Any] = []
            while self.peek() != end:
                key = self.text() if is_object else None
                items.append((key, self.value(self.take(1)[0], depth=depth)))
            self.take(1)
            return dict(items) if is_object else [item for _, item in items]
        if typed in _UBJ_NUMBERS and not is_object:
            # Typed numeric arrays hold most of a model; read them in one go.
            dtype = _UBJ_NUMBERS[typed]
            return np.frombuffer(self.take(count * dtype.itemsize), dtype=dtype)
        if count > len(self.data) - self.pos:
            raise _Corrupt(f"a container claims {count} items at byte {self.pos}")
        pairs = []
        for _ in range(count):
            key = self.text() if is_object else None
            marker = typed if typed is not None else self.take(1)[0]
            pairs.append((key, self.value(marker, depth=depth)))
        return dict(pairs) if is_object else [item for _, item in pairs]
