"""MLflow ``python_function`` flavor: a custom ``mlflow.pyfunc.PythonModel`` with its own code.

The artifact is a deterministic, uncompressed tar of the MLflow model directory (``MLmodel``,
``python_model.pkl``, ``artifacts/``, the ``code/`` files, the requirements): paths sorted,
every file with mode 0644, owner 0 and time 0, so that the same directory always gives the
same digest (:func:`pack_directory`). govml writes none itself: log the model with
``mlflow.pyfunc.log_model(python_model=..., code_paths=[...], input_example=...)`` and import
it with ``govml import mlflow`` (or register the tar with ``--flavor mlflow_pyfunc``).

Loading such a model runs its code, so a load happens only when the caller has checked that
the policy in force for the model's risk tier says ``security.serialization: custom_code``
and passes that policy's name (``MlflowPyfuncFlavor(custom_code=...)``); the flavor
`get_flavor` returns refuses every load. Before anything is loaded the archive is read in
memory (regular files at relative paths only) and every pickle in it is scanned
(`govml.checks.security.pyfunc_archive`): an import that is neither on the allow list nor a
module of the model's ``code/`` directory is refused, with the finding named. Then the files
are written to a private temporary directory and ``mlflow.pyfunc.load_model`` loads it.

``predict`` calls the model's ``predict`` on a DataFrame of the signature's input columns. A
model whose signature has one numeric output column per class (or a ``(-1, k)`` tensor) gives
probabilities: ``predict_proba`` is that output, ordered as the recorded classes, and
``predict`` its argmax. Any other model's output is its labels (or values), and it has no
``predict_proba``.

Options (recomputed from the bytes; they describe the model and decide nothing):

``inputs``
    The signature's input columns, in order.
``output``
    ``probabilities`` or ``labels``.
``classes``, ``classes_dtype``
    The output columns' names as class labels (integers when every name is one).
``task``
    ``classification``, or ``regression`` for one floating-point output.
``code_files``
    ``{path: sha256}`` of every Python file in the archive: the code an approver reviews.
``code_imports``
    What the pickles import from that code (``module.Class``).
``pickles``
    The files scanned as pickles.
``mlflow_version``, ``python_version``, ``loader_module``
    As ``MLmodel`` records them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tarfile
import tempfile
import weakref
from collections.abc import Mapping
from io import BytesIO
from pathlib import Path
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

from govml.checks.security.pyfunc_archive import (
    ArchiveError,
    PyfuncArchive,
    PyfuncScan,
    read_archive,
    scan_archive,
)
from govml.errors import FlavorError, InputError, UnsafeArtifactError
from govml.flavors.base import (
    LoadedModel,
    SerializedModel,
    first_line,
    labels_from_options,
    labels_to_options,
    read_artifact,
    select_features,
)

__all__ = [
    "ERR_NOT_ALLOWED",
    "ERR_UNSAFE",
    "NAME",
    "MlflowPyfuncFlavor",
    "describe",
    "pack_directory",
]

NAME: Final = "mlflow_pyfunc"
ERR_NOT_ALLOWED: Final = (
    "loading an MLflow python_function model runs the code it ships with; govml loads one "
    "only where the policy in force for the model's risk tier says "
    "security.serialization: custom_code"
)
ERR_UNSAFE: Final = "{source}: the scan refused the MLflow python_function model: {findings}"
ERR_INVALID: Final = "{source} is not an MLflow python_function model govml can load: {reason}"
ERR_NO_INPUTS: Final = (
    "{source}: MLmodel has no signature naming its input columns; log the model with "
    "input_example= or signature="
)
ERR_NO_MLFLOW: Final = "the mlflow_pyfunc flavor needs MLflow: pip install 'govml[mlflow]'"
ERR_DUMP: Final = (
    "govml does not write python_function models: log it with mlflow.pyfunc.log_model and "
    "import it with `govml import mlflow`"
)

_NUMERIC = frozenset({"double", "float", "long", "integer"})
_FLOATING = frozenset({"double", "float", "float32", "float64"})
_INTEGER = re.compile(r"^-?[0-9]+$")
_SHOWN = 5


def pack_directory(folder: Path) -> bytes:
    """Return the deterministic tar of an MLflow model directory (module docstring).

    Parameters
    ----------
    folder : Path
        The model directory (holding ``MLmodel``).

    Returns
    -------
    bytes
        An uncompressed PAX tar of its regular files, sorted by path.

    Raises
    ------
    FlavorError
        When the directory holds a link or anything but directories and regular files.
    """
    root = Path(folder)
    paths: list[tuple[str, Path]] = []
    for current, dirs, files in os.walk(root, followlinks=False):
        for name in [*dirs, *files]:
            path = Path(current) / name
            if path.is_symlink() or not (path.is_dir() or path.is_file()):
                raise FlavorError(f"{path}: the model directory may hold regular files only")
        paths += [
            ((Path(current) / n).relative_to(root).as_posix(), Path(current) / n) for n in files
        ]
    buffer = BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:", format=tarfile.PAX_FORMAT) as archive:
        for relative, path in sorted(paths):
            data = path.read_bytes()
            info = tarfile.TarInfo(relative)
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            archive.addfile(info, BytesIO(data))
    return buffer.getvalue()


def describe(
    archive: PyfuncArchive, *, source: str = "the artifact", scan: PyfuncScan | None = None
) -> dict[str, Any]:
    """Return a scanned archive's options (module docstring), read without loading it.

    ``scan`` is the archive's scan when the caller made it already.

    Raises
    ------
    FlavorError
        When ``MLmodel`` names no input columns.
    """
    mlmodel = archive.mlmodel
    conf = archive.pyfunc_conf
    found = mlmodel.get("signature")
    signature: dict[str, Any] = found if isinstance(found, dict) else {}
    inputs = [spec.get("name") for spec in _specs(signature.get("inputs"))]
    if not inputs or not all(isinstance(name, str) and name for name in inputs):
        raise FlavorError(ERR_NO_INPUTS.format(source=source))
    scan = scan if scan is not None else scan_archive(archive)
    options: dict[str, Any] = {
        "inputs": inputs,
        "code_files": archive.code_files,
        "code_imports": list(scan.code_imports),
        "pickles": list(scan.pickles),
        "mlflow_version": str(mlmodel.get("mlflow_version", "unrecorded")),
        "python_version": str(conf.get("python_version", "unrecorded")),
        "loader_module": str(conf.get("loader_module")),
    }
    options.update(_output_options(_specs(signature.get("outputs"))))
    return options


class MlflowPyfuncFlavor:
    """Keep MLflow python_function models as a tar; load them only where the policy allows.

    Parameters
    ----------
    custom_code : str, optional
        The name of the policy in force that allows custom code (``security.serialization:
        custom_code``) for the model being loaded, as its caller checked; None (what
        `get_flavor` gives) refuses every load.
    """

    name = NAME

    def __init__(self, *, custom_code: str | None = None) -> None:
        self.custom_code = custom_code

    def matches(self, obj: object) -> bool:
        """Return False: govml never serialises a Python object as a python_function model."""
        return False

    def dump(self, obj: Any) -> SerializedModel:
        """Refuse: python_function models are logged with MLflow and imported (``ERR_DUMP``)."""
        raise FlavorError(ERR_DUMP)

    def from_bytes(
        self,
        data: bytes,
        *,
        source: str = "the artifact",
        hints: Mapping[str, Any] | None = None,
    ) -> SerializedModel:
        """Read and scan a tar of a model directory and compute its options; run nothing.

        Parameters
        ----------
        data : bytes
            The tar (:func:`pack_directory`).
        source : str
            Names the bytes in messages.
        hints : Mapping, optional
            Ignored: every option is read from the bytes.

        Returns
        -------
        SerializedModel

        Raises
        ------
        FlavorError
            For bytes that are not a safe archive of a python_function model.
        UnsafeArtifactError
            Naming the scan's findings.
        """
        archive, scan = _scanned(data, source)
        return SerializedModel(
            data=data, flavor=self.name, options=describe(archive, source=source, scan=scan)
        )

    def from_file(self, path: str | os.PathLike[str]) -> SerializedModel:
        """Read a tar file, or pack an MLflow model directory, and describe it.

        Parameters
        ----------
        path : str or os.PathLike
            A ``.tar`` written by :func:`pack_directory`, or an MLflow model directory.

        Returns
        -------
        SerializedModel
        """
        file = Path(path)
        data = pack_directory(file) if file.is_dir() else read_artifact(file)
        return self.from_bytes(data, source=str(file))

    def load(self, data: bytes, options: Mapping[str, Any]) -> LoadedModel:
        """Scan the archive, then load it with ``mlflow.pyfunc.load_model``.

        Parameters
        ----------
        data : bytes
            The tar.
        options : Mapping
            Ignored but for messages: what the load needs is read again from the bytes.

        Returns
        -------
        LoadedModel

        Raises
        ------
        UnsafeArtifactError
            When no policy allowing custom code was given, or the scan finds anything.
        FlavorError
            When MLflow is missing or cannot load the model.
        """
        if self.custom_code is None:
            raise UnsafeArtifactError(ERR_NOT_ALLOWED)
        archive, scan = _scanned(data, "the artifact")
        described = describe(archive, scan=scan)
        try:
            import mlflow.pyfunc
        except ImportError:
            raise FlavorError(ERR_NO_MLFLOW) from None
        folder = Path(tempfile.mkdtemp(prefix="govml-pyfunc-"))
        try:
            for relative, content in archive.files.items():
                target = folder / relative
                target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                target.write_bytes(content)
            raw = mlflow.pyfunc.load_model(str(folder))
        except Exception as exc:  # the model's own code runs here: any error is its own
            shutil.rmtree(folder, ignore_errors=True)
            raise FlavorError(f"MLflow could not load the model: {first_line(exc)}") from exc
        loaded = PyfuncModel(raw=raw, described=described)
        # The model's code may read its files (artifacts/) while it predicts.
        weakref.finalize(loaded, shutil.rmtree, folder, True)
        return loaded


class PyfuncModel(LoadedModel):
    """A loaded python_function model: probabilities when its output is one column per class."""

    def __init__(self, *, raw: Any, described: Mapping[str, Any]) -> None:
        probabilities = described.get("output") == "probabilities"
        classes = labels_from_options(described) if probabilities else None
        super().__init__(flavor=NAME, raw=raw, classes=classes)
        self._inputs = [str(name) for name in described["inputs"]]
        self._probabilities = probabilities

    @property
    def has_proba(self) -> bool:
        """Whether the signature's output is one probability column per class."""
        return self._probabilities

    @property
    def feature_names(self) -> list[str]:
        """The signature's input columns."""
        return list(self._inputs)

    @property
    def description(self) -> str:
        """``mlflow.pyfunc`` and the PythonModel class, for messages."""
        try:
            inner = type(self.raw.unwrap_python_model())
            return f"mlflow.pyfunc {inner.__module__}.{inner.__qualname__}"
        except Exception:  # a description must never fail
            return "mlflow.pyfunc model"

    @property
    def input_errors(self) -> tuple[type[Exception], ...]:
        """Bad input as pandas and MLflow's schema enforcement report it."""
        from mlflow.exceptions import MlflowException

        return (ValueError, KeyError, MlflowException)

    def _output(self, X: Any) -> NDArray[Any]:
        if isinstance(X, np.ndarray):
            import pandas as pd

            if X.shape[1] != len(self._inputs):
                raise InputError(f"expected {len(self._inputs)} columns, got {X.shape[1]}")
            X = pd.DataFrame(X, columns=self._inputs)
        out = self.raw.predict(select_features(X, self._inputs))
        if self._probabilities and hasattr(out, "columns") and self.classes is not None:
            names = [str(label) for label in self.classes]
            if {str(column) for column in out.columns} >= set(names):
                out = out.rename(columns=str)[names]
        array = np.asarray(out.to_numpy() if hasattr(out, "to_numpy") else out)
        if array.ndim == 2 and array.shape[1] == 1:
            array = array[:, 0]
        return array

    def _predict(self, X: Any) -> NDArray[Any]:
        output = self._output(X)
        if not self._probabilities:
            if output.ndim != 1:
                raise FlavorError(
                    f"{self.description} returned {output.shape[1]} columns; its signature "
                    "records one output"
                )
            return output
        assert self.classes is not None
        return np.asarray(self.classes[np.argmax(self._proba(output), axis=1)])

    def _predict_proba(self, X: Any) -> NDArray[Any]:
        return self._proba(self._output(X))

    def _proba(self, output: NDArray[Any]) -> NDArray[Any]:
        assert self.classes is not None
        if output.ndim != 2 or output.shape[1] != len(self.classes):
            raise FlavorError(
                f"{self.description} returned output of shape {output.shape}; its signature "
                f"records {len(self.classes)} class columns"
            )
        return output.astype(np.float64)


def _scanned(data: bytes, source: str) -> tuple[PyfuncArchive, PyfuncScan]:
    try:
        archive = read_archive(bytes(data))
        archive.pyfunc_conf  # noqa: B018 - raises when MLmodel has no python_function flavor
    except ArchiveError as exc:
        raise FlavorError(ERR_INVALID.format(source=source, reason=exc)) from None
    scan = scan_archive(archive)
    findings = scan.findings
    if findings:
        shown = "; ".join(
            f"{f.message} in {f.member}" if f.member else f.message for f in findings[:_SHOWN]
        )
        more = f" and {len(findings) - _SHOWN} more" if len(findings) > _SHOWN else ""
        raise UnsafeArtifactError(ERR_UNSAFE.format(source=source, findings=shown + more))
    return archive, scan


def _specs(raw: Any) -> list[dict[str, Any]]:
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError:
            return []
    return [spec for spec in raw if isinstance(spec, dict)] if isinstance(raw, list) else []


def _output_options(specs: list[dict[str, Any]]) -> dict[str, Any]:
    """Say what the model returns, from its signature's outputs."""
    columns = [spec for spec in specs if spec.get("type") != "tensor"]
    names = [spec.get("name") for spec in columns]
    if (
        len(columns) >= 2
        and all(isinstance(name, str) and name for name in names)
        and all(spec.get("type") in _NUMERIC for spec in columns)
    ):
        labels: list[Any] = [str(name) for name in names]
        if all(_INTEGER.match(label) for label in labels):
            labels = [int(label) for label in labels]
        classes = labels_to_options(np.asarray(labels))
        return {"output": "probabilities", "task": "classification", **classes}
    if len(specs) == 1 and specs[0].get("type") == "tensor":
        tensor = specs[0].get("tensor-spec") or {}
        shape = tensor.get("shape") if isinstance(tensor, dict) else None
        columns_ = shape[1] if isinstance(shape, list) and len(shape) == 2 else None
        if isinstance(columns_, int) and columns_ >= 2:
            classes = labels_to_options(np.arange(columns_))
            return {"output": "probabilities", "task": "classification", **classes}
        kind = str(tensor.get("dtype", "")) if isinstance(tensor, dict) else ""
        return {"output": "labels", **_task(kind)}
    if len(columns) == 1:
        return {"output": "labels", **_task(str(columns[0].get("type", "")))}
    return {"output": "labels"}


def _task(kind: str) -> dict[str, str]:
    return {"task": "regression" if kind in _FLOATING else "classification"}
