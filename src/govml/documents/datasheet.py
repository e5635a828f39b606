"""Datasheets for datasets (Gebru et al.) from a stored dataset fingerprint.

govml keeps no raw data, only each dataset's fingerprint: digest, schema, row count and a
profile of per-column sufficient statistics. The composition section comes from that
profile; provenance from the lineage (which versions used the dataset, in which role) and
the ``dataset.recorded`` ledger entry that first recorded it. Motivation, collection,
labelling, distribution and maintenance are for the people who made the data: open items.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from govml.documents import _common as common
from govml.documents.facts import DatasetFacts
from govml.documents.outline import Block, Bullets, Fields, Open, Outline, Paragraph, Section, Table

SCHEMA = "govml.datasheet/v1"
TOP_CATEGORIES = 5

OPEN_ITEMS = {
    "motivation": "For what purpose was the dataset created, by whom, and who funded it? "
    "The people who made the data must answer; govml holds only its fingerprint.",
    "collection_process": "How was the data acquired, over what time frame, with what "
    "sampling and consent? Not recorded by govml.",
    "preprocessing": "What cleaning, labelling or feature engineering was done, and is the raw "
    "data kept? Not recorded by govml.",
    "distribution": "Is the dataset distributed, under which license or terms? Not recorded by "
    "govml (it stores no raw data, only the profile).",
    "maintenance": "Who maintains the dataset, how are errors reported, will it be updated? Not "
    "recorded by govml.",
}


def build_datasheet(facts: DatasetFacts) -> dict[str, Any]:
    """Return the datasheet of a stored dataset as a JSON-safe document."""
    fingerprint = facts.fingerprint
    profile = fingerprint.get("profile") or {}
    columns = [_column(c, facts.sensitive) for c in profile.get("columns", [])]
    recorded = facts.recorded
    return {
        "schema": SCHEMA,
        "dataset": facts.digest,
        "motivation": {"purpose": None, "open": OPEN_ITEMS["motivation"]},
        "composition": {
            "rows": fingerprint.get("row_count"),
            "columns": len(fingerprint.get("schema") or []),
            "schema": list(fingerprint.get("schema") or []),
            "profile": columns,
            "sensitive_columns": [c["name"] for c in columns if c["sensitive"]],
            "targets": dict(facts.targets),
            "raw_data_kept": False,
        },
        "collection_process": {
            "first_recorded": None
            if recorded is None
            else {
                "ledger_entry": recorded.seq,
                "time": recorded.time,
                "actor": recorded.actor,
                "first_seen_as": recorded.payload.get("first_seen_as"),
                "fingerprint_digest": recorded.payload.get("fingerprint_digest"),
            },
            "open": OPEN_ITEMS["collection_process"],
        },
        "preprocessing": {"open": OPEN_ITEMS["preprocessing"]},
        "uses": {
            "versions": [{"model": m, "version": v, "role": r} for m, v, r in facts.uses],
            "evaluations": [
                {"id": e.id, "subject": e.subject, "status": e.status} for e in facts.evaluations
            ],
        },
        "distribution": {"open": OPEN_ITEMS["distribution"]},
        "maintenance": {"open": OPEN_ITEMS["maintenance"]},
        "provenance": {"generated_at": facts.generated_at.isoformat()},
    }


def _column(column: Mapping[str, Any], sensitive: list[str]) -> dict[str, Any]:
    count, nulls = int(column.get("count") or 0), int(column.get("nulls") or 0)
    out: dict[str, Any] = {
        "name": column.get("name"),
        "type": column.get("type"),
        "kind": column.get("kind"),
        "values": count,
        "missing": nulls,
        "sensitive": column.get("name") in sensitive,
    }
    if column.get("kind") == "numeric":
        m2, mean = column.get("m2"), column.get("mean")
        out["min"], out["max"], out["mean"] = column.get("min"), column.get("max"), mean
        out["std"] = math.sqrt(m2 / (count - 1)) if m2 is not None and count > 1 else None
    else:
        counts = sorted(column.get("counts") or [], key=lambda item: (-item[1], str(item[0])))
        out["distinct_seen"] = len(counts)
        out["top"] = [[str(value), int(n)] for value, n in counts[:TOP_CATEGORIES]]
        out["truncated"] = bool(column.get("truncated"))
    return out


def outline_datasheet(sheet: Mapping[str, Any]) -> Outline:
    """Return the reading form of a datasheet (Gebru et al.'s seven sections)."""
    composition = sheet["composition"]
    recorded = sheet["collection_process"]["first_recorded"]
    uses = sheet["uses"]
    facts = [
        ("dataset", sheet["dataset"]),
        ("rows × columns", f"{composition['rows']} × {composition['columns']}"),
        (
            "first recorded",
            "—"
            if recorded is None
            else f"{common.day(recorded['time'])} by {recorded['actor']} (ledger entry "
            f"{recorded['ledger_entry']})",
        ),
        ("generated", common.day(sheet["provenance"]["generated_at"])),
    ]
    rows = []
    for column in composition["profile"]:
        if column["kind"] == "numeric":
            summary = (
                f"min {common.number_text(column['min'])}, max {common.number_text(column['max'])}"
                f", mean {common.number_text(column['mean'])}, sd "
                f"{common.number_text(column['std'])}"
            )
        else:
            top = ", ".join(f"{value} ({n})" for value, n in column["top"])
            more = " (approximate: truncated)" if column["truncated"] else ""
            summary = f"{column['distinct_seen']} values seen{more}; most frequent: {top}"
        rows.append(
            (
                str(column["name"]),
                str(column["type"]),
                str(column["missing"]),
                "yes" if column["sensitive"] else "",
                summary,
            )
        )
    composition_blocks: list[Block] = [
        Paragraph(
            f"{composition['rows']} rows and {composition['columns']} columns. govml keeps no "
            "raw rows, only this profile (per-column sufficient statistics)."
        ),
        Table(header=("column", "type", "missing", "sensitive", "profile"), rows=rows),
    ]
    if composition["targets"]:
        composition_blocks.append(
            Fields(rows=[(f"target of {k}", v) for k, v in composition["targets"].items()])
        )
    collection: list[Block] = []
    if recorded is not None:
        collection.append(
            Fields(
                rows=[
                    ("first recorded", common.day(recorded["time"])),
                    ("by", str(recorded["actor"])),
                    ("as", str(recorded["first_seen_as"])),
                    ("ledger entry", str(recorded["ledger_entry"])),
                    ("fingerprint digest", str(recorded["fingerprint_digest"])),
                ]
            )
        )
    collection.append(Open(sheet["collection_process"]["open"]))
    version_items = [f"{u['model']}@{u['version']} ({u['role']})" for u in uses["versions"]]
    evaluation_items = [
        f"evaluation {e['id']} of {e['subject']} ({e['status']})" for e in uses["evaluations"]
    ]
    use_blocks: list[Block] = []
    use_blocks += (
        [Paragraph("Registered versions whose lineage names it:"), Bullets(version_items)]
        if version_items
        else [Paragraph("No registered version names it in its lineage.")]
    )
    if evaluation_items:
        use_blocks += [
            Paragraph("Evaluations run on data with this digest:"),
            Bullets(evaluation_items),
        ]
    return Outline(
        title=f"Datasheet: {sheet['dataset']}",
        subtitle="Sections of Gebru et al., Datasheets for Datasets; composition from the "
        "stored profile, provenance from the lineage and the ledger.",
        facts=facts,
        sections=[
            Section(title="Motivation", blocks=[Open(sheet["motivation"]["open"])]),
            Section(title="Composition", blocks=composition_blocks),
            Section(title="Collection process", blocks=collection),
            Section(
                title="Preprocessing, cleaning, labelling",
                blocks=[Open(sheet["preprocessing"]["open"])],
            ),
            Section(title="Uses", blocks=use_blocks),
            Section(title="Distribution", blocks=[Open(sheet["distribution"]["open"])]),
            Section(title="Maintenance", blocks=[Open(sheet["maintenance"]["open"])]),
        ],
        kind="datasheet",
    )
