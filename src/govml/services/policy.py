"""Policy use cases: apply a policy (a new version when its content changed), read them back.

A policy governs the risk tiers it names, and each tier has at most one policy in force (the
primary key of ``policy_tiers``). Applying a policy for a tier that another policy governs
is refused unless ``replace=True`` (``--replace``): replacing a risk officer's policy must be
a decision, not a side effect. Applying a new version of the same policy moves its tiers to
the new version and releases the tiers it no longer names.

Each apply that changes anything writes one ``policy.applied`` ledger entry in the same
transaction: ``{name, version, digest, source_digest, tiers, replaced, released}``.
`verify_policy_records` replays those entries for ``govml audit verify``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from os import PathLike
from typing import Any

from sqlalchemy.engine import Connection

from govml.domain.lifecycle import Permission
from govml.domain.records import RiskTier
from govml.errors import IntegrityError, NotFoundError, PolicyError
from govml.policy import LoadedPolicy, Policy, load_policy
from govml.policy.records import PolicyApplied, StoredPolicy
from govml.policy.vocabulary import TIERS
from govml.services.access import authorize
from govml.services.context import ServiceContext
from govml.store import policy_records as records
from govml.store.ledger import NewEntry, append, iter_entries
from govml.store.policy_records import PolicyRow

APPLIED = "policy.applied"


def policy_subject(name: str) -> str:
    """Return the ledger subject of a policy."""
    return f"policy/{name}"


def text_digest(text: str) -> str:
    """Return ``sha256:<hex>`` of a text's UTF-8 bytes."""
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def _ordered(tiers: Iterable[str]) -> list[str]:
    wanted = set(tiers)
    return [tier for tier in TIERS if tier in wanted]


class PolicyService:
    """Apply, show and list policies."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def apply(
        self, policy: LoadedPolicy | str | PathLike[str], *, replace: bool = False
    ) -> PolicyApplied:
        """Put a policy in force for the tiers it names.

        Parameters
        ----------
        policy
            A validated policy, or the path of a policy file.
        replace
            Take over tiers that another policy governs. Without it, such an apply is
            refused and nothing is stored.

        Raises
        ------
        InvalidPolicyError
            When the file does not validate.
        PolicyError
            When a tier is governed by another policy and ``replace`` is False.
        """
        loaded = policy if isinstance(policy, LoadedPolicy) else load_policy(policy)
        name, tiers = loaded.name, _ordered(loaded.policy.tiers)
        now = self.ctx.clock()
        with self.ctx.store.write() as conn:
            authorize(conn, self.ctx, Permission.ADMINISTER)
            newest = records.latest(conn, name)
            in_force = records.tiers_in_force(conn)
            others = {
                t: in_force[t].name for t in tiers if t in in_force and in_force[t].name != name
            }
            if others and not replace:
                raise _conflict(name, others, in_force)
            new_version = newest is None or newest.digest != loaded.digest
            row = newest
            if row is None or new_version:
                row = records.insert(
                    conn,
                    name=name,
                    version=1 if newest is None else newest.version + 1,
                    digest=loaded.digest,
                    content=loaded.policy.canonical().decode("utf-8"),
                    source=loaded.text,
                    source_name=loaded.source,
                    now=now,
                    actor=self.ctx.actor,
                )
            released = [t for t, held in in_force.items() if held.name == name and t not in tiers]
            moved = [t for t in tiers if t not in in_force or in_force[t].id != row.id]
            changed = new_version or bool(moved or released)
            for tier in moved:
                records.set_tier(conn, tier, row.id, now=now, actor=self.ctx.actor)
            for tier in released:
                records.release_tier(conn, tier)
            if changed:
                payload = {
                    "name": name,
                    "version": row.version,
                    "digest": row.digest,
                    "source_digest": text_digest(row.source),
                    "tiers": tiers,
                    "replaced": others,
                    "released": _ordered(released),
                }
                entry = NewEntry(action=APPLIED, subject=policy_subject(name), payload=payload)
                append(conn, actor=self.ctx.actor, now=now, entries=[entry])
            stored = _stored(conn, row)
        return PolicyApplied(
            policy=stored,
            new_version=new_version,
            changed=changed,
            replaced=others,
            released=tuple(_ordered(released)),
            notes=loaded.notes,
        )

    def get(
        self, name: str | None = None, *, tier: str | None = None, version: int | None = None
    ) -> StoredPolicy:
        """Return a stored policy: by name, or the one in force for ``tier``.

        Parameters
        ----------
        name
            The policy's name.
        tier
            A risk tier: the policy in force for it (instead of ``name``).
        version
            Which version of that policy (default: its newest, or the one in force).

        Raises
        ------
        NotFoundError
            For an unknown policy or version, or a tier no policy governs.
        """
        if (name is None) == (tier is None):
            raise PolicyError("give a policy name or a tier, not both or neither")
        with self.ctx.store.read() as conn:
            if tier is not None:
                held = _in_force(conn, tier)
                if held is None:
                    raise NotFoundError(
                        f"no policy governs tier {RiskTier.parse(tier).value!r}",
                        hint="apply one with `govml policy apply FILE`",
                    )
                name = held.name
                version = held.version if version is None else version
            assert name is not None
            return _stored(conn, records.load(conn, name, version))

    def for_tier(self, tier: str) -> StoredPolicy | None:
        """Return the policy in force for risk tier ``tier``, or None when none governs it."""
        with self.ctx.store.read() as conn:
            return policy_in_force(conn, tier)

    def list_policies(self) -> list[StoredPolicy]:
        """Return the newest version of every policy, by name."""
        with self.ctx.store.read() as conn:
            return [_stored(conn, records.load(conn, name)) for name in records.names(conn)]


def policy_in_force(conn: Connection, tier: str) -> StoredPolicy | None:
    """Return the policy in force for risk tier ``tier`` (inside a transaction), or None."""
    held = _in_force(conn, tier)
    return None if held is None else _stored(conn, held)


def _in_force(conn: Connection, tier: str) -> PolicyRow | None:
    return records.tiers_in_force(conn).get(RiskTier.parse(tier).value)


def _stored(conn: Connection, row: PolicyRow) -> StoredPolicy:
    newest = records.latest(conn, row.name)
    assert newest is not None
    in_force = records.tiers_in_force(conn)
    return StoredPolicy(
        name=row.name,
        version=row.version,
        latest_version=newest.version,
        digest=row.digest,
        policy=_parse_stored(row),
        source=row.source,
        source_name=row.source_name,
        created_at=row.created_at,
        created_by=row.created_by,
        in_force_for=tuple(_ordered(t for t, held in in_force.items() if held.id == row.id)),
    )


def _parse_stored(row: PolicyRow) -> Policy:
    try:
        return Policy.model_validate_json(row.content)
    except ValueError:
        raise IntegrityError(
            f"stored policy {row.name} version {row.version} no longer validates",
            hint="run `govml audit verify`",
        ) from None


def _conflict(name: str, others: dict[str, str], in_force: dict[str, PolicyRow]) -> PolicyError:
    held: dict[str, list[str]] = {}
    for tier, other in others.items():
        held.setdefault(other, []).append(tier)
    text = "; ".join(
        f"policy {other!r} (version {in_force[tiers[0]].version}) governs {', '.join(tiers)}"
        for other, tiers in held.items()
    )
    return PolicyError(
        f"{text}; nothing was applied",
        hint=f"apply with --replace (SDK: replace=True) to put {name!r} in force instead",
    )


def verify_policy_records(conn: Connection) -> int:
    """Check the stored policies and the tiers in force against the ledger's history.

    Replays every ``policy.applied`` entry and compares the result with the ``policies``
    and ``policy_tiers`` tables, so a policy or a tier assignment changed by raw SQL is
    caught. Returns the number of stored policy versions.

    Raises
    ------
    IntegrityError
        Naming the first policy version or tier that differs from the ledger.
    """
    # 1. Replay: the digest of each (name, version), and which version governs each tier.
    expected: dict[tuple[str, int], dict[str, Any]] = {}
    tiers: dict[str, tuple[str, int]] = {}
    for entry in iter_entries(conn, action=APPLIED):
        payload = entry.payload
        key = (payload["name"], payload["version"])
        seen = expected.setdefault(key, {**payload, "seq": entry.seq})
        if seen["digest"] != payload["digest"]:
            raise IntegrityError(
                f"ledger entries {seen['seq']} and {entry.seq} disagree on the digest of "
                f"policy {key[0]} version {key[1]}"
            )
        for tier in [t for t, held in tiers.items() if held[0] == key[0]]:
            del tiers[tier]
        tiers.update({tier: key for tier in payload["tiers"]})

    # 2. Every stored version matches the entry that applied it, and nothing is missing.
    count = 0
    for row in records.all_versions(conn):
        count += 1
        _check_version(row, expected.pop((row.name, row.version), None))
    if expected:
        name, version = next(iter(expected))
        raise IntegrityError(
            f"policy {name} version {version} is in the ledger but missing from the database"
        )

    # 3. The tiers in force are those the ledger's history leaves.
    stored = {tier: (row.name, row.version) for tier, row in records.tiers_in_force(conn).items()}
    for tier in _ordered(set(stored) | set(tiers)):
        if stored.get(tier) != tiers.get(tier):
            raise IntegrityError(
                f"tier {tier!r} is governed by {_held(stored.get(tier))} in the database but "
                f"by {_held(tiers.get(tier))} per the ledger"
            )
    return count


def _check_version(row: PolicyRow, applied: dict[str, Any] | None) -> None:
    what = f"policy {row.name} version {row.version}"
    if applied is None:
        raise IntegrityError(f"{what} has no {APPLIED} ledger entry")
    seq = applied["seq"]
    content = "sha256:" + hashlib.sha256(row.content.encode("utf-8")).hexdigest()
    for part, value, wanted in (
        ("recorded digest is", row.digest, applied["digest"]),
        ("content hashes to", content, applied["digest"]),
        ("YAML source hashes to", text_digest(row.source), applied["source_digest"]),
    ):
        if value != wanted:
            raise IntegrityError(
                f"{what} was changed after it was applied: its {part} {value}, "
                f"ledger entry {seq} says {wanted}"
            )
    if _ordered(_parse_stored(row).tiers) != applied["tiers"]:
        raise IntegrityError(f"{what} names other tiers than ledger entry {seq}")


def _held(holder: tuple[str, int] | None) -> str:
    return "no policy" if holder is None else f"policy {holder[0]} version {holder[1]}"
