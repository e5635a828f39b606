"""What every flavor provides, how a flavor is found, and what flavors share.

A *flavor* turns a fitted model into bytes plus a small JSON-safe ``options`` mapping
(whatever the loader needs besides the bytes), and turns those back into a
:class:`LoadedModel` with one calling convention for every framework.

Flavors are found by name: the built-in ones (:data:`FLAVOR_NAMES`) and those of installed
packages that declare a factory in the ``govml.flavors`` entry-point group, named by the
flavor (``[project.entry-points."govml.flavors"] catboost = "govml_catboost:CatBoostFlavor"``).
A factory is called with the keyword ``trusted`` (the types the calling process trusts in a
pickled artifact, for a flavor that audits them; others ignore it) and returns a
:class:`Flavor` whose ``name`` is its entry point's. Only installed entry points are loaded;
a built-in name is never taken over.

Optional frameworks (xgboost, lightgbm, onnx) are imported only when a flavor uses
them, so ``import govml`` stays fast and works without them.
"""

from __future__ import annotations

import importlib
import json
import math
import os
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from govml.errors import FlavorError, InputError, did_you_mean
from govml.flavors.tables import (
    ERR_UNSUPPORTED_INPUT,
    as_table,
    labels_from_options,
    labels_to_options,
    string_columns,
)

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = [
    "ENTRY_POINT_GROUP",
    "ERR_MISSING_FEATURES",
    "ERR_UNSUPPORTED_INPUT",
    "FLAVOR_NAMES",
    "TASKS",
    "Flavor",
    "LoadedModel",
    "ScoresOnlyModel",
    "SerializedModel",
    "as_table",
    "defined_in",
    "first_line",
    "flavor_for",
    "flavor_names",
    "get_flavor",
    "hinted_model_type",
    "labels_from_options",
    "labels_to_options",
    "model_options",
    "read_artifact",
    "require",
    "select_features",
    "string_columns",
    "wrapper_name",
]

ENTRY_POINT_GROUP = "govml.flavors"

FLAVOR_NAMES: tuple[str, ...] = ("sklearn", "xgboost", "lightgbm", "onnx", "mlflow_pyfunc")
"""Names of the built-in flavors (:func:`flavor_names` adds the installed ones)."""

# Each built-in flavor lives in govml.flavors.<name> as a class of this name.  Looked up
# on demand so that listing flavors imports no framework.
_BUILT_IN: dict[str, str] = {
    "sklearn": "govml.flavors.sklearn:SklearnFlavor",
    "xgboost": "govml.flavors.xgboost:XGBoostFlavor",
    "lightgbm": "govml.flavors.lightgbm:LightGBMFlavor",
    "onnx": "govml.flavors.onnx:OnnxFlavor",
    "mlflow_pyfunc": "govml.flavors.mlflow_pyfunc:MlflowPyfuncFlavor",
}

# Built-in flavors whose loads audit the types an artifact imports, and so take a trusted set.
_TRUST_AUDITED = frozenset({"sklearn"})

# Package extras that install each optional framework (see pyproject.toml).
_EXTRAS: dict[str, str] = {
    "xgboost": "xgboost",
    "lightgbm": "lightgbm",
    "onnx": "onnx",
    "onnxruntime": "onnx",
}

TASKS: dict[str, str] = {
    "classifier": "classification",
    "regressor": "regression",
    "ranker": "ranking",
}
"""The ``task`` option of each sklearn-wrapper model type (gradient-boosting flavors)."""

ERR_UNKNOWN_FLAVOR = "unknown flavor '{name}'; valid flavors: {valid}"
ERR_UNKNOWN_OBJECT = "cannot serialise an object of type {type}; supported flavors: {valid}"
ERR_NO_PROBA = "model {model} has no predict_proba"
ERR_MISSING_LIBRARY = "the {flavor} flavor needs the '{module}' package, which is not installed"
ERR_MISSING_FEATURES = "missing column(s) the model reads: {names}"
ERR_NOT_A_FLAVOR = "the installed flavor '{name}' ({target}) does not provide a flavor's methods"

_DOTTED = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+")


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
        One of :func:`flavor_names`.
    options : dict
        JSON-safe loader options (estimator class, class labels, objective, ...).
    """

    data: bytes
    flavor: str
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.flavor not in FLAVOR_NAMES and self.flavor not in flavor_names():
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


class ScoresOnlyModel(LoadedModel):
    """A model that predicts values and no probabilities: a regressor, a ranker, raw scores."""

    @property
    def has_proba(self) -> bool:
        """Always false."""
        return False

    def _predict_proba(self, X: Any) -> NDArray[Any]:
        raise AssertionError("unreachable: has_proba is false")


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


def flavor_names() -> tuple[str, ...]:
    """Return the names of the built-in flavors and of the installed ones."""
    installed = [ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)]
    return tuple(dict.fromkeys([*FLAVOR_NAMES, *installed]))


def _unknown_flavor(name: str) -> FlavorError:
    names = flavor_names()
    return FlavorError(
        ERR_UNKNOWN_FLAVOR.format(name=name, valid=", ".join(names)),
        hint=did_you_mean(name, names),
    )


def get_flavor(name: str, *, trusted: Iterable[str] = ()) -> Flavor:
    """Return the flavor called ``name``.

    Parameters
    ----------
    name : str
        One of :func:`flavor_names`: a built-in flavor or an installed entry point's.
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
        For an unknown name (the message lists the valid names and suggests the closest),
        or an installed entry point that gives no flavor.
    """
    target = _BUILT_IN.get(name)
    if target is not None:
        module, _, class_name = target.partition(":")
        kind = getattr(importlib.import_module(module), class_name)
        flavor: Flavor = kind(trusted=trusted) if name in _TRUST_AUDITED else kind()
        return flavor
    found = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == name]
    if not found:
        raise _unknown_flavor(name)
    made = found[0].load()(trusted=tuple(trusted))
    if not isinstance(made, Flavor) or made.name != name:
        raise FlavorError(ERR_NOT_A_FLAVOR.format(name=name, target=found[0].value))
    return made


def flavor_for(obj: object, *, trusted: Iterable[str] = ()) -> Flavor:
    """Return the flavor that serialises ``obj``.

    Parameters
    ----------
    obj : object
        A fitted model: a scikit-learn estimator or pipeline, an XGBoost or LightGBM
        model (sklearn wrapper or Booster), an ``onnx.ModelProto``, or a model an
        installed flavor recognises.
    trusted : iterable of str, optional
        As for :func:`get_flavor`.

    Returns
    -------
    Flavor
        The matching flavor; framework-specific flavors (built-in, then installed ones)
        are tried before sklearn.

    Raises
    ------
    FlavorError
        When no flavor recognises the object; the message lists the supported flavors.
    """
    # The XGBoost and LightGBM wrappers are also scikit-learn estimators, and so may be
    # an installed flavor's models: the specific flavors are asked before the generic one.
    trusted = tuple(trusted)
    specific = [name for name in flavor_names() if name != "sklearn"]
    for name in (*specific, "sklearn"):
        flavor = get_flavor(name, trusted=trusted)
        if flavor.matches(obj):
            return flavor
    kind = type(obj)
    raise FlavorError(
        ERR_UNKNOWN_OBJECT.format(
            type=f"{kind.__module__}.{kind.__qualname__}", valid=", ".join(flavor_names())
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


# -- what the gradient-boosting flavors share ------------------------------------------------


def select_features(X: Any, names: Sequence[str] | None) -> Any:
    """Reduce a table to the model's features, in its order; an array passes as it is.

    Raises
    ------
    InputError
        Naming the features the table lacks.
    """
    import numpy as np

    if isinstance(X, np.ndarray) or not names:
        return X
    missing = [name for name in names if name not in X.columns]
    if missing:
        raise InputError(ERR_MISSING_FEATURES.format(names=", ".join(missing)))
    return X[list(names)]


def model_options(
    model_type: str, objective: str, *, library: str, version: str, num_class: int | None
) -> dict[str, Any]:
    """Return a booster's options: its type, objective, library version, task, classes."""
    options: dict[str, Any] = {
        "model_type": model_type,
        "objective": objective,
        f"{library}_version": version,
    }
    if model_type in TASKS:
        options["task"] = TASKS[model_type]
    if num_class is not None:
        options["num_class"] = num_class
    return options


def hinted_model_type(
    hints: Mapping[str, Any], wrappers: Collection[str], *, classification: bool
) -> str | None:
    """Return a client's wrapper type, kept only when the model's objective agrees with it."""
    kind = hints.get("model_type")
    if kind not in wrappers:
        return None
    return str(kind) if (kind == "classifier") == classification else None


def wrapper_name(hints: Mapping[str, Any], *, package: str, default: str) -> str:
    """Return a client's wrapper class name when it is a dotted name under ``package``.

    The name is descriptive only (a subclass, a variant); anything else gives way to
    ``default``, the standard wrapper.
    """
    name = hints.get("estimator")
    if isinstance(name, str) and _DOTTED.fullmatch(name) and name.startswith(f"{package}."):
        return name
    return default


def first_line(exc: BaseException) -> str:
    """Return the first line of a framework's error (C++ traces follow it), else its type."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
