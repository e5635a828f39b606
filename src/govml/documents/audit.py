"""The audit report: a model's chain of custody, every step proven to be in the ledger.

The chain runs commit → data → training → artifact → evaluation → approvals → deployments →
alerts → rollbacks (and the model's records and card revisions before it). Each step cites
the ledger entry that records it; each entry comes with its exact bytes (the leaf data), its
leaf hash and an RFC 6962 inclusion proof against a checkpoint: the latest *signed*
checkpoint when there is one, else the current tree head (unsigned: it proves the entries
are in the tree this store holds now, not that the log's key vouched for it). Entries newer
than the signed checkpoint are proven against the current tree head, and a consistency proof
shows that tree head extends the signed checkpoint. The service verifies every proof before
the report is written; anyone can check them again offline with the RFC's algorithms.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from govml.documents import _common as common
from govml.documents.outline import Block, Code, Fields, Outline, Paragraph, Section, Table
from govml.domain.records import LedgerEntry
from govml.reports._format import format_value

SCHEMA = "govml.audit-report/v1"

STEPS: tuple[tuple[str, str], ...] = (
    ("model", "Model records and card revisions"),
    ("commit", "Code commit"),
    ("data", "Data"),
    ("training", "Training (lineage, parameters, environment)"),
    ("artifact", "Artifact"),
    ("evaluation", "Evaluations"),
    ("approvals", "Approvals"),
    ("deployments", "Deployments (promotions, serving set-up)"),
    ("alerts", "Alerts (monitoring)"),
    ("rollbacks", "Rollbacks"),
)
"""The steps of the chain of custody, in order, with their titles."""

AnchorKind = Literal["signed_checkpoint", "tree_head"]


@dataclass(frozen=True, kw_only=True)
class Anchor:
    """A tree an inclusion proof leads to: a signed checkpoint or the current tree head."""

    kind: AnchorKind
    origin: str
    tree_size: int
    root_hash: str
    created_at: str
    signed_note: str | None = None
    key: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dictionary."""
        return {
            "kind": self.kind,
            "origin": self.origin,
            "tree_size": self.tree_size,
            "root_hash": self.root_hash,
            "created_at": self.created_at,
            "signed_note": self.signed_note,
            "key": self.key,
        }


@dataclass(frozen=True, kw_only=True)
class ProvenEntry:
    """A ledger entry, its exact leaf data and its inclusion proof against an anchor."""

    entry: LedgerEntry
    data: str
    proof: tuple[str, ...]
    anchor: AnchorKind


@dataclass(frozen=True, kw_only=True)
class AuditFacts:
    """What the audit report is built from (see the module docstring)."""

    model: str
    since: str | None
    entries: list[ProvenEntry]
    checkpoint: Anchor | None
    tree_head: Anchor
    consistency: tuple[str, ...] | None
    generated_at: datetime


def steps_of(entry: LedgerEntry) -> list[str]:
    """Return the chain steps a ledger entry records (a registration records three)."""
    action = entry.action
    if action == "version.registered":
        return ["commit", "training", "artifact"]
    if action == "dataset.recorded":
        return ["data"]
    if action == "evaluation.recorded":
        return ["evaluation"]
    if action in ("version.approved", "version.rejected"):
        return ["approvals"]
    if action in ("alias.promoted", "serving.configured"):
        return ["deployments"]
    if action == "alias.rolled_back" or (
        action.startswith("monitoring.") and "rollback" in action.replace("_", "")
    ):
        return ["rollbacks"]
    if action.startswith("monitoring."):
        return ["alerts"]
    return ["model"]


def summary(entry: LedgerEntry, step: str) -> str:
    """Say in one line what an entry records for a step."""
    p = entry.payload
    action = entry.action
    if action == "version.registered":
        ref = f"{p.get('model')}@{p.get('version')}"
        if step == "commit":
            commit = p.get("git_commit")
            dirty = " with uncommitted changes" if p.get("git_dirty") else ""
            return f"{ref} from git {commit}{dirty}" if commit else f"{ref}: no git commit"
        if step == "training":
            data = ", ".join(
                f"{role} {digest}" for role, digest in (p.get("datasets") or {}).items()
            )
            return (
                f"{ref} trained on {data or 'no recorded data'}; environment "
                f"{p.get('lock_digest')}; record {p.get('record_digest')}"
            )
        return f"{ref} artifact {p.get('artifact_digest')} ({p.get('flavor')})"
    if action == "dataset.recorded":
        return (
            f"dataset {p.get('digest')}, {p.get('row_count')} rows, first seen as "
            f"{p.get('first_seen_as')}"
        )
    if action == "evaluation.recorded":
        return (
            f"evaluation {p.get('id')}: {p.get('status')} (policy {p.get('policy_digest')}, "
            f"data {p.get('data_digest')}, document {p.get('document_digest')})"
        )
    if action in ("version.approved", "version.rejected"):
        return (
            f"{entry.actor} ({p.get('role')}) {p.get('decision')}d {p.get('model')}@"
            f"{p.get('version')}: {p.get('comment')}"
        )
    if action == "alias.promoted":
        approvals = ", ".join(p.get("approvals") or []) or "none"
        return (
            f"{p.get('model')}@{p.get('version')} to {p.get('alias')} "
            f"(was {_version_or_none(p.get('previous'))}); "
            f"evaluation {p.get('evaluation_id')}, approvals {approvals}; {p.get('reason') or ''}"
        ).rstrip("; ")
    if action == "alias.rolled_back":
        return (
            f"{p.get('alias')} back to {p.get('model')}@{p.get('version')} (from "
            f"{p.get('previous')}): {p.get('reason')}"
        )
    if action == "serving.configured":
        share = f", share {p.get('share')}" if p.get("share") is not None else ""
        return f"challenger {p.get('mode')}{share}"
    if action == "model.card_updated":
        return f"card revision {p.get('revision')}: {', '.join(p.get('changed') or [])}"
    if action == "model.created":
        return f"model {p.get('name')} created (tier {p.get('risk_tier')}, owner {p.get('owner')})"
    if action.startswith("monitoring."):
        return common.monitoring_text(action, p)
    return f"{action}: {format_value(p)}"


def _version_or_none(version: Any) -> str:
    return "no version" if version is None else f"version {version}"


def build_audit(facts: AuditFacts) -> dict[str, Any]:
    """Return the audit report as a JSON-safe document."""
    chain: dict[str, list[dict[str, Any]]] = {step: [] for step, _ in STEPS}
    entries = []
    for proven in facts.entries:
        entry = proven.entry
        for step in steps_of(entry):
            chain[step].append(
                {
                    "seq": entry.seq,
                    "time": entry.time,
                    "actor": entry.actor,
                    "action": entry.action,
                    "subject": entry.subject,
                    "summary": summary(entry, step),
                }
            )
        anchor = facts.checkpoint if proven.anchor == "signed_checkpoint" else facts.tree_head
        assert anchor is not None
        entries.append(
            {
                "seq": entry.seq,
                "leaf_hash": entry.leaf_hash,
                "entry": proven.data,
                "inclusion_proof": list(proven.proof),
                "proven_against": proven.anchor,
                "tree_size": anchor.tree_size,
                "root_hash": anchor.root_hash,
            }
        )
    return {
        "schema": SCHEMA,
        "model": facts.model,
        "since": facts.since,
        "checkpoint": None if facts.checkpoint is None else facts.checkpoint.to_dict(),
        "tree_head": facts.tree_head.to_dict(),
        "consistency_proof": None if facts.consistency is None else list(facts.consistency),
        "proven_against": "signed_checkpoint" if facts.checkpoint is not None else "tree_head",
        "chain": [{"step": step, "title": title, "items": chain[step]} for step, title in STEPS],
        "entries": entries,
        "verification": VERIFICATION,
        "provenance": {"generated_at": facts.generated_at.isoformat()},
    }


VERIFICATION = (
    "For each entry: leaf = SHA-256(0x00 || UTF-8 bytes of 'entry'); it must equal "
    "'leaf_hash', and the RFC 9162 §2.1.3.2 inclusion check of 'inclusion_proof' at index "
    "'seq' in a tree of 'tree_size' must give 'root_hash'. The signed checkpoint's note is "
    "checked with the log's public key (`govml audit key`); the consistency proof (RFC 9162 "
    "§2.1.4.2) shows the current tree head extends it."
)


def outline_audit(report: Mapping[str, Any]) -> Outline:
    """Return the reading form of the audit report."""
    checkpoint, head = report["checkpoint"], report["tree_head"]
    if checkpoint is not None:
        anchor_text = (
            f"the latest signed checkpoint (size {checkpoint['tree_size']}, key "
            f"{checkpoint['key']})"
        )
    else:
        anchor_text = (
            f"the current tree head (size {head['tree_size']}): no checkpoint is signed yet, "
            "so no key vouches for it; run `govml audit checkpoint`"
        )
    late = [e for e in report["entries"] if e["proven_against"] == "tree_head"]
    facts = [
        ("model", str(report["model"])),
        ("since", str(report["since"] or "the beginning")),
        ("entries", str(len(report["entries"]))),
        ("proven against", anchor_text),
        ("generated", common.day(report["provenance"]["generated_at"])),
    ]
    sections = []
    for step in report["chain"]:
        items = step["items"]
        if items:
            rows = [
                (str(i["seq"]), common.day(i["time"]), str(i["actor"]), str(i["summary"]))
                for i in items
            ]
            blocks: list[Block] = [Table(header=("entry", "time", "by", "what"), rows=rows)]
        else:
            empty = "no alerts recorded" if step["step"] == "alerts" else "nothing recorded"
            blocks = [Paragraph(f"{empty.capitalize()}.")]
        sections.append(Section(title=step["title"], blocks=blocks))
    anchor_blocks: list[Block] = []
    if checkpoint is not None:
        anchor_blocks += [
            Fields(
                rows=[
                    ("origin", checkpoint["origin"]),
                    ("tree size", str(checkpoint["tree_size"])),
                    ("root hash", checkpoint["root_hash"]),
                    ("key", str(checkpoint["key"])),
                ]
            ),
            Paragraph("Signed note (C2SP checkpoint):"),
            Code(str(checkpoint["signed_note"])),
        ]
    head_rows = [
        ("tree size", str(head["tree_size"])),
        ("root hash", head["root_hash"]),
        ("created", str(head["created_at"])),
    ]
    anchor_blocks += [Paragraph("Current tree head (unsigned):"), Fields(rows=head_rows)]
    if report["consistency_proof"] is not None and checkpoint is not None:
        anchor_blocks.append(
            Paragraph(
                f"Consistency proof from size {checkpoint['tree_size']} to "
                f"{head['tree_size']}: " + (" ".join(report["consistency_proof"]) or "empty")
            )
        )
    if late and checkpoint is not None:
        anchor_blocks.append(
            Paragraph(
                f"{len(late)} entries are newer than the signed checkpoint: they are proven "
                "against the current tree head."
            )
        )
    proof_rows = [
        (
            str(e["seq"]),
            e["leaf_hash"],
            "signed checkpoint" if e["proven_against"] == "signed_checkpoint" else "tree head",
            str(e["tree_size"]),
            " ".join(e["inclusion_proof"]) or "(empty: the tree is this leaf)",
        )
        for e in report["entries"]
    ]
    sections += [
        Section(title="Checkpoint", blocks=anchor_blocks),
        Section(
            title="Inclusion proofs",
            blocks=[
                Paragraph(report["verification"]),
                Table(
                    header=("entry", "leaf hash", "against", "tree size", "proof"), rows=proof_rows
                ),
            ],
        ),
    ]
    return Outline(
        title=f"Audit report: {report['model']}",
        subtitle="Chain of custody from the govml ledger, each step with its entry and an "
        "RFC 6962 inclusion proof.",
        facts=facts,
        sections=sections,
        kind="audit",
    )
