"""The Markdown report and the terminal table."""

from __future__ import annotations

import copy
import json
from typing import Any

from rich.console import Console

from govml.reports import render, terminal_table


def _table_rows(text: str, check: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("| ") and check in line]


def test_markdown_has_every_check_in_its_category(document: dict[str, Any]) -> None:
    text = render(document, "md")
    assert text.startswith("# Evaluation report: adult-income@2 — **FAIL**\n")
    for check in document["checks"]:
        assert len(_table_rows(text, check["check"])) == 1, check["check"]
    headings = [line for line in text.splitlines() if line.startswith("## ")]
    assert headings == [
        "## Data",
        "## Performance",
        "## Fairness",
        "## Explainability",
        "## Security",
        "## Timings",
        "## Evidence",
    ]
    assert "**3** pass · **1** warn · **2** fail · **1** undefined" in text
    assert "| policy | credit-high-risk |" in text
    assert f"| policy digest | {document['policy']['digest']} |" in text
    assert "| rows | 16281 |" in text
    assert "| total | 2.5 s |" in text


def test_markdown_cells_escape_pipes_and_tags(document: dict[str, Any]) -> None:
    text = render(document, "md")
    (row,) = _table_rows(text, "demographic_parity_ratio:sex")
    assert "ratio 0.31 \\| below 0.8 &lt;script>alert(1)&lt;/script>" in row
    # Six cells: the escaped pipe does not split one.
    assert row.replace("\\|", "").count("|") == 7
    assert "<script" not in text


def test_markdown_formats_values_thresholds_and_outcomes(document: dict[str, Any]) -> None:
    text = render(document, "md")
    (auc,) = _table_rows(text, "roc_auc")
    assert auc == "| PASS | roc_auc | 0.9271 | ≥ 0.8 | [0.9212, 0.9333] | roc_auc 0.927 ≥ 0.8 |"
    (undefined,) = _table_rows(text, "log_loss_vs_champion")
    assert undefined.startswith("| FAIL (undefined) | log_loss_vs_champion | — |")
    assert "the champion has no stored log loss" in undefined
    (between,) = _table_rows(text, "between:hours")
    assert "| between 1 and 99 |" in between


def _reference_rule(document: dict[str, Any]) -> dict[str, Any]:
    rule = dict(document["checks"][1])
    rule.update(
        check="disparate_impact_ratio:sex",
        threshold={"between": [0.8, 1.25], "compare": "reference_group", "confidence": 0.95},
    )
    document["checks"].append(rule)
    return document


def test_markdown_thresholds_read_as_rules_never_json(document: dict[str, Any]) -> None:
    evidence = {
        "fairness_report": json.dumps({"options": {"privileged": {"sex": "Male"}}}).encode()
    }
    bare = render(_reference_rule(copy.deepcopy(document)), "md")
    text = render(_reference_rule(document), "md", evidence=evidence.get)
    (row,) = _table_rows(text, "disparate_impact_ratio:sex")
    assert "| between 0.8 and 1.25 vs group Male (95 % interval) |" in row
    (parity,) = _table_rows(text, "demographic_parity_ratio:sex")
    assert "| ≥ 0.8 |" in parity
    (champion,) = _table_rows(text, "log_loss_vs_champion")
    assert "| increase ≤ 0.02 vs champion |" in champion
    assert '{"' not in text and "\\u2265" not in text
    # Without the fairness evidence the group is not known, and the report says so.
    (row,) = _table_rows(bare, "disparate_impact_ratio:sex")
    assert "vs the reference group (95 % interval)" in row


def test_markdown_of_a_labelled_audit_without_optional_parts(document: dict[str, Any]) -> None:
    document["subject"] = {"model": None, "version": None, "label": "vendor | scores"}
    document["champion"] = None
    for key in ("timings", "evidence", "summary"):
        del document[key]
    text = render(document, "md")
    assert text.startswith("# Evaluation report: vendor \\| scores — **FAIL**")
    assert "## Timings" not in text and "| champion |" not in text


def test_terminal_table_lists_every_check(document: dict[str, Any]) -> None:
    document["checks"][0]["message"] = "[bold]not markup[/bold]"
    console = Console(record=True, width=160, color_system="truecolor")
    console.print(terminal_table(document))
    text = console.export_text(clear=False)
    for check in document["checks"]:
        assert check["check"] in text
    assert "[bold]not markup[/bold]" in text
    assert "fail (undefined)" in text
    assert "adult-income@2: FAIL" in text
    styled = console.export_html(inline_styles=True)
    for colour in ("#008000", "#808000", "#800000", "#800080"):  # pass, warn, fail, undefined
        assert colour in styled


def test_terminal_table_breaks_long_check_names_only_at_their_separators(
    document: dict[str, Any],
) -> None:
    long = dict(document["checks"][1], check="equalized_odds_difference_to_overall:sex*race")
    long["threshold"] = {"compare": "to_overall", "max": 0.1, "confidence": 0.95}
    document["checks"].append(long)
    console = Console(record=True, width=160)
    console.print(terminal_table(document))
    text = console.export_text()
    cells = [line.split("│")[1].strip() for line in text.splitlines() if line.startswith("│")]
    assert "equalized_odds_difference_to_overall:" in cells
    assert cells[cells.index("equalized_odds_difference_to_overall:") + 1] == "sex*race"
    assert "≤ 0.1 vs overall (95 %" in text and "upper bound)" in text
    assert "fairness" in cells and "data" in cells  # one heading row per category
