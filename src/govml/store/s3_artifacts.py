"""Content-addressed artifact store in an S3 bucket (AWS S3, MinIO, any S3-compatible server).

The same layout as the local store under a prefix: ``s3://bucket/prefix/sha256/<2 hex>/<62
hex>``. The digest is computed here, before anything is sent, and sent with the object as its
SHA-256 checksum, so the server refuses bytes that do not match it. An object is written
once (a digest already there is not written again: its bytes are those bytes), and every
read recomputes the digest: bytes changed in the bucket are refused, never loaded.
Keys are built only from a validated hex digest, so no name can leave the prefix.
"""

from __future__ import annotations

import base64
import hashlib
import tempfile
from pathlib import Path
from typing import Any

from govml.errors import InputError, IntegrityError, NotFoundError, StoreError
from govml.store.artifacts import parse_digest, sha256_digest
from govml.store.s3_client import client_errors, is_missing, s3_client

_CHUNK = 1 << 20
ERR_UNREACHABLE = "the artifact store {location} cannot be reached: {reason}"
HINT_UNREACHABLE = (
    "check AWS_ENDPOINT_URL, AWS_REGION and the credentials (AWS_ACCESS_KEY_ID, AWS_PROFILE "
    "or a role), and that the bucket exists"
)


class S3ArtifactStore:
    """Artifacts as objects under ``s3://bucket/prefix``, addressed by their SHA-256 digest."""

    def __init__(self, *, bucket: str, prefix: str = "", client: Any = None) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self._client = client

    @property
    def client(self) -> Any:
        """The boto3 client (made on first use, from the standard AWS settings)."""
        if self._client is None:
            self._client = s3_client()
        return self._client

    @property
    def location(self) -> str:
        """``s3://bucket/prefix``."""
        return f"s3://{self.bucket}/{self.prefix}".rstrip("/")

    def key_for(self, digest: str) -> str:
        """Return the object key of the artifact with ``digest``."""
        hex_digest = parse_digest(digest)
        key = f"sha256/{hex_digest[:2]}/{hex_digest[2:]}"
        return f"{self.prefix}/{key}" if self.prefix else key

    def _unreachable(self, exc: BaseException) -> StoreError:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return StoreError(
            ERR_UNREACHABLE.format(location=self.location, reason=reason), hint=HINT_UNREACHABLE
        )

    def exists(self, digest: str) -> bool:
        """Return True when an artifact with ``digest`` is stored."""
        key = self.key_for(digest)
        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
        except client_errors() as exc:
            if is_missing(exc):
                return False
            raise self._unreachable(exc) from None
        return True

    def put_bytes(self, data: bytes) -> str:
        """Store ``data`` and return its digest; storing the same bytes twice is a no-op."""
        digest = sha256_digest(data)
        if not self.exists(digest):
            self._upload(digest, data)
        return digest

    def put_file(self, path: Path) -> tuple[str, int]:
        """Store a copy of the file at ``path``; return its digest and size in bytes.

        The file is copied to a local temporary file while it is hashed, and that copy is
        uploaded: a file that changes while it is read cannot be stored under a digest that
        does not match it.
        """
        path = Path(path)
        hasher = hashlib.sha256()
        size = 0
        with tempfile.TemporaryFile() as copy:
            try:
                with path.open("rb") as handle:
                    while chunk := handle.read(_CHUNK):
                        hasher.update(chunk)
                        size += len(chunk)
                        copy.write(chunk)
            except (FileNotFoundError, IsADirectoryError, PermissionError) as exc:
                raise InputError(f"cannot read artifact file {path}: {exc.strerror}") from None
            digest = "sha256:" + hasher.hexdigest()
            if not self.exists(digest):
                copy.seek(0)
                self._upload(digest, copy)
        return digest, size

    def _upload(self, digest: str, body: Any) -> None:
        checksum = base64.b64encode(bytes.fromhex(parse_digest(digest))).decode("ascii")
        try:
            self.client.put_object(
                Bucket=self.bucket,
                Key=self.key_for(digest),
                Body=body,
                ChecksumSHA256=checksum,
                ContentType="application/octet-stream",
            )
        except client_errors() as exc:
            raise self._unreachable(exc) from None

    def _read(self, digest: str) -> bytes:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self.key_for(digest))
            data: bytes = response["Body"].read()
        except client_errors() as exc:
            if is_missing(exc):
                raise NotFoundError(
                    f"artifact {digest} is not in the artifact store {self.location}"
                ) from None
            raise self._unreachable(exc) from None
        return data

    def get_bytes(self, digest: str) -> bytes:
        """Return the artifact's bytes after checking that they still hash to ``digest``.

        Raises
        ------
        NotFoundError
            When no artifact with that digest is stored.
        IntegrityError
            When the stored bytes hash to something else (they were changed in the bucket).
        StoreError
            When the bucket cannot be reached.
        """
        data = self._read(digest)
        actual = sha256_digest(data)
        if actual != digest:
            raise IntegrityError(
                f"artifact {self.location}/{self.key_for(digest).removeprefix(self.prefix + '/')}"
                f" was modified: expected {digest}, found {actual}",
                hint="restore it from a backup (or a bucket version); govml will not load "
                "changed bytes",
            )
        return data

    def problem(self, digest: str) -> str | None:
        """Return what is wrong with the stored artifact, or None when it matches ``digest``."""
        try:
            data = self._read(digest)
        except NotFoundError:
            return "its object is missing"
        found = sha256_digest(data)
        return None if found == digest else f"its bytes hash to {found}"

    def ensure(self) -> None:
        """Check that the bucket can be reached with the configured credentials.

        Raises
        ------
        StoreError
            When it cannot (no such bucket, refused credentials, no server).
        """
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except client_errors() as exc:
            raise self._unreachable(exc) from None
