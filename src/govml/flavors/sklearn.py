"""scikit-learn flavor: skops files, loaded only when every type in them is trusted.

Pickle and joblib files can run arbitrary code when loaded, so this flavor never
unpickles.  It writes skops archives, and before loading one it lists the types the
archive would import (``skops.io.get_untrusted_types``) and refuses it unless each is
in :data:`TRUSTED_TYPES` or :data:`GOVML_TYPES`, or is in the flavor's own ``trusted``
set, which only the process loading the artifact decides (`govml.flavors.trust`): the
operator's ``GOVML_TRUSTED_TYPES`` and, in local mode, types the caller passes.  Nothing
in the artifact or its options extends it.

Options written by :meth:`SklearnFlavor.dump` and :meth:`SklearnFlavor.from_bytes`:

``estimator``
    Dotted class name of the model, e.g. ``sklearn.pipeline.Pipeline``.
``sklearn_version``, ``skops_version``
    Library versions the artifact was written or checked with.
``classes``, ``classes_dtype``
    Class labels of a classifier and their numpy dtype (absent for regressors).
``trusted``
    Types outside :data:`TRUSTED_TYPES` and :data:`GOVML_TYPES` that the artifact
    imports: a record of what loading it needs, never a grant.  A policy's
    ``security.serialization: safe_only`` fails versions where it is non-empty.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from collections.abc import Iterable, Mapping
from importlib.metadata import version
from pathlib import PurePosixPath
from typing import Any

import numpy as np
from numpy.typing import NDArray

from govml.errors import FlavorError, InputError, UnsafeArtifactError
from govml.flavors._skops import EXTRA_SAFE_TYPES, FRAMEWORK_TYPES, load_checked
from govml.flavors.base import (
    LoadedModel,
    SerializedModel,
    defined_in,
    labels_from_options,
    labels_to_options,
    read_artifact,
)
from govml.flavors.trust import TrustError, check_type_names

__all__ = [
    "GOVML_TYPES",
    "TRUSTED_TYPES",
    "SklearnFlavor",
    "columns_read",
    "extra_types",
    "untrusted_error",
]

# Types that skops does not trust by default but that ordinary fitted scikit-learn
# estimators and pipelines contain.  Each is a data structure, a fitted internal
# helper or a side-effect-free numerical function; nothing here reads files, runs
# commands or evaluates code.  functools.partial is safe to list because skops audits
# the wrapped function and its arguments as separate entries.
TRUSTED_TYPES: frozenset[str] = (
    frozenset(
        {
            "functools.partial",
            "numpy.dtype",
            "numpy.mean",
            "scipy._lib.array_api_compat.numpy._aliases.asarray",
            "scipy.interpolate._bsplines.BSpline",
            "sklearn._loss.loss.HalfTweedieLoss",
            "sklearn._loss.loss.HalfTweedieLossIdentity",
            "sklearn.calibration._CalibratedClassifier",
            "sklearn.calibration._SigmoidCalibration",
            "sklearn.cluster._bisect_k_means._BisectingTree",
            "sklearn.cluster._kmeans._kmeans_single_elkan",
            "sklearn.cluster._kmeans._kmeans_single_lloyd",
            "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
            "sklearn.feature_selection._mutual_info.mutual_info_classif",
            "sklearn.feature_selection._mutual_info.mutual_info_regression",
            "sklearn.feature_selection._univariate_selection.chi2",
            "sklearn.feature_selection._univariate_selection.f_classif",
            "sklearn.feature_selection._univariate_selection.f_regression",
            "sklearn.feature_selection._univariate_selection.r_regression",
            "sklearn.gaussian_process._gpc._BinaryGaussianProcessClassifierLaplace",
            "sklearn.gaussian_process.kernels.ConstantKernel",
            "sklearn.gaussian_process.kernels.DotProduct",
            "sklearn.gaussian_process.kernels.Matern",
            "sklearn.gaussian_process.kernels.Product",
            "sklearn.gaussian_process.kernels.RBF",
            "sklearn.gaussian_process.kernels.RationalQuadratic",
            "sklearn.gaussian_process.kernels.Sum",
            "sklearn.gaussian_process.kernels.WhiteKernel",
            "sklearn.metrics._dist_metrics.ChebyshevDistance64",
            "sklearn.metrics._dist_metrics.EuclideanDistance64",
            "sklearn.metrics._dist_metrics.ManhattanDistance64",
            "sklearn.metrics._dist_metrics.MinkowskiDistance64",
            "sklearn.neighbors._ball_tree.BallTree",
            "sklearn.neighbors._kd_tree.KDTree",
            "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
            "sklearn.neural_network._stochastic_optimizers.SGDOptimizer",
            "sklearn.tree._tree.Tree",
            "sklearn.utils.validation.check_array",
        }
    )
    | FRAMEWORK_TYPES
    | EXTRA_SAFE_TYPES
)
"""Built-in allowlist: the types above, and the LightGBM and XGBoost sklearn-API models
(and their Boosters) of :mod:`govml.flavors._skops`, loaded only as plain objects whose
native model passes the LightGBM / XGBoost flavor's structure check."""

# govml's own scikit-learn estimators, trusted like the types above.  They are plain
# containers: skops rebuilds them by setting attributes (no custom __setstate__ or
# __reduce__), audits every attribute's type separately (the wrapped estimators,
# arrays), and their methods only compute predictions.  Listed by exact name: nothing
# else under ``govml`` is trusted.
GOVML_TYPES: frozenset[str] = frozenset(
    {
        "govml.mitigation.MitigatedClassifier",
        "govml.mitigation.MixtureClassifier",
    }
)

ERR_PICKLE = (
    "{source} is a pickle/joblib file, not a skops file; govml does not load pickles "
    "because unpickling can run arbitrary code"
)
HINT_PICKLE = "re-save the model with skops.io.dump(model, 'model.skops'), or register the object"
ERR_NOT_SKOPS = "{source} is not a skops file ({reason})"
ERR_UNTRUSTED = "{source} contains types that are not trusted: {types}"
ERR_NEVER_TRUSTED = "; {types} can run code and cannot be trusted by any setting"
HINT_UNTRUSTED = (
    "review each type; an operator allows reviewed types with GOVML_TRUSTED_TYPES (comma-"
    "separated) where the artifact is loaded; in local mode a registrant may instead pass "
    "trusted=[...] (govml versions register --trust TYPE)"
)
HINT_NEVER_TRUSTED = "rebuild the model without them"

_ZIP_PREFIX = b"PK\x03\x04"
# A fixed member timestamp (the earliest a zip can hold) so that dumps are byte-stable.
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
_DEFAULT_TRUST = TRUSTED_TYPES | GOVML_TYPES


class SklearnFlavor:
    """Serialise scikit-learn estimators and pipelines with skops.

    Parameters
    ----------
    trusted : iterable of str, optional
        Dotted type names that this flavor's loads trust in addition to
        :data:`TRUSTED_TYPES` and :data:`GOVML_TYPES`, e.g. the registrant's own
        transformer class.  Only list types you have reviewed; names that can run code
        (``builtins.eval``, ``os.system``, ...) are refused.

    Raises
    ------
    InputError
        For a malformed or never-trustable type name.
    """

    name = "sklearn"

    def __init__(self, trusted: Iterable[str] = ()) -> None:
        try:
            self.trusted: frozenset[str] = check_type_names(trusted)
        except TrustError as exc:
            raise InputError(f"trusted: {exc}") from None

    def matches(self, obj: object) -> bool:
        """Return whether ``obj`` is a scikit-learn estimator (without importing sklearn).

        Parameters
        ----------
        obj : object
            Candidate model.

        Returns
        -------
        bool
            True for classes defined in, or derived from, scikit-learn.
        """
        return defined_in(obj, "sklearn")

    def dump(self, obj: Any) -> SerializedModel:
        """Serialise a fitted estimator to a byte-stable skops archive.

        Serialising the caller's own object runs nothing from the bytes, so types beyond
        the allowlist are recorded in the ``trusted`` option rather than refused here:
        whoever loads the artifact decides whether to trust them (:meth:`load`).

        Parameters
        ----------
        obj : sklearn estimator
            Fitted estimator or pipeline.

        Returns
        -------
        SerializedModel
            skops bytes and the options described in the module docstring.

        Raises
        ------
        FlavorError
            When the object is not a fitted scikit-learn estimator or skops cannot
            serialise it.
        """
        if not self.matches(obj):
            raise FlavorError(f"not a scikit-learn estimator: {type(obj).__qualname__}")
        _check_fitted(obj)
        sio = _skops()
        try:
            data = _canonical_archive(sio.dumps(obj))
        except Exception as exc:
            raise FlavorError(f"skops cannot serialise {_type_name(obj)}: {exc}") from exc
        extra = sorted(set(self._types(data, source="the model")) - _DEFAULT_TRUST)
        return SerializedModel(data=data, flavor=self.name, options=_options(obj, extra))

    def load(self, data: bytes, options: Mapping[str, Any]) -> LoadedModel:
        """Load a skops archive after checking every type it would import.

        Parameters
        ----------
        data : bytes
            skops archive.
        options : Mapping
            Options from :meth:`dump` or :meth:`from_bytes`; only the class labels are
            read.  The ``trusted`` option is a record and extends nothing: the types
            trusted are :data:`TRUSTED_TYPES`, :data:`GOVML_TYPES` and this flavor's own.

        Returns
        -------
        LoadedModel
            Wraps the estimator.

        Raises
        ------
        UnsafeArtifactError
            For pickles and for archives with untrusted types, each named; nothing is
            executed.
        FlavorError
            For bytes that are not a readable skops archive.
        """
        estimator, _ = self._load(data, source="the artifact")
        classes = labels_from_options(options)
        return SklearnModel(raw=estimator, classes=classes)

    def from_bytes(
        self,
        data: bytes,
        *,
        source: str = "the artifact",
        hints: Mapping[str, Any] | None = None,
    ) -> SerializedModel:
        """Check and describe skops bytes; every option is read from the loaded estimator.

        Parameters
        ----------
        data : bytes
            A skops archive.
        source : str
            How messages name the bytes (a file or upload name).
        hints : Mapping, optional
            Ignored: the archive says everything this flavor records.

        Returns
        -------
        SerializedModel
            The bytes as they are, with options described in the module docstring.

        Raises
        ------
        UnsafeArtifactError
            For pickles and for archives with untrusted types, each named.
        FlavorError
            For bytes that are not a readable skops archive.
        """
        estimator, present = self._load(data, source=source)
        extra = sorted(set(present) - _DEFAULT_TRUST)
        return SerializedModel(data=data, flavor=self.name, options=_options(estimator, extra))

    def from_file(self, path: str | os.PathLike[str]) -> SerializedModel:
        """Check and describe a skops file the user already has; its bytes are kept as is.

        Parameters
        ----------
        path : str or os.PathLike
            A ``.skops`` file.

        Returns
        -------
        SerializedModel
            The file's bytes with options read from the loaded estimator.
        """
        return self.from_bytes(read_artifact(path), source=f"model file {os.fspath(path)}")

    def _types(self, data: bytes, *, source: str) -> list[str]:
        """Return every type skops does not trust by default that the archive imports."""
        _check_container(data, source)
        try:
            return sorted(set(_skops().get_untrusted_types(data=data)))
        except Exception as exc:
            raise FlavorError(ERR_NOT_SKOPS.format(source=source, reason=exc)) from exc

    def _audit(self, data: bytes, *, source: str) -> list[str]:
        """Return the types to pass to skops, or raise naming each one not trusted."""
        present = self._types(data, source=source)
        refused = sorted(set(present) - _DEFAULT_TRUST - self.trusted)
        if refused:
            raise untrusted_error(refused, source=source)
        return present

    def _load(self, data: bytes, *, source: str) -> tuple[Any, list[str]]:
        """Audit, then load; return the estimator and the types beyond skops' defaults."""
        present = self._audit(data, source=source)
        return load_checked(data, present, source=source), present


def extra_types(data: bytes) -> list[str]:
    """Return the types a skops archive imports beyond the built-in allowlist, unloaded.

    Parameters
    ----------
    data : bytes
        A skops archive.

    Returns
    -------
    list of str
        Sorted names outside :data:`TRUSTED_TYPES`, :data:`GOVML_TYPES` and skops' own
        defaults; only the archive's schema is read.

    Raises
    ------
    FlavorError
        When the bytes are not a readable skops archive (a pickle is an
        :class:`~govml.errors.UnsafeArtifactError`).
    """
    return sorted(set(SklearnFlavor()._types(data, source="the artifact")) - _DEFAULT_TRUST)


def untrusted_error(types: Iterable[str], *, source: str) -> UnsafeArtifactError:
    """Return the error refusing an artifact that imports ``types``, each named.

    Types that can run code are named apart: no setting can allow them.

    Parameters
    ----------
    types : iterable of str
        Types beyond the allowlist and the loader's trusted set.
    source : str
        How the artifact is named in the message.

    Returns
    -------
    UnsafeArtifactError
        With a hint on how an operator (or a local registrant) allows reviewed types.
    """
    names = sorted(types)
    message = ERR_UNTRUSTED.format(source=source, types=", ".join(names))
    never = [name for name in names if _never_trusted(name)]
    if never:
        message += ERR_NEVER_TRUSTED.format(types=", ".join(never))
    hint = HINT_NEVER_TRUSTED if len(never) == len(names) else HINT_UNTRUSTED
    return UnsafeArtifactError(message, hint=hint)


def _never_trusted(name: str) -> bool:
    try:
        check_type_names([name])
    except TrustError:
        return True
    return False


class SklearnModel(LoadedModel):
    """A loaded scikit-learn estimator."""

    def __init__(self, *, raw: Any, classes: NDArray[Any] | None) -> None:
        if classes is None and hasattr(raw, "classes_"):
            classes = np.asarray(raw.classes_)
        super().__init__(flavor="sklearn", raw=raw, classes=classes)
        self._names = columns_read(raw)

    @property
    def has_proba(self) -> bool:
        """Whether the estimator exposes ``predict_proba`` (pipelines delegate)."""
        return hasattr(self.raw, "predict_proba")

    @property
    def feature_names(self) -> list[str] | None:
        """The columns the estimator reads (see :func:`columns_read`)."""
        return None if self._names is None else list(self._names)

    def _predict(self, X: Any) -> NDArray[Any]:
        return np.asarray(self.raw.predict(self._columns(X)))

    def _predict_proba(self, X: Any) -> NDArray[Any]:
        return np.asarray(self.raw.predict_proba(self._columns(X)))

    def _columns(self, X: Any) -> Any:
        # A table with more columns than the estimator reads (an identifier, a column a
        # pipeline drops) is reduced to those, in the order it was fitted with; one that
        # lacks some is passed on for the estimator to name what is missing.
        if self._names is None or isinstance(X, np.ndarray):
            return X
        if all(name in X.columns for name in self._names):
            return X[self._names]
        return X


def columns_read(estimator: Any) -> list[str] | None:
    """Return the input columns a fitted estimator reads, in the order it was fitted with.

    That is ``feature_names_in_`` (set when it was fitted on a table), less the columns a
    leading ``ColumnTransformer`` drops (``remainder="drop"`` or a ``"drop"`` transformer)
    and so never reads.

    Parameters
    ----------
    estimator : sklearn estimator
        A fitted estimator or pipeline.

    Returns
    -------
    list of str or None
        None when the estimator was fitted on an array (it reads columns by position).
    """
    names = getattr(estimator, "feature_names_in_", None)
    if names is None:
        return None
    fitted = [str(name) for name in names]
    used = _columns_used(_first_step(estimator), fitted)
    return fitted if used is None else [name for name in fitted if name in used]


def _first_step(estimator: Any) -> Any:
    while hasattr(estimator, "steps") and estimator.steps:
        estimator = estimator.steps[0][1]
    return estimator


def _columns_used(step: Any, fitted: list[str]) -> set[str] | None:
    """Return the columns a fitted ColumnTransformer reads; None when it is not one."""
    transformers = getattr(step, "transformers_", None)
    if not isinstance(transformers, list) or not hasattr(step, "remainder"):
        return None
    used: set[str] = set()
    for entry in transformers:
        if len(entry) != 3 or (isinstance(entry[1], str) and entry[1] == "drop"):
            continue
        columns = _column_names(entry[2], fitted)
        if columns is None:
            return None  # a selection this reading does not understand: keep them all
        used.update(columns)
    return used


def _column_names(selection: Any, fitted: list[str]) -> list[str] | None:
    if isinstance(selection, str):
        return [selection]
    if isinstance(selection, slice):
        return fitted[selection]
    values = list(np.asarray(selection).ravel()) if not isinstance(selection, list) else selection
    if all(isinstance(value, str) for value in values):
        return [str(value) for value in values]
    if all(isinstance(value, bool | np.bool_) for value in values) and len(values) == len(fitted):
        return [name for name, keep in zip(fitted, values, strict=True) if keep]
    if all(
        isinstance(value, int | np.integer) and -len(fitted) <= int(value) < len(fitted)
        for value in values
    ):
        return [fitted[int(value)] for value in values]
    return None


def _skops() -> Any:
    # skops is a core dependency; importing it lazily keeps `import govml` light.
    import skops.io

    return skops.io


def _type_name(obj: object) -> str:
    kind = type(obj)
    return f"{kind.__module__}.{kind.__qualname__}"


def _check_fitted(obj: Any) -> None:
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    try:
        check_is_fitted(obj)
    except NotFittedError as exc:
        raise FlavorError(f"{_type_name(obj)} is not fitted; fit it before registering") from exc
    except TypeError as exc:
        raise FlavorError(f"{_type_name(obj)} is not a scikit-learn estimator: {exc}") from exc


def _check_container(data: bytes, source: str) -> None:
    # Recognise pickles (and joblib's compressed containers) before anything parses
    # them, so the message says what the file is instead of a zip-format error.  The
    # artifact scanner's detection is used so both agree; imported here because
    # govml.checks imports govml.flavors.
    from govml.checks.security.pickle_scan import is_pickle_container

    if is_pickle_container(data):
        raise UnsafeArtifactError(ERR_PICKLE.format(source=source), hint=HINT_PICKLE)
    if not data.startswith(_ZIP_PREFIX):
        raise FlavorError(ERR_NOT_SKOPS.format(source=source, reason="not a zip archive"))


def _options(estimator: Any, extra_trusted: list[str]) -> dict[str, Any]:
    from sklearn.base import is_classifier, is_regressor

    options: dict[str, Any] = {
        "estimator": _type_name(estimator),
        "sklearn_version": version("scikit-learn"),
        "skops_version": version("skops"),
        "trusted": extra_trusted,
    }
    if is_classifier(estimator):
        options["task"] = "classification"
    elif is_regressor(estimator):
        options["task"] = "regression"
    options.update(labels_to_options(getattr(estimator, "classes_", None)))
    return options


def _canonical_archive(data: bytes) -> bytes:
    """Rewrite a skops archive so the same model always gives the same bytes.

    skops names members and memo entries after ``id()`` of in-memory objects (and a
    random UUID for raw bytes) and stamps members with the current time, so two dumps
    of one model differ.  The content-addressed artifact store needs equal models to
    get equal digests, so ids are renumbered in order of first appearance, members
    are written in that order with a fixed timestamp, and nothing else changes.  When
    the archive holds anything this rewrite does not understand, it is returned as is.
    """
    with zipfile.ZipFile(io.BytesIO(data)) as source:
        names = set(source.namelist())
        if "schema.json" not in names:
            return data
        schema = json.loads(source.read("schema.json"))
        ids: dict[int, int] = {}
        files: dict[str, str] = {}
        _renumber(schema, ids, files)
        if names != set(files) | {"schema.json"}:
            return data
        members = [("schema.json", json.dumps(schema, indent=2).encode())]
        members += [(new, source.read(old)) for old, new in files.items()]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as target:
        for name, content in members:
            info = zipfile.ZipInfo(name, date_time=_ZIP_EPOCH)
            info.create_system = 3
            info.external_attr = 0o644 << 16
            target.writestr(info, content)
    return out.getvalue()


def _renumber(node: Any, ids: dict[int, int], files: dict[str, str]) -> None:
    # Only schema node dicts carry an integer "__id__" or a string "file"; user data
    # under those keys is itself a node dict, so it is walked rather than rewritten.
    if isinstance(node, list):
        for item in node:
            _renumber(item, ids, files)
        return
    if not isinstance(node, dict):
        return
    for key, value in node.items():
        if key == "__id__" and isinstance(value, int) and not isinstance(value, bool):
            # Start at 1: skops skips memoisation for a falsy id.
            node[key] = ids.setdefault(value, len(ids) + 1)
        elif key == "file" and isinstance(value, str):
            suffix = PurePosixPath(value).suffix
            node[key] = files.setdefault(value, f"{len(files) + 1}{suffix}")
        else:
            _renumber(value, ids, files)
