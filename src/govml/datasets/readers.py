"""Read any supported tabular input into one in-memory ``pyarrow.Table``.

Every reading failure becomes an :class:`~govml.errors.InputError` that names the file and
says what is wrong with it, so the CLI can print one line instead of a traceback.
"""

from __future__ import annotations

import codecs
import re
import sys
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from govml.errors import InputError

TableFormat = Literal["csv", "parquet"]

SUFFIX_FORMATS: dict[str, TableFormat] = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}

# How much of a CSV file is inspected for binary content before handing it to pyarrow.
_SNIFF_BYTES = 64 * 1024
_PARQUET_MAGIC = b"PAR1"
_ROW_NUMBER = re.compile(r"Row #(\d+): ")


def read_table(source: Any, *, fmt: TableFormat | None = None) -> Any:
    """Return ``source`` as a ``pyarrow.Table``.

    Parameters
    ----------
    source : DataFrame, Table, RecordBatch, numpy.ndarray, str or Path
        A pandas or polars DataFrame, a pyarrow Table or RecordBatch, a two-dimensional
        numpy array (columns named ``f0``, ``f1``, ...), or the path of a CSV file (with a
        header row) or a Parquet file. A pandas index is not data and is dropped.
    fmt : {"csv", "parquet"}, optional
        File format of a path; by default taken from its suffix (``.csv``, ``.parquet``,
        ``.pq``).

    Returns
    -------
    pyarrow.Table
        The data. Types of CSV columns are inferred by pyarrow. Unquoted CSV fields that
        are empty or one of pyarrow's null markers (``NA``, ``NULL``, ``NaN``, ``n/a``,
        ...) read as null, in string columns too, as pandas does; a quoted empty field
        stays an empty string, so CSV files written by pyarrow round-trip exactly.

    Raises
    ------
    InputError
        If the input type is not supported, or the file is missing, empty, not in the
        format it claims, or has a malformed row (the message names the file and line).
    """
    table = _as_table(source, fmt)
    names = table.column_names
    if len(set(names)) != len(names):
        where = f"{source}: " if isinstance(source, str | Path) else ""
        duplicated = sorted({name for name in names if names.count(name) > 1})
        raise InputError(f"{where}duplicate column names {duplicated}")
    return table


def _as_table(source: Any, fmt: TableFormat | None) -> Any:
    if isinstance(source, pa.Table):
        return source
    if isinstance(source, pa.RecordBatch):
        return pa.Table.from_batches([source])
    if isinstance(source, str | Path):
        return _read_path(Path(source), fmt)
    if isinstance(source, np.ndarray):
        return _from_numpy(source)
    # Modules are looked up, not imported: a DataFrame can only exist if its library is
    # loaded, and govml should not pay polars' or pandas' import time for other inputs.
    pandas = sys.modules.get("pandas")
    if pandas is not None and isinstance(source, pandas.DataFrame):
        return _from_pandas(source)
    polars = sys.modules.get("polars")
    if polars is not None and isinstance(source, polars.DataFrame):
        return source.to_arrow()
    spark = sys.modules.get("pyspark.sql")
    if spark is not None and isinstance(source, spark.DataFrame):
        return _from_spark(source)
    raise InputError(
        f"cannot read a {type(source).__name__} as a table",
        hint="pass a pandas or polars DataFrame, a pyarrow Table, a 2-D numpy array, "
        "or the path of a CSV or Parquet file",
    )


SPARK_MAX_ROWS = 20_000_000
"""Rows of a Spark DataFrame read onto the driver at most (statistics need no rows there:
compute them where the data is with `govml.engines`)."""


def _from_spark(frame: Any) -> Any:
    if frame.limit(SPARK_MAX_ROWS + 1).count() > SPARK_MAX_ROWS:
        raise InputError(
            f"the Spark DataFrame has more than {SPARK_MAX_ROWS:,} rows, more than this "
            "process reads onto the driver",
            hint="compute the statistics where the data is: govml.engines.get_engine('spark')",
        )
    return frame.toArrow()


def _from_pandas(frame: Any) -> Any:
    try:
        return pa.Table.from_pandas(frame, preserve_index=False)
    except (pa.ArrowException, ValueError, TypeError) as exc:
        raise InputError(f"cannot convert the DataFrame to columns: {exc}") from exc


def _from_numpy(array: np.ndarray[Any, Any]) -> Any:
    if array.ndim != 2:
        raise InputError(
            f"a numpy array must have two dimensions (rows, columns), got shape {array.shape}"
        )
    try:
        return pa.table({f"f{j}": array[:, j] for j in range(array.shape[1])})
    except (pa.ArrowException, ValueError, TypeError) as exc:
        raise InputError(f"cannot convert the numpy array to columns: {exc}") from exc


def _read_path(path: Path, fmt: TableFormat | None) -> Any:
    if fmt is None:
        fmt = SUFFIX_FORMATS.get(path.suffix.lower())
        if fmt is None:
            raise InputError(
                f"{path}: unsupported file type {path.suffix or '(no suffix)'!r}",
                hint="use a .csv or .parquet file, or pass fmt='csv' or fmt='parquet'",
            )
    elif fmt not in ("csv", "parquet"):
        raise InputError(f"{path}: unknown format {fmt!r}", hint="use 'csv' or 'parquet'")
    if not path.exists():
        raise InputError(f"{path}: file not found")
    if not path.is_file():
        raise InputError(f"{path}: not a file")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: file is empty")
    if fmt == "csv":
        return _read_csv(path)
    return _read_parquet(path)


def _read_csv(path: Path) -> Any:
    _check_text(path)
    convert = pa_csv.ConvertOptions(strings_can_be_null=True, quoted_strings_can_be_null=False)
    try:
        return pa_csv.read_csv(path, convert_options=convert)
    except pa.ArrowInvalid as exc:
        raise _csv_error(path, exc, convert) from exc
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc}") from exc


def _check_text(path: Path) -> None:
    """Reject binary files early: pyarrow would report them as a column count mismatch."""
    try:
        with path.open("rb") as handle:
            head = handle.read(_SNIFF_BYTES)
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc}") from exc
    if b"\x00" in head:
        raise InputError(f"{path}: not a CSV file (it contains binary data)")
    try:
        # Incremental decoding tolerates a character cut in half at the end of the sample.
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{path}: not a UTF-8 text file (invalid byte at offset {exc.start})",
            hint="save the CSV file as UTF-8",
        ) from exc


def _csv_error(path: Path, exc: Exception, convert: Any) -> InputError:
    message = str(exc)
    match = _ROW_NUMBER.search(message)
    if match is None and message.startswith("CSV parse error"):
        # Multithreaded reading does not know row numbers; reading again on one thread
        # (only on this error path) finds the same error with its row number.
        try:
            pa_csv.read_csv(
                path,
                read_options=pa_csv.ReadOptions(use_threads=False),
                convert_options=convert,
            )
        except pa.ArrowInvalid as again:
            message = str(again)
            match = _ROW_NUMBER.search(message)
    if match is not None:
        detail = message[match.end() :]
        return InputError(
            f"{path}: line {match.group(1)}: {detail}",
            hint="lines are counted from the header as line 1; "
            "a quoted field spanning lines counts once",
        )
    return InputError(f"{path}: cannot read as CSV: {message}")


def _read_parquet(path: Path) -> Any:
    try:
        with path.open("rb") as handle:
            if handle.read(4) != _PARQUET_MAGIC:
                raise InputError(f"{path}: not a Parquet file (no PAR1 header)")
        return pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        raise InputError(f"{path}: cannot read as Parquet: {exc}") from exc
