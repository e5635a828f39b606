"""Core records of the registry: models, versions and ledger entries.

Records validate their invariants when built, take keyword arguments only, and turn into
JSON-safe dictionaries with ``to_dict()`` (the shape of ``--json`` output and of the REST API).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from govml.errors import ValidationError, did_you_mean

# Matched with `re.fullmatch`: ``$`` alone also matches before a final newline, which would
# let ``"rita\n"`` pass as a second ``rita``.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")
_ALIAS = re.compile(r"[a-z][a-z0-9_-]{0,49}")
_VERSION = re.compile(r"[0-9]{1,12}")
MAX_VERSION = 2**31 - 1
"""Largest version number: the database stores versions as 32-bit integers."""


class RiskTier(StrEnum):
    """EU AI Act risk vocabulary."""

    MINIMAL = "minimal"
    LIMITED = "limited"
    HIGH = "high"
    UNACCEPTABLE = "unacceptable"

    @classmethod
    def parse(cls, value: str) -> RiskTier:
        """Return the tier named ``value``.

        Raises
        ------
        ValidationError
            Naming the valid tiers (and the closest one) when ``value`` is not a tier.
        """
        try:
            return cls(value.strip().lower())
        except ValueError:
            valid = [tier.value for tier in cls]
            hint = did_you_mean(value, valid)
            raise ValidationError(
                f"invalid risk tier {value!r}: valid tiers are {', '.join(valid)}", hint=hint
            ) from None


def check_name(value: str, *, what: str = "model name") -> str:
    """Return ``value`` if it is a valid model name, else raise `ValidationError`."""
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise ValidationError(
            f"invalid {what} {value!r}: use 1-200 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return value


def name_key(value: str) -> str:
    """Return the identity of a name: NFKC-normalised and case-folded.

    Two names with the same key are the same person or model: ``Rita``, ``rita`` and the
    full-width ``ｒｉｔａ`` all have the key ``rita``. Names are shown and looked up as they
    were stored; uniqueness and separation of duties compare keys.
    """
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", value).casefold())


def check_alias(value: str) -> str:
    """Return ``value`` if it is a valid alias name, else raise `ValidationError`."""
    if not isinstance(value, str) or not _ALIAS.fullmatch(value):
        raise ValidationError(
            f"invalid alias {value!r}: use lowercase letters, digits, '_' or '-', "
            "starting with a letter"
        )
    return value


@dataclass(frozen=True)
class VersionRef:
    """A reference to a model version: ``name@3``, ``name@production`` or ``name`` (latest)."""

    name: str
    version: int | None = None
    alias: str | None = None

    @classmethod
    def parse(cls, text: str) -> VersionRef:
        """Parse ``NAME``, ``NAME@VERSION`` or ``NAME@ALIAS``.

        ``VERSION`` is ASCII digits only (``credit@²`` is not version 2), from 1 to
        `MAX_VERSION`.

        Raises
        ------
        ValidationError
            Naming the reference, when the text is not of one of those forms.
        """
        if not isinstance(text, str):
            raise ValidationError(f"invalid reference {text!r}: expected a string")
        name, sep, selector = text.partition("@")
        try:
            check_name(name)
        except ValidationError as error:
            raise ValidationError(f"invalid reference {text!r}: {error.message}") from None
        if not sep:
            return cls(name=name)
        if selector[:1].isdigit():  # also Unicode digits, refused by `_version`
            return cls(name=name, version=_version(text, selector))
        if not selector:
            raise ValidationError(
                f"invalid reference {text!r}: expected NAME@VERSION or NAME@ALIAS"
            )
        try:
            return cls(name=name, alias=check_alias(selector))
        except ValidationError as error:
            raise ValidationError(f"invalid reference {text!r}: {error.message}") from None

    def __str__(self) -> str:
        """Return the reference as text, in the form `parse` reads."""
        if self.version is not None:
            return f"{self.name}@{self.version}"
        if self.alias is not None:
            return f"{self.name}@{self.alias}"
        return self.name


def _version(text: str, selector: str) -> int:
    if not _VERSION.fullmatch(selector):
        raise ValidationError(
            f"invalid version in {text!r}: a version is a number from 1 to {MAX_VERSION} "
            "in ASCII digits"
        )
    number = int(selector)
    if not 1 <= number <= MAX_VERSION:
        raise ValidationError(f"invalid version in {text!r}: versions run from 1 to {MAX_VERSION}")
    return number


@dataclass(frozen=True, kw_only=True)
class Model:
    """A governed model: who owns it, how risky it is, and what it is for."""

    name: str
    owner: str
    risk_tier: RiskTier
    intended_use: str = ""
    out_of_scope_use: str = ""
    description: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    created_at: datetime
    created_by: str
    latest_version: int | None = None
    aliases: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_name(self.name)
        if not self.owner.strip():
            raise ValidationError("owner must not be empty")

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dictionary."""
        return {
            "name": self.name,
            "owner": self.owner,
            "risk_tier": self.risk_tier.value,
            "intended_use": self.intended_use,
            "out_of_scope_use": self.out_of_scope_use,
            "description": self.description,
            "tags": dict(self.tags),
            "created_at": self.created_at.isoformat(),
            "created_by": self.created_by,
            "latest_version": self.latest_version,
            "aliases": dict(self.aliases),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Model:
        """Inverse of `to_dict`."""
        return cls(
            name=data["name"],
            owner=data["owner"],
            risk_tier=RiskTier(data["risk_tier"]),
            intended_use=data.get("intended_use", ""),
            out_of_scope_use=data.get("out_of_scope_use", ""),
            description=data.get("description", ""),
            tags=dict(data.get("tags", {})),
            created_at=datetime.fromisoformat(data["created_at"]),
            created_by=data["created_by"],
            latest_version=data.get("latest_version"),
            aliases={str(k): int(v) for k, v in data.get("aliases", {}).items()},
        )


@dataclass(frozen=True, kw_only=True)
class DatasetRef:
    """A dataset used by a version, by role (train / validation)."""

    role: str
    digest: str
    row_count: int
    columns: int

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dictionary."""
        return {
            "role": self.role,
            "digest": self.digest,
            "row_count": self.row_count,
            "columns": self.columns,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DatasetRef:
        """Inverse of `to_dict`."""
        return cls(
            role=data["role"],
            digest=data["digest"],
            row_count=int(data["row_count"]),
            columns=int(data["columns"]),
        )


@dataclass(frozen=True, kw_only=True)
class ModelVersion:
    """One immutable, registered version of a model with its lineage."""

    model: str
    version: int
    artifact_digest: str
    artifact_size: int
    flavor: str
    flavor_options: dict[str, Any]
    signature: dict[str, Any] | None
    datasets: tuple[DatasetRef, ...]
    code: dict[str, Any]
    environment: dict[str, Any]
    params: dict[str, Any]
    metrics: dict[str, Any]
    description: str = ""
    mlflow_run_id: str | None = None
    registrant: str
    created_at: datetime
    aliases: tuple[str, ...] = ()

    @property
    def ref(self) -> str:
        """Return ``name@version``."""
        return f"{self.model}@{self.version}"

    def __repr__(self) -> str:
        """Name the version, its flavor and artifact; the lineage is in `to_dict`."""
        aliases = f", aliases={self.aliases!r}" if self.aliases else ""
        return (
            f"ModelVersion({self.ref!r}, flavor={self.flavor!r}, "
            f"artifact={self.artifact_digest[:19]!r}{aliases})"
        )

    def record(self) -> dict[str, Any]:
        """Return the immutable part of the version, the part its ledger entry commits to."""
        return {
            "model": self.model,
            "version": self.version,
            "artifact_digest": self.artifact_digest,
            "artifact_size": self.artifact_size,
            "flavor": self.flavor,
            "flavor_options": self.flavor_options,
            "signature": self.signature,
            "datasets": {ref.role: ref.digest for ref in self.datasets},
            "code": self.code,
            "environment": self.environment,
            "params": self.params,
            "metrics": self.metrics,
            "description": self.description,
            "mlflow_run_id": self.mlflow_run_id,
            "registrant": self.registrant,
            "created_at": self.created_at.isoformat(),
        }

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dictionary (the record plus aliases and dataset details)."""
        out = self.record()
        out["datasets"] = [ref.to_dict() for ref in self.datasets]
        out["aliases"] = list(self.aliases)
        out["ref"] = self.ref
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelVersion:
        """Inverse of `to_dict`."""
        return cls(
            model=data["model"],
            version=int(data["version"]),
            artifact_digest=data["artifact_digest"],
            artifact_size=int(data["artifact_size"]),
            flavor=data["flavor"],
            flavor_options=dict(data["flavor_options"]),
            signature=data.get("signature"),
            datasets=tuple(DatasetRef.from_dict(item) for item in data.get("datasets", [])),
            code=dict(data.get("code", {})),
            environment=dict(data.get("environment", {})),
            params=dict(data.get("params", {})),
            metrics=dict(data.get("metrics", {})),
            description=data.get("description", ""),
            mlflow_run_id=data.get("mlflow_run_id"),
            registrant=data["registrant"],
            created_at=datetime.fromisoformat(data["created_at"]),
            aliases=tuple(data.get("aliases", ())),
        )


@dataclass(frozen=True, kw_only=True)
class LedgerEntry:
    """One entry of the ledger as stored."""

    seq: int
    time: str
    actor: str
    action: str
    subject: str
    payload: dict[str, Any]
    leaf_hash: str

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dictionary."""
        return {
            "seq": self.seq,
            "time": self.time,
            "actor": self.actor,
            "action": self.action,
            "subject": self.subject,
            "payload": self.payload,
            "leaf_hash": self.leaf_hash,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LedgerEntry:
        """Inverse of `to_dict`."""
        return cls(
            seq=int(data["seq"]),
            time=data["time"],
            actor=data["actor"],
            action=data["action"],
            subject=data["subject"],
            payload=dict(data["payload"]),
            leaf_hash=data["leaf_hash"],
        )
