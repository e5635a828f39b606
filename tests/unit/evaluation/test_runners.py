"""The section runners: one per policy section, in order, and the CLI's stages follow them."""

from __future__ import annotations

from govml.checks import CATEGORIES
from govml.cli.evaluate_cmds import STAGES
from govml.evaluation.runners import DRIFT, PREDICTING, READING, RUNNERS, SCANNING, STORING
from govml.policy import Policy


def test_one_runner_per_policy_section_in_order() -> None:
    assert tuple(runner.section for runner in RUNNERS) == CATEGORIES
    gates = {
        "data",
        "training_data",
        "performance",
        "fairness",
        "robustness",
        "baseline",
        "explainability",
        "security",
        "documentation",
    }
    assert gates <= set(Policy.model_fields)
    assert {runner.section for runner in RUNNERS} == gates
    assert len({runner.clock for runner in RUNNERS}) == len(RUNNERS)


def test_cli_progress_stages_come_from_the_runner_list() -> None:
    # The data section runs on the data as read, before the artifact is even scanned.
    raw = [runner.stage for runner in RUNNERS if runner.on_raw_data]
    model = [runner.stage for runner in RUNNERS if not runner.on_raw_data]
    assert raw == ["data checks"]
    assert list(STAGES) == [READING, *raw, SCANNING, PREDICTING, *model, DRIFT, STORING]
