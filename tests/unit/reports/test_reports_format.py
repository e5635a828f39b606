"""Report formats by file suffix, JSON output and the text forms of values."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from govml.errors import InputError
from govml.reports import render, report_format
from govml.reports._format import (
    P_VALUE_TESTS,
    by_category,
    format_number,
    format_threshold,
    format_value,
    interval_text,
    name_parts,
    no_break,
    subject_name,
    summary_counts,
)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("report.json", "json"),
        ("out/report.md", "md"),
        ("REPORT.MARKDOWN", "md"),
        ("report.html", "html"),
        (Path("a.b/report.HTM"), "html"),
    ],
)
def test_report_format_by_suffix(path: str | Path, expected: str) -> None:
    assert report_format(path) == expected


@pytest.mark.parametrize("path", ["report.pdf", "report", "report.html.gz"])
def test_report_format_refuses_other_suffixes(path: str) -> None:
    with pytest.raises(InputError) as caught:
        report_format(path)
    message = caught.value.message
    assert path in message
    for suffix in (".json", ".md", ".markdown", ".html", ".htm"):
        assert suffix in message


def test_render_refuses_an_unknown_format(document: dict[str, Any]) -> None:
    with pytest.raises(InputError, match="pdf"):
        render(document, "pdf")  # type: ignore[arg-type]


def test_json_round_trips(document: dict[str, Any]) -> None:
    text = render(document, "json")
    assert text.endswith("}\n")
    assert json.loads(text) == document
    assert "≥" in text  # not escaped to \u2265
    assert text == json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (16281, "16281"),
        (0.92712345, "0.9271"),
        (0.8, "0.8"),
        (3.0, "3"),
        (0.000123456, "0.0001235"),
        (1.23456e-7, "1.235e-07"),
        (123456.7, "123457"),
        (2.5e9, "2.5e+09"),
        (math.inf, "inf"),
        (-math.inf, "-inf"),
        (math.nan, "nan"),
    ],
)
def test_format_number(value: float, expected: str) -> None:
    assert format_number(value) == expected


@pytest.mark.parametrize(
    ("threshold", "check", "expected"),
    [
        ({"min": 0.8}, None, "≥ 0.8"),
        ({"max": 0.1}, None, "≤ 0.1"),
        ({"between": [0.8, 1.25]}, None, "between 0.8 and 1.25"),
        ({"min": 0.8, "max": 1.25}, None, "between 0.8 and 1.25"),
        ({"min": 0.8, "max": None}, None, "≥ 0.8"),
        (
            {"compare": "between_groups", "min": 0.8},
            "demographic_parity_ratio:sex",
            "≥ 0.8 between groups",
        ),
        ({"compare": "to_overall", "max": 0.1}, "x:sex", "≤ 0.1 vs overall"),
        (
            {"between": [0.8, 1.25], "compare": "reference_group"},
            "disparate_impact_ratio:sex",
            "between 0.8 and 1.25 vs group M",
        ),
        (
            {"between": [0.8, 1.25], "compare": "reference_group"},
            "disparate_impact_ratio:sex*race",
            "between 0.8 and 1.25 vs group M × white",
        ),
        (
            {"between": [0.8, 1.25], "compare": "reference_group"},
            "disparate_impact_ratio:age",
            "between 0.8 and 1.25 vs the reference group",
        ),
        (
            {"compare": "between_groups", "confidence": 0.95, "max": 0.1},
            "equalized_odds_difference:sex",
            "≤ 0.1 between groups (95 % upper bound)",
        ),
        (
            {"min": 0.8, "confidence": 0.9, "n_boot": 1000},
            None,
            "≥ 0.8 (90 % lower bound, 1,000 replicates)",
        ),
        (
            {"between": [0.8, 1.25], "confidence": 0.99},
            None,
            "between 0.8 and 1.25 (99 % interval)",
        ),
        ({"max_drop": 0.01}, "accuracy_vs_champion", "drop ≤ 0.01 vs champion"),
        ({"max_increase": 0.02}, "log_loss_vs_champion", "increase ≤ 0.02 vs champion"),
        ({"min": 0.75, "vs_champion": {"max_drop": 0.01}}, None, "≥ 0.75; drop ≤ 0.01 vs champion"),
        ({"max": 0.2, "undefined": "warn"}, None, "≤ 0.2; undefined counts as warn"),
        ({"test": "psi", "warn": 0.1, "alert": 0.25}, None, "psi: warn ≥ 0.1, alert ≥ 0.25"),
        (
            {"test": "ks", "warn": 0.05, "alert": 0.01},
            None,
            "ks p-value: warn ≤ 0.05, alert ≤ 0.01",
        ),
        (
            {"min_overlap": 0.6, "min_rank_correlation": 0.5},
            "stability",
            "top-k overlap ≥ 0.6, rank correlation ≥ 0.5",
        ),
        (
            {"min_overlap": 0.5, "min_rank_correlation": 0.5, "k": 5},
            "attribution",
            "top-5 overlap ≥ 0.5, rank correlation ≥ 0.5",
        ),
        (
            {"allow": None, "deny": ["AGPL-3.0-only", "SSPL-1.0"]},
            "licenses",
            "deny AGPL-3.0-only, SSPL-1.0",
        ),
        ({"min_rows": 200}, "rows", "≥ 200 rows"),
        ({"min_labels": 1500}, "label_coverage", "≥ 1,500 labelled rows"),
        ([17, 100], "between:age", "between 17 and 100"),
        ([None, 100], "between:age", "≤ 100"),
        (["Male", "Female"], "in_set:sex", "one of Male, Female"),
        ([1000, None], "row_count", "≥ 1,000 rows"),
        (0, "no_nulls", "no missing values"),
        (0, "unique", "no duplicates"),
        (0.5, "personal_data", "share of personal-looking values < 0.5"),
        (0.5, "proxy_association:age", "association with a sensitive feature < 0.5"),
        (5, "feature_importance", "top 5"),
        (5, "forbidden_in_top_k", "none in the top 5"),
        ("high", "vulnerabilities", "no known vulnerability at or above high"),
        ("safe_only", "serialization", "safe formats only"),
        (["owner", "limitations"], "documentation", "required: owner, limitations"),
        ({"odd_key": {"nested": 1}}, None, "odd key (nested 1)"),
        (5, None, "5"),
        ("high", None, "high"),
        (None, None, "—"),
        ({"min": None}, None, "—"),
    ],
)
def test_format_threshold_reads_as_people_read_it(
    threshold: Any, check: str | None, expected: str
) -> None:
    text = format_threshold(threshold, check=check, reference_groups={"sex": "M", "race": "white"})
    assert text == expected
    assert "{" not in text and '"' not in text and "\\u" not in text


def test_the_p_value_tests_are_those_of_the_drift_registry() -> None:
    from govml.metrics.drift.tests import SPECS

    assert {name for name, spec in SPECS.items() if spec.score == "p_value"} == P_VALUE_TESTS


def test_no_break_keeps_relations_and_intervals_on_one_line() -> None:
    text = no_break("≥ 0.8 (95 % upper bound) [0.1, 0.2] < 0.5 at 09:00 UTC")
    assert text == (
        "≥\u00a00.8 (95\u00a0% upper bound) [0.1,\u00a00.2] <\u00a00.5 at 09:00\u00a0UTC"
    )


def test_format_value_and_interval() -> None:
    assert format_value(None) == "—"
    assert format_value(True) == "true"
    assert format_value(["age", "sex"]) == "age, sex"
    assert format_value([0.123456, 2]) == "[0.1235, 2]"
    assert format_value("inf") == "inf"
    assert format_value({"a": [1, 2], "b_c": "x"}) == "a [1, 2]; b c x"  # never JSON
    assert interval_text([0.28, 0.34]) == "[0.28, 0.34]"
    assert interval_text(["-inf", 0.5]) == "[-inf, 0.5]"
    assert interval_text(None) == ""


def test_check_names_wrap_only_after_their_separators() -> None:
    assert name_parts("equalized_odds_difference:sex*race") == (
        "equalized_odds_difference:",
        "sex*",
        "race",
    )
    assert name_parts("no_nulls") == ("no_nulls",)


def test_subject_name_with_a_label_or_without_a_version(document: dict[str, Any]) -> None:
    assert subject_name(document) == "adult-income@2"
    document["subject"] = {"model": None, "version": None, "label": "vendor-scores"}
    assert subject_name(document) == "vendor-scores"
    document["subject"] = {"model": "credit", "version": None}
    assert subject_name(document) == "credit"
    assert subject_name({"id": 3}) == "evaluation 3"


def test_categories_in_policy_order_and_counts(document: dict[str, Any]) -> None:
    order = [category for category, _ in by_category(document)]
    assert order == ["data", "performance", "fairness", "explainability", "security"]
    del document["summary"]
    assert summary_counts(document) == {"pass": 3, "warn": 1, "fail": 2, "undefined": 1}
