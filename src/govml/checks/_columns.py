"""Column look-up shared by the data, personal-data and association checks."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from govml.datasets import read_table
from govml.errors import InputError, ValidationError, closest

ERR_MISSING_COLUMNS = "{count} column(s) not in the data: {names}; the data has {available}"
ERR_NO_COLUMNS = "no columns given"
_SHOWN_COLUMNS = 30


def as_table(data: Any) -> Any:
    """Return ``data`` as a ``pyarrow.Table`` (anything :func:`govml.datasets.read_table` reads)."""
    return read_table(data)


def require_columns(
    data: Any, columns: Iterable[str], *, needed_by: Mapping[str, Sequence[str]] | None = None
) -> None:
    """Raise one error naming every column of ``columns`` that ``data`` lacks.

    Parameters
    ----------
    data : table
        A ``pyarrow.Table`` or anything :func:`govml.datasets.read_table` reads.
    columns : iterable of str
        Names a check needs.
    needed_by : mapping of str to list of str, optional
        What needs each column (``--target``, a policy rule, ...), named in the message.

    Raises
    ------
    InputError
        Naming all missing columns at once, the data's columns, and close matches.
    """
    table = data if isinstance(data, pa.Table) else as_table(data)
    present = table.column_names
    wanted = list(dict.fromkeys(columns))
    missing = [name for name in wanted if name not in present]
    if not missing:
        return
    shown = ", ".join(repr(name) for name in present[:_SHOWN_COLUMNS])
    if len(present) > _SHOWN_COLUMNS:
        shown += f", ... ({len(present)} columns)"
    hints = []
    for name in missing:
        match = closest(name, present)
        if match is not None:
            hints.append(f"'{match}' for '{name}'")
    raise ValidationError(
        ERR_MISSING_COLUMNS.format(
            count=len(missing),
            names=", ".join(_needed(name, needed_by) for name in missing),
            available=shown or "no columns",
        ),
        hint=f"did you mean {', '.join(hints)}?" if hints else None,
    )


def _needed(name: str, needed_by: Mapping[str, Sequence[str]] | None) -> str:
    if needed_by and needed_by.get(name):
        return f"{name!r} ({'; '.join(needed_by[name])})"
    return repr(name)


def columns_list(columns: str | Sequence[str]) -> list[str]:
    """Return one column name or a sequence of them as a list, refusing an empty one."""
    names = [columns] if isinstance(columns, str) else list(columns)
    if not names:
        raise InputError(ERR_NO_COLUMNS)
    return names


def column_array(table: Any, name: str) -> Any:
    """Return one column as a single arrow array (chunks combined, dictionaries decoded)."""
    array = table.column(name).combine_chunks()
    if pa.types.is_dictionary(array.type):
        array = array.dictionary_decode()
    return array


def missing_mask(array: Any) -> NDArray[np.bool_]:
    """Return True where a value is missing: null, or NaN in a floating-point column."""
    missing = array.is_null(nan_is_null=pa.types.is_floating(array.type))
    return np.asarray(pc.fill_null(missing, True).to_numpy(zero_copy_only=False), dtype=bool)


def is_numeric(array: Any) -> bool:
    """Whether an arrow array holds integers or floats (booleans are not numbers here)."""
    return bool(pa.types.is_integer(array.type) or pa.types.is_floating(array.type))


def first_rows(mask: NDArray[np.bool_], limit: int = 5) -> list[int]:
    """Return the first ``limit`` 0-based row numbers where ``mask`` is true."""
    return [int(row) for row in np.flatnonzero(mask)[:limit]]
