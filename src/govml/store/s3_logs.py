"""The prediction log in an S3-compatible bucket: gateways upload closed files, monitoring reads.

Layout: the local log's, under the location's prefix (``s3://bucket/prefix/model=NAME/
version=V/date=D/part-....parquet``, ``.../feedback/...``, ``.../events/...``). Every gateway
process names its files with its process id and a random tag, so several replicas write
side by side into the same prefix and never over each other; monitoring reads them all.

Upload (:class:`S3LogSender`) is the gateway's log shipper's ``send``: a file is marked as
sent only once the bucket has acknowledged it with its SHA-256 checksum; until then it stays
in the local log folder (the spool) and is tried again every round and at the next start,
so a bucket that is away loses nothing. Sending a file twice writes the same key with the
same bytes.

Reading (:class:`S3LogMirror`) copies the files a monitoring run needs (the window's dates,
day one of a version, feedback since the window's start) into a temporary folder, where
DuckDB reads them as it reads a local log; the folder goes when the run ends.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from govml.errors import ConfigurationError, InputError, StoreError
from govml.store.s3_client import client_errors, s3_client

ERR_LOCATION = "a prediction log location is s3://BUCKET/PREFIX, got {location!r}"
ERR_UNREACHABLE = "the prediction log {location} cannot be reached: {reason}"
HINT_UNREACHABLE = "check AWS_ENDPOINT_URL, AWS_REGION and the credentials, and the bucket"
_PART = re.compile(r"^(version=[0-9]+|feedback|events)$")
_DATE = re.compile(r"^date=([0-9]{4}-[0-9]{2}-[0-9]{2})$")
_NAME = re.compile(r"^part-[A-Za-z0-9_.-]+\.parquet$")


def split_location(location: str) -> tuple[str, str]:
    """Return the bucket and prefix of ``s3://bucket/prefix``.

    Raises
    ------
    ConfigurationError
        When ``location`` is not an ``s3://`` URI with a bucket.
    """
    parts = urlsplit(location)
    if parts.scheme != "s3" or not parts.netloc or parts.query or parts.fragment:
        raise ConfigurationError(ERR_LOCATION.format(location=location))
    return parts.netloc, parts.path.strip("/")


def is_remote(location: str | os.PathLike[str]) -> bool:
    """Return True for an ``s3://`` location."""
    return isinstance(location, str) and location.startswith("s3://")


class _Bucket:
    def __init__(self, location: str, client: Any = None) -> None:
        self.location = location.rstrip("/")
        self.bucket, self.prefix = split_location(location)
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = s3_client()
        return self._client

    def key(self, relative: str) -> str:
        return f"{self.prefix}/{relative}" if self.prefix else relative

    def unreachable(self, exc: BaseException) -> StoreError:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return StoreError(
            ERR_UNREACHABLE.format(location=self.location, reason=reason), hint=HINT_UNREACHABLE
        )


class S3LogSender(_Bucket):
    """Uploads one closed log file: ``sender(model, path, kind=..., version=...)``.

    Raises (to the shipper, which keeps the file and tries again) on any failure.
    """

    def __call__(self, model: str, path: Path, *, kind: str, version: int | None) -> None:
        """Upload ``path`` to its partition under the prefix, with its SHA-256 checksum.

        Raises
        ------
        InputError
            When the path is not a closed file of the log layout.
        StoreError
            When the bucket cannot be reached or refuses the file.
        """
        day, part = path.parent.name, path.parent.parent.name
        if not (_DATE.match(day) and _PART.match(part) and _NAME.match(path.name)):
            raise InputError(f"{path} is not a closed prediction log file")
        data = path.read_bytes()
        checksum = base64.b64encode(hashlib.sha256(data).digest()).decode("ascii")
        key = self.key(f"model={model}/{part}/{day}/{path.name}")
        try:
            self.client.put_object(Bucket=self.bucket, Key=key, Body=data, ChecksumSHA256=checksum)
        except client_errors() as exc:
            raise self.unreachable(exc) from None


class S3LogMirror(_Bucket):
    """A local copy of the part of one model's log a monitoring run reads."""

    def __init__(self, location: str, model: str, folder: Path, client: Any = None) -> None:
        super().__init__(location, client)
        self.model = model
        self.folder = folder
        self._listing: dict[str, Any] | None = None

    def listing(self) -> dict[str, Any]:
        """Return every file of the model under the prefix, by path relative to the model."""
        if self._listing is None:
            base = self.key(f"model={self.model}/")
            found: dict[str, Any] = {}
            try:
                pages = self.client.get_paginator("list_objects_v2").paginate(
                    Bucket=self.bucket, Prefix=base
                )
                for page in pages:
                    for item in page.get("Contents", []):
                        relative = str(item["Key"])[len(base) :]
                        pieces = relative.split("/")
                        if (
                            len(pieces) == 3
                            and _PART.match(pieces[0])
                            and _DATE.match(pieces[1])
                            and _NAME.match(pieces[2])
                        ):
                            found[relative] = item
            except client_errors() as exc:
                raise self.unreachable(exc) from None
            self._listing = found
        return self._listing

    def sync(self, wanted: Callable[[str, date], bool]) -> None:
        """Download the files whose partition and date ``wanted(part, day)`` accepts."""
        base = self.key(f"model={self.model}/")
        for relative, item in self.listing().items():
            part, day_dir, _ = relative.split("/")
            match = _DATE.match(day_dir)
            assert match is not None
            if not wanted(part, date.fromisoformat(match.group(1))):
                continue
            target = self.folder / f"model={self.model}" / relative
            if target.exists():
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(f".{target.name}.tmp")
            try:
                self.client.download_file(self.bucket, base + relative, str(partial))
            except client_errors() as exc:
                partial.unlink(missing_ok=True)
                raise self.unreachable(exc) from None
            stamp = item["LastModified"].timestamp()
            os.utime(partial, (stamp, stamp))
            partial.replace(target)

    def first_day(self, version: int) -> date | None:
        """Return the first date version ``version`` has files for (from the listing)."""
        days = [
            date.fromisoformat(relative.split("/")[1].removeprefix("date="))
            for relative in self.listing()
            if relative.startswith(f"version={version}/")
        ]
        return min(days) if days else None
