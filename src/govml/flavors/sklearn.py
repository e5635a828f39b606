"""scikit-learn flavor: skops files, loaded only when every type in them is trusted.

Pickle and joblib files can run arbitrary code when loaded, so this flavor never
unpickles.  It writes skops archives, and before loading one it lists the types the
archive would import (``skops.io.get_untrusted_types``) and refuses it unless each is
in :data:`TRUSTED_TYPES` or :data:`GOVML_TYPES`, or was explicitly trusted by the caller.

Options written by :meth:`SklearnFlavor.dump` and :meth:`SklearnFlavor.from_file`:

``estimator``
    Dotted class name of the model, e.g. ``sklearn.pipeline.Pipeline``.
``sklearn_version``, ``skops_version``
    Library versions the artifact was written or checked with.
``classes``, ``classes_dtype``
    Class labels of a classifier and their numpy dtype (absent for regressors).
``trusted``
    Types outside :data:`TRUSTED_TYPES` and :data:`GOVML_TYPES` that the registrant
    explicitly trusted; the loader trusts them too, and a policy can refuse versions
    where this is non-empty.
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

from govml.errors import FlavorError, UnsafeArtifactError
from govml.flavors.base import (
    LoadedModel,
    SerializedModel,
    defined_in,
    labels_from_options,
    labels_to_options,
    read_artifact,
)

__all__ = ["GOVML_TYPES", "TRUSTED_TYPES", "SklearnFlavor"]

# Types that skops does not trust by default but that ordinary fitted scikit-learn
# estimators and pipelines contain.  Each is a data structure, a fitted internal
# helper or a side-effect-free numerical function; nothing here reads files, runs
# commands or evaluates code.  functools.partial is safe to list because skops audits
# the wrapped function and its arguments as separate entries.
TRUSTED_TYPES: frozenset[str] = frozenset(
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
HINT_UNTRUSTED = "after reviewing them, pass SklearnFlavor(trusted=[...]) to allow these types"

_ZIP_PREFIX = b"PK\x03\x04"
# A fixed member timestamp (the earliest a zip can hold) so that dumps are byte-stable.
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
_DEFAULT_TRUST = TRUSTED_TYPES | GOVML_TYPES


class SklearnFlavor:
    """Serialise scikit-learn estimators and pipelines with skops.

    Parameters
    ----------
    trusted : iterable of str, optional
        Dotted type names to trust in addition to :data:`TRUSTED_TYPES` and
        :data:`GOVML_TYPES`, e.g. the registrant's own transformer class.  Only list
        types you have reviewed.
    """

    name = "sklearn"

    def __init__(self, trusted: Iterable[str] = ()) -> None:
        self.trusted: frozenset[str] = frozenset(trusted)

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
        UnsafeArtifactError
            When it contains types that are neither allowlisted nor trusted.
        """
        if not self.matches(obj):
            raise FlavorError(f"not a scikit-learn estimator: {type(obj).__qualname__}")
        _check_fitted(obj)
        sio = _skops()
        try:
            data = _canonical_archive(sio.dumps(obj))
        except Exception as exc:
            raise FlavorError(f"skops cannot serialise {_type_name(obj)}: {exc}") from exc
        present = self._audit(data, self.trusted, source="the model")
        extra = sorted(set(present) - _DEFAULT_TRUST)
        return SerializedModel(data=data, flavor=self.name, options=_options(obj, extra))

    def load(self, data: bytes, options: Mapping[str, Any]) -> LoadedModel:
        """Load a skops archive after checking every type it would import.

        Parameters
        ----------
        data : bytes
            skops archive.
        options : Mapping
            Options from :meth:`dump`; ``trusted`` extends the allowlist.

        Returns
        -------
        LoadedModel
            Wraps the estimator.

        Raises
        ------
        UnsafeArtifactError
            For pickles and for archives with untrusted types; nothing is executed.
        FlavorError
            For bytes that are not a readable skops archive.
        """
        trusted = self.trusted | _trusted_option(options)
        estimator, _ = self._load(data, trusted, source="the artifact")
        classes = labels_from_options(options)
        return SklearnModel(raw=estimator, classes=classes)

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
        data = read_artifact(path)
        source = f"model file {os.fspath(path)}"
        estimator, extra = self._load(data, self.trusted, source=source)
        return SerializedModel(data=data, flavor=self.name, options=_options(estimator, extra))

    def _audit(self, data: bytes, trusted: frozenset[str], *, source: str) -> list[str]:
        """Return the non-default types in the archive, or raise if one is not trusted."""
        _check_container(data, source)
        try:
            present = set(_skops().get_untrusted_types(data=data))
        except Exception as exc:
            raise FlavorError(ERR_NOT_SKOPS.format(source=source, reason=exc)) from exc
        refused = sorted(present - _DEFAULT_TRUST - trusted)
        if refused:
            raise UnsafeArtifactError(
                ERR_UNTRUSTED.format(source=source, types=", ".join(refused)),
                hint=HINT_UNTRUSTED,
            )
        return sorted(present)

    def _load(self, data: bytes, trusted: frozenset[str], *, source: str) -> tuple[Any, list[str]]:
        """Audit, then load; return the estimator and the trusted extras it needed."""
        present = self._audit(data, trusted, source=source)
        try:
            estimator = _skops().loads(data, trusted=present)
        except Exception as exc:
            raise FlavorError(ERR_NOT_SKOPS.format(source=source, reason=exc)) from exc
        return estimator, sorted(set(present) - _DEFAULT_TRUST)


class SklearnModel(LoadedModel):
    """A loaded scikit-learn estimator."""

    def __init__(self, *, raw: Any, classes: NDArray[Any] | None) -> None:
        if classes is None and hasattr(raw, "classes_"):
            classes = np.asarray(raw.classes_)
        super().__init__(flavor="sklearn", raw=raw, classes=classes)

    @property
    def has_proba(self) -> bool:
        """Whether the estimator exposes ``predict_proba`` (pipelines delegate)."""
        return hasattr(self.raw, "predict_proba")

    def _predict(self, X: Any) -> NDArray[Any]:
        return np.asarray(self.raw.predict(X))

    def _predict_proba(self, X: Any) -> NDArray[Any]:
        return np.asarray(self.raw.predict_proba(X))


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


def _trusted_option(options: Mapping[str, Any]) -> frozenset[str]:
    value = options.get("trusted", [])
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise FlavorError("flavor option 'trusted' must be a list of type names")
    return frozenset(value)


def _options(estimator: Any, extra_trusted: list[str]) -> dict[str, Any]:
    options: dict[str, Any] = {
        "estimator": _type_name(estimator),
        "sklearn_version": version("scikit-learn"),
        "skops_version": version("skops"),
        "trusted": extra_trusted,
    }
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
