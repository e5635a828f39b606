"""EU AI Act Annex IV technical documentation, item by item, from what govml holds.

Each of the nine items is ``filled`` (govml holds everything it asks), ``partly`` (govml
fills what it records; people must add the rest, named under ``needs_people``) or ``open``
(people must write it: harmonised standards, the declaration of conformity, ...). What people
write with ``govml models card NAME --set FIELD=TEXT`` fills the matching parts, with who
wrote it and when. Monitoring alerts are the ledger's ``monitoring.*`` entries about the
model; rollbacks are ``alias.rolled_back`` entries.

One function builds each item (``_ITEMS``, in the Annex's order) and one function lays out
each item's reading form (``_ITEM_BLOCKS``); adding an item touches one of each.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from govml.documents import _common as common
from govml.documents.decisions import decision_blocks, decision_governance
from govml.documents.facts import ModelFacts
from govml.documents.fields import field_spec
from govml.documents.model_card import resolved_fields
from govml.documents.model_risk import (
    model_risk_record,
    register_blocks,
    retirement_blocks,
    ticket_blocks,
)
from govml.documents.outline import Block, Bullets, Fields, Open, Outline, Paragraph, Section, Table
from govml.domain.records import ModelVersion
from govml.reports._format import format_threshold

if TYPE_CHECKING:
    from govml.evaluation import Evaluation

SCHEMA = "govml.annex-iv/v1"
NO_ALERTS = "no alerts recorded"


@dataclass(frozen=True)
class _Documented:
    """What every item reads: the version documented, its evaluations and the written fields."""

    facts: ModelFacts
    number: int
    version: ModelVersion
    fields: Mapping[str, Mapping[str, Any]]
    evaluations: Sequence[Evaluation]

    @property
    def latest(self) -> Evaluation | None:
        return self.evaluations[0] if self.evaluations else None

    def item(
        self,
        item_id: str,
        title: str,
        content: Mapping[str, Any],
        *,
        filled: bool,
        people: Sequence[str] = (),
    ) -> dict[str, Any]:
        """Return one item: ``filled`` says whether govml's own part is there.

        The item is ``open`` when govml holds nothing for it and people wrote none of its
        fields, ``filled`` when every field people must write is written, else ``partly``.
        """
        missing = [name for name in people if self.fields[name]["value"] is None]
        if not filled and missing == list(people):
            status = "open"
        else:
            status = "filled" if not missing else "partly"
        written = {"written": {name: self.fields[name] for name in people}} if people else {}
        return {
            "id": item_id,
            "title": title,
            "status": status,
            "content": {**content, **written},
            "needs_people": missing,
        }


def build_annex_iv(facts: ModelFacts, number: int) -> dict[str, Any]:
    """Return the Annex IV documentation of version ``number`` as a JSON-safe document."""
    documented = _Documented(
        facts=facts,
        number=number,
        version=facts.version(number),
        fields=resolved_fields(facts),
        evaluations=facts.evaluations_of(number),
    )
    latest = documented.latest
    return {
        "schema": SCHEMA,
        "system": f"{facts.model.name}@{documented.version.version}",
        "items": [build(documented) for build in _ITEMS],
        "provenance": {
            "generated_at": facts.generated_at.isoformat(),
            "card_revision": facts.card.revision,
            "evaluation": None if latest is None else common.evaluation_source(facts, latest),
        },
    }


def _general_description(d: _Documented) -> dict[str, Any]:
    """Item 1: the provider, the versions, the software and the forms placed on the market."""
    facts, version = d.facts, d.version
    content = {
        "provider": facts.model.owner,
        "risk_tier": facts.model.risk_tier.value,
        "version": version.version,
        "versions": [_version_row(facts, v) for v in facts.versions],
        "software": _software(version),
        "forms_placed_on_market": {
            "artifact": {
                "flavor": version.flavor,
                "digest": version.artifact_digest,
                "size": version.artifact_size,
            },
            "aliases": dict(facts.model.aliases),
            "serving": facts.serving.to_dict(),
            "retired": model_risk_record(facts)["retired"],
        },
    }
    people = [
        "intended_use",
        "interaction_with_other_systems",
        "hardware",
        "user_interface",
        "instructions_for_use",
    ]
    return d.item("1", "General description of the AI system", content, filled=True, people=people)


def _development_process(d: _Documented) -> dict[str, Any]:
    """Item 2: methods, code, data, oversight, validation, group metrics, approvals, security."""
    facts, version, latest = d.facts, d.version, d.latest
    content = {
        "methods": {
            "flavor": version.flavor,
            "estimator": version.flavor_options.get("estimator"),
            "params": dict(version.params),
            "training_metrics": dict(version.metrics),
        },
        "code": dict(version.code),
        "data": [
            {
                "role": ref.role,
                "digest": ref.digest,
                "rows": ref.row_count,
                "columns": ref.columns,
                "first_recorded_in_entry": _entry_seq(facts, ref.digest),
                "datasheet": f"govml report datasheet {ref.digest}",
            }
            for ref in version.datasets
        ],
        "human_oversight": _oversight(facts),
        "validation_and_testing": [_evaluation_row(facts, e) for e in d.evaluations],
        "group_metrics": []
        if latest is None
        else [*common.fairness_checks(facts, latest), *common.group_metrics(facts, latest)],
        "approvals": [a.to_dict() for a in facts.approvals_of(d.number)],
        "cybersecurity": []
        if latest is None
        else [_check_row(c) for c in latest.checks if c.get("category") == "security"],
    }
    people = ["tradeoffs", "human_oversight", "predetermined_changes", "compute"]
    return d.item(
        "2",
        "Elements of the AI system and of the process for its development",
        content,
        filled=True,
        people=people,
    )


def _functioning_and_control(d: _Documented) -> dict[str, Any]:
    """Item 3: measured performance, accuracy per group and the input specification."""
    facts, latest = d.facts, d.latest
    content = {
        "performance": [] if latest is None else common.performance_metrics(facts, latest),
        "accuracy_per_group": []
        if latest is None
        else [m for m in common.group_metrics(facts, latest) if m["type"] == "accuracy"],
        "input_specification": d.version.signature,
        "evaluation": None if latest is None else latest.id,
        "decisions": decision_governance(facts),
    }
    people = ["limitations", "ethical_considerations", "human_oversight"]
    return d.item(
        "3",
        "Monitoring, functioning and control",
        content,
        filled=latest is not None,
        people=people,
    )


def _metrics_appropriateness(d: _Documented) -> dict[str, Any]:
    """Item 4: the policy's performance and fairness rules."""
    return d.item(
        "4",
        "Appropriateness of the performance metrics",
        {"policy_rules": _policy_rules(d.facts)},
        filled=d.facts.policy is not None,
        people=["metrics_rationale"],
    )


def _risk_management(d: _Documented) -> dict[str, Any]:
    """Item 5: the risk tier, the policy in force and the model's risk register.

    The risk-management system itself is people's to write.
    """
    content = {
        "risk_tier": d.facts.model.risk_tier.value,
        "policy": _policy_ref(d.facts),
        "risk_register": model_risk_record(d.facts)["risk_register"],
    }
    return d.item(
        "5",
        "Risk-management system (Art. 9)",
        content,
        filled=False,
        people=["risk_management"],
    )


def _changes_over_lifecycle(d: _Documented) -> dict[str, Any]:
    """Item 6: every version, alias change, change ticket, the card's revision, retirement."""
    facts = d.facts
    risk = model_risk_record(facts)
    content = {
        "versions": [_version_row(facts, v) for v in facts.versions],
        "alias_changes": [c.to_dict() for c in facts.changes],
        "tickets": risk["tickets"],
        "card_revision": facts.card.revision,
        "retired": risk["retired"],
    }
    return d.item("6", "Changes made over the lifecycle", content, filled=True)


def _harmonised_standards(d: _Documented) -> dict[str, Any]:
    """Item 7: people's to write."""
    return d.item(
        "7", "Harmonised standards applied", {}, filled=False, people=["harmonised_standards"]
    )


def _declaration_of_conformity(d: _Documented) -> dict[str, Any]:
    """Item 8: people's to write."""
    return d.item(
        "8",
        "EU declaration of conformity",
        {},
        filled=False,
        people=["declaration_of_conformity"],
    )


def _post_market_monitoring(d: _Documented) -> dict[str, Any]:
    """Item 9: the policy's monitoring rules, the ledger's alerts and rollbacks, serving."""
    facts = d.facts
    alerts = facts.monitoring_entries()
    content = {
        "monitoring_rules": _monitoring_rules(facts),
        "alerts": [e.to_dict() for e in alerts],
        "alerts_note": None if alerts else NO_ALERTS,
        "rollbacks": [c.to_dict() for c in facts.changes if c.action == "rollback"],
        "serving": facts.serving.to_dict(),
    }
    return d.item(
        "9",
        "Post-market monitoring plan (Art. 72)",
        content,
        filled=facts.policy is not None and facts.policy.policy.monitoring is not None,
        people=["post_market_monitoring_plan"],
    )


_ITEMS: tuple[Callable[[_Documented], dict[str, Any]], ...] = (
    _general_description,
    _development_process,
    _functioning_and_control,
    _metrics_appropriateness,
    _risk_management,
    _changes_over_lifecycle,
    _harmonised_standards,
    _declaration_of_conformity,
    _post_market_monitoring,
)


def _entry_seq(facts: ModelFacts, digest: str) -> int | None:
    entry = facts.dataset_entries.get(digest)
    return None if entry is None else entry.seq


def _version_row(facts: ModelFacts, version: ModelVersion) -> dict[str, Any]:
    subject = f"model/{version.model}/versions/{version.version}"
    seq = next(
        (e.seq for e in facts.entries if e.action == "version.registered" and e.subject == subject),
        None,
    )
    return {
        "version": version.version,
        "registered_at": version.created_at.isoformat(),
        "registrant": version.registrant,
        "artifact_digest": version.artifact_digest,
        "git_commit": version.code.get("git_commit"),
        "aliases": list(version.aliases),
        "ledger_entry": seq,
    }


def _software(version: ModelVersion) -> dict[str, Any]:
    env = version.environment
    return {
        "python": env.get("python"),
        "implementation": env.get("implementation"),
        "platform": env.get("platform"),
        "lock_digest": env.get("lock_digest"),
        "packages": dict(env.get("packages") or {}),
    }


def _oversight(facts: ModelFacts) -> dict[str, Any]:
    policy = facts.policy
    rules = None if policy is None else policy.policy.approvals
    return {
        "approvals_required": None if rules is None else rules.required,
        "approver_roles": [] if rules is None else list(rules.roles),
        "separation_of_duties": None if rules is None else rules.separation_of_duties,
        "promotion_gates": "staging needs a passing evaluation under the policy in force; "
        "production needs that and the approvals",
    }


def _evaluation_row(facts: ModelFacts, evaluation: Any) -> dict[str, Any]:
    document = evaluation.document
    return {
        **common.evaluation_source(facts, evaluation),
        "status": evaluation.status,
        "started_at": document["started_at"],
        "actor": document["actor"],
        "policy": document["policy"]["name"],
        "policy_digest": document["policy"]["digest"],
        "data_digest": document["data"]["digest"],
        "summary": dict(document["summary"]),
    }


def _check_row(check: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "check": check["check"],
        "outcome": check.get("outcome"),
        "message": check.get("message"),
    }


def _policy_ref(facts: ModelFacts) -> dict[str, Any] | None:
    policy = facts.policy
    if policy is None:
        return None
    return {"name": policy.name, "version": policy.version, "digest": policy.digest}


def _policy_rules(facts: ModelFacts) -> list[dict[str, Any]]:
    if facts.policy is None:
        return []
    document = facts.policy.policy.document()
    rules = [{"section": "performance", **rule} for rule in document.get("performance", [])]
    fairness = document.get("fairness") or {}
    rules += [{"section": "fairness", **rule} for rule in fairness.get("rules", [])]
    return rules


def _monitoring_rules(facts: ModelFacts) -> dict[str, Any] | None:
    if facts.policy is None or facts.policy.policy.monitoring is None:
        return None
    rules: dict[str, Any] = facts.policy.policy.document().get("monitoring") or {}
    return dict(rules)


# -- outline -----------------------------------------------------------------------------------


def outline_annex_iv(document: Mapping[str, Any], facts: ModelFacts) -> Outline:
    """Return the reading form of the Annex IV documentation."""
    sections = [_item_section(item, facts) for item in document["items"]]
    counts = {
        s: sum(1 for i in document["items"] if i["status"] == s)
        for s in ("filled", "partly", "open")
    }
    return Outline(
        numbered=False,  # the items carry the Annex's own numbers
        title=f"EU AI Act Annex IV technical documentation: {document['system']}",
        subtitle="Filled from the govml registry, evaluations, approvals and ledger; OPEN marks "
        "what the provider's people must write.",
        facts=[
            ("system", document["system"]),
            ("provider", facts.model.owner),
            ("risk tier", facts.model.risk_tier.value),
            (
                "items",
                f"{counts['filled']} filled, {counts['partly']} partly, {counts['open']} open",
            ),
            ("generated", common.day(document["provenance"]["generated_at"])),
        ],
        sections=sections,
        kind="annex-iv",
    )


def _item_section(item: Mapping[str, Any], facts: ModelFacts) -> Section:
    content = item["content"]
    blocks: list[Block] = []
    builder = _ITEM_BLOCKS.get(item["id"])
    if builder is not None:
        blocks += builder(content, facts)
    for name, field in content.get("written", {}).items():
        spec = field_spec(name)
        value = field["value"]
        if value is None:
            text = common.NOT_WRITTEN.format(model=facts.model.name, field=name)
            blocks.append(Open(f"{spec.title} ({spec.help}): {text}"))
        else:
            shown = _written_text(value)
            blocks.append(Fields(rows=[(spec.title, shown)]))
            blocks.append(Paragraph(f"Source: {field['source']}."))
    return Section(title=f"{item['id']}. {item['title']}", blocks=blocks, status=item["status"])


def _written_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    parts = []
    for item in value:
        if isinstance(item, Mapping):
            mitigation = item.get("mitigation_strategy")
            parts.append(f"{item['name']}" + (f" (mitigation: {mitigation})" if mitigation else ""))
        else:
            parts.append(str(item))
    return "; ".join(parts)


def _general(content: Mapping[str, Any], facts: ModelFacts) -> list[Block]:
    software = content["software"]
    market = content["forms_placed_on_market"]
    serving = market["serving"]
    rows = [
        ("provider", str(content["provider"])),
        ("risk tier", str(content["risk_tier"])),
        ("version documented", str(content["version"])),
        ("Python", f"{software['implementation']} {software['python']} on {software['platform']}"),
        (
            "dependencies",
            f"{len(software['packages'])} packages, lock {software['lock_digest']} "
            "(the JSON format lists each with its version)",
        ),
        ("artifact", f"{market['artifact']['flavor']} model, {market['artifact']['digest']}"),
        (
            "served as",
            ", ".join(f"{alias}: version {v}" for alias, v in sorted(market["aliases"].items()))
            or _not_served(market["retired"]),
        ),
        (
            "challenger",
            f"{serving['mode']}" + (f" (share {serving['share']})" if serving.get("share") else ""),
        ),
    ]
    versions = [
        (
            str(v["version"]),
            common.day(v["registered_at"]),
            str(v["registrant"]),
            str(v["artifact_digest"]),
            ", ".join(v["aliases"]) or "—",
            str(v["ledger_entry"]),
        )
        for v in content["versions"]
    ]
    return [
        Fields(rows=rows),
        Paragraph("Versions and their relation (each registered with its lineage):"),
        Table(
            header=("version", "registered", "by", "artifact", "aliases", "ledger entry"),
            rows=versions,
        ),
    ]


def _not_served(retired: Mapping[str, Any] | None) -> str:
    if retired is None:
        return "not promoted"
    return f"retired on {common.day(retired['retired_at'])}: {retired['reason']}"


def _development(content: Mapping[str, Any], facts: ModelFacts) -> list[Block]:
    methods = content["methods"]
    params = ", ".join(f"{k}={v}" for k, v in sorted(methods["params"].items())) or "none recorded"
    code = content["code"]
    blocks: list[Block] = [
        Fields(
            rows=[
                (
                    "method",
                    f"{methods['flavor']} ({methods['estimator'] or 'estimator not recorded'})",
                ),
                ("parameters", params),
                ("code", str(code.get("git_commit") or f"not recorded ({code.get('reason', '')})")),
            ]
        )
    ]
    if content["data"]:
        rows = [
            (
                d["role"],
                d["digest"],
                str(d["rows"]),
                str(d["columns"]),
                str(d["first_recorded_in_entry"]),
            )
            for d in content["data"]
        ]
        blocks += [
            Paragraph("Data (datasheets: `govml report datasheet DIGEST`):"),
            Table(header=("role", "digest", "rows", "columns", "ledger entry"), rows=rows),
        ]
    else:
        blocks.append(Paragraph("No training or validation data fingerprint is recorded."))
    oversight = content["human_oversight"]
    blocks.append(
        Fields(
            rows=[
                (
                    "approvals required",
                    str(
                        oversight["approvals_required"]
                        if oversight["approvals_required"] is not None
                        else "no policy"
                    ),
                ),
                ("approver roles", ", ".join(oversight["approver_roles"]) or "any approving role"),
                ("separation of duties", str(oversight["separation_of_duties"]).lower()),
                ("promotion gates", oversight["promotion_gates"]),
            ]
        )
    )
    evaluations = content["validation_and_testing"]
    if evaluations:
        eval_rows = [
            (
                str(e["evaluation_id"]),
                common.day(e["started_at"]),
                str(e["actor"]),
                str(e["status"]),
                str(e["policy"]),
                str(e["data_digest"]),
                str(e["ledger_entry"]),
            )
            for e in evaluations
        ]
        blocks += [
            Paragraph(
                "Validation and testing (each evaluation dated, by its actor, in the ledger):"
            ),
            Table(
                header=("evaluation", "date", "by", "status", "policy", "data", "ledger entry"),
                rows=eval_rows,
            ),
        ]
    else:
        blocks.append(Paragraph("No evaluation of this version is recorded."))
    if content["group_metrics"]:
        blocks += [
            Paragraph(
                "Discriminatory impact: disparities and per-group metrics of the latest evaluation:"
            ),
            common.metrics_table(content["group_metrics"], with_status=False),
        ]
    approvals = content["approvals"]
    if approvals:
        rows = [
            (a["actor"], a["role"], a["decision"], common.day(a["created_at"]), a["comment"])
            for a in approvals
        ]
        blocks += [
            Paragraph("Approvals (signed off by the responsible persons):"),
            Table(header=("person", "role", "decision", "date", "comment"), rows=rows),
        ]
    else:
        blocks.append(Paragraph("No approval of this version is recorded."))
    security = content["cybersecurity"]
    if security:
        security_rows = [(c["check"], str(c["outcome"]), str(c["message"])) for c in security]
        blocks += [
            Paragraph("Cybersecurity checks of the latest evaluation:"),
            Table(header=("check", "outcome", "message"), rows=security_rows),
        ]
    return blocks


def _functioning(content: Mapping[str, Any], facts: ModelFacts) -> list[Block]:
    blocks: list[Block] = []
    if content["evaluation"] is None:
        blocks.append(
            Paragraph("No evaluation: govml reports no measured accuracy for this version.")
        )
    else:
        if content["performance"]:
            blocks += [
                Paragraph(f"Performance (evaluation {content['evaluation']}):"),
                common.metrics_table(content["performance"], with_status=True),
            ]
        if content["accuracy_per_group"]:
            blocks += [
                Paragraph("Accuracy per group:"),
                common.metrics_table(content["accuracy_per_group"], with_status=False),
            ]
    signature = content["input_specification"]
    if signature:
        rows = [
            (str(c.get("name")), str(c.get("type")), str(c.get("nullable")))
            for c in signature.get("inputs", [])
        ]
        blocks += [
            Paragraph("Input specification (the version's signature):"),
            Table(header=("input", "type", "nullable"), rows=rows),
        ]
    else:
        blocks.append(Paragraph("No input signature is recorded."))
    return blocks + decision_blocks(content["decisions"])


def _metrics_item(content: Mapping[str, Any], facts: ModelFacts) -> list[Block]:
    rules = content["policy_rules"]
    if not rules:
        return [Paragraph("No policy with performance or fairness rules is in force.")]
    rows = common.rule_rows(rules, facts)
    return [
        Paragraph("The policy's rules say which metrics gate the system:"),
        Table(header=("section", "metric", "rule"), rows=rows),
    ]


def _risk_item(content: Mapping[str, Any], facts: ModelFacts) -> list[Block]:
    policy = content["policy"]
    text = f"Risk tier {content['risk_tier']}; " + (
        f"policy {policy['name']} v{policy['version']} ({policy['digest']}) in force."
        if policy
        else "no policy in force."
    )
    return [Paragraph(text), *register_blocks(content["risk_register"], facts.model.name)]


def _changes(content: Mapping[str, Any], facts: ModelFacts) -> list[Block]:
    blocks: list[Block] = []
    changes = content["alias_changes"]
    if changes:
        rows = [
            (
                common.day(c["created_at"]),
                c["action"],
                c["alias"],
                f"{c['previous'] if c['previous'] is not None else '—'} → {c['version']}",
                c["actor"],
                c["reason"] or "—",
                str(c["evaluation_id"] or "—"),
                ", ".join(c["approvals"]) or "—",
            )
            for c in changes
        ]
        blocks.append(
            Table(
                header=(
                    "date",
                    "action",
                    "alias",
                    "version",
                    "by",
                    "reason",
                    "evaluation",
                    "approvals",
                ),
                rows=rows,
            )
        )
    else:
        blocks.append(Paragraph("No promotion or rollback is recorded."))
    blocks += ticket_blocks(content["tickets"])
    blocks.append(
        Paragraph(
            f"Versions registered: {len(content['versions'])}; model card revision "
            f"{content['card_revision']}."
        )
    )
    return blocks + retirement_blocks(content["retired"])


def _monitoring(content: Mapping[str, Any], facts: ModelFacts) -> list[Block]:
    blocks: list[Block] = []
    rules = content["monitoring_rules"]
    if rules is None:
        blocks.append(Paragraph("The policy in force has no monitoring rules."))
    else:
        items = [f"window: {rules.get('window')}"]
        for test, limits in (rules.get("drift") or {}).items():
            items.append("drift " + format_threshold({"test": test, **limits}))
        for section in ("performance", "fairness"):
            for _, metric, rule in common.rule_rows(
                [{"section": section, **r} for r in rules.get(section) or []], facts
            ):
                items.append(f"{section} {metric}: {rule}")
        items.append("on alert: " + (", ".join(rules.get("on_alert") or []) or "nothing"))
        items.append("on critical: " + (", ".join(rules.get("on_critical") or []) or "nothing"))
        blocks += [Paragraph("Monitoring rules of the policy in force:"), Bullets(items)]
    alerts = content["alerts"]
    if alerts:
        rows = [
            (
                str(a["seq"]),
                common.day(a["time"]),
                a["action"],
                a["actor"],
                common.monitoring_text(a["action"], a["payload"]),
            )
            for a in alerts
        ]
        blocks += [
            Paragraph("Alerts and monitoring actions (ledger):"),
            Table(header=("ledger entry", "time", "action", "by", "details"), rows=rows),
        ]
    else:
        blocks.append(Paragraph(f"Alerts: {NO_ALERTS}."))
    rollbacks = content["rollbacks"]
    blocks.append(
        Paragraph(
            f"Rollbacks: {len(rollbacks)}"
            + (
                " ("
                + "; ".join(
                    f"{common.day(r['created_at'])} to version {r['version']} by "
                    f"{r['actor']}: {r['reason']}"
                    for r in rollbacks
                )
                + ")"
                if rollbacks
                else ""
            )
        )
    )
    return blocks


_ITEM_BLOCKS = {
    "1": _general,
    "2": _development,
    "3": _functioning,
    "4": _metrics_item,
    "5": _risk_item,
    "6": _changes,
    "9": _monitoring,
}
