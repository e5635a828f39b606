"""The reliability plot drawn from an evaluation's calibration evidence."""

from __future__ import annotations

import json

import numpy as np

from govml.metrics.calibration import calibration_bins, calibration_sections
from govml.reports.calibration_plot import calibration_plots
from govml.reports.html import render_html


def _evidence() -> dict[str, object]:
    rng = np.random.default_rng(0)
    score = rng.random(2000)
    group = rng.choice(["a", "b"], 2000)
    truth = rng.random(2000) < np.where(group == "a", score, score**2)
    bins = calibration_bins(truth, score, sensitive_features={"g": group})
    sections = calibration_sections(bins, min_group_size=None, intersections=True)
    return {
        "report": {"sections": [s.to_dict() for s in sections]},
        "reliability": {"g": bins.marginal(["g"]).reliability()},
        "statistics": bins.to_dict(),
    }


def test_one_reliability_plot_per_grouping_with_its_numbers() -> None:
    (plot,) = calibration_plots(_evidence())
    assert plot.png.startswith(b"\x89PNG")
    assert plot.title == "Reliability by g"
    assert plot.table is not None
    assert [row[0] for row in plot.table.rows] == ["a", "b"]
    ece_a, ece_b = (float(row[1]) for row in plot.table.rows)
    assert ece_a < ece_b  # group b's scores are too high: squared probabilities came true


def test_the_html_report_has_the_calibration_section_only_when_stored() -> None:
    document = {"schema": "govml.evaluation/v1", "status": "pass", "checks": []}
    stored = json.dumps(_evidence()).encode()
    with_it = render_html(document, evidence=lambda name: stored if name == "calibration" else None)
    without = render_html(document, evidence=lambda name: None)
    assert "Calibration by group: reliability" in with_it
    assert "Calibration by group" not in without
