"""Stored policies and the outcome of applying one."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from govml.policy.diagnostics import Diagnostic
from govml.policy.schema import Policy


@dataclass(frozen=True, kw_only=True)
class StoredPolicy:
    """One stored version of a policy.

    ``in_force_for`` lists the risk tiers this version governs now: the tiers it names,
    unless another policy has since been applied for some of them with ``replace``.
    """

    name: str
    version: int
    latest_version: int
    digest: str
    policy: Policy
    source: str
    source_name: str
    created_at: datetime
    created_by: str
    in_force_for: tuple[str, ...] = ()

    @property
    def tiers(self) -> tuple[str, ...]:
        """The tiers the policy names."""
        return tuple(self.policy.tiers)

    def to_dict(self, *, with_document: bool = True) -> dict[str, Any]:
        """Return a JSON-safe dictionary: the record, then the validated document and YAML."""
        out: dict[str, Any] = {
            "name": self.name,
            "version": self.version,
            "latest_version": self.latest_version,
            "digest": self.digest,
            "tiers": list(self.tiers),
            "in_force_for": list(self.in_force_for),
            "description": self.policy.metadata.description,
            "owner": self.policy.metadata.owner,
            "source_name": self.source_name,
            "created_at": self.created_at.isoformat(),
            "created_by": self.created_by,
        }
        if with_document:
            out["document"] = self.policy.document()
            out["source"] = self.source
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StoredPolicy:
        """Inverse of ``to_dict(with_document=True)``: the document is validated again."""
        return cls(
            name=data["name"],
            version=int(data["version"]),
            latest_version=int(data["latest_version"]),
            digest=data["digest"],
            policy=Policy.model_validate(data["document"]),
            source=data["source"],
            source_name=data["source_name"],
            created_at=datetime.fromisoformat(data["created_at"]),
            created_by=data["created_by"],
            in_force_for=tuple(data.get("in_force_for", ())),
        )


@dataclass(frozen=True, kw_only=True)
class PolicyApplied:
    """What `apply` did.

    ``new_version`` is False when the policy's content equals its newest stored version;
    ``changed`` is False when nothing at all was written (same content, same tiers in
    force). ``replaced`` maps each tier taken over to the policy that governed it before;
    ``released`` lists the tiers this policy governed before and no longer names.
    """

    policy: StoredPolicy
    new_version: bool
    changed: bool
    replaced: dict[str, str] = field(default_factory=dict)
    released: tuple[str, ...] = ()
    notes: tuple[Diagnostic, ...] = ()

    def summary(self) -> str:
        """Return one line saying what happened."""
        stored = self.policy
        head = f"policy {stored.name} version {stored.version} ({stored.digest})"
        if not self.changed:
            return f"{head} is unchanged and already in force; nothing was stored"
        verb = "stored" if self.new_version else "unchanged content"
        text = f"{head}: {verb}, in force for {', '.join(stored.in_force_for)}"
        if self.replaced:
            before: dict[str, list[str]] = {}
            for tier, previous in self.replaced.items():
                before.setdefault(previous, []).append(tier)
            text += "; replaces " + ", ".join(f"{p} ({', '.join(t)})" for p, t in before.items())
        if self.released:
            text += "; no longer governs " + ", ".join(self.released)
        return text

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dictionary."""
        return {
            "name": self.policy.name,
            "version": self.policy.version,
            "digest": self.policy.digest,
            "new_version": self.new_version,
            "changed": self.changed,
            "in_force_for": list(self.policy.in_force_for),
            "replaced": dict(self.replaced),
            "released": list(self.released),
            "notes": [note.to_dict() for note in self.notes],
        }
