"""Datasets: reading tables, content digests and mergeable per-column profiles.

``fingerprint(data)`` is what the registry records for a training or validation set;
its ``profile`` is the reference that drift monitoring compares new data with.
"""

from govml.datasets.columns import (
    VALUE_COUNTS_CAP,
    CategoricalColumnProfile,
    ColumnProfile,
    NumericColumnProfile,
)
from govml.datasets.fingerprint import (
    ColumnSchema,
    DatasetFingerprint,
    fingerprint,
    table_digest,
)
from govml.datasets.frequent import DEFAULT_MAX_CATEGORIES, FrequentValues, TopValues
from govml.datasets.profile import Profile, profile
from govml.datasets.readers import read_table
from govml.datasets.sketch import DEFAULT_RELATIVE_ACCURACY, QuantileBins, QuantileSketch

__all__ = [
    "DEFAULT_MAX_CATEGORIES",
    "DEFAULT_RELATIVE_ACCURACY",
    "VALUE_COUNTS_CAP",
    "CategoricalColumnProfile",
    "ColumnProfile",
    "ColumnSchema",
    "DatasetFingerprint",
    "FrequentValues",
    "NumericColumnProfile",
    "Profile",
    "QuantileBins",
    "QuantileSketch",
    "TopValues",
    "fingerprint",
    "profile",
    "read_table",
    "table_digest",
]
