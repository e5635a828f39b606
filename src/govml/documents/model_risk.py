"""The model-risk part of the model card and Annex IV: retirement, risk register, tickets.

`model_risk_record` reads it from the facts: the retirement from the ledger's
``model.retired`` entry (when, by whom, why, the ticket and the aliases it cleared), the risk
register's revisions (the latest in full, every one with its digest and ledger entry), and
the change tickets the ledger ties to approvals and promotions (``ticket.linked``), each
with its link when the facts carry a ticket URL pattern (``GOVML_TICKET_URL``).
`model_risk_blocks` lays it out for people.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from govml.documents import _common as common
from govml.documents.facts import ModelFacts
from govml.documents.outline import Block, Fields, Paragraph, Table
from govml.domain.model_risk import FIELDS
from govml.settings import ticket_link

RETIRED = "model.retired"
REVISED = "risk_register.revised"
TICKET_LINKED = "ticket.linked"
NO_REGISTER = "No risk register is recorded (govml risks set {model} --file RISKS.yaml)."


def model_risk_record(facts: ModelFacts) -> dict[str, Any]:
    """Return the retirement, the risk register and the tickets of the model, JSON-safe."""
    return {
        "retired": _retirement(facts),
        "risk_register": _register(facts),
        "tickets": _tickets(facts),
    }


def _link(facts: ModelFacts, ticket: str | None) -> str | None:
    if not ticket or facts.ticket_url is None:
        return None
    return ticket_link(ticket, facts.ticket_url)


def _retirement(facts: ModelFacts) -> dict[str, Any] | None:
    subject = f"model/{facts.model.name}"
    found = [e for e in facts.entries if e.action == RETIRED and e.subject == subject]
    if not found:
        return None
    entry = found[-1]
    payload = entry.payload
    ticket = payload.get("ticket")
    return {
        "retired_at": payload.get("retired_at") or entry.time,
        "retired_by": entry.actor,
        "reason": payload.get("reason") or "",
        "ticket": ticket,
        "ticket_url": _link(facts, ticket),
        "aliases": dict(payload.get("aliases") or {}),
        "ledger_entry": entry.seq,
    }


def _register(facts: ModelFacts) -> dict[str, Any] | None:
    revisions = facts.risk_registers
    if not revisions:
        return None
    entries = {
        int(e.payload.get("revision", 0)): e.seq for e in facts.entries if e.action == REVISED
    }
    latest = revisions[-1]
    return {
        "revision": latest["revision"],
        "digest": latest["digest"],
        "created_at": latest["created_at"],
        "created_by": latest["created_by"],
        "comment": latest["comment"],
        "ticket": latest["ticket"],
        "ticket_url": _link(facts, latest["ticket"]),
        "ledger_entry": entries.get(latest["revision"]),
        "risks": list(latest["risks"]),
        "revisions": [
            {
                "revision": r["revision"],
                "digest": r["digest"],
                "created_at": r["created_at"],
                "created_by": r["created_by"],
                "risks": len(r["risks"]),
                "open": sum(1 for risk in r["risks"] if risk.get("status") == "open"),
                "ticket": r["ticket"],
                "ticket_url": _link(facts, r["ticket"]),
                "ledger_entry": entries.get(r["revision"]),
            }
            for r in revisions
        ],
    }


def _tickets(facts: ModelFacts) -> list[dict[str, Any]]:
    """Return the tickets tied to approvals and promotions (and rollbacks), oldest first."""
    approvals = {a.id: a for a in facts.approvals if a.id is not None}
    changes = {c.id: c for c in facts.changes if c.id is not None}
    out = []
    for entry in facts.entries:
        if entry.action != TICKET_LINKED:
            continue
        kind = str(entry.payload.get("for") or "")
        record_id = entry.payload.get("id")
        ticket = str(entry.payload.get("ticket") or "")
        row: dict[str, Any] = {
            "ticket": ticket,
            "ticket_url": _link(facts, ticket),
            "for": kind,
            "id": record_id,
            "version": None,
            "what": kind,
            "actor": entry.actor,
            "time": entry.time,
            "ledger_entry": entry.seq,
        }
        if kind == "approval" and record_id in approvals:
            approval = approvals[record_id]
            row["version"] = approval.version
            row["what"] = f"{approval.decision} of version {approval.version}"
        elif record_id in changes:
            change = changes[record_id]
            row["version"] = change.version
            row["what"] = f"{change.action} of version {change.version} to {change.alias}"
        out.append(row)
    return out


def ticket_text(ticket: str | None, url: str | None) -> str:
    """Return a ticket as people read it: its id, and its link when one is known."""
    if not ticket:
        return "—"
    return f"{ticket} ({url})" if url else ticket


def retirement_blocks(retired: Mapping[str, Any] | None) -> list[Block]:
    """Return the retirement as fields (nothing when the model is in use)."""
    if retired is None:
        return []
    held = ", ".join(f"{a} (version {v})" for a, v in retired["aliases"].items()) or "none"
    return [
        Paragraph(
            "The model is retired: no version holds an alias and its gateways answer that "
            "it is retired; its versions, evaluations, approvals and ledger are kept."
        ),
        Fields(
            rows=[
                ("retired", common.day(retired["retired_at"])),
                ("by", retired["retired_by"]),
                ("reason", retired["reason"]),
                ("ticket", ticket_text(retired["ticket"], retired["ticket_url"])),
                ("aliases it held", held),
                ("ledger entry", str(retired["ledger_entry"])),
            ]
        ),
    ]


def model_risk_blocks(record: Mapping[str, Any], model: str) -> list[Block]:
    """Return the retirement, the risk register and the tickets as blocks."""
    return [
        *retirement_blocks(record["retired"]),
        *register_blocks(record["risk_register"], model),
        *ticket_blocks(record["tickets"]),
    ]


def register_blocks(register: Mapping[str, Any] | None, model: str) -> list[Block]:
    """Return the latest revision of the risk register in full and the list of revisions."""
    if register is None:
        return [Paragraph(NO_REGISTER.format(model=model))]
    ticket = register["ticket"]
    under = f"; ticket {ticket_text(ticket, register['ticket_url'])}" if ticket else ""
    comment = f" Comment: {register['comment']}" if register["comment"] else ""
    blocks: list[Block] = [
        Paragraph(
            f"Risk register revision {register['revision']} ({register['digest']}), by "
            f"{register['created_by']} on {common.day(register['created_at'])}, ledger "
            f"entry {register['ledger_entry']}{under}.{comment}"
        )
    ]
    rows = [tuple(r[name] for name in FIELDS) for r in register["risks"]]
    header = ("id", "risk", "likelihood", "impact", "mitigation", "owner", "status", "review date")
    blocks.append(Table(header=header, rows=rows))
    if len(register["revisions"]) > 1:
        revisions = [
            (
                str(r["revision"]),
                common.day(r["created_at"]),
                r["created_by"],
                f"{r['risks']} ({r['open']} open)",
                ticket_text(r["ticket"], r["ticket_url"]),
                str(r["ledger_entry"]),
            )
            for r in register["revisions"]
        ]
        blocks.append(
            Table(
                header=("revision", "date", "by", "risks", "ticket", "ledger entry"),
                rows=revisions,
                caption="Revisions of the risk register",
            )
        )
    return blocks


def ticket_blocks(tickets: list[Mapping[str, Any]]) -> list[Block]:
    """Return the change tickets tied to approvals and promotions."""
    if not tickets:
        return [Paragraph("No change ticket is recorded with an approval or promotion.")]
    rows = [
        (
            ticket_text(t["ticket"], t["ticket_url"]),
            t["what"],
            t["actor"],
            common.day(t["time"]),
            str(t["ledger_entry"]),
        )
        for t in tickets
    ]
    return [
        Table(
            header=("ticket", "for", "by", "date", "ledger entry"),
            rows=rows,
            caption="Change tickets of approvals and promotions",
        )
    ]
