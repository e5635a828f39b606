"""Artifact stores found by the scheme of a location: a folder, ``file://``, ``s3://``.

``GOVML_ARTIFACTS`` names where model artifacts and evidence live. A plain path or a
``file://`` URI is a :class:`~govml.store.artifacts.LocalArtifactStore`; ``s3://bucket/prefix``
an :class:`~govml.store.s3_artifacts.S3ArtifactStore` (AWS S3, MinIO or any S3-compatible
server; needs ``pip install 'govml[s3]'``). Other schemes come from installed packages that
declare a factory in the ``govml.artifact_stores`` entry-point group, named by the scheme;
only installed entry points are ever loaded, and the location is the operator's setting,
never something a user uploads.

Every store has the same contract: an artifact is named by the SHA-256 of its bytes, written
once, and its digest is checked again on every read.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from pathlib import Path
from typing import Protocol, runtime_checkable
from urllib.parse import urlsplit

from govml.errors import ConfigurationError

ENTRY_POINT_GROUP = "govml.artifact_stores"
BUILT_IN_SCHEMES = ("file", "s3")
ERR_SCHEME = "unknown artifact store scheme {scheme!r} in {location!r}; the schemes are {schemes}"
ERR_S3_LOCATION = "an S3 artifact location is s3://BUCKET or s3://BUCKET/PREFIX, got {location!r}"


@runtime_checkable
class ArtifactStore(Protocol):
    """Content-addressed, write-once storage of artifact bytes."""

    @property
    def location(self) -> str:
        """Where the store is: a folder or a URI (never a secret)."""

    def exists(self, digest: str) -> bool:
        """Return True when an artifact with ``digest`` is stored."""

    def put_bytes(self, data: bytes) -> str:
        """Store ``data`` and return its digest; storing the same bytes twice is a no-op."""

    def put_file(self, path: Path) -> tuple[str, int]:
        """Store a copy of the file at ``path``; return its digest and size."""

    def get_bytes(self, digest: str) -> bytes:
        """Return the artifact's bytes after checking that they hash to ``digest``."""

    def problem(self, digest: str) -> str | None:
        """Return what is wrong with the stored artifact (missing, changed), or None."""

    def ensure(self) -> None:
        """Make the store usable (create the folder; check the bucket can be reached)."""


def schemes() -> list[str]:
    """Return the built-in schemes and those of installed entry points."""
    installed = [ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)]
    return list(dict.fromkeys([*BUILT_IN_SCHEMES, *installed]))


def scheme_of(location: str) -> str:
    """Return the scheme of a location (``file`` for a plain path)."""
    if "://" not in location:
        return "file"
    return urlsplit(location).scheme.lower()


def check_location(location: str) -> str:
    """Return ``location`` normalised (a path as it is, a URI without a trailing slash).

    Raises
    ------
    ConfigurationError
        When the scheme has no store, or an ``s3://`` location has no bucket.
    """
    scheme = scheme_of(location)
    if scheme == "file":
        return location
    if scheme not in schemes():
        raise ConfigurationError(
            ERR_SCHEME.format(scheme=scheme, location=location, schemes=", ".join(schemes()))
        )
    if scheme == "s3":
        parts = urlsplit(location)
        if not parts.netloc or parts.query or parts.fragment:
            raise ConfigurationError(ERR_S3_LOCATION.format(location=location))
    return location.rstrip("/")


def open_artifact_store(location: str) -> ArtifactStore:
    """Return the artifact store at ``location`` (see the module docstring).

    Raises
    ------
    ConfigurationError
        When the scheme is unknown, or the store's package is not installed.
    """
    location = check_location(location)
    scheme = scheme_of(location)
    if scheme == "file":
        from govml.store.artifacts import LocalArtifactStore

        path = location.removeprefix("file://") if location.startswith("file://") else location
        return LocalArtifactStore(Path(path))
    if scheme == "s3":
        from govml.store.s3_artifacts import S3ArtifactStore

        parts = urlsplit(location)
        return S3ArtifactStore(bucket=parts.netloc, prefix=parts.path.strip("/"))
    (found,) = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == scheme]
    store = found.load()(location)
    if not isinstance(store, ArtifactStore):
        raise ConfigurationError(
            f"the {scheme!r} artifact store does not provide a store's methods"
        )
    return store
