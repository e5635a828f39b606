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
    by_category,
    format_number,
    format_threshold,
    format_value,
    interval_text,
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
    ("threshold", "expected"),
    [
        ({"min": 0.8}, "≥ 0.8"),
        ({"max": 0.1}, "≤ 0.1"),
        ({"between": [0.8, 1.25]}, "[0.8, 1.25]"),
        ({"min": 0.8, "max": 1.25}, "[0.8, 1.25]"),
        ({"min": 0.8, "max": None}, "≥ 0.8"),
        ({"max_increase": 0.02}, '{"max_increase": 0.02}'),
        (5, "5"),
        ("high", "high"),
        (None, "—"),
    ],
)
def test_format_threshold(threshold: Any, expected: str) -> None:
    assert format_threshold(threshold) == expected


def test_format_value_and_interval() -> None:
    assert format_value(None) == "—"
    assert format_value(True) == "true"
    assert format_value(["age", "sex"]) == "age, sex"
    assert format_value([0.123456, 2]) == "[0.1235, 2]"
    assert format_value("inf") == "inf"
    assert format_value({"a": [1, 2]}) == '{"a": [1, 2]}'
    assert interval_text([0.28, 0.34]) == "[0.28, 0.34]"
    assert interval_text(["-inf", 0.5]) == "[-inf, 0.5]"
    assert interval_text(None) == ""


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
