"""Reports say which label is positive and which outcome is favourable.

With German credit's ``favourable_label: 0`` the positive label is a default (1) and the
selection rate drawn per group is the share predicted to default, while disparate impact
measures who is granted credit. A reader must be able to tell the two apart.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from govml.reports import render
from govml.reports._format import details_of
from govml.reports.plots import fairness_plots


def _favourable(document: dict[str, Any], label: Any, source: str) -> dict[str, Any]:
    document["inputs"].update(favourable_label=label, favourable_label_source=source)
    return document


@pytest.mark.parametrize(
    ("label", "source", "shown"),
    [
        (0, "policy", "0 (from the policy)"),
        (1, "assumed", "1 (assumed: the positive label; set fairness.favourable_label)"),
    ],
)
def test_details_name_the_positive_label_and_the_favourable_outcome(
    document: dict[str, Any], label: Any, source: str, shown: str
) -> None:
    details = dict(details_of(_favourable(document, label, source)))
    assert details["positive label"] == "1"
    assert details["favourable outcome"] == shown
    labels = [name for name, _ in details_of(document)]
    order = [labels.index(name) for name in ("task", "positive label", "favourable outcome")]
    assert order == sorted(order)


def test_without_them_nothing_is_said(document: dict[str, Any]) -> None:
    document["inputs"].pop("pos_label")
    details = dict(details_of(document))
    assert "positive label" not in details and "favourable outcome" not in details


def test_markdown_and_html_show_both(document: dict[str, Any]) -> None:
    _favourable(document, 0, "policy")
    markdown = render(document, "md")
    assert "| positive label | 1 |" in markdown
    assert "| favourable outcome | 0 (from the policy) |" in markdown
    page = render(document, "html")
    assert "positive label" in page and "0 (from the policy)" in page


def test_the_selection_rate_says_which_prediction_it_counts(
    document: dict[str, Any], fairness_evidence: dict[str, Any]
) -> None:
    plain = fairness_plots(fairness_evidence)
    assert all("selection rate" not in plot.caption for plot in plain)
    assert fairness_evidence["statistics"]["pos_label"] == 1
    named = fairness_plots(fairness_evidence, label_selection_rate=True)
    assert [plot.title for plot in named] == [plot.title for plot in plain]
    for plot in named:
        assert plot.caption.endswith("; selection rate: the share of rows predicted 1.")
        assert plot.table is not None and "selection rate (predicted 1)" in plot.table.header
    _favourable(document, 0, "policy")
    blobs = {"fairness_report": json.dumps(fairness_evidence).encode()}
    page = render(document, "html", evidence=blobs.get)
    assert "selection rate: the share of rows predicted 1." in page


def test_a_report_of_the_favourable_counts_names_that_label(
    fairness_evidence: dict[str, Any],
) -> None:
    # A report read from the swapped statistics counts the favourable label as positive.
    swapped = json.loads(json.dumps(fairness_evidence))
    swapped["statistics"]["pos_label"] = 0
    for plot in fairness_plots(swapped, label_selection_rate=True):
        assert plot.caption.endswith("; selection rate: the share of rows predicted 0.")
