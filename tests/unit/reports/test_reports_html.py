"""The self-contained HTML report: escaping, embedded plots, missing evidence."""

from __future__ import annotations

import base64
import json
import re
from html.parser import HTMLParser
from typing import Any

import pytest

from govml.reports import render
from govml.reports.plots import MAX_ROWS, drift_plot, explanation_plot, fairness_plots

PNG = b"\x89PNG\r\n\x1a\n"
SCRIPT = "<script>alert(1)</script>"  # in a check message and a group name of the fixtures


class _Page(HTMLParser):
    """Collects start tags with their attributes, and the text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def attributes(self, name: str) -> list[str]:
        return [attrs[name] or "" for _, attrs in self.tags if name in attrs]


def _parse(page: str) -> _Page:
    parser = _Page()
    parser.feed(page)
    parser.close()
    return parser


def _images(parser: _Page) -> list[bytes]:
    sources = [attrs.get("src") or "" for tag, attrs in parser.tags if tag == "img"]
    prefix = "data:image/png;base64,"
    assert all(source.startswith(prefix) for source in sources)
    return [base64.b64decode(source[len(prefix) :], validate=True) for source in sources]


def test_html_is_self_contained_with_every_plot(
    document: dict[str, Any], evidence_blobs: dict[str, bytes]
) -> None:
    page = render(document, "html", evidence=evidence_blobs.get)
    parser = _parse(page)
    text = "".join(parser.text)
    for check in document["checks"]:
        assert check["check"] in text
    images = _images(parser)
    # One per fairness section (sex, race, sex × race), the SHAP summary, the drift.
    assert len(images) == 5
    assert all(image.startswith(PNG) for image in images)
    for url in parser.attributes("src") + parser.attributes("href"):
        assert not re.match(r"\s*(https?:)?//", url, re.IGNORECASE), url
    assert "http://" not in page and "https://" not in page
    assert not [tag for tag, _ in parser.tags if tag in ("script", "link", "iframe")]
    assert len(page.encode()) < 1.5 * 1024 * 1024
    for fact in ("credit-high-risk", document["policy"]["digest"], document["data"]["digest"]):
        assert fact in text
    for fact in ("2026-11-24T10:00:00Z", "alice", "2.5 s", "adult-income@2", "Timings"):
        assert fact in text
    assert "no fairness evidence stored" not in text


def test_html_escapes_messages_and_group_names(
    document: dict[str, Any], evidence_blobs: dict[str, bytes]
) -> None:
    document["checks"][0]["check"] = "roc_auc<b>"
    page = render(document, "html", evidence=evidence_blobs.get)
    assert "<script" not in page and "<b>" not in page
    escaped = SCRIPT.replace("<", "&lt;").replace(">", "&gt;")
    assert f"below 0.8 {escaped}" in page  # the message
    assert f"<td>{escaped}</td>" in page  # the group, in the numbers of the race plot
    assert "roc_auc&lt;b&gt;" in page
    parser = _parse(page)
    assert "script" not in {tag for tag, _ in parser.tags}
    assert SCRIPT in "".join(parser.text)


def test_html_without_evidence_shows_notes(document: dict[str, Any]) -> None:
    for evidence in (None, lambda name: None):
        parser = _parse(render(document, "html", evidence=evidence))
        text = "".join(parser.text)
        assert not [tag for tag, _ in parser.tags if tag == "img"]
        for what in ("fairness", "explanation", "drift"):
            assert f"no {what} evidence stored" in text
        for check in document["checks"]:
            assert check["check"] in text


def test_html_with_unreadable_or_empty_evidence(
    document: dict[str, Any], evidence_blobs: dict[str, bytes]
) -> None:
    blobs = dict(evidence_blobs, fairness_report=b"\xff not json", drift=b"[1, 2]")
    blobs["explanation"] = json.dumps({"importance": {}}).encode()
    text = "".join(_parse(render(document, "html", evidence=blobs.get)).text)
    assert "the fairness evidence could not be read" in text
    assert "the drift evidence could not be read: not a JSON object" in text
    assert "the explanation evidence holds nothing to plot" in text


def test_html_of_a_minimal_document() -> None:
    document = {"schema": "govml.evaluation/v1", "status": "pass", "checks": []}
    text = "".join(_parse(render(document, "html")).text)
    assert "The evaluation holds no checks." in text


def test_fairness_plots_mark_undefined_groups(fairness_evidence: dict[str, Any]) -> None:
    plots = fairness_plots(fairness_evidence)
    assert [plot.title for plot in plots] == [
        "Group metrics by sex",
        "Group metrics by race",
        "Group metrics by sex × race",
    ]
    race = plots[1]
    assert race.table is not None
    assert race.table.header == (
        "group",
        "rows",
        "selection rate",
        "true positive rate",
        "false positive rate",
    )
    rows = {row[0]: row for row in race.table.rows}
    assert rows["Other"][1:] == ("3", "undefined", "undefined", "undefined")
    _, interval = rows["White"][2].split(" ", 1)
    assert re.fullmatch(r"\[[0-9.]+, [0-9.]+\]", interval)
    assert "95% bootstrap interval" in race.caption


def test_fairness_plots_use_the_metrics_a_section_has() -> None:
    section = {
        "features": ["region"],
        "groups": [["north"], ["south"]],
        "rows": [10, 12],
        "by_group": {
            "accuracy": [
                {"metric": "accuracy", "value": 0.9, "group": ["north"]},
                {"metric": "accuracy", "value": None, "group": ["south"], "reason": "no rows"},
            ]
        },
    }
    (plot,) = fairness_plots({"sections": [section]})
    assert plot.png.startswith(PNG)
    assert plot.table is not None and plot.table.rows == [
        ("north", "10", "0.9"),
        ("south", "12", "undefined"),
    ]
    assert fairness_plots({"sections": [{"by_group": {}}]}) == []


def test_drift_plot_handles_p_values_distances_and_non_finite_scores(
    drift_evidence: dict[str, Any],
) -> None:
    plot = drift_plot(drift_evidence)
    assert plot is not None and plot.png.startswith(PNG)
    assert plot.table is not None
    rows = {(row[0], row[2]): row for row in plot.table.rows}
    assert rows[("capital", "kl_div")][3] == "inf"
    assert rows[("empty", "ks")][5] == "undefined"
    assert rows[("age", "ks")][5] == "drift"  # a p-value test
    assert rows[("age", "psi")][5] == "drift"  # a distance
    assert "tested columns drifted" in plot.caption and "method: exact" in plot.caption
    assert drift_plot({"columns": []}) is None


def test_drift_plot_draws_at_most_max_rows_columns_drifted_first() -> None:
    columns = [
        {
            "column": f"c{index}",
            "kind": "numeric",
            "test": "psi",
            "score": 0.5 if index % 10 == 0 else 0.01,
            "threshold": 0.1,
            "drifted": index % 10 == 0,
            "status": "drift" if index % 10 == 0 else "ok",
        }
        for index in range(100)
    ]
    plot = drift_plot({"columns": columns, "tested_columns": 100, "drifted_columns": 10})
    assert plot is not None and plot.table is not None
    assert len(plot.table.rows) == 100
    assert plot.notes == [f"{MAX_ROWS} of 100 columns are drawn, drifted ones first."]


def test_explanation_plot(explanation_evidence: dict[str, Any]) -> None:
    plot = explanation_plot(explanation_evidence)
    assert plot is not None and plot.png.startswith(PNG)
    assert plot.caption == "tree explainer; 500 rows explained; input level"
    many = dict(explanation_evidence, importance={f"f{i}": i / 100 for i in range(30)})
    plot = explanation_plot(many)
    assert plot is not None and plot.notes == ["The 20 largest of 30 features are drawn."]
    assert explanation_plot({"importance": {"a": "nan"}}) is None


@pytest.mark.parametrize("fmt", ["md", "html"])
def test_renderers_accept_any_json_values(document: dict[str, Any], fmt: Any) -> None:
    document["checks"][0].update(
        value={"per_class": [0.1, 0.2]}, threshold=[0.5, "nan"], interval=["-inf", "inf"]
    )
    text = render(document, fmt)
    assert "[-inf, inf]" in text


def test_html_thresholds_read_as_rules_and_names_wrap_at_separators_only(
    document: dict[str, Any], evidence_blobs: dict[str, bytes]
) -> None:
    document["checks"][1]["threshold"] = {"compare": "reference_group", "between": [0.8, 1.25]}
    document["checks"][1]["check"] = "disparate_impact_ratio:sex*race"
    page = render(document, "html", evidence=evidence_blobs.get)
    assert '{"' not in page and "&#34;" not in page and "\\u2265" not in page
    # The fixture's fairness report was computed without privileged groups.
    assert "between 0.8 and 1.25 vs the reference group" in page
    assert "<code>disparate_impact_ratio:<wbr>sex*<wbr>race</code>" in page
    assert "<code>log_loss_vs_champion</code>" in page  # no break inside a word
    assert "≤\u00a00.02 vs champion" in page  # "≤" never ends a line
    assert "break-all" not in re.sub(r"\.digest \{[^}]*\}", "", page)  # only digests break anywhere
