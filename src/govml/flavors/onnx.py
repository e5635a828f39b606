"""ONNX flavor: run ONNX models with onnxruntime, straight from bytes.

Accepts an ``onnx.ModelProto`` or its serialised bytes.  ``predict`` returns the
first output (the label for skl2onnx classifiers, the value for regressors);
``predict_proba`` returns the probability output, whether it is a tensor or a ZipMap
list of ``{class: probability}`` dicts, as an ``(n, n_classes)`` array ordered by
the model's class labels.

Tables are mapped to the model's inputs: a model with one tensor input gets all
columns stacked in order (cast to that input's type, e.g. float32); a model with one
input per column gets each column under its input's name.

Options written by :meth:`OnnxFlavor.dump` and :meth:`OnnxFlavor.from_file`:

``inputs``, ``outputs``
    ``{"name", "type", "shape"}`` of each graph input and output.
``label_output``, ``proba_output``
    Output names used by ``predict`` and ``predict_proba`` (``proba_output`` is None
    for models without probabilities).  Either may be overridden in ``options``.
``classes``, ``classes_dtype``
    Class labels from the model's ZipMap or classifier node, when it has them.
``task``
    ``classification`` for a model with class labels or a probability output (absent
    otherwise: an ONNX graph does not say whether one float output is a regression).
``producer``, ``opsets``, ``onnxruntime_version``
    Provenance: the converter that wrote the model, ``{domain: version}`` of its
    operator sets, and the runtime that checked it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from govml.errors import FlavorError, InputError
from govml.flavors.base import (
    LoadedModel,
    SerializedModel,
    defined_in,
    first_line,
    labels_from_options,
    labels_to_options,
    read_artifact,
    require,
)

__all__ = ["OnnxFlavor"]

ERR_INVALID = "{source} is not a valid ONNX model: {reason}"

# onnxruntime tensor types and the numpy dtypes fed to them.
_DTYPES: dict[str, Any] = {
    "tensor(float)": np.float32,
    "tensor(double)": np.float64,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
    "tensor(bool)": np.bool_,
    "tensor(string)": object,
}
_PROBA_TYPES = ("tensor(float)", "tensor(double)")
# Attributes of ai.onnx.ml classifier and ZipMap nodes that hold the class labels.
_LABEL_ATTRIBUTES = ("classlabels_strings", "classlabels_int64s", "classlabels_ints")


class OnnxFlavor:
    """Serialise ONNX models as their protobuf bytes; run them with onnxruntime."""

    name = "onnx"

    def matches(self, obj: object) -> bool:
        """Return whether ``obj`` is an ``onnx.ModelProto``.

        Parameters
        ----------
        obj : object
            Candidate model.

        Returns
        -------
        bool
            True for ONNX model protos (bytes are accepted by :meth:`dump` but not
            auto-detected, since any bytes could claim to be a model).
        """
        return defined_in(obj, "onnx") and type(obj).__name__ == "ModelProto"

    def dump(self, obj: Any) -> SerializedModel:
        """Serialise a ``ModelProto`` (or take model bytes) after checking it loads.

        Parameters
        ----------
        obj : onnx.ModelProto or bytes
            The model.

        Returns
        -------
        SerializedModel
            Protobuf bytes and options.
        """
        if isinstance(obj, bytes | bytearray):
            data = bytes(obj)
        elif self.matches(obj):
            data = obj.SerializeToString(deterministic=True)
        else:
            raise FlavorError(f"not an ONNX model: {type(obj).__qualname__}")
        return self._describe(data, source="the model")

    def load(self, data: bytes, options: Mapping[str, Any]) -> LoadedModel:
        """Create an onnxruntime session from bytes (no temporary file).

        Parameters
        ----------
        data : bytes
            Serialised ONNX model.
        options : Mapping
            May override ``label_output`` / ``proba_output``.

        Returns
        -------
        LoadedModel
            Wraps the ``InferenceSession``.
        """
        session = _session(data, source="the artifact")
        proto = _parse(data, source="the artifact")
        outputs = _outputs(session)
        label = str(options.get("label_output") or outputs[0]["name"])
        proba = options.get("proba_output", _proba_output(outputs))
        classes = labels_from_options(options)
        if classes is None:
            found = _class_labels(proto)
            classes = None if found is None else np.asarray(found)
        names = {output["name"] for output in outputs}
        for chosen in (label, proba):
            if chosen is not None and chosen not in names:
                raise FlavorError(f"the ONNX model has no output '{chosen}'")
        return OnnxModel(raw=session, label_output=label, proba_output=proba, classes=classes)

    def from_bytes(
        self,
        data: bytes,
        *,
        source: str = "the artifact",
        hints: Mapping[str, Any] | None = None,
    ) -> SerializedModel:
        """Check and describe ONNX model bytes; every option is read from the model.

        Parameters
        ----------
        data : bytes
            Serialised ONNX model.
        source : str
            How messages name the bytes.
        hints : Mapping, optional
            Ignored: the model says everything this flavor records.

        Returns
        -------
        SerializedModel
            The bytes with their options.
        """
        return self._describe(data, source=source)

    def from_file(self, path: str | os.PathLike[str]) -> SerializedModel:
        """Check and describe an ``.onnx`` file; its bytes are kept as is.

        Parameters
        ----------
        path : str or os.PathLike
            Model file.

        Returns
        -------
        SerializedModel
            The file's bytes and options.
        """
        return self._describe(read_artifact(path), source=f"model file {os.fspath(path)}")

    def _describe(self, data: bytes, *, source: str) -> SerializedModel:
        ort = require("onnxruntime", flavor="onnx")
        session = _session(data, source=source)
        proto = _parse(data, source=source)
        outputs = _outputs(session)
        options: dict[str, Any] = {
            "inputs": [_describe_node(node) for node in session.get_inputs()],
            "outputs": outputs,
            "label_output": outputs[0]["name"],
            "proba_output": _proba_output(outputs),
            "producer": f"{proto.producer_name} {proto.producer_version}".strip(),
            "opsets": {
                entry.domain or "ai.onnx": int(entry.version) for entry in proto.opset_import
            },
            "onnxruntime_version": ort.__version__,
        }
        labels = _class_labels(proto)
        if labels is not None or options["proba_output"] is not None:
            options["task"] = "classification"
        options.update(labels_to_options(labels))
        return SerializedModel(data=data, flavor=self.name, options=options)


class OnnxModel(LoadedModel):
    """An onnxruntime ``InferenceSession`` with govml's calling convention."""

    def __init__(
        self,
        *,
        raw: Any,
        label_output: str,
        proba_output: str | None,
        classes: NDArray[Any] | None,
    ) -> None:
        super().__init__(flavor="onnx", raw=raw, classes=classes)
        self.label_output = label_output
        self.proba_output = proba_output

    @property
    def description(self) -> str:
        """The ONNX graph's name, e.g. ``onnx graph 'ONNX(LinearRegression)'``."""
        return f"onnx graph '{self.raw.get_modelmeta().graph_name}'"

    @property
    def has_proba(self) -> bool:
        """Whether the model has a probability output."""
        return self.proba_output is not None

    @property
    def feature_names(self) -> list[str] | None:
        """The input names of a model with one input per column (None for one tensor)."""
        inputs = self.raw.get_inputs()
        return None if len(inputs) < 2 else [str(node.name) for node in inputs]

    @property
    def input_errors(self) -> tuple[type[Exception], ...]:
        """Onnxruntime's argument errors in addition to the defaults."""
        state = require("onnxruntime", flavor="onnx").capi.onnxruntime_pybind11_state
        return (ValueError, KeyError, state.InvalidArgument, state.Fail)

    def _predict(self, X: Any) -> NDArray[Any]:
        (labels,) = self.raw.run([self.label_output], self._feeds(X))
        labels = np.asarray(labels)
        # Regressors converted by skl2onnx return (n, 1); sklearn returns (n,).
        return labels.ravel() if labels.ndim == 2 and labels.shape[1] == 1 else labels

    def _predict_proba(self, X: Any) -> NDArray[Any]:
        (proba,) = self.raw.run([self.proba_output], self._feeds(X))
        if isinstance(proba, list):
            return self._from_zipmap(proba)
        return np.asarray(proba)

    def _from_zipmap(self, rows: Sequence[Mapping[Any, float]]) -> NDArray[Any]:
        if not rows:
            width = 0 if self.classes is None else len(self.classes)
            return np.empty((0, width), dtype=np.float32)
        order = list(rows[0]) if self.classes is None else self.classes.tolist()
        return np.asarray([[row[label] for label in order] for row in rows], dtype=np.float32)

    def _feeds(self, X: Any) -> dict[str, Any]:
        inputs = self.raw.get_inputs()
        if isinstance(X, np.ndarray):
            if len(inputs) != 1:
                names = ", ".join(node.name for node in inputs)
                raise InputError(f"the model has several inputs ({names}); pass a table")
            return {inputs[0].name: _cast(X, inputs[0].type)}
        columns = [str(name) for name in X.columns]
        if len(inputs) == 1 and (len(columns) > 1 or inputs[0].name not in columns):
            # One tensor input fed from every column, in order.
            return {inputs[0].name: _cast(X.to_numpy(), inputs[0].type)}
        missing = [node.name for node in inputs if node.name not in columns]
        if missing:
            raise InputError(f"missing column(s) for model inputs: {', '.join(missing)}")
        feeds = {}
        for node in inputs:
            values = X[[node.name]].to_numpy()
            feeds[node.name] = _cast(values if len(node.shape) == 2 else values.ravel(), node.type)
        return feeds


def _session(data: bytes, *, source: str) -> Any:
    ort = require("onnxruntime", flavor="onnx")
    settings = ort.SessionOptions()
    # Failures are raised (and reported by govml); keep onnxruntime from also
    # printing them to stderr.
    settings.log_severity_level = 4
    try:
        return ort.InferenceSession(data, settings, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception classes
        raise FlavorError(ERR_INVALID.format(source=source, reason=first_line(exc))) from exc


def _parse(data: bytes, *, source: str) -> Any:
    onnx = require("onnx", flavor="onnx")
    try:
        return onnx.load_model_from_string(data)
    except Exception as exc:  # protobuf DecodeError
        raise FlavorError(ERR_INVALID.format(source=source, reason=first_line(exc))) from exc


def _describe_node(node: Any) -> dict[str, Any]:
    # Symbolic dimensions are strings, unknown ones None: both JSON-safe.
    shape = [dim if isinstance(dim, int | str) else None for dim in node.shape]
    return {"name": node.name, "type": node.type, "shape": shape}


def _outputs(session: Any) -> list[dict[str, Any]]:
    outputs = [_describe_node(node) for node in session.get_outputs()]
    if not outputs:
        raise FlavorError("the ONNX model has no outputs")
    return outputs


def _proba_output(outputs: list[dict[str, Any]]) -> str | None:
    # skl2onnx classifiers output (label, probabilities); probabilities are a ZipMap
    # sequence of maps or a float tensor when converted with zipmap=False.
    for output in outputs[1:]:
        if output["type"].startswith("seq(map(") or output["type"] in _PROBA_TYPES:
            return str(output["name"])
    return None


def _class_labels(proto: Any) -> list[Any] | None:
    onnx = require("onnx", flavor="onnx")
    # ZipMap keys are what predict_proba columns are ordered by, so they win over the
    # classifier node's labels.
    nodes = sorted(proto.graph.node, key=lambda node: node.op_type != "ZipMap")
    for node in nodes:
        if node.domain != "ai.onnx.ml":
            continue
        for attribute in node.attribute:
            if attribute.name in _LABEL_ATTRIBUTES:
                values = onnx.helper.get_attribute_value(attribute)
                return [v.decode() if isinstance(v, bytes) else v for v in values]
    return None


def _cast(values: NDArray[Any], onnx_type: str) -> NDArray[Any]:
    dtype = _DTYPES.get(onnx_type)
    if dtype is None:
        raise InputError(f"model input type {onnx_type} is not supported")
    if dtype is object:
        # onnxruntime wants Python str objects for string tensors, not numpy unicode.
        return np.asarray(values).astype(str).astype(object)
    try:
        return np.asarray(values).astype(dtype)
    except (TypeError, ValueError) as exc:
        raise InputError(f"cannot convert the input to {onnx_type}: {exc}") from exc
