"""Tables and class labels as every flavor takes them.

Inputs arrive as pandas, polars or pyarrow tables or 2-D numpy arrays and reach a framework
as a pandas DataFrame or the array (:func:`as_table`); a classifier's labels are stored as
JSON-safe options with their dtype and rebuilt from them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from govml.errors import FlavorError, InputError

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

ERR_UNSUPPORTED_INPUT = (
    "unsupported input of type {type}; expected a pandas, polars or pyarrow table "
    "or a 2-D numpy array"
)


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
    import numpy as np

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
    import numpy as np

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
    import numpy as np

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
    import numpy as np

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
