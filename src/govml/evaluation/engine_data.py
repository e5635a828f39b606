"""An evaluation whose statistics a statistics engine computes where the data is.

``govml evaluate --engine spark --data PATH`` (and ``client.evaluate(..., engine="spark")``)
reads a Parquet / Delta path or a Spark DataFrame with the Spark engine
(:mod:`govml.engines.spark_engine`). No row of the whole data reaches the driver:

- **All rows, by Spark** — the row count and the target's missing values; the model's
  predictions and scores (the model is sent to the executors and scores each batch in a
  pandas UDF, ``mapInPandas``), or the columns of predictions made elsewhere; then the
  statistics the metrics read, by ``GROUP BY`` and ``SUM``: confusion counts per group of
  the sensitive features, the score histogram (10,000 bins: ROC AUC and average precision
  within the histogram's documented bound, log loss and Brier score exact), regression
  moments, the multiclass confusion matrix, and the drift counts on the training
  profile's bins. The ``performance`` rules and a binary classifier's ``fairness`` rules
  on confusion counts are checked on these, with the same values as in memory.
- **A bounded sample** (``sample_rows``, 100,000 by default; the whole data when it is
  smaller) — what needs rows: the ``explainability`` and ``robustness`` sections, which
  sample rows anyway, run on it. The ``data``, ``baseline`` and the evaluation-data checks
  of ``training_data`` run on it too, but a sample can only prove a problem: a check that
  fails on the sample fails, one that passes is ``undefined`` saying that only the sample
  was checked (the policy's ``undefined`` outcome decides).
- **Undefined**, with the reason — rules that need rows over the whole data: metrics of
  installed packages that read rows, fairness rules on calibration, and those of
  multiclass and regression models, and comparisons with the champion.

The document records the engine, the row count and the sample's size (``data.engine``);
the data's digest is that of its schema, row count and profile computed by the engine
(the content digest of the in-memory path would read every row on the driver).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from govml.checks import CheckResult
from govml.checks.result import Category
from govml.errors import InputError, ValidationError
from govml.evaluation.gates import (
    fairness_not_run,
)
from govml.evaluation.inputs import EvaluationInputs, plain, target_missing
from govml.evaluation.performance import Champion
from govml.evaluation.runners.base import (
    EvaluationRun,
    Finding,
    Lookups,
    SectionOutput,
    SectionRunner,
)
from govml.evaluation.runners.fairness import (
    FairnessRunner,
    _only,
)
from govml.ledger.canonical import canonical_json
from govml.policy import Fairness, Policy
from govml.policy.diagnostics import Path as FieldPath
from govml.policy.vocabulary import CALIBRATION_RULE_METRICS, FAIRNESS_METRICS

ENGINES = ("spark",)
DEFAULT_SAMPLE_ROWS = 100_000
PREDICTION = "__govml_prediction"
SCORE = "__govml_score"
GROUPED = "binary_groups"
"""Key in `EvaluationInputs.stats` of the confusion counts per group of the sensitive features."""

ERR_ENGINE = (
    "--engine {name}: an evaluation's statistics are computed where the data is by {engines}; "
    "without --engine the data is read into memory"
)
ERR_EMPTY = "the data {source} has no rows"
ERR_SAMPLE = "sample_rows must be at least 1, not {value}"
NOT_ON_ENGINE = (
    "{what} needs every row in memory, and with --engine {engine} only statistics of the "
    "{rows:,} rows are computed; evaluate without --engine to check it"
)
NO_CHAMPION_STATS = (
    "the comparison with the champion is not computed with --engine {engine} (the champion "
    "would score every row too); evaluate without --engine to compare"
)
SAMPLE_PASSED = (
    "{status} on a sample of {sample:,} of {rows:,} rows only: with --engine {engine} the "
    "other rows are not checked"
)
SAMPLE_FAILED = " (found in a sample of {sample:,} of {rows:,} rows)"
NOTE_ENGINE = (
    "statistics of all {rows:,} rows were computed by the {engine} engine (performance, "
    "fairness on confusion counts, the target's missing values, drift); {sampled}"
)
NOTE_SAMPLE = (
    "explainability and robustness ran on a sample of {sample:,} rows, and data checks on it "
    "count only when they fail"
)
NOTE_WHOLE = "the data has no more rows than the sample size, so row checks read every row"
TRAINING_ONLY = ("group_share", "group_count", "base_rate_ratio", "label_coverage", "training_")
"""Checks of the ``training_data`` section that read the training data, not the evaluation's."""
SAMPLED_SECTIONS = ("data", "baseline", "training_data")


def open_engine_data(
    engine: str, data: Any, *, sample_rows: int = DEFAULT_SAMPLE_ROWS, seed: int = 0
) -> EngineData:
    """Read ``data`` with the statistics engine ``engine``; count it and take the sample.

    Raises
    ------
    InputError
        When the engine is not one that evaluates (``spark``), or the data cannot be read.
    ValidationError
        When the data has no rows.
    ConfigurationError
        When pyspark or Java is missing, naming what to install.
    """
    if engine not in ENGINES:
        raise InputError(ERR_ENGINE.format(name=engine, engines=", ".join(ENGINES)))
    if sample_rows < 1:
        raise InputError(ERR_SAMPLE.format(value=sample_rows))
    from govml.engines import get_engine
    from govml.engines.spark_engine import SparkEngine

    found = get_engine(engine)
    assert isinstance(found, SparkEngine)
    frame = found.read(data)
    source = None if type(data).__module__.startswith("pyspark") else str(data)
    rows = _run(frame.count)
    if rows == 0:
        raise ValidationError(ERR_EMPTY.format(source=source or "given"))
    if rows <= sample_rows:
        sample = _run(frame.toArrow)
    else:
        fraction = min(1.0, 1.2 * sample_rows / rows)
        picked = frame.sample(withReplacement=False, fraction=fraction, seed=seed)
        sample = _run(picked.limit(sample_rows).toArrow)
    return EngineData(
        name=engine, engine=found, frame=frame, rows=rows, sample=sample, source=source
    )


@dataclass(kw_only=True)
class EngineData:
    """The data as the engine reads it: every row where it is, and a sample in memory."""

    name: str
    engine: Any
    frame: Any
    rows: int
    sample: Any
    """The sample, a ``pyarrow.Table`` (every row when there are at most ``sample_rows``)."""
    source: str | None
    _persisted: list[Any] = field(default_factory=list)

    @property
    def sampled(self) -> bool:
        """Whether the sample holds fewer rows than the data."""
        return int(self.sample.num_rows) < self.rows

    def close(self) -> None:
        """Release the scored rows the executors keep."""
        for frame in self._persisted:
            frame.unpersist()
        self._persisted.clear()

    # -- what the service asks ---------------------------------------------------------------

    def document(self, columns: int) -> dict[str, Any]:
        """Return the document's ``data`` part: digest of schema, rows and profile; the engine."""
        profile = self.engine.profile(self.frame)
        schema = [[f.name, f.dataType.simpleString()] for f in self.frame.schema.fields]
        text = canonical_json({"schema": schema, "rows": self.rows, "profile": profile.to_dict()})
        return {
            "digest": "sha256:" + hashlib.sha256(text).hexdigest(),
            "rows": self.rows,
            "columns": columns,
            "source": self.source,
            "engine": {
                "name": self.name,
                "sample_rows": int(self.sample.num_rows),
                "digest_of": "schema, row count and profile",
            },
        }

    def notes(self) -> list[str]:
        """Return the document's notes on what was computed on all rows, and on the sample."""
        sampled = (
            NOTE_SAMPLE.format(sample=int(self.sample.num_rows)) if self.sampled else NOTE_WHOLE
        )
        return [NOTE_ENGINE.format(rows=self.rows, engine=self.name, sampled=sampled)]

    def target_check(self, target: str) -> CheckResult | None:
        """Return a failing ``target`` check when the target has missing values in any row."""
        from pyspark.sql import functions as F

        column = F.col(_quoted(target))
        missing = column.isNull()
        if dict(self.frame.dtypes).get(target) in ("double", "float"):
            missing = missing | F.isnan(column)
        count = int(_run(self.frame.filter(missing).count))
        if count == 0:
            return None
        return target_missing(target, count, self.rows, engine=self.name)

    def current_statistics(self, reference: Mapping[str, Any], columns: Sequence[str]) -> Any:
        """Return the drift counts of every row on the reference profile's bins."""
        return self.engine.current_statistics(reference, self.frame, columns=list(columns))

    def runners(self, active: Sequence[SectionRunner]) -> list[SectionRunner]:
        """Return the section runners of an evaluation on this data (see the module docstring)."""
        out: list[SectionRunner] = []
        for runner in active:
            if runner.section == "fairness":
                out.append(EngineFairnessRunner(self))
            elif runner.section in SAMPLED_SECTIONS and self.sampled:
                out.append(SampledRunner(runner, self))
            else:
                out.append(runner)
        return out

    def apply(
        self, run: EvaluationRun, *, prediction_column: str | None, score_column: str | None
    ) -> EvaluationRun:
        """Compute the statistics of every row into the run's inputs; wrap its lookups.

        The inputs keep the sample's predictions (for the row checks); their ``stats`` are
        replaced by those of all rows, and ``computed_by`` says so.
        """
        inputs = run.predictions()
        inputs.stats = {}
        inputs.computed_by = self.name
        lookups = EngineLookups(inner=run.lookups, engine=self.name)
        if inputs.blocked is not None:
            return replace(run, lookups=lookups)
        frame, y_pred, score = self._scored(run, inputs, prediction_column, score_column)
        if y_pred is not None:
            self._statistics(inputs, frame, y_pred, score)
        elif score is not None:
            inputs.stats["score"] = self._histogram(inputs, frame, score)
        return replace(run, lookups=lookups)

    # -- helpers -----------------------------------------------------------------------------

    def _scored(
        self,
        run: EvaluationRun,
        inputs: EvaluationInputs,
        prediction_column: str | None,
        score_column: str | None,
    ) -> tuple[Any, str | None, str | None]:
        """Return the rows with prediction and score columns, and those columns' names."""
        if prediction_column is not None or run.loaded is None:
            return self.frame, prediction_column, score_column
        model = run.loaded
        names = list(inputs.features.columns)
        keep = list(dict.fromkeys([inputs.target, *inputs.sensitive]))
        want_scores = score_column is None and inputs.scores is not None
        classes = [] if model.classes is None else [plain(c) for c in model.classes]
        position = classes.index(inputs.pos_label) if inputs.pos_label in classes else None
        want_scores = want_scores and position is not None
        sample_pred = inputs.y_pred
        if sample_pred is None:
            return self.frame, None, score_column
        predicted_type, convert = _spark_type(np.asarray(sample_pred))
        from pyspark import StorageLevel
        from pyspark.sql.types import DoubleType, StructField, StructType

        fields = [self.frame.schema[name] for name in keep]
        fields.append(StructField(PREDICTION, predicted_type, True))
        if want_scores:
            fields.append(StructField(SCORE, DoubleType(), True))
        if score_column is not None and score_column not in keep:
            fields.append(self.frame.schema[score_column])
            keep.append(score_column)

        def score_batches(batches: Iterator[Any]) -> Iterator[Any]:
            for batch in batches:
                features = batch[names]
                out = batch[keep].copy()
                out[PREDICTION] = convert(np.asarray(model.predict(features)))
                if want_scores:
                    proba = np.asarray(model.predict_proba(features), dtype=np.float64)
                    out[SCORE] = proba[:, position]
                yield out

        scored = self.frame.mapInPandas(score_batches, StructType(fields))
        scored = scored.persist(StorageLevel.MEMORY_AND_DISK)
        self._persisted.append(scored)
        return scored, PREDICTION, SCORE if want_scores else score_column

    def _statistics(
        self, inputs: EvaluationInputs, frame: Any, y_pred: str, score: str | None
    ) -> None:
        engine = self.engine
        common = {"y_true": inputs.target, "y_pred": y_pred}
        if inputs.task == "regression":
            inputs.stats["regression"] = _run(
                lambda: engine.regression_moments(frame, **common).overall()
            )
            return
        if inputs.task == "multiclass":
            inputs.stats["multiclass"] = _run(
                lambda: engine.multiclass_confusion(frame, **common).overall()
            )
            return
        grouped = _run(
            lambda: engine.binary_confusion(
                frame,
                **common,
                sensitive=inputs.sensitive,
                pos_label=inputs.pos_label,
                missing="group",
            )
        )
        inputs.stats["binary"] = grouped.overall()
        if inputs.sensitive:
            inputs.stats[GROUPED] = grouped
        if score is not None:
            inputs.stats["score"] = self._histogram(inputs, frame, score)

    def _histogram(self, inputs: EvaluationInputs, frame: Any, score: str) -> Any:
        engine = self.engine
        return _run(
            lambda: engine.score_histogram(
                frame, y_true=inputs.target, score=score, pos_label=inputs.pos_label
            )
        )


@dataclass(frozen=True, kw_only=True)
class EngineLookups:
    """The store's lookups, with the champion's statistics marked as not computed."""

    inner: Lookups
    engine: str

    def champion(self, inputs: EvaluationInputs) -> Champion:
        """Return the champion; its statistics, when a rule compares with one, are undefined."""
        found = self.inner.champion(inputs)
        if found.stats_for is None:
            return found
        reason = NO_CHAMPION_STATS.format(engine=self.engine)
        return Champion(subject=found.subject, stats_for=lambda _measure: (None, reason))

    def production_importance(
        self, inputs: EvaluationInputs
    ) -> tuple[Mapping[str, float] | None, str | None]:
        """Return the production version's importance (explained on the sample)."""
        return self.inner.production_importance(inputs)

    def card(self) -> Mapping[str, Any] | None:
        """Return the model card's fields."""
        return self.inner.card()


class SampledRunner:
    """Runs a section on the sample; a check passing there is undefined, a failure stands."""

    def __init__(self, inner: SectionRunner, data: EngineData) -> None:
        self.inner = inner
        self.data = data
        self.section: Category = inner.section
        self.stage = inner.stage
        self.clock = inner.clock
        self.on_raw_data = inner.on_raw_data

    def applies(self, policy: Policy) -> bool:
        """Return whether the inner runner applies."""
        return self.inner.applies(policy)

    def problems(self, run: EvaluationRun) -> list[tuple[FieldPath, str]]:
        """Return the inner runner's problems."""
        return self.inner.problems(run)

    def run(self, run: EvaluationRun) -> SectionOutput:
        """Run the inner runner on the sample and qualify what it found."""
        output = self.inner.run(run)
        output.findings = [self._qualified(finding) for finding in output.findings]
        return output

    def _qualified(self, finding: Finding) -> Finding:
        result = finding.result
        if self.section == "training_data" and result.check.startswith(TRAINING_ONLY):
            return finding
        sizes = {"sample": int(self.data.sample.num_rows), "rows": self.data.rows}
        if result.status == "fail":
            message = result.message + SAMPLE_FAILED.format(**sizes)
            return replace(finding, result=replace(result, message=message))
        if result.status not in ("pass", "warn"):
            return finding
        reason = SAMPLE_PASSED.format(status=result.status, engine=self.data.name, **sizes)
        changed = replace(result, status="undefined", message=reason, reason=reason)
        return replace(finding, result=changed)


class EngineFairnessRunner(FairnessRunner):
    """A binary classifier's confusion-count rules on the engine's counts of every row."""

    def __init__(self, data: EngineData) -> None:
        self.data = data

    def run(self, run: EvaluationRun) -> SectionOutput:
        """Check the rules the engine's counts answer; the others are undefined, saying why."""
        section = run.policy.fairness
        assert section is not None
        inputs = run.predictions()
        if inputs.blocked is not None or inputs.y_pred is None:
            return super().run(run)
        by_metric = {rule.metric: rule.undefined for rule in section.rules}

        def findings(results: list[CheckResult]) -> list[Finding]:
            return [
                Finding(result=r, undefined=by_metric.get(r.check.split(":", 1)[0]))
                for r in results
            ]

        def not_on_engine(part: Fairness, what: str) -> list[Finding]:
            reason = NOT_ON_ENGINE.format(what=what, engine=self.data.name, rows=self.data.rows)
            return findings(fairness_not_run(part, inputs.sensitive, reason))

        if inputs.task != "binary":
            what = f"fairness of a {inputs.task} model"
            return SectionOutput(findings=not_on_engine(section, what))
        calibration = _only(section, CALIBRATION_RULE_METRICS)
        confusion = _only(section, frozenset(FAIRNESS_METRICS))
        output = (
            self._binary(run, confusion, inputs, findings) if confusion.rules else SectionOutput()
        )
        if calibration.rules:
            output.findings.extend(not_on_engine(calibration, "calibration by group"))
        return output

    def _binary_statistics(self, inputs: EvaluationInputs) -> Any:
        """Return the engine's confusion counts per group, counted over every row."""
        return inputs.stats[GROUPED]


def _spark_type(values: Any) -> tuple[Any, Callable[[Any], Any]]:
    """Return the Spark type of predictions like ``values`` and how to convert a batch's."""
    from pyspark.sql.types import BooleanType, DoubleType, LongType, StringType

    kind = values.dtype.kind
    if kind == "b":
        return BooleanType(), lambda v: v.astype(bool)
    if kind in "iu":
        return LongType(), lambda v: v.astype(np.int64)
    if kind == "f":
        return DoubleType(), lambda v: v.astype(np.float64)
    return StringType(), lambda v: np.asarray([None if x is None else str(x) for x in v])


def _quoted(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _run(call: Callable[[], Any]) -> Any:
    """Run a Spark action; a Spark error is an `InputError` with its first line."""
    from govml.engines.spark_engine import error_line, spark_errors

    try:
        return call()
    except spark_errors() as exc:
        raise InputError(f"Spark cannot evaluate the data: {error_line(exc)}") from None
