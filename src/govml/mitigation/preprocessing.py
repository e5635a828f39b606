"""Pre-processing mitigation: Kamiran and Calders' reweighing, as sample weights for any estimator.

Reweighing (F. Kamiran and T. Calders, "Data preprocessing techniques for classification
without discrimination", Knowledge and Information Systems 33, 2012) gives every training
row of group ``g`` and label ``y`` the weight

    W(g, y) = P(G = g) · P(Y = y) / P(G = g, Y = y)

(the shares weighted by the given sample weights, as AIF360's ``Reweighing`` does), so that
under the new weights the label is independent of the group: every group that has every
label has the overall base rate, and when all groups do, the total weight is unchanged.
The model is then trained as usual with ``sample_weight``; nothing is needed at prediction
time, so the fitted model registers like any other. A group is one value, or one
combination of values, of the sensitive columns (AIF360's classic ``Reweighing`` splits
the rows into one privileged and one unprivileged group; on such a split the weights are
the same).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from govml.errors import InputError

ERR_LENGTHS = "y has {labels} rows and sensitive_features {groups}; they must match"
ERR_EMPTY = "reweighing needs at least one row"
ERR_MISSING_LABEL = "y has {count} missing value(s); every training row needs a label"
ERR_MISSING_GROUP = (
    "sensitive_features have {count} row(s) with a missing value; every row needs a group"
)
ERR_WEIGHTS = "sample_weight must be one finite, non-negative number per row, with a positive sum"


def reweighing(
    y: Any, *, sensitive_features: Any, sample_weight: Any = None
) -> NDArray[np.float64]:
    """Return Kamiran and Calders' reweighing weights for training rows.

    Parameters
    ----------
    y : array-like
        Training labels (any values; each distinct value is a class).
    sensitive_features : array-like, Series, DataFrame or dict of columns
        One or several sensitive features; every combination of their values is a group.
    sample_weight : array-like, optional
        Weights the rows already carry; the shares are weighted by them and the result is
        multiplied by them (AIF360's ``instance_weights``).

    Returns
    -------
    numpy.ndarray
        One weight per row: ``P(G = g) P(Y = y) / P(G = g, Y = y)`` for the row's group
        ``g`` and label ``y``, times its sample weight. Pass it as ``sample_weight`` to the
        estimator's ``fit`` (``model__sample_weight`` for a Pipeline's last step named
        ``model``).

    Raises
    ------
    InputError
        When the lengths differ, there are no rows, a label or group value is missing, or
        the sample weights are not finite and non-negative with a positive sum.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.array([1, 1, 0, 0, 1, 0, 0, 0])
    >>> sex = np.array(["m", "m", "m", "m", "f", "f", "f", "f"])
    >>> reweighing(y, sensitive_features=sex).round(3).tolist()
    [0.75, 0.75, 1.25, 1.25, 1.5, 0.833, 0.833, 0.833]
    """
    labels = pd.Series(np.asarray(y).ravel() if not isinstance(y, pd.Series) else y)
    groups = _group_frame(sensitive_features)
    if len(groups) != len(labels):
        raise InputError(ERR_LENGTHS.format(labels=len(labels), groups=len(groups)))
    if len(labels) == 0:
        raise InputError(ERR_EMPTY)
    missing_labels = int(labels.isna().sum())
    if missing_labels:
        raise InputError(ERR_MISSING_LABEL.format(count=missing_labels))
    missing_groups = int(groups.isna().any(axis=1).sum())
    if missing_groups:
        raise InputError(ERR_MISSING_GROUP.format(count=missing_groups))
    weights = _weights(sample_weight, len(labels))
    group_code, _ = pd.factorize(pd.MultiIndex.from_frame(groups))
    label_code, label_values = pd.factorize(labels)
    n_labels = len(label_values)
    cell = group_code * n_labels + label_code
    n_cells = (int(group_code.max()) + 1) * n_labels
    joint = np.bincount(cell, weights=weights, minlength=n_cells).reshape(-1, n_labels)
    total = joint.sum()
    by_group = joint.sum(axis=1, keepdims=True)
    by_label = joint.sum(axis=0, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        # A cell without weight holds no row, so its (undefined) weight is never used.
        factor = np.where(joint > 0, by_group * by_label / (total * joint), 0.0)
    return np.asarray(factor.ravel()[cell] * weights, dtype=np.float64)


def _group_frame(sensitive_features: Any) -> pd.DataFrame:
    if isinstance(sensitive_features, pd.DataFrame):
        return sensitive_features.reset_index(drop=True)
    if isinstance(sensitive_features, pd.Series):
        return sensitive_features.reset_index(drop=True).to_frame()
    if isinstance(sensitive_features, dict):
        return pd.DataFrame({str(k): np.asarray(v) for k, v in sensitive_features.items()})
    array = np.asarray(sensitive_features, dtype=object)
    if array.ndim == 1:
        return pd.DataFrame({"sensitive": array})
    if array.ndim == 2:
        return pd.DataFrame(array)
    raise InputError("sensitive_features must be one or two dimensional")


def _weights(sample_weight: Any, rows: int) -> NDArray[np.float64]:
    if sample_weight is None:
        return np.ones(rows)
    try:
        weights = np.asarray(sample_weight, dtype=np.float64).ravel()
    except (TypeError, ValueError):
        raise InputError(ERR_WEIGHTS) from None
    if len(weights) != rows or not np.all(np.isfinite(weights)) or np.any(weights < 0):
        raise InputError(ERR_WEIGHTS)
    if weights.sum() <= 0:
        raise InputError(ERR_WEIGHTS)
    return weights
