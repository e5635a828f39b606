"""Reading what a request uploads: Parquet tables, artifact files, policy text, JSON fields.

Uploads are read into memory, or into a private folder under the server's home
(`upload_folder`: ``$GOVML_HOME/uploads``, never the system's temporary folder, where a killed
server would leave records about people for anyone to read; the next server to start removes
what a dead one left, `clear_uploads`); a file name sent by the client is reduced to a safe base
name there, so it can never point anywhere else. A Parquet
table is measured before it is decoded (`read_parquet`): a few compressed megabytes can hold
gigabytes of repeated values, so its rows and decoded size are checked against the server's
limits from the file's footer and its dictionaries, before any column is expanded.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from fastapi import UploadFile

from govml.errors import InputError, PolicyError, TooLargeError
from govml.policy import LoadedPolicy, parse_policy
from govml.server.limits import ServerLimits, size_text
from govml.services.context import ServiceContext

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
ERR_SERVER_FILE = (
    "a policy sent with a request cannot name files on the server "
    "(security.vulnerabilities.database)"
)
HINT_SERVER_FILE = (
    "an admin puts such a policy in force with `govml policy apply`; evaluate without --policy "
    "to use it"
)


ERR_TABLE_ROWS = "{field}: {rows:,} rows; this server accepts at most {limit:,} rows per table"
ERR_TABLE_BYTES = (
    "{field}: the table decodes to {size} or more; this server accepts at most {limit} per table"
)
HINT_TABLE = "send a sample, or ask the operator to raise GOVML_SERVER_MAX_TABLE_{which}"
ERR_NESTED = "{field}: column {column!r} has the nested type {type}; tables must be flat"


def read_parquet(
    upload: UploadFile | None, field: str, limits: ServerLimits | None = None
) -> pa.Table | None:
    """Return the Parquet table uploaded as ``field``, or None when nothing was.

    Parameters
    ----------
    upload
        The uploaded file, or None.
    field
        The form field's name, for messages.
    limits
        The server's limits (default: the defaults of `ServerLimits`).

    Raises
    ------
    InputError
        When the upload is not a readable Parquet file or has a nested column.
    TooLargeError
        When it has more rows, or decodes to more bytes, than the limits allow.
    """
    if upload is None:
        return None
    limits = limits or ServerLimits()
    try:
        parquet = pq.ParquetFile(upload.file)
        schema = parquet.schema_arrow
    except Exception as exc:  # pyarrow raises several types for damaged input
        raise InputError(f"{field}: not a readable Parquet file ({_reason(exc)})") from None
    _check_shape(parquet.metadata, schema, field, limits)
    text = [f.name for f in schema if pa.types.is_string(f.type) or pa.types.is_binary(f.type)]
    text += [
        f.name
        for f in schema
        if pa.types.is_large_string(f.type) or pa.types.is_large_binary(f.type)
    ]
    try:
        # Text columns stay dictionary-encoded, so a value repeated a million times is held once.
        upload.file.seek(0)
        table = pq.ParquetFile(upload.file, read_dictionary=text).read(use_threads=False)
    except Exception as exc:
        raise InputError(f"{field}: not a readable Parquet file ({_reason(exc)})") from None
    decoded = sum(_decoded_bytes(table.column(name)) for name in table.column_names)
    _within(decoded, field, limits)
    for name in text:
        index = table.schema.get_field_index(name)
        table = table.set_column(
            index, schema.field(name), table.column(name).cast(schema.field(name).type)
        )
    return table


def _reason(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _check_shape(
    meta: pq.FileMetaData, schema: pa.Schema, field: str, limits: ServerLimits
) -> None:
    if meta.num_rows > limits.max_table_rows:
        raise TooLargeError(
            ERR_TABLE_ROWS.format(field=field, rows=meta.num_rows, limit=limits.max_table_rows),
            hint=HINT_TABLE.format(which="ROWS"),
        )
    fixed = 0
    for item in schema:
        if pa.types.is_nested(item.type):
            raise InputError(ERR_NESTED.format(field=field, column=item.name, type=item.type))
        fixed += meta.num_rows * _fixed_width(item.type)
    encoded = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
    _within(max(fixed, encoded), field, limits)


def _fixed_width(kind: pa.DataType) -> int:
    """Return the bytes a value of a fixed-width type takes (0 for variable-width types)."""
    try:
        return max(int(kind.bit_width) // 8, 1)
    except ValueError:
        return 0


def _within(size: int, field: str, limits: ServerLimits) -> None:
    if size > limits.max_table_bytes:
        message = ERR_TABLE_BYTES.format(
            field=field, size=size_text(size), limit=size_text(limits.max_table_bytes)
        )
        raise TooLargeError(message, hint=HINT_TABLE.format(which="BYTES"))


def _decoded_bytes(column: pa.ChunkedArray) -> int:
    """Return the bytes ``column`` takes once its dictionaries are expanded."""
    total = 0
    for chunk in column.chunks:
        if isinstance(chunk, pa.DictionaryArray):
            lengths = pc.binary_length(chunk.dictionary)
            expanded = pc.sum(pc.take(lengths, chunk.indices)).as_py() or 0
            total += int(expanded) + 8 * len(chunk)  # values and their offsets
        else:
            total += chunk.nbytes
    return total


UPLOADS = "uploads"
ERR_NO_HOME = "this server has no govml home to keep an upload in while it is used"


@contextmanager
def upload_folder(ctx: ServiceContext) -> Iterator[Path]:
    """Yield a new folder for one request's uploads under the server's home; remove it after.

    Its name starts with this process's id, so that `clear_uploads` can tell the folders of a
    server that is no longer running.

    Raises
    ------
    InputError
        When the server has no home (``ctx.keys`` is unset).
    """
    if ctx.keys is None:
        raise InputError(ERR_NO_HOME)
    root = ctx.keys.parent / UPLOADS
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"{os.getpid()}-", dir=root) as folder:
        yield Path(folder)


def clear_uploads(home: Path | None) -> None:
    """Remove what server processes that are no longer running left in ``home``'s uploads."""
    root = None if home is None else home / UPLOADS
    if root is None or not root.is_dir():
        return
    for entry in root.iterdir():
        owner = entry.name.split("-", 1)[0]
        if owner.isdigit() and int(owner) != os.getpid() and _running(int(owner)):
            continue  # another worker of this server, using it now
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # running, as another user
        return True
    return True


def save_upload(upload: UploadFile, folder: Path, default: str) -> Path:
    """Write an uploaded file into ``folder`` under a safe version of its name."""
    name = _UNSAFE.sub("_", Path(upload.filename or "").name).lstrip(".") or default
    path = folder / name[:200]
    with path.open("wb") as out:
        while chunk := upload.file.read(1 << 20):
            out.write(chunk)
    return path


def read_policy(upload: UploadFile | None, source: str | None) -> LoadedPolicy | None:
    """Validate the policy YAML uploaded with a request; None when none was.

    Raises
    ------
    InvalidPolicyError
        When it does not validate.
    PolicyError
        When it names a file on the server (see `ERR_SERVER_FILE`).
    """
    if upload is None:
        return None
    loaded = parse_policy(upload.file.read(), source=source or upload.filename or "<request>")
    security = loaded.policy.security
    if security is not None and security.vulnerabilities is not None:
        raise PolicyError(ERR_SERVER_FILE, hint=HINT_SERVER_FILE)
    return loaded


def json_field(text: str | None, field: str) -> Any:
    """Return the JSON value of a form field (None when absent).

    Raises
    ------
    InputError
        When the field is not valid JSON.
    """
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        raise InputError(f"{field}: not valid JSON") from None


def json_object(text: str | None, field: str) -> dict[str, Any]:
    """Return the JSON object of a form field ({} when absent).

    Raises
    ------
    InputError
        When the field is not a JSON object.
    """
    value = json_field(text, field)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InputError(f"{field}: expected a JSON object")
    return value
