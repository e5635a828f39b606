"""What the documents say about individual decisions: oversight, referral, retention.

`decision_governance` reads the policy in force (its ``oversight``, ``reason_codes`` and
``retention`` sections) and the model's ledger entries (referrals, reviewers' decisions and
overrides, suspensions, purges and erasures) into one JSON-safe record; `decision_blocks`
renders it. The model card and the Annex IV document (item 3, human oversight measures, and
the logs of Art. 12) both show it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from govml.documents.facts import ModelFacts
from govml.documents.outline import Block, Bullets, Paragraph, Table

_COUNTED = (
    "referral.opened",
    "referral.decided",
    "referral.overridden",
    "serving.suspended",
    "serving.resumed",
    "log.purged",
    "log.erased",
)


def decision_governance(facts: ModelFacts) -> dict[str, Any]:
    """Return the oversight set-up, referral and override figures and the retention policy."""
    policy = None if facts.policy is None else facts.policy.policy
    oversight = None if policy is None else policy.oversight
    codes = None if policy is None else policy.reason_codes
    retention = None if policy is None else policy.retention
    counts: Counter[str] = Counter()
    overrides = 0
    suspensions = []
    for entry in facts.entries:
        if entry.action not in _COUNTED:
            continue
        counts[entry.action] += 1
        payload = entry.payload
        if entry.action in ("referral.decided", "referral.overridden") and payload.get("override"):
            overrides += 1
        if entry.action in ("serving.suspended", "serving.resumed"):
            suspensions.append(
                {
                    "seq": entry.seq,
                    "time": entry.time,
                    "action": entry.action,
                    "by": entry.actor,
                    "reason": payload.get("reason"),
                }
            )
    decided = counts["referral.decided"] + counts["referral.overridden"]
    return {
        "oversight": None if oversight is None else oversight.model_dump(mode="json"),
        "reason_codes": None
        if codes is None
        else {"adverse_outcome": codes.adverse_outcome, "codes": len(codes.codes)},
        "retention": None if retention is None else retention.model_dump(mode="json"),
        "referrals": counts["referral.opened"],
        "decided": decided,
        "overrides": overrides,
        "override_rate": None if decided == 0 else overrides / decided,
        "suspensions": suspensions,
        "purges": counts["log.purged"],
        "erasures": counts["log.erased"],
    }


def decision_blocks(content: Mapping[str, Any]) -> list[Block]:
    """Render `decision_governance` as paragraphs, bullets and a table."""
    blocks: list[Block] = []
    oversight = content["oversight"]
    if oversight is None:
        blocks.append(
            Paragraph(
                "Human oversight in the serving path: the policy in force has no oversight "
                "section; the gateway answers every record."
            )
        )
    else:
        refer = oversight.get("refer") or {}
        items = []
        if refer.get("score_between"):
            low, high = refer["score_between"]
            items.append(f"records whose favourable score is in [{low:g}, {high:g}]")
        if refer.get("out_of_range"):
            items.append("records with an input outside the training profile")
        if refer.get("drift"):
            items.append(f"every record while monitoring is at {refer['drift']} or worse")
        blocks += [
            Paragraph(
                "Human oversight in the serving path (EU AI Act Art. 14): the gateway refers "
                "to a person, instead of answering,"
            ),
            Bullets(items or ["nothing (no referral rule)"]),
            Paragraph(
                "Reviewers (who decide referred cases and may override a decision): "
                + ", ".join(oversight.get("reviewers") or [])
                + f". A suspended model answers: {oversight.get('when_suspended')}."
            ),
        ]
    codes = content["reason_codes"]
    if codes is None:
        blocks.append(Paragraph("Reason codes: none in the policy; explanations name features."))
    else:
        outcome = codes["adverse_outcome"]
        shown = "the first class" if outcome is None else str(outcome)
        blocks.append(
            Paragraph(f"Reason codes: {codes['codes']} feature(s) coded; adverse outcome {shown}.")
        )
    rate = content["override_rate"]
    blocks.append(
        Table(
            header=("referrals", "decided by a person", "overrides of the model", "override rate"),
            rows=[
                (
                    str(content["referrals"]),
                    str(content["decided"]),
                    str(content["overrides"]),
                    "-" if rate is None else f"{rate:.1%}",
                )
            ],
            caption="From the ledger's referral.* entries.",
        )
    )
    if content["suspensions"]:
        blocks.append(
            Table(
                header=("ledger entry", "time", "action", "by", "reason"),
                rows=[
                    (str(s["seq"]), s["time"][:10], s["action"], s["by"], s["reason"] or "")
                    for s in content["suspensions"]
                ],
                caption="Suspensions and resumptions.",
            )
        )
    retention = content["retention"]
    if retention is None:
        blocks.append(Paragraph("Retention of the prediction log: the policy in force sets none."))
    else:
        days = retention.get("days")
        blocks.append(
            Paragraph("Retention of the prediction log (GDPR Arts. 5 and 17, EU AI Act Art. 12):")
        )
        blocks.append(
            Bullets(
                [
                    "prediction log kept "
                    + (f"{days} days" if days else "without a retention period"),
                    "data subject identified by: "
                    + (", ".join(retention.get("subject_key") or []) or "nothing declared"),
                    "pseudonymised when written (keyed HMAC): "
                    + (", ".join(retention.get("pseudonymise") or []) or "nothing"),
                    f"purges so far: {content['purges']}; erasures: {content['erasures']}",
                ]
            )
        )
    return blocks
