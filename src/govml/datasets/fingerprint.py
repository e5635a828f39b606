r"""Dataset fingerprints: a content digest, the schema, the row count and the profile.

The digest is SHA-256 over a canonical encoding of the table (version ``govml-table-v1``)
defined on normalised types, so the same values give the same digest whether they come
from pandas, polars, pyarrow, a CSV file or a Parquet file, however they are chunked.
Row order and column names, order and types are part of it.

Encoding, all integers little-endian:

1. Each column is reduced to three byte streams over its rows, in row order:

   * ``validity``: one byte per row, 1 for a value, 0 for a missing one (null or NaN);
   * ``lengths``: for ``string`` columns the UTF-8 byte length of each row as uint64
     (0 when missing); empty for the other types;
   * ``values``: per row, missing rows as zeros:

     - ``bool``: one byte, 0 or 1;
     - ``int64`` / ``uint64``: eight bytes, signed / unsigned;
     - ``float64``: the IEEE-754 binary64 bits (so ``-0.0`` differs from ``0.0``);
     - ``date``: int64 days since 1970-01-01; ``time``: int64 nanoseconds since midnight;
     - ``datetime[...]`` and ``duration``: int64 whole seconds (floored) then int64
       nanoseconds within the second, so any unit and any range encode the same way;
     - ``string``: the UTF-8 bytes of the rows, concatenated;
     - ``null``: nothing.

2. ``column = SHA-256(b"govml-column-v1\0" || u64 len(name) || name || u64 len(type) ||
   type || u64 rows || SHA-256(validity) || SHA-256(lengths) || SHA-256(values))`` with
   ``name`` and ``type`` in UTF-8 and ``type`` the normalised type name.
3. ``digest = SHA-256(b"govml-table-v1\0" || u64 columns || u64 rows || column_1 || ...)``,
   written ``"sha256:" + hex``.

Each stream is hashed chunk after chunk, so chunk boundaries cannot change it.
"""

from __future__ import annotations

import hashlib
import re
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.compute as pc

from govml.datasets.coltypes import as_large_string, decoded, normalised_type, temporal_ints
from govml.datasets.frequent import DEFAULT_MAX_CATEGORIES
from govml.datasets.profile import Profile, profile_table
from govml.datasets.readers import read_table
from govml.datasets.sketch import DEFAULT_RELATIVE_ACCURACY
from govml.errors import InputError

TABLE_DOMAIN = b"govml-table-v1\x00"
COLUMN_DOMAIN = b"govml-column-v1\x00"
FINGERPRINT_VERSION = 1
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
_NANOSECONDS_PER_SECOND = 1_000_000_000


def _u64(value: int) -> bytes:
    return struct.pack("<Q", value)


def _update_streams(hashers: tuple[Any, Any, Any], type_name: str, chunk: Any) -> None:
    """Feed one chunk's validity, lengths and values bytes to their hashers."""
    validity, lengths, values = hashers
    chunk = decoded(chunk)
    valid = np.ones(len(chunk), dtype=np.uint8)
    if chunk.null_count:
        valid = chunk.is_valid().to_numpy(zero_copy_only=False).astype(np.uint8)
    if type_name == "null":
        valid[:] = 0
    elif type_name == "string":
        strings = as_large_string(chunk)
        if strings.null_count:
            strings = pc.fill_null(strings, "")
        offsets = np.frombuffer(strings.buffers()[1], dtype="<i8")
        offsets = offsets[strings.offset : strings.offset + len(strings) + 1]
        lengths.update(np.diff(offsets).astype("<u8"))
        data = strings.buffers()[2]
        if data is not None:
            values.update(memoryview(data)[int(offsets[0]) : int(offsets[-1])])
    elif type_name == "float64":
        raw = chunk.to_numpy(zero_copy_only=False).astype("<f8")  # nulls become NaN
        missing = np.isnan(raw)
        raw[missing] = 0.0
        valid &= ~missing
        values.update(raw)
    elif type_name == "bool":
        values.update(pc.fill_null(chunk, False).to_numpy(zero_copy_only=False).astype("u1"))
    elif type_name in ("int64", "uint64"):
        out = "<i8" if type_name == "int64" else "<u8"
        values.update(pc.fill_null(chunk, 0).to_numpy().astype(out))
    else:
        values.update(_temporal_bytes(type_name, chunk))
    validity.update(valid)


def _temporal_bytes(type_name: str, chunk: Any) -> bytes:
    raw, nanoseconds_per_unit = temporal_ints(chunk)
    if type_name in ("date", "time"):
        scale = 1 if type_name == "date" else nanoseconds_per_unit
        return (raw * scale).astype("<i8").tobytes()
    per_second = _NANOSECONDS_PER_SECOND // nanoseconds_per_unit
    seconds, within = np.divmod(raw, per_second)
    pairs = np.stack([seconds, within * nanoseconds_per_unit], axis=1)
    return pairs.astype("<i8").tobytes()


def _column_digest(name: str, type_name: str, column: Any) -> bytes:
    hashers = (hashlib.sha256(), hashlib.sha256(), hashlib.sha256())
    for chunk in column.chunks:
        _update_streams(hashers, type_name, chunk)
    head = hashlib.sha256(COLUMN_DOMAIN)
    for text in (name, type_name):
        encoded = text.encode("utf-8")
        head.update(_u64(len(encoded)) + encoded)
    head.update(_u64(len(column)))
    for hasher in hashers:
        head.update(hasher.digest())
    return head.digest()


def table_digest(table: Any) -> str:
    """Return the ``sha256:<hex>`` content digest of a ``pyarrow.Table``.

    Parameters
    ----------
    table : pyarrow.Table
        The data; see the module docstring for the encoding.

    Returns
    -------
    str
        ``"sha256:"`` followed by 64 lowercase hex digits.

    Raises
    ------
    InputError
        If a column has a type govml does not fingerprint.
    """
    digest = hashlib.sha256(TABLE_DOMAIN)
    digest.update(_u64(table.num_columns) + _u64(table.num_rows))
    for i, field_ in enumerate(table.schema):
        type_name = normalised_type(field_.type, column=field_.name)
        digest.update(_column_digest(field_.name, type_name, table.column(i)))
    return "sha256:" + digest.hexdigest()


@dataclass(frozen=True, kw_only=True)
class ColumnSchema:
    """A column's name and normalised type (see :func:`~.coltypes.normalised_type`)."""

    name: str
    type: str


@dataclass(frozen=True, kw_only=True)
class DatasetFingerprint:
    """What govml records about a dataset: digest, schema, size and profile.

    Attributes
    ----------
    digest : str
        ``sha256:<hex>`` over the canonical encoding of the values (module docstring).
    schema : tuple of ColumnSchema
        Column names and normalised types, in table order.
    row_count : int
        Number of rows.
    profile : Profile
        Per-column sufficient statistics, the reference for drift monitoring.
    source : str or None
        Where the data came from, for people; not part of the digest.
    """

    digest: str
    schema: tuple[ColumnSchema, ...]
    row_count: int
    profile: Profile = field(repr=False)
    source: str | None = None

    def __post_init__(self) -> None:
        if not _DIGEST.fullmatch(self.digest):
            raise ValueError(f"digest must be 'sha256:' and 64 hex digits, got {self.digest!r}")
        if self.profile.row_count != self.row_count:
            raise ValueError("the profile's row count differs from the fingerprint's")
        if self.profile.names != tuple(column.name for column in self.schema):
            raise ValueError("the profile's columns differ from the schema")

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dictionary; :meth:`from_dict` restores it exactly.

        Returns
        -------
        dict
            ``{"version": 1, "digest": str, "schema": [{"name", "type"}, ...],
            "row_count": int, "source": str | None, "profile": Profile.to_dict()}``.
        """
        return {
            "version": FINGERPRINT_VERSION,
            "digest": self.digest,
            "schema": [{"name": column.name, "type": column.type} for column in self.schema],
            "row_count": self.row_count,
            "source": self.source,
            "profile": self.profile.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DatasetFingerprint:
        """Rebuild a fingerprint from :meth:`to_dict` output.

        Raises
        ------
        InputError
            If the version is unknown, a field is missing or the parts disagree.
        """
        try:
            if data["version"] != FINGERPRINT_VERSION:
                raise ValueError(f"unknown fingerprint version {data['version']!r}")
            source = data["source"]
            return cls(
                digest=str(data["digest"]),
                schema=tuple(
                    ColumnSchema(name=str(column["name"]), type=str(column["type"]))
                    for column in data["schema"]
                ),
                row_count=int(data["row_count"]),
                profile=Profile.from_dict(data["profile"]),
                source=None if source is None else str(source),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"invalid dataset fingerprint: {exc}") from exc


def fingerprint(
    source: Any,
    *,
    max_categories: int = DEFAULT_MAX_CATEGORIES,
    relative_accuracy: float = DEFAULT_RELATIVE_ACCURACY,
    label: str | None = None,
) -> DatasetFingerprint:
    """Read a dataset once and return its fingerprint.

    Parameters
    ----------
    source : DataFrame, Table, RecordBatch, numpy.ndarray, str or Path
        Anything :func:`~govml.datasets.read_table` accepts.
    max_categories : int
        Exact-count capacity of categorical columns (see :func:`~govml.datasets.profile`).
    relative_accuracy : float
        Accuracy of the numeric quantile sketches.
    label : str, optional
        Recorded as ``source``; defaults to the path when ``source`` is a path.

    Returns
    -------
    DatasetFingerprint
        Digest, schema, row count and profile.

    Raises
    ------
    InputError
        If the source cannot be read or a column has an unsupported type.
    """
    table = read_table(source)
    schema = tuple(
        ColumnSchema(name=f.name, type=normalised_type(f.type, column=f.name)) for f in table.schema
    )
    if label is None and isinstance(source, str | Path):
        label = str(source)
    return DatasetFingerprint(
        digest=table_digest(table),
        schema=schema,
        row_count=table.num_rows,
        profile=profile_table(
            table, max_categories=max_categories, relative_accuracy=relative_accuracy
        ),
        source=label,
    )
