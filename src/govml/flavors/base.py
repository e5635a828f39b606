"""What every flavor provides, and how a flavor is found.

A *flavor* turns a fitted model into bytes plus a small JSON-safe ``options`` mapping
(whatever the loader needs besides the bytes), and turns those back into a
:class:`LoadedModel` with one calling convention for every framework.

Optional frameworks (xgboost, lightgbm, onnx) are imported only when a flavor uses
them, so ``import govml`` stays fast and works without them.
"""

from __future__ import annotations

import importlib
import json
import math
import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from govml.errors import FlavorError, InputError, did_you_mean

FLAVOR_NAMES: tuple[str, ...] = ("sklearn", "xgboost", "lightgbm", "onnx")
"""Names of the supported flavors."""

# Each flavor lives in govml.flavors.<name> as a class of this name.  Looked up on
# demand so that listing flavors imports no framework.
_FLAVOR_CLASSES: dict[str, str] = {
    "sklearn": "SklearnFlavor",
    "xgboost": "XGBoostFlavor",
    "lightgbm": "LightGBMFlavor",
    "onnx": "OnnxFlavor",
}

# Flavors whose loads audit the types an artifact imports, and so take a trusted set.
_TRUST_AUDITED = frozenset({"sklearn"})

# Package extras that install each optional framework (see pyproject.toml).
_EXTRAS: dict[str, str] = {
    "xgboost": "xgboost",
    "lightgbm": "lightgbm",
    "onnx": "onnx",
    "onnxruntime": "onnx",
}

ERR_UNKNOWN_FLAVOR = "unknown flavor '{name}'; valid flavors: {valid}"
ERR_UNKNOWN_OBJECT = "cannot serialise an object of type {type}; supported flavors: {valid}"
ERR_NO_PROBA = "model {model} has no predict_proba"
ERR_MISSING_LIBRARY = "the {flavor} flavor needs the '{module}' package, which is not installed"
ERR_UNSUPPORTED_INPUT = (
    "unsupported input of type {type}; expected a pandas, polars or pyarrow table "
    "or a 2-D numpy array"
)


def require(module: str, *, flavor: str) -> Any:
    """Import an optional framework, or explain which extra installs it.

    Parameters
    ----------
    module : str
        Importable module name, e.g. ``"xgboost"``.
    flavor : str
        The flavor that needs it, named in the error.

    Returns
    -------
    module
        The imported module.

    Raises
    ------
    FlavorError
        When the module is not installed; the hint names the pip extra.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        extra = _EXTRAS.get(module, flavor)
        raise FlavorError(
            ERR_MISSING_LIBRARY.format(flavor=flavor, module=module),
            hint=f"pip install govml[{extra}]",
        ) from exc


def _json_safe(value: Any, where: str) -> None:
    # Options end up in canonical JSON ledger entries, so only plain JSON values are
    # allowed: no NaN/inf, no numpy scalars, string keys only.
    if value is None or isinstance(value, bool | int | str):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise FlavorError(f"flavor option {where} is not finite: {value!r}")
        return
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            _json_safe(item, f"{where}[{i}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise FlavorError(f"flavor option {where} has a non-string key {key!r}")
            _json_safe(item, f"{where}.{key}")
        return
    raise FlavorError(f"flavor option {where} is not JSON-safe: {type(value).__name__}")


@dataclass(frozen=True, kw_only=True)
class SerializedModel:
    """A model as bytes plus what its flavor needs to load it again.

    Attributes
    ----------
    data : bytes
        The artifact, in the flavor's own safe format.
    flavor : str
        One of :data:`FLAVOR_NAMES`.
    options : dict
        JSON-safe loader options (estimator class, class labels, objective, ...).
    """

    data: bytes
    flavor: str
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.flavor not in FLAVOR_NAMES:
            raise _unknown_flavor(self.flavor)
        if not isinstance(self.data, bytes):
            kind = type(self.data).__name__
            raise FlavorError(f"serialised model data must be bytes, not {kind}")
        _json_safe(self.options, "options")
        # A private copy in plain JSON form (tuples become lists), so that the options
        # compare equal to what the registry reads back and cannot change afterwards.
        object.__setattr__(self, "options", json.loads(json.dumps(self.options)))


class LoadedModel(ABC):
    """A deserialised model with one calling convention for every flavor.

    ``X`` may be a pandas, polars or pyarrow table or a 2-D numpy array; each flavor
    converts it to what its framework expects.

    Attributes
    ----------
    flavor : str
        The flavor that loaded the model.
    raw : Any
        The underlying framework object (estimator, booster, inference session).
    classes : numpy.ndarray or None
        Class labels in the column order of :meth:`predict_proba`, when known.
    """

    flavor: str
    raw: Any
    classes: NDArray[Any] | None

    def __init__(self, *, flavor: str, raw: Any, classes: NDArray[Any] | None = None) -> None:
        self.flavor = flavor
        self.raw = raw
        self.classes = classes

    @property
    @abstractmethod
    def has_proba(self) -> bool:
        """Whether :meth:`predict_proba` is available."""

    @property
    def feature_names(self) -> list[str] | None:
        """The input columns the model reads, in its order, when it records them.

        None for a model that reads columns by position (trained on an array) or does not
        say; registration then takes the signature from the data as given.
        """
        return None

    @property
    def description(self) -> str:
        """Name of the underlying model type, used in messages."""
        kind = type(self.raw)
        return f"{kind.__module__}.{kind.__qualname__}"

    def predict(self, X: Any) -> NDArray[Any]:
        """Predict one value per row (class labels for classifiers).

        Parameters
        ----------
        X : table or array
            Rows to score: a pandas, polars or pyarrow table or a 2-D numpy array.

        Returns
        -------
        numpy.ndarray
            One prediction per row.

        Raises
        ------
        InputError
            When the input is of an unsupported kind or the model rejects it.
        """
        return self._score(self._predict, X)

    def predict_proba(self, X: Any) -> NDArray[Any]:
        """Predict class probabilities, shape ``(n_rows, n_classes)``.

        Parameters
        ----------
        X : table or array
            Rows to score.

        Returns
        -------
        numpy.ndarray
            Columns ordered as :attr:`classes`.

        Raises
        ------
        FlavorError
            When the model has no probabilities (a regressor, an SVC without them).
        InputError
            When the input is of an unsupported kind or the model rejects it.
        """
        if not self.has_proba:
            raise FlavorError(ERR_NO_PROBA.format(model=self.description))
        return self._score(self._predict_proba, X)

    def _score(self, method: Callable[[Any], NDArray[Any]], X: Any) -> NDArray[Any]:
        table = as_table(X)
        try:
            return method(table)
        except self.input_errors as exc:
            # Frameworks report bad input (missing columns, wrong dtypes) as their own
            # exceptions; say which model refused it instead of leaking a traceback.
            raise InputError(f"{self.description} cannot score this input: {exc}") from exc

    @property
    def input_errors(self) -> tuple[type[Exception], ...]:
        """Exceptions the framework raises for input it cannot score."""
        return (ValueError, KeyError)

    @abstractmethod
    def _predict(self, X: Any) -> NDArray[Any]:
        """Predict from a pandas DataFrame or 2-D numpy array."""

    @abstractmethod
    def _predict_proba(self, X: Any) -> NDArray[Any]:
        """Compute probabilities; only called when :attr:`has_proba` is true."""

    def __repr__(self) -> str:
        return f"<LoadedModel flavor={self.flavor} model={self.description}>"


@runtime_checkable
class Flavor(Protocol):
    """How one framework's models are recognised, saved, loaded and read from files."""

    @property
    def name(self) -> str:
        """The flavor name, one of :data:`FLAVOR_NAMES`."""
        ...

    def matches(self, obj: object) -> bool:
        """Return whether ``obj`` is a model this flavor serialises.

        Must not import the framework: it is called for every flavor in turn.
        """
        ...

    def dump(self, obj: Any) -> SerializedModel:
        """Serialise a fitted model."""
        ...

    def load(self, data: bytes, options: Mapping[str, Any]) -> LoadedModel:
        """Load bytes produced by :meth:`dump` or :meth:`from_file`."""
        ...

    def from_bytes(
        self,
        data: bytes,
        *,
        source: str = "the artifact",
        hints: Mapping[str, Any] | None = None,
    ) -> SerializedModel:
        """Check that artifact bytes load and compute their options from the bytes.

        ``hints`` are options a client's :meth:`dump` wrote; only what the bytes cannot
        tell (a wrapper's class labels, say) is taken from them, after validation, and
        nothing in them decides what is loaded or trusted.
        """
        ...

    def from_file(self, path: str | os.PathLike[str]) -> SerializedModel:
        """Read an artifact file the user already has, check it loads, fill the options."""
        ...


def _unknown_flavor(name: str) -> FlavorError:
    return FlavorError(
        ERR_UNKNOWN_FLAVOR.format(name=name, valid=", ".join(FLAVOR_NAMES)),
        hint=did_you_mean(name, FLAVOR_NAMES),
    )


def get_flavor(name: str, *, trusted: Iterable[str] = ()) -> Flavor:
    """Return the flavor called ``name``.

    Parameters
    ----------
    name : str
        One of :data:`FLAVOR_NAMES`.
    trusted : iterable of str, optional
        Types the flavor's loads trust beyond its built-in allowlist, as decided by the
        calling process (see `govml.flavors.trust`); used by flavors that audit the types
        an artifact imports (sklearn), ignored by the others.

    Returns
    -------
    Flavor
        A flavor with default settings.

    Raises
    ------
    FlavorError
        For an unknown name; the message lists the valid names and suggests the closest.
    """
    class_name = _FLAVOR_CLASSES.get(name)
    if class_name is None:
        raise _unknown_flavor(name)
    module = importlib.import_module(f"govml.flavors.{name}")
    kind = getattr(module, class_name)
    flavor: Flavor = kind(trusted=trusted) if name in _TRUST_AUDITED else kind()
    return flavor


def flavor_for(obj: object, *, trusted: Iterable[str] = ()) -> Flavor:
    """Return the flavor that serialises ``obj``.

    Parameters
    ----------
    obj : object
        A fitted model: a scikit-learn estimator or pipeline, an XGBoost or LightGBM
        model (sklearn wrapper or Booster), or an ``onnx.ModelProto``.
    trusted : iterable of str, optional
        As for :func:`get_flavor`.

    Returns
    -------
    Flavor
        The matching flavor; framework-specific flavors are tried before sklearn.

    Raises
    ------
    FlavorError
        When no flavor recognises the object; the message lists the supported flavors.
    """
    # The XGBoost and LightGBM wrappers are also scikit-learn estimators, so the
    # specific flavors are asked before the generic one.
    for name in ("xgboost", "lightgbm", "onnx", "sklearn"):
        flavor = get_flavor(name, trusted=trusted)
        if flavor.matches(obj):
            return flavor
    kind = type(obj)
    raise FlavorError(
        ERR_UNKNOWN_OBJECT.format(
            type=f"{kind.__module__}.{kind.__qualname__}", valid=", ".join(FLAVOR_NAMES)
        )
    )


def defined_in(obj: object, *packages: str) -> bool:
    """Return whether ``obj``'s class, or a base class, comes from one of ``packages``.

    Checking module names rather than ``isinstance`` keeps detection import-free.
    """
    for klass in type(obj).__mro__:
        top = klass.__module__.split(".", 1)[0]
        if top in packages:
            return True
    return False


def read_artifact(path: str | os.PathLike[str]) -> bytes:
    """Read an artifact file, turning I/O problems into :class:`InputError`.

    Parameters
    ----------
    path : str or os.PathLike
        The file to read.

    Returns
    -------
    bytes
        The file's content.
    """
    file = Path(path)
    try:
        data = file.read_bytes()
    except FileNotFoundError as exc:
        raise InputError(f"model file not found: {file}") from exc
    except OSError as exc:
        raise InputError(f"cannot read model file {file}: {exc.strerror}") from exc
    if not data:
        raise FlavorError(f"model file {file} is empty")
    return data


def as_table(X: Any) -> Any:
    """Return ``X`` as a pandas DataFrame, or as a 2-D numpy array if it is one.

    Polars and pyarrow tables are converted through Arrow, which keeps column names,
    categorical columns and nulls.

    Parameters
    ----------
    X : table or array
        pandas / polars / pyarrow table or numpy array.

    Returns
    -------
    pandas.DataFrame or numpy.ndarray
        A form every framework here accepts.

    Raises
    ------
    InputError
        For anything else, or an array that is not 2-D.
    """
    top = type(X).__module__.split(".", 1)[0]
    kind = type(X).__name__
    if top == "pandas" and kind == "DataFrame":
        return X
    if top == "polars" and kind in ("DataFrame", "LazyFrame"):
        frame = X.collect() if kind == "LazyFrame" else X
        return frame.to_pandas()
    if top == "pyarrow" and kind in ("Table", "RecordBatch"):
        return X.to_pandas()
    if isinstance(X, np.ndarray):
        if X.ndim != 2:
            raise InputError(f"expected a 2-D array (rows x features), got {X.ndim} dimension(s)")
        return X
    raise InputError(ERR_UNSUPPORTED_INPUT.format(type=f"{type(X).__module__}.{kind}"))


def labels_to_options(classes: Any) -> dict[str, Any]:
    """Describe class labels as JSON-safe options (``classes`` and ``classes_dtype``).

    The dtype is kept so that loaded models return labels of the original dtype.

    Parameters
    ----------
    classes : array-like or None
        A fitted classifier's ``classes_``.

    Returns
    -------
    dict
        Empty when ``classes`` is None.
    """
    if classes is None:
        return {}
    array = np.asarray(classes)
    labels = array.tolist()
    try:
        json.dumps(labels, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise FlavorError(
            f"class labels of dtype {array.dtype} cannot be stored as JSON: {labels[:5]!r}"
        ) from exc
    return {"classes": labels, "classes_dtype": array.dtype.str}


def labels_from_options(options: Mapping[str, Any]) -> NDArray[Any] | None:
    """Rebuild the class labels array written by :func:`labels_to_options`.

    Parameters
    ----------
    options : Mapping
        Flavor options.

    Returns
    -------
    numpy.ndarray or None
        None when the options hold no labels.
    """
    labels = options.get("classes")
    if labels is None:
        return None
    if not isinstance(labels, list) or not all(
        isinstance(label, str | int | float | bool) for label in labels
    ):
        raise FlavorError("invalid class labels in flavor options: expected a list of scalars")
    try:
        return np.asarray(labels, dtype=_label_dtype(options.get("classes_dtype")))
    except (TypeError, ValueError, OverflowError) as exc:
        raise FlavorError(f"invalid class labels in flavor options: {exc}") from exc


def _label_dtype(text: Any) -> np.dtype[Any] | None:
    # Only plain scalar kinds; a text dtype's width comes from the labels themselves, so a
    # stated width (e.g. "<U1000000000") cannot make loading allocate gigabytes.
    if not text:
        return None
    try:
        dtype = np.dtype(str(text))
    except TypeError as exc:
        raise FlavorError(f"invalid classes_dtype in flavor options: {text!r}") from exc
    if dtype.kind not in "biufUO":
        raise FlavorError(f"invalid classes_dtype in flavor options: {text!r}")
    return np.dtype(dtype.kind) if dtype.kind == "U" else dtype


def string_columns(frame: Any) -> list[str]:
    """Return the names of a pandas DataFrame's string (or object) columns.

    Parameters
    ----------
    frame : pandas.DataFrame
        Input table.

    Returns
    -------
    list of str
        Columns holding text, whatever pandas string dtype represents it.
    """
    # pandas 3 stores text as its "str" dtype, older pandas as object; both report
    # kind "O", as do categoricals, which are excluded by name.
    return [
        str(name)
        for name, dtype in frame.dtypes.items()
        if getattr(dtype, "kind", "") == "O" and str(dtype) != "category"
    ]
