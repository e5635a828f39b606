"""One runner per policy section, in the order an evaluation runs them.

Each runner (a `SectionRunner`) turns one section of a policy into check results from an
`EvaluationRun`. The evaluation service runs the raw-data runners (the data section) on the
table as read, then scans the artifact and gathers the predictions (blocked when a data
check failed or the model cannot predict), then runs the other runners whose section the
policy has, decides and stores. Adding a section is one new module here and one entry
in `RUNNERS`; the progress stages of ``govml evaluate`` follow from the list.
"""

from __future__ import annotations

from govml.evaluation.runners.base import (
    EvaluationRun,
    Finding,
    Lookups,
    SectionOutput,
    SectionRunner,
)
from govml.evaluation.runners.baseline import BaselineRunner
from govml.evaluation.runners.data import DataRunner
from govml.evaluation.runners.documentation import DocumentationRunner
from govml.evaluation.runners.explainability import ExplainabilityRunner
from govml.evaluation.runners.fairness import FairnessRunner
from govml.evaluation.runners.performance import PerformanceRunner
from govml.evaluation.runners.robustness import RobustnessRunner
from govml.evaluation.runners.security import SecurityRunner
from govml.evaluation.runners.training_data import TrainingDataRunner

RUNNERS: tuple[SectionRunner, ...] = (
    DataRunner(),
    TrainingDataRunner(),
    PerformanceRunner(),
    FairnessRunner(),
    RobustnessRunner(),
    BaselineRunner(),
    ExplainabilityRunner(),
    SecurityRunner(),
    DocumentationRunner(),
)

READING = "reading data"
SCANNING = "scanning the artifact"
PREDICTING = "predicting"
DRIFT = "drift against the training data"
STORING = "storing"


def stages() -> tuple[str, ...]:
    """Return every progress stage of an evaluation, in the order they run.

    The runners on the raw data come first; then the artifact is scanned and the model
    predicts; then the other runners, in the order of `RUNNERS`.
    """
    raw = [runner.stage for runner in RUNNERS if runner.on_raw_data]
    model = [runner.stage for runner in RUNNERS if not runner.on_raw_data]
    return (READING, *raw, SCANNING, PREDICTING, *model, DRIFT, STORING)


__all__ = [
    "DRIFT",
    "PREDICTING",
    "READING",
    "RUNNERS",
    "SCANNING",
    "STORING",
    "EvaluationRun",
    "Finding",
    "Lookups",
    "SectionOutput",
    "SectionRunner",
    "stages",
]
