"""Model-risk use cases: retirement, the risk register, revalidation.

`ModelRiskService.retire` clears a model's aliases, records who retired it, why and under which
ticket, and writes a ``model.retired`` ledger entry in the same transaction; the model's
versions, evaluations, approvals and ledger stay, and promotion is refused from then on.
`revise_register` stores a new revision of the model's risk register (``risk_register.revised``
with the revision's digest). `revalidation` says, for each version holding an alias, when it
was last validated (its latest evaluation) and when revalidation is due under the policy's
``revalidation`` section.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any, Final

from sqlalchemy.engine import Connection

from govml.domain.lifecycle import PRODUCTION, Permission
from govml.domain.model_risk import (
    parse_risks,
    register_digest,
    revalidation_status,
)
from govml.domain.records import LedgerEntry
from govml.errors import AlreadyExistsError, NotFoundError, ValidationError
from govml.services.access import authorize, precheck
from govml.services.context import ServiceContext
from govml.services.policy import policy_in_force
from govml.services.registry import model_subject
from govml.store import records, risk_records
from govml.store.ledger import NewEntry, append

RETIRED: Final = "model.retired"
REVISED: Final = "risk_register.revised"
_TICKET = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/#:-]{0,199}$")
MAX_REASON: Final = 2000


def check_ticket(ticket: str | None) -> str | None:
    """Return a ticket reference (``JIRA-123``, ``CHG0012345``) or raise naming the problem."""
    if ticket is None:
        return None
    if not _TICKET.match(ticket):
        raise ValidationError(
            f"ticket {ticket!r}: use letters, digits and . _ / # : - (up to 200), such as JIRA-123"
        )
    return ticket


class ModelRiskService:
    """Retirement, risk register and revalidation of governed models."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def retire(self, name: str, *, reason: str, ticket: str | None = None) -> dict[str, Any]:
        """Retire model ``name``: aliases cleared, the retirement recorded and ledgered."""
        reason = (reason or "").strip()
        if not reason:
            raise ValidationError("reason must not be empty: say why (--reason TEXT)")
        if len(reason) > MAX_REASON:
            raise ValidationError(f"reason is {len(reason)} characters; at most {MAX_REASON}")
        ticket = check_ticket(ticket)
        precheck(self.ctx, Permission.DEPLOY)
        now = self.ctx.clock()
        with self.ctx.store.write() as conn:
            authorize(conn, self.ctx, Permission.DEPLOY)
            mid = records.model_id(conn, name)
            earlier = risk_records.retirement(conn, mid)
            if earlier is not None:
                raise AlreadyExistsError(
                    f"model {name} was retired on {earlier['retired_at']} by "
                    f"{earlier['retired_by']}"
                )
            aliases = risk_records.clear_aliases(conn, mid)
            risk_records.insert_retirement(
                conn,
                mid=mid,
                at=now,
                by=self.ctx.actor,
                reason=reason,
                ticket=ticket,
                aliases=aliases,
            )
            payload = {
                "model": name,
                "reason": reason,
                "ticket": ticket,
                "aliases": aliases,
                "retired_at": now.isoformat(),
            }
            append(
                conn,
                actor=self.ctx.actor,
                now=now,
                entries=[NewEntry(action=RETIRED, subject=model_subject(name), payload=payload)],
            )
        return {**payload, "retired_by": self.ctx.actor}

    def retirement(self, name: str) -> dict[str, Any] | None:
        """Return the retirement of model ``name``, or None while it is in use."""
        precheck(self.ctx, Permission.READ)
        with self.ctx.store.read() as conn:
            return risk_records.retirement(conn, records.model_id(conn, name))

    def revise_register(
        self,
        name: str,
        risks: Any,
        *,
        comment: str = "",
        ticket: str | None = None,
        source: str = "risks",
    ) -> dict[str, Any]:
        """Store ``risks`` (validated) as the next revision of ``name``'s risk register."""
        parsed = parse_risks(risks, source=source)
        ticket = check_ticket(ticket)
        comment = (comment or "").strip()[:MAX_REASON]
        digest = register_digest(parsed)
        precheck(self.ctx, Permission.REGISTER)
        now = self.ctx.clock()
        with self.ctx.store.write() as conn:
            authorize(conn, self.ctx, Permission.REGISTER)
            mid = records.model_id(conn, name)
            revision = risk_records.latest_revision(conn, mid) + 1
            stored = [r.to_dict() for r in parsed]
            risk_records.insert_revision(
                conn,
                mid=mid,
                revision=revision,
                risks=stored,
                digest=digest,
                comment=comment,
                ticket=ticket,
                at=now,
                by=self.ctx.actor,
            )
            append(
                conn,
                actor=self.ctx.actor,
                now=now,
                entries=[
                    NewEntry(
                        action=REVISED,
                        subject=model_subject(name),
                        payload={
                            "model": name,
                            "revision": revision,
                            "digest": digest,
                            "risks": len(stored),
                            "open": sum(1 for r in parsed if r.status == "open"),
                            "ticket": ticket,
                        },
                    )
                ],
            )
        return {"model": name, "revision": revision, "digest": digest, "risks": stored}

    def register(self, name: str, *, revision: int | None = None) -> dict[str, Any]:
        """Return a revision of ``name``'s risk register (the latest by default)."""
        revisions = self.history(name)
        if not revisions:
            raise NotFoundError(f"model {name} has no risk register yet (govml risks set)")
        if revision is None:
            return revisions[-1]
        for item in revisions:
            if item["revision"] == revision:
                return item
        raise NotFoundError(f"{name} has no risk register revision {revision} (1-{len(revisions)})")

    def history(self, name: str) -> list[dict[str, Any]]:
        """Return every revision of ``name``'s risk register, oldest first."""
        precheck(self.ctx, Permission.READ)
        with self.ctx.store.read() as conn:
            return risk_records.register_revisions(conn, records.model_id(conn, name))

    def revalidation(self, name: str) -> dict[str, Any]:
        """Return the revalidation state of each version of ``name`` that holds an alias."""
        precheck(self.ctx, Permission.READ)
        now = self.ctx.clock()
        with self.ctx.store.read() as conn:
            model = records.load_model(conn, name)
            mid = records.model_id(conn, name)
            stored = policy_in_force(conn, model.risk_tier.value)
            rule = stored.policy.revalidation if stored is not None else None
            held = [(v.version, v.aliases) for v in records.list_versions(conn, name) if v.aliases]
            times = {n: risk_records.latest_evaluation_time(conn, mid, n) for n, _ in held}
        out: dict[str, Any] = {
            "model": name,
            "policy": None if stored is None else stored.name,
            "every": None if rule is None else rule.every,
            "warn_before": None if rule is None else rule.warn_before,
            "versions": [],
        }
        for number, aliases in held:
            entry: dict[str, Any] = {"version": number, "aliases": list(aliases)}
            if rule is not None:
                entry |= revalidation_status(
                    times[number], every=rule.period, warn_before=rule.warning, now=now
                ).to_dict()
            out["versions"].append(entry)
        return out


def promotion_refusal(
    conn: Connection, *, mid: int, model: str, version: int, alias: str, now: datetime
) -> str | None:
    """Return why the model-risk rules refuse moving ``alias`` to a version, or None.

    A retired model takes no alias. ``production`` is refused to a version whose last
    validation (its latest evaluation) is older than the policy's ``revalidation.every`` when
    ``block_promotion`` holds: a new evaluation and the approvals bound to it are needed.
    """
    retired = risk_records.retirement(conn, mid)
    if retired is not None:
        return f"model {model} was retired on {retired['retired_at']}: {retired['reason']}"
    if alias != PRODUCTION:
        return None
    stored = policy_in_force(conn, records.load_model(conn, model).risk_tier.value)
    rule = stored.policy.revalidation if stored is not None else None
    if rule is None or not rule.block_promotion:
        return None
    status = revalidation_status(
        risk_records.latest_evaluation_time(conn, mid, version),
        every=rule.period,
        warn_before=rule.warning,
        now=now,
    )
    if status.state != "overdue":
        return None
    assert status.due_at is not None
    return (
        f"revalidation of {model}@{version} was due on {status.due_at:%Y-%m-%d} "
        f"(policy revalidation.every {rule.every}): evaluate it again and get it approved"
    )


def retirement_from_entries(entries: Iterable[LedgerEntry], name: str) -> dict[str, Any] | None:
    """Return model ``name``'s retirement as its ``model.retired`` ledger entry records it.

    For a client of a server, which reads the ledger rather than the store's records.
    """
    found = None
    for entry in entries:
        if entry.action == RETIRED and entry.subject == model_subject(name):
            found = entry
    if found is None:
        return None
    payload = dict(found.payload)
    return {
        "retired_at": payload.get("retired_at") or found.time,
        "retired_by": found.actor,
        "reason": payload.get("reason") or "",
        "ticket": payload.get("ticket"),
        "aliases": dict(payload.get("aliases") or {}),
    }


TICKET_LINKED: Final = "ticket.linked"


def ticket_entry(*, subject: str, ticket: str, kind: str, record_id: int | None) -> NewEntry:
    """Return the ``ticket.linked`` ledger entry tying a change ticket to a decision.

    Written in the transaction of the approval or promotion it is about (``kind``).
    """
    return NewEntry(
        action=TICKET_LINKED,
        subject=subject,
        payload={"ticket": ticket, "for": kind, "id": record_id},
    )


def revalidation_notes(ctx: ServiceContext, name: str) -> list[str]:
    """Return the monitoring run's notes on the revalidation of ``name``'s aliased versions."""
    found = ModelRiskService(ctx).revalidation(name)
    out = []
    for entry in found["versions"]:
        state = entry.get("state")
        ref = f"{name}@{entry['version']} ({', '.join(entry['aliases'])})"
        if state == "due_soon":
            out.append(f"revalidation of {ref} is due on {entry['due_at'][:10]}")
        elif state == "overdue":
            out.append(
                f"revalidation of {ref} is overdue since {entry['due_at'][:10]}: evaluate and "
                "approve it again"
            )
        elif state == "never_validated":
            out.append(f"{ref} has never been evaluated: revalidation cannot be dated")
    return out
