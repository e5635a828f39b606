"""Announce approval requests and decisions where people look (Slack, Teams, a webhook).

`NotificationService.relay` reads the ledger after a cursor: a passing ``evaluation.recorded``
of a version whose policy asks for approvals becomes an approval request naming the people
who may approve it (active users in the policy's approving roles, less the registrant under
separation of duties, less those who decided already); ``version.approved`` /
``version.rejected`` / ``alias.promoted`` / ``alias.rolled_back`` become decision messages. Each
goes to the ``approvals.notify`` webhook of the policy in force for the model's tier, in its
``format``. Every relay that sent something writes a ``notify.relayed`` ledger entry with each
delivery (event, subject, body digest, delivered or not). A failed delivery stops the relay
there, so the next run (from the returned cursor) sends it again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Connection

from govml.domain.lifecycle import ROLE_PERMISSIONS, Permission, Role
from govml.domain.records import LedgerEntry, VersionRef
from govml.integrations.notify import (
    Message,
    approval_request_message,
    decision_message,
    render,
)
from govml.monitoring.webhook import Delivery, deliver, secret_from_env
from govml.policy.sections import Notify
from govml.services.access import authorize, precheck
from govml.services.context import ServiceContext
from govml.services.policy import policy_in_force
from govml.services.registry import model_subject
from govml.store import access_records, lifecycle_records, records
from govml.store.ledger import NewEntry, append, iter_entries

RELAYED = "notify.relayed"
ACTIONS = (
    "evaluation.recorded",
    "version.approved",
    "version.rejected",
    "alias.promoted",
    "alias.rolled_back",
)


@dataclass(frozen=True, kw_only=True)
class Relayed:
    """What a relay sent and where the next one starts."""

    deliveries: list[dict[str, Any]] = field(default_factory=list)
    cursor: int | None = None
    failed: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON shape of ``govml notify relay --json``."""
        return {"cursor": self.cursor, "failed": self.failed, "deliveries": self.deliveries}


class NotificationService:
    """Approval requests and decisions sent to the webhook the policy names."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def relay(self, *, after: int | None = None, model: str | None = None) -> Relayed:
        """Send the messages of ledger entries after ``after`` (see the module docstring)."""
        precheck(self.ctx, Permission.READ)
        with self.ctx.store.read() as conn:
            entries = list(iter_entries(conn, model=model, actions=ACTIONS, after=after))
            planned = [(e, *self._plan(conn, e)) for e in entries]
        deliveries: list[dict[str, Any]] = []
        cursor, failed = after, False
        for entry, notify, message in planned:
            if notify is not None and message is not None:
                body = render(notify.format, message)
                sent = deliver(
                    notify.webhook, message.event, body, secret_from_env(notify.secret_env)
                )
                deliveries.append(_record(entry, sent, notify.format))
                if not sent.ok:
                    failed = True
                    break
            cursor = entry.seq
        if deliveries:
            with self.ctx.store.write() as conn:
                authorize(conn, self.ctx, Permission.READ)
                subject = model_subject(model) if model else "notifications"
                append(
                    conn,
                    actor=self.ctx.actor,
                    now=self.ctx.clock(),
                    entries=[
                        NewEntry(
                            action=RELAYED,
                            subject=subject,
                            payload={"deliveries": deliveries, "cursor": cursor},
                        )
                    ],
                )
        return Relayed(deliveries=deliveries, cursor=cursor, failed=failed)

    def _plan(self, conn: Connection, entry: LedgerEntry) -> tuple[Notify | None, Message | None]:
        name = entry.subject.split("/")[1]
        model = records.load_model(conn, name)
        stored = policy_in_force(conn, model.risk_tier.value)
        rules = stored.policy.approvals if stored is not None else None
        if rules is None or rules.notify is None:
            return None, None
        if entry.action != "evaluation.recorded":
            return rules.notify, decision_message(entry.action, entry.subject, entry.payload)
        if entry.payload.get("status") != "pass" or rules.required == 0:
            return None, None
        number = int(entry.subject.rpartition("/")[2])
        mid = records.model_id(conn, name)
        decisions = lifecycle_records.approvals_of(conn, mid, name, number)
        decided = {a.actor for a in decisions}
        have = sum(1 for a in decisions if a.decision == "approve")
        registrant = _registrant(conn, name, number)
        approvers = sorted(
            user.name
            for user in access_records.list_users(conn)
            if user.active
            and user.name not in decided
            and not (rules.separation_of_duties and user.name == registrant)
            and _may_approve(user.roles, list(rules.roles))
        )
        message = approval_request_message(
            ref=f"{name}@{number}",
            approvers=approvers,
            roles=list(rules.roles),
            required=rules.required,
            have=have,
            evaluation=entry.payload,
        )
        return rules.notify, message


def _may_approve(held: tuple[Role, ...], wanted: list[str]) -> bool:
    """Whether someone holding ``held`` may approve under a policy accepting ``wanted``."""
    return any(
        Permission.APPROVE in ROLE_PERMISSIONS.get(role, frozenset())
        and (not wanted or role.value in wanted)
        for role in held
    )


def _registrant(conn: Connection, name: str, number: int) -> str:
    return records.load_version(conn, VersionRef.parse(f"{name}@{number}")).registrant


def _record(entry: LedgerEntry, sent: Delivery, style: str) -> dict[str, Any]:
    return {
        "seq": entry.seq,
        "action": entry.action,
        "subject": entry.subject,
        "event": sent.event,
        "format": style,
        "url": sent.url,
        "delivered": sent.ok,
        "body_sha256": sent.body_sha256,
        "summary": sent.summary,
    }
