"""Model cards (Mitchell et al., 2019) from the registry, the lineage and the latest evaluation.

The JSON uses the Model Card Toolkit's field names where it defines them (``model_details``,
``model_parameters``, ``quantitative_analysis.performance_metrics`` with ``type``, ``value``,
``confidence_interval``, ``threshold`` and ``slice``, ``considerations``) and the paper's
section names for the rest (``intended_use``, ``factors``, ``metrics``, ``evaluation_data``,
``training_data``, ``caveats_and_recommendations``). Values are exact (``repr`` of the stored
float); every metric carries the ``source`` it was read from: the evaluation id, its digest
and ledger entry, and for a group metric the fairness evidence artifact, section and group.

The narrative fields come from the card's editable fields (`govml.documents.fields`), else
from the model record (intended use, out-of-scope use, description) or the model tags
``limitations`` and ``ethical_considerations`` that the documentation gate reads; each
field's ``source`` says which. Nothing is invented: a field nobody wrote is ``null`` in the
JSON and an open item in the Markdown and HTML; a version without evaluation says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from govml.documents import _common as common
from govml.documents.decisions import decision_blocks, decision_governance
from govml.documents.facts import FAIRNESS_EVIDENCE, ModelFacts
from govml.documents.fields import FIELD_NAMES, ModelCardFields, field_spec
from govml.documents.model_risk import model_risk_blocks, model_risk_record
from govml.documents.outline import (
    Block,
    Bullets,
    Fields,
    Figure,
    Open,
    Outline,
    Paragraph,
    Section,
    Table,
)
from govml.domain.records import ModelVersion
from govml.evaluation import Evaluation
from govml.reports._format import favourable_text

SCHEMA = "govml.model-card/v1"
MCT_SCHEMA_VERSION = "0.0.2"
_KEY_PACKAGES = ("scikit-learn", "xgboost", "lightgbm", "onnxruntime", "numpy", "pandas", "govml")


def resolved_fields(facts: ModelFacts) -> dict[str, dict[str, Any]]:
    """Return every editable field's value and where it comes from (value None: not written).

    Fields written with ``govml models card`` win; otherwise the model record (intended use,
    out-of-scope use, description) or the model tags ``limitations`` and
    ``ethical_considerations`` fill them in.
    """
    card, model = facts.card, facts.model
    out: dict[str, dict[str, Any]] = {}
    fallbacks: dict[str, tuple[Any, str]] = {
        "overview": (model.description or None, "model description"),
        "intended_use": (model.intended_use or None, "model record (intended_use)"),
        "out_of_scope_use": (model.out_of_scope_use or None, "model record (out_of_scope_use)"),
        "limitations": (_tag_list(model.tags.get("limitations")), "model tag 'limitations'"),
        "ethical_considerations": (
            _tag_risks(model.tags.get("ethical_considerations")),
            "model tag 'ethical_considerations'",
        ),
    }
    for name in FIELD_NAMES:
        if name in card.fields:
            out[name] = {"value": card.fields[name], "source": card_source(card)}
        elif fallbacks.get(name, (None, ""))[0] is not None:
            value, source = fallbacks[name]
            out[name] = {"value": value, "source": source}
        else:
            out[name] = {"value": None, "source": None}
    return out


def card_source(card: ModelCardFields) -> str:
    """Say which card revision a field comes from: who wrote it, when, in which entry."""
    when = common.day(card.created_at)
    entry = f", ledger entry {card.ledger_entry}" if card.ledger_entry is not None else ""
    return f"card revision {card.revision} ({card.actor}, {when}{entry})"


def _tag_list(text: str | None) -> list[str] | None:
    return [text.strip()] if text and text.strip() else None


def _tag_risks(text: str | None) -> list[dict[str, str]] | None:
    if not text or not text.strip():
        return None
    return [{"name": text.strip(), "mitigation_strategy": ""}]


def build_model_card(facts: ModelFacts, number: int) -> dict[str, Any]:
    """Return the model card of version ``number`` as a JSON-safe document."""
    model = facts.model
    version = facts.version(number)
    fields = resolved_fields(facts)
    evaluations = facts.evaluations_of(number)
    latest = evaluations[0] if evaluations else None
    value = {name: item["value"] for name, item in fields.items()}

    metrics: list[dict[str, Any]] = []
    if latest is not None:
        metrics = [
            *common.performance_metrics(facts, latest),
            *common.fairness_checks(facts, latest),
            *common.group_metrics(facts, latest),
        ]
    return {
        "schema": SCHEMA,
        "schema_version": MCT_SCHEMA_VERSION,
        "model_details": {
            "name": model.name,
            "overview": value["overview"],
            "documentation": version.description or model.description or None,
            "owners": [{"name": model.owner}],
            "version": {
                "name": str(version.version),
                "date": version.created_at.isoformat(),
                "diff": _diff(facts, version),
            },
            "licenses": [{"identifier": item} for item in value["licenses"] or []],
            "references": [{"reference": item} for item in value["references"] or []],
            "citations": [{"citation": item} for item in value["citations"] or []],
            "regulatory_requirements": f"EU AI Act risk tier: {model.risk_tier.value}",
            "path": version.artifact_digest,
        },
        "model_parameters": {
            "model_architecture": _architecture(version),
            "data": _data(facts, version, latest),
            "input_format": _format(version, "inputs"),
            "output_format": _format(version, "outputs"),
        },
        "quantitative_analysis": {
            "performance_metrics": metrics,
            "graphics": {
                "description": "per-group metrics with bootstrap intervals (HTML format)",
                "collection": _graphics(facts, latest),
            },
        },
        "considerations": {
            "users": [{"description": item} for item in value["intended_users"] or []],
            "use_cases": [{"description": value["intended_use"]}] if value["intended_use"] else [],
            "limitations": [{"description": item} for item in value["limitations"] or []],
            "tradeoffs": [{"description": item} for item in value["tradeoffs"] or []],
            "ethical_considerations": list(value["ethical_considerations"] or []),
        },
        "intended_use": {
            "primary_uses": value["intended_use"],
            "primary_users": value["intended_users"],
            "out_of_scope_uses": value["out_of_scope_use"],
        },
        "factors": _factors(facts, latest, value["factors"]),
        "metrics": _metrics(facts, latest),
        "evaluation_data": _evaluation_data(facts, latest),
        "training_data": _training_data(facts, version),
        "caveats_and_recommendations": {
            "written": value["caveats_and_recommendations"],
            "from_records": _caveats(facts, version, latest),
        },
        "decisions": decision_governance(facts),
        "model_risk": model_risk_record(facts),
        "provenance": {
            "generated_at": facts.generated_at.isoformat(),
            "model": model.name,
            "version": version.version,
            "registered_in_entry": _registered_entry(facts, version),
            "evaluation": None
            if latest is None
            else {
                **common.evaluation_source(facts, latest),
                "status": latest.status,
                "policy": latest.document["policy"]["name"],
                "policy_digest": latest.document["policy"]["digest"],
                "started_at": latest.document["started_at"],
                "evaluations_of_version": len(evaluations),
            },
            "card_revision": facts.card.revision,
            "fields": {name: item["source"] for name, item in fields.items()},
        },
    }


def _registered_entry(facts: ModelFacts, version: ModelVersion) -> int | None:
    subject = f"model/{version.model}/versions/{version.version}"
    for entry in facts.entries:
        if entry.action == "version.registered" and entry.subject == subject:
            return entry.seq
    return None


def _diff(facts: ModelFacts, version: ModelVersion) -> str | None:
    earlier = [v for v in facts.versions if v.version < version.version]
    if not earlier:
        return "first version"
    previous = earlier[-1]
    changed = [
        name
        for name, mine, theirs in (
            ("artifact", version.artifact_digest, previous.artifact_digest),
            ("training data", version.record()["datasets"], previous.record()["datasets"]),
            ("params", version.params, previous.params),
            ("code", version.code.get("git_commit"), previous.code.get("git_commit")),
            (
                "environment",
                version.environment.get("lock_digest"),
                previous.environment.get("lock_digest"),
            ),
        )
        if mine != theirs
    ]
    what = ", ".join(changed) if changed else "nothing recorded"
    return f"since version {previous.version}: {what} changed"


def _architecture(version: ModelVersion) -> str:
    estimator = version.flavor_options.get("class") or version.flavor_options.get("estimator")
    params = ", ".join(f"{k}={v}" for k, v in sorted(version.params.items()) if k != "target")
    text = f"{version.flavor} model"
    if estimator:
        text += f" ({estimator})"
    if params:
        text += f"; parameters: {params}"
    return text


def _format(version: ModelVersion, part: str) -> str | None:
    if not version.signature:
        return None
    columns = version.signature.get(part) or []
    items = [
        f"{c.get('name', '?')}: {c.get('type', '?')}" for c in columns if isinstance(c, Mapping)
    ]
    return ", ".join(items) or None


def _data(facts: ModelFacts, version: ModelVersion, latest: Evaluation | None) -> list[Any]:
    sensitive = _sensitive(facts, latest)
    out = []
    for ref in version.datasets:
        columns = _column_names(facts.datasets.get(ref.digest))
        out.append(
            {
                "name": f"{ref.role} data",
                "description": f"{ref.row_count} rows × {ref.columns} columns, {ref.digest}",
                "sensitive": {"sensitive_data": [c for c in sensitive if c in columns]},
                "digest": ref.digest,
            }
        )
    if latest is not None:
        data = latest.document["data"]
        out.append(
            {
                "name": "evaluation data",
                "description": f"{data['rows']} rows × {data['columns']} columns, "
                f"{data['digest']} (evaluation {latest.id})",
                "sensitive": {"sensitive_data": list(latest.document["inputs"]["sensitive"])},
                "digest": data["digest"],
            }
        )
    return out


def _column_names(fingerprint: Mapping[str, Any] | None) -> list[str]:
    if not fingerprint:
        return []
    schema = fingerprint.get("schema") or []
    return [str(c.get("name")) for c in schema if isinstance(c, Mapping)]


def _sensitive(facts: ModelFacts, latest: Evaluation | None) -> list[str]:
    if latest is not None:
        return [str(c) for c in latest.document["inputs"]["sensitive"]]
    if facts.policy is not None and facts.policy.policy.fairness is not None:
        return list(facts.policy.policy.fairness.sensitive)
    return []


def _graphics(facts: ModelFacts, latest: Evaluation | None) -> list[dict[str, Any]]:
    if latest is None or latest.evidence_digest(FAIRNESS_EVIDENCE) is None:
        return []
    report = facts.evidence_json(latest, FAIRNESS_EVIDENCE)
    sections = report.get("sections", []) if report else []
    return [
        {"name": "Group metrics by " + " × ".join(section.get("features", []))}
        for section in sections
        if isinstance(section, Mapping)
    ]


def _factors(facts: ModelFacts, latest: Evaluation | None, written: Any) -> dict[str, Any]:
    fairness = facts.policy.policy.fairness if facts.policy is not None else None
    return {
        "relevant_factors": written,
        "evaluation_factors": _sensitive(facts, latest),
        "intersectional": None if fairness is None else fairness.intersectional,
        "min_group_size": None if fairness is None else fairness.min_group_size,
    }


def _metrics(facts: ModelFacts, latest: Evaluation | None) -> dict[str, Any]:
    policy = facts.policy
    rules: list[dict[str, Any]] = []
    if policy is not None:
        document = policy.policy.document()
        for rule in document.get("performance", []):
            rules.append({"section": "performance", **rule})
        for rule in (document.get("fairness") or {}).get("rules", []):
            rules.append({"section": "fairness", **rule})
    variation = None
    if latest is not None:
        report = facts.evidence_json(latest, FAIRNESS_EVIDENCE)
        options = report.get("options", {}) if report else {}
        variation = {
            "method": "bootstrap on the sufficient statistics (multinomial over group × label × "
            "prediction cells)",
            "replicates": options.get("n_boot"),
            "confidence": options.get("confidence"),
            "stratified": options.get("stratified"),
            "random_state": options.get("random_state"),
        }
    return {
        "policy": None
        if policy is None
        else {"name": policy.name, "version": policy.version, "digest": policy.digest},
        "decision_thresholds": rules,
        "variation_approaches": variation,
    }


def _evaluation_data(facts: ModelFacts, latest: Evaluation | None) -> dict[str, Any] | None:
    if latest is None:
        return None
    data, inputs = latest.document["data"], latest.document["inputs"]
    return {
        "digest": data["digest"],
        "rows": data["rows"],
        "columns": data["columns"],
        "source": data.get("source"),
        "target": inputs["target"],
        "positive_label": inputs.get("pos_label"),
        "favourable_outcome": favourable_text(inputs),
        "sensitive_features": inputs["sensitive"],
        "source_of_record": common.evaluation_source(facts, latest),
    }


def _training_data(facts: ModelFacts, version: ModelVersion) -> list[dict[str, Any]]:
    out = []
    for ref in version.datasets:
        entry = facts.dataset_entries.get(ref.digest)
        out.append(
            {
                "role": ref.role,
                "digest": ref.digest,
                "rows": ref.row_count,
                "columns": _column_names(facts.datasets.get(ref.digest)),
                "target": version.params.get("target"),
                "first_recorded_in_entry": None if entry is None else entry.seq,
                "datasheet": f"govml report datasheet {ref.digest}",
            }
        )
    return out


def _caveats(facts: ModelFacts, version: ModelVersion, latest: Evaluation | None) -> list[str]:
    out = []
    if latest is None:
        out.append(common.NO_EVALUATION.format(ref=version.ref))
        return out
    if latest.status != "pass":
        failed = [c["check"] for c in latest.checks if c.get("outcome") == latest.status]
        out.append(
            f"the latest evaluation ({latest.id}) is {latest.status.upper()}: " + ", ".join(failed)
        )
    undefined = [c["check"] for c in latest.checks if c.get("status") == "undefined"]
    if undefined:
        out.append("undefined in the latest evaluation: " + ", ".join(undefined))
    if facts.policy is not None and latest.document["policy"]["digest"] != facts.policy.digest:
        out.append(
            f"the latest evaluation was made under policy {latest.document['policy']['name']} "
            f"({latest.document['policy']['digest'][:19]}…), not under {facts.policy.name} "
            f"v{facts.policy.version} now in force"
        )
    if not version.datasets:
        out.append("no training data fingerprint is recorded for this version")
    if version.code.get("git_dirty"):
        out.append("the version was registered from a git checkout with uncommitted changes")
    return out


# -- outline -----------------------------------------------------------------------------------


def outline_model_card(
    card: Mapping[str, Any], facts: ModelFacts, *, figures: list[Figure]
) -> Outline:
    """Return the reading form of a model card (Mitchell et al.'s nine sections)."""
    details = card["model_details"]
    provenance = card["provenance"]
    name = f"{details['name']}@{details['version']['name']}"
    evaluation = provenance["evaluation"]
    facts_rows = [
        ("model", name),
        ("owner", ", ".join(o["name"] for o in details["owners"])),
        ("risk tier", facts.model.risk_tier.value),
        ("registered", common.day(details["version"]["date"])),
        (
            "latest evaluation",
            "none"
            if evaluation is None
            else f"{evaluation['evaluation_id']} ({evaluation['status']}, policy "
            f"{evaluation['policy']}, ledger entry {evaluation['ledger_entry']})",
        ),
        ("card revision", str(provenance["card_revision"])),
        ("generated", common.day(provenance["generated_at"])),
    ]
    retired = card["model_risk"]["retired"]
    if retired is not None:
        facts_rows.insert(
            1, ("retired", f"{common.day(retired['retired_at'])}: {retired['reason']}")
        )
    sources = provenance["fields"]
    sections = [
        _details_section(card, facts),
        Section(
            title="Intended use",
            blocks=[
                *_written(facts, "intended_use", card["intended_use"]["primary_uses"], sources),
                *_written(facts, "intended_users", card["intended_use"]["primary_users"], sources),
                *_written(
                    facts, "out_of_scope_use", card["intended_use"]["out_of_scope_uses"], sources
                ),
            ],
        ),
        _factors_section(card, facts, sources),
        _metrics_section(card, facts),
        _data_section("Evaluation data", card, evaluation=True),
        _data_section("Training data", card, evaluation=False),
        _quantitative_section(card, figures),
        Section(
            title="Ethical considerations",
            blocks=_written(
                facts,
                "ethical_considerations",
                card["considerations"]["ethical_considerations"] or None,
                sources,
            ),
        ),
        Section(
            title="Human oversight and data retention", blocks=decision_blocks(card["decisions"])
        ),
        Section(
            title="Model risk: retirement, risk register and change tickets",
            blocks=model_risk_blocks(card["model_risk"], facts.model.name),
        ),
        _caveats_section(card, facts, sources),
    ]
    return Outline(
        title=f"Model card: {name}",
        subtitle="Sections of Mitchell et al., Model Cards for Model Reporting (2019); "
        "filled from the govml registry, lineage, ledger and the latest evaluation.",
        facts=facts_rows,
        sections=sections,
        kind="model-card",
        footer="Every number is read from the evaluation named beside it (its stored checks "
        "and fairness evidence); the JSON format carries each one's source.",
    )


def _written(
    facts: ModelFacts, name: str, value: Any, sources: Mapping[str, str | None]
) -> list[Block]:
    spec = field_spec(name)
    if value is None or value == []:
        text = common.NOT_WRITTEN.format(model=facts.model.name, field=name)
        return [Open(f"{spec.title}: {text}")]
    source = sources.get(name)
    blocks: list[Block] = []
    if isinstance(value, str):
        blocks.append(Fields(rows=[(spec.title, value)]))
    elif value and isinstance(value[0], Mapping):
        rows = [(str(r["name"]), str(r.get("mitigation_strategy") or "—")) for r in value]
        blocks.append(Table(header=("risk", "mitigation strategy"), rows=rows))
    else:
        blocks += [Paragraph(f"{spec.title}:"), Bullets(items=[str(v) for v in value])]
    if source:
        blocks.append(Paragraph(f"Source: {source}."))
    return blocks


def _details_section(card: Mapping[str, Any], facts: ModelFacts) -> Section:
    details, parameters = card["model_details"], card["model_parameters"]
    version = facts.version(int(details["version"]["name"]))
    rows = [
        ("name", details["name"]),
        ("version", details["version"]["name"]),
        ("date", common.day(details["version"]["date"])),
        ("changes", details["version"]["diff"] or "—"),
        ("type", parameters["model_architecture"]),
        ("artifact", f"{details['path']} ({version.artifact_size} bytes)"),
        ("registered by", version.registrant),
        ("code", _code_text(version)),
        ("environment", _environment_text(version)),
        ("input format", parameters["input_format"] or "not recorded"),
        ("output format", parameters["output_format"] or "not recorded"),
        ("regulation", details["regulatory_requirements"]),
        ("questions to", ", ".join(o["name"] for o in details["owners"])),
    ]
    if details["licenses"]:
        rows.append(("licenses", ", ".join(x["identifier"] for x in details["licenses"])))
    if details["references"]:
        rows.append(("references", ", ".join(x["reference"] for x in details["references"])))
    if details["citations"]:
        rows.append(("citations", "; ".join(x["citation"] for x in details["citations"])))
    blocks: list[Block] = []
    if details["overview"]:
        blocks.append(Paragraph(str(details["overview"])))
    else:
        text = common.NOT_WRITTEN.format(model=facts.model.name, field="overview")
        blocks.append(Open(f"Overview: {text}"))
    blocks.append(Fields(rows=rows))
    if not details["licenses"]:
        text = common.NOT_WRITTEN.format(model=facts.model.name, field="licenses")
        blocks.append(Open(f"Licenses: {text}"))
    return Section(title="Model details", blocks=blocks)


def _code_text(version: ModelVersion) -> str:
    commit = version.code.get("git_commit")
    if not commit:
        return f"not recorded ({version.code.get('reason', 'no git commit')})"
    dirty = " with uncommitted changes" if version.code.get("git_dirty") else ""
    where = version.code.get("repository") or ""
    return f"git {commit}{dirty}" + (f" ({where})" if where else "")


def _environment_text(version: ModelVersion) -> str:
    env = version.environment
    packages = env.get("packages") or {}
    key = [f"{name} {packages[name]}" for name in _KEY_PACKAGES if name in packages]
    text = f"Python {env.get('python', '?')}"
    if key:
        text += "; " + ", ".join(key)
    return text + f"; {len(packages)} packages, lock {env.get('lock_digest', '?')}"


def _factors_section(
    card: Mapping[str, Any], facts: ModelFacts, sources: Mapping[str, str | None]
) -> Section:
    factors = card["factors"]
    blocks = _written(facts, "factors", factors["relevant_factors"], sources)
    evaluated = factors["evaluation_factors"]
    rows = [
        ("evaluation factors", ", ".join(evaluated) if evaluated else "none"),
        (
            "intersectional",
            "—" if factors["intersectional"] is None else str(factors["intersectional"]).lower(),
        ),
        (
            "minimum group size",
            "—" if factors["min_group_size"] is None else str(factors["min_group_size"]),
        ),
    ]
    blocks.append(Fields(rows=rows))
    return Section(title="Factors", blocks=blocks)


def _metrics_section(card: Mapping[str, Any], facts: ModelFacts) -> Section:
    metrics = card["metrics"]
    blocks: list[Block] = []
    if metrics["policy"] is None:
        blocks.append(Paragraph("No policy is in force for this model's risk tier."))
    else:
        policy = metrics["policy"]
        blocks.append(
            Paragraph(
                f"Performance measures and decision thresholds of policy {policy['name']} "
                f"v{policy['version']} ({policy['digest']}):"
            )
        )
        rows = common.rule_rows(metrics["decision_thresholds"], facts)
        if rows:
            blocks.append(Table(header=("section", "metric", "rule"), rows=rows))
    variation = metrics["variation_approaches"]
    if variation is not None and variation["replicates"]:
        blocks.append(
            Paragraph(
                f"Variation: {variation['method']}; {variation['replicates']} replicates, "
                f"{common.number_text(variation['confidence'])} confidence, seed "
                f"{variation['random_state']}."
            )
        )
    return Section(title="Metrics", blocks=blocks)


def _data_section(title: str, card: Mapping[str, Any], *, evaluation: bool) -> Section:
    if evaluation:
        data = card["evaluation_data"]
        if data is None:
            return Section(title=title, blocks=[Paragraph("No evaluation: no evaluation data.")])
        rows = [
            ("digest", str(data["digest"])),
            ("rows × columns", f"{data['rows']} × {data['columns']}"),
            ("source", str(data["source"] or "not recorded")),
            ("target", str(data["target"])),
            ("positive label", str(data["positive_label"])),
            (
                "favourable outcome",
                str(data.get("favourable_outcome") or "none (no fairness rules)"),
            ),
            ("sensitive features", ", ".join(data["sensitive_features"]) or "none"),
            ("evaluation", str(data["source_of_record"]["evaluation_id"])),
        ]
        return Section(title=title, blocks=[Fields(rows=rows)])
    items = card["training_data"]
    if not items:
        return Section(title=title, blocks=[Paragraph("No training data fingerprint is recorded.")])
    data_rows = [
        (
            item["role"],
            item["digest"],
            str(item["rows"]),
            ", ".join(item["columns"]) or "—",
            str(item["first_recorded_in_entry"]),
        )
        for item in items
    ]
    return Section(
        title=title,
        blocks=[
            Table(header=("role", "digest", "rows", "columns", "ledger entry"), rows=data_rows),
            Paragraph("Datasheets: `govml report datasheet DIGEST`."),
        ],
    )


def _quantitative_section(card: Mapping[str, Any], figures: list[Figure]) -> Section:
    metrics = card["quantitative_analysis"]["performance_metrics"]
    evaluation = card["provenance"]["evaluation"]
    if evaluation is None:
        ref = f"{card['model_details']['name']}@{card['model_details']['version']['name']}"
        return Section(
            title="Quantitative analyses",
            blocks=[Paragraph(common.NO_EVALUATION.format(ref=ref))],
        )
    overall = [m for m in metrics if m["slice"] == "overall"]
    disparities = [m for m in metrics if m["slice"] != "overall" and "features" not in m]
    groups = [m for m in metrics if "features" in m]
    section = Section(
        title="Quantitative analyses",
        blocks=[
            Paragraph(
                f"From evaluation {evaluation['evaluation_id']} ({evaluation['status']}) of "
                f"{common.day(evaluation['started_at'])}, recorded in ledger entry "
                f"{evaluation['ledger_entry']}."
            )
        ],
    )
    if overall:
        section.subsections.append(
            Section(title="Overall", blocks=[common.metrics_table(overall, with_status=True)])
        )
    if disparities:
        section.subsections.append(
            Section(
                title="Disparities between groups",
                blocks=[common.metrics_table(disparities, with_status=True)],
            )
        )
    if groups:
        unitary = Section(title="Unitary results (per group)")
        intersectional = Section(title="Intersectional results")
        for sub in common.group_tables(groups):
            (intersectional if "intersectional" in sub.title else unitary).subsections.append(sub)
        for part in (unitary, intersectional):
            if part.subsections:
                section.subsections.append(part)
        if figures:
            section.subsections.append(Section(title="Plots", blocks=list(figures)))
    else:
        section.blocks.append(
            Paragraph("The evaluation stored no fairness evidence: no per-group metrics.")
        )
    return section


def _caveats_section(
    card: Mapping[str, Any], facts: ModelFacts, sources: Mapping[str, str | None]
) -> Section:
    caveats = card["caveats_and_recommendations"]
    blocks = _written(facts, "caveats_and_recommendations", caveats["written"], sources)
    limitations = [x["description"] for x in card["considerations"]["limitations"]]
    tradeoffs = [x["description"] for x in card["considerations"]["tradeoffs"]]
    blocks += _written(facts, "limitations", limitations or None, sources)
    blocks += _written(facts, "tradeoffs", tradeoffs or None, sources)
    if caveats["from_records"]:
        blocks += [Paragraph("From govml's records:"), Bullets(items=caveats["from_records"])]
    return Section(title="Caveats and recommendations", blocks=blocks)
