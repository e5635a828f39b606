"""Reading what a request uploads: Parquet tables, artifact files, policy text, JSON fields.

Uploads are read into memory or a private temporary folder only; a file name sent by the
client is reduced to a safe base name there, so it can never point anywhere else.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from fastapi import UploadFile

from govml.errors import InputError, PolicyError
from govml.policy import LoadedPolicy, parse_policy

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
ERR_SERVER_FILE = (
    "a policy sent with a request cannot name files on the server "
    "(security.vulnerabilities.database)"
)
HINT_SERVER_FILE = (
    "an admin puts such a policy in force with `govml policy apply`; evaluate without --policy "
    "to use it"
)


def read_parquet(upload: UploadFile | None, field: str) -> pa.Table | None:
    """Return the Parquet table uploaded as ``field``, or None when nothing was.

    Raises
    ------
    InputError
        When the upload is not a readable Parquet file.
    """
    if upload is None:
        return None
    try:
        return pq.read_table(upload.file)
    except Exception as exc:  # pyarrow raises several types for damaged input
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"{field}: not a readable Parquet file ({reason})") from None


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
