"""Content-addressed artifact store on a local (or shared) file system.

Other stores (S3-compatible buckets, those of installed packages) are found by the scheme of
``GOVML_ARTIFACTS`` in :mod:`govml.store.artifact_stores` and keep the same layout.

An artifact is named by the SHA-256 of its bytes (``sha256:<64 hex>``) and lives at
``<root>/sha256/<2 hex>/<62 hex>``. Writes go to a temporary file in the same folder, are
fsynced and renamed into place, so a reader never sees a partial file. Every read recomputes the
digest. Paths are built only from a validated hex digest, so no name can escape the root.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from govml.errors import InputError, IntegrityError, NotFoundError

_DIGEST = re.compile(r"^sha256:([0-9a-f]{64})$")
_CHUNK = 1 << 20


def sha256_digest(data: bytes) -> str:
    """Return ``sha256:<hex>`` of ``data``."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def parse_digest(digest: str) -> str:
    """Return the hex part of a ``sha256:<hex>`` digest.

    Raises
    ------
    InputError
        When ``digest`` is not exactly ``sha256:`` followed by 64 lowercase hex digits.
    """
    match = _DIGEST.match(digest) if isinstance(digest, str) else None
    if match is None:
        raise InputError(f"invalid artifact digest {digest!r}: expected sha256:<64 hex digits>")
    return match.group(1)


class LocalArtifactStore:
    """Artifacts as files under ``root``, addressed by their SHA-256 digest."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    @property
    def location(self) -> str:
        """The folder, as a path."""
        return str(self.root)

    def ensure(self) -> None:
        """Create the folder if it is not there."""
        self.root.mkdir(parents=True, exist_ok=True)

    def problem(self, digest: str) -> str | None:
        """Return what is wrong with the stored artifact, or None when it matches ``digest``."""
        hasher = hashlib.sha256()
        try:
            with self.path_for(digest).open("rb") as handle:
                for chunk in _chunks(handle):
                    hasher.update(chunk)
        except FileNotFoundError:
            return "its file is missing"
        except OSError as exc:
            return f"its file cannot be read ({exc.strerror})"
        found = "sha256:" + hasher.hexdigest()
        return None if found == digest else f"its bytes hash to {found}"

    def path_for(self, digest: str) -> Path:
        """Return where the artifact with ``digest`` is (or would be) stored."""
        hex_digest = parse_digest(digest)
        return self.root / "sha256" / hex_digest[:2] / hex_digest[2:]

    def exists(self, digest: str) -> bool:
        """Return True when an artifact with ``digest`` is stored."""
        return self.path_for(digest).is_file()

    def put_bytes(self, data: bytes) -> str:
        """Store ``data`` and return its digest; storing the same bytes twice is a no-op."""
        digest = sha256_digest(data)
        if not self.exists(digest):
            self._write(iter((data,)))
        return digest

    def put_file(self, path: Path) -> tuple[str, int]:
        """Store a copy of the file at ``path``; return its digest and size in bytes.

        The digest is computed from the bytes as they are copied, so a file that changes
        while it is read cannot be stored under a digest that does not match it.
        """
        path = Path(path)
        try:
            with path.open("rb") as handle:
                return self._write(_chunks(handle))
        except (FileNotFoundError, IsADirectoryError, PermissionError) as exc:
            raise InputError(f"cannot read artifact file {path}: {exc.strerror}") from None

    def get_bytes(self, digest: str) -> bytes:
        """Return the artifact's bytes after checking that they still hash to ``digest``.

        Raises
        ------
        NotFoundError
            When no artifact with that digest is stored.
        IntegrityError
            When the stored bytes hash to something else (they were changed on disk).
        """
        path = self.path_for(digest)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise NotFoundError(
                f"artifact {digest} is not in the artifact store {self.root}"
            ) from None
        actual = sha256_digest(data)
        if actual != digest:
            raise IntegrityError(
                f"artifact {path} was modified: expected {digest}, found {actual}",
                hint="restore it from a backup; govml will not load changed bytes",
            )
        return data

    def _write(self, chunks: Iterator[bytes]) -> tuple[str, int]:
        staging = self.root / "sha256" / "staging"
        staging.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=staging, prefix=".tmp-")
        tmp = Path(tmp_name)
        hasher = hashlib.sha256()
        size = 0
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in chunks:
                    hasher.update(chunk)
                    size += len(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            digest = "sha256:" + hasher.hexdigest()
            target = self.path_for(digest)
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp.chmod(0o444)
            tmp.replace(target)
            _fsync_dir(target.parent)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return digest, size


def _chunks(handle: BinaryIO) -> Iterator[bytes]:
    while chunk := handle.read(_CHUNK):
        yield chunk


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
