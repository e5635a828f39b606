"""One version's checks on one window: count the logs, then judge the statistics.

Every statistic is mergeable and built a batch at a time from DuckDB's Arrow batches:
drift statistics against the training profile (:func:`govml.metrics.current_statistics`),
confusion counts and score samples of the labelled rows, per group for fairness. The
judging is :mod:`govml.monitoring.checks`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from govml.checks import explain
from govml.datasets import Profile
from govml.errors import GovmlError, InputError
from govml.evaluation.gates import fairness_checks, fairness_reports
from govml.flavors import LoadedModel
from govml.metrics import (
    CurrentStatistics,
    binary_confusion,
    current_statistics,
    multiclass_confusion,
    regression_moments,
    score_samples,
)
from govml.metrics._registry import spec_for
from govml.metrics._validate import MetricInputError
from govml.monitoring.checks import (
    DEFAULT_LEVELS,
    DEFAULT_MIN_LABELS,
    DEFAULT_MIN_ROWS,
    DriftLevels,
    attribution_outcome,
    count_drift,
    coverage_outcome,
    fairness_outcome,
    feature_drift,
    performance_outcome,
)
from govml.monitoring.logs import SERVED_VARIANTS, Columns, PredictionLogs
from govml.monitoring.records import CheckOutcome, VersionReport, worst
from govml.monitoring.serving_checks import serving_outcomes
from govml.monitoring.window import Window
from govml.policy import Policy

SKEW_ROWS = 100_000
ENGINES = ("numpy", "spark")
MAX_SKIPPED_SHOWN = 20
DEFAULT_SHAP_ROWS = 500
FAIRNESS_BOOT = 200
_DELAY_SAMPLE = 100_000


@dataclass(frozen=True, kw_only=True)
class Reference:
    """What a version is compared with.

    Attributes
    ----------
    version : int
        The version.
    features : list of str
        Its signature's inputs.
    profile : Profile or None
        Its training data's profile (None when none was recorded).
    target : str or None
        The training profile's target column (the one that is not an input).
    prediction_counts : dict or None
        Predicted classes counted on the evaluation data, keyed by the class as text.
    prediction_source : str
        Where the prediction reference comes from, for the report.
    pos_label : Any
        The positive class used by the evaluation, if any.
    importance : dict or None
        Mean |SHAP| per input from the version's latest evaluation with an explanation.
    explainer : str
        The explainer that evaluation used.
    load_model : callable or None
        Loads the version for SHAP on the window (None: no attribution check).
    """

    version: int
    features: list[str]
    profile: Profile | None = None
    target: str | None = None
    prediction_counts: dict[str, int] | None = None
    prediction_source: str = ""
    pos_label: Any = None
    importance: dict[str, float] | None = None
    explainer: str = "auto"
    load_model: Callable[[], LoadedModel] | None = None


@dataclass(frozen=True, kw_only=True)
class Options:
    """How much data a verdict needs, and how attribution samples.

    Attributes
    ----------
    min_rows : int
        Served rows below which drift is not judged (``insufficient``).
    min_labels : int
        Labelled rows below which performance and fairness are not judged.
    shap_rows : int or None
        Rows of the window explained for attribution (default: the policy's
        ``explainability.sample_rows``, else 500).
    seed : int
        Seed of the SHAP sample and the fairness bootstrap.
    engine : str
        What counts the window's drift and skew statistics: ``numpy`` (DuckDB reads the
        files, numpy counts each batch) or ``spark`` (Spark reads and counts; for windows
        one machine should not hold). The statistics are the same either way.
    """

    min_rows: int = DEFAULT_MIN_ROWS
    min_labels: int = DEFAULT_MIN_LABELS
    shap_rows: int | None = None
    seed: int = 0
    engine: str = "numpy"

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise InputError(
                f"unknown monitoring engine {self.engine!r}; the engines are {', '.join(ENGINES)}"
            )


@dataclass
class _Labelled:
    rows: int = 0
    feedback_rows: int = 0
    found: list[str] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)
    delays: list[float] = field(default_factory=list)
    corrections: int = 0
    skipped: int = 0
    skipped_examples: list[str] = field(default_factory=list)

    def skip(self, request_ids: list[Any], records: list[Any], reasons: list[str]) -> None:
        """Count labels that cannot be true; keep the first few, named, for the report."""
        self.skipped += len(request_ids)
        room = MAX_SKIPPED_SHOWN - len(self.skipped_examples)
        for request_id, record, reason in list(zip(request_ids, records, reasons, strict=True))[
            :room
        ]:
            self.skipped_examples.append(f"{request_id} record {record}: {reason}")


def drift_levels(policy: Policy | None) -> tuple[DriftLevels, ...]:
    """Return the drift tests and levels of the policy (the defaults without a section)."""
    monitoring = None if policy is None else policy.monitoring
    if monitoring is None or not monitoring.drift:
        return DEFAULT_LEVELS
    return tuple(
        DriftLevels(test=test, warn=levels.warn, alert=levels.alert)
        for test, levels in monitoring.drift.items()
    )


def check_version(
    logs: PredictionLogs,
    files: Sequence[str],
    window: Window,
    reference: Reference,
    policy: Policy | None,
    options: Options,
) -> VersionReport:
    """Run every check of one version on the window (module docstring)."""
    columns = logs.columns(files, f"{logs.model}@{reference.version}")
    rows = logs.count(files, window)
    levels = drift_levels(policy)
    notes: list[str] = []
    checks: list[CheckOutcome] = [_rows_outcome(rows, options.min_rows)]
    enough = rows >= options.min_rows
    profile = reference.profile
    features = _features(columns, reference, notes)
    if profile is None:
        notes.append("no training profile is recorded: no data drift, prediction drift or skew")
    elif enough and features:
        if options.engine == "numpy":
            stats = _count(profile, logs.input_batches(files, window), features)
        else:
            stats = _engine_count(options.engine, profile, files, window, features)
        checks += feature_drift(profile, stats, features, levels)
    if enough:
        drift = _prediction_drift(logs, files, window, reference, columns, levels, notes)
        if drift is not None:
            checks.append(drift)
    if profile is not None and features:
        checks += _skew(logs, reference, profile, features, levels, options, notes)
    checks += _labelled_checks(
        logs, files, window, rows, reference, columns, policy, options, notes
    )
    if policy is not None and policy.monitoring is not None and policy.monitoring.serving:
        checks += serving_outcomes(logs, files, window, policy.monitoring.serving)
    if enough:
        attribution = _attribution(logs, files, window, reference, policy, options, notes)
        if attribution is not None:
            checks.append(attribution)
    else:
        notes.append(
            f"{rows:,} served rows, fewer than the {options.min_rows:,} needed: drift and "
            "attribution are not judged on this window"
        )
    labelled = next(
        (int(c.evidence.get("labelled", 0)) for c in checks if c.check == "label_coverage"), 0
    )
    return VersionReport(
        version=reference.version,
        rows=rows,
        labelled=labelled,
        status=worst(c.status for c in checks),
        checks=tuple(checks),
        notes=tuple(notes),
    )


def _rows_outcome(rows: int, min_rows: int) -> CheckOutcome:
    enough = rows >= min_rows
    return CheckOutcome(
        check="rows",
        category="coverage",
        status="ok" if enough else "insufficient",
        value=float(rows),
        threshold={"min_rows": min_rows},
        message=f"{rows:,} served rows"
        + ("" if enough else f", fewer than the {min_rows:,} needed to judge drift"),
    )


def _features(columns: Columns, reference: Reference, notes: list[str]) -> list[str]:
    profile = reference.profile
    if profile is None:
        return []
    logged = columns.input_names
    missing = [name for name in logged if name not in profile.names]
    if missing:
        notes.append("not in the training profile, so not compared: " + ", ".join(sorted(missing)))
    return [name for name in logged if name in profile.names and name != reference.target]


def _count(
    profile: Profile, batches: Iterator[pa.RecordBatch], features: list[str]
) -> CurrentStatistics:
    merged: CurrentStatistics | None = None
    for batch in batches:
        if batch.num_rows == 0:
            continue
        counted = current_statistics(profile, batch, columns=features)
        merged = counted if merged is None else merged.merge(counted)
    if merged is None:
        merged = current_statistics(profile, _empty(profile, features), columns=features)
    return merged


def _engine_count(
    name: str,
    profile: Profile,
    files: Sequence[str],
    window: Window | None,
    features: list[str],
    *,
    limit: int | None = None,
) -> CurrentStatistics:
    """Count the served inputs of ``files`` in ``window`` with the Spark engine."""
    from govml.engines import get_engine

    if name != "spark":
        raise InputError(f"monitoring counts with the numpy or the spark engine, not {name!r}")
    engine = get_engine("spark")
    from pyspark.sql import functions as F

    frame = engine.session.read.option("mergeSchema", "true").parquet(*files)  # type: ignore[attr-defined]
    frame = frame.where(F.col("variant").isin(*SERVED_VARIANTS))
    if window is not None:
        frame = frame.where((F.col("time") >= window.start) & (F.col("time") < window.end))
    if limit is not None:
        frame = frame.orderBy("time").limit(limit)
    return engine.current_statistics(profile, frame.select("inputs.*"), columns=features)


def _empty(profile: Profile, features: list[str]) -> pa.Table:
    return pa.table({name: pa.nulls(0) for name in features})


def _is_classifier(columns: Columns) -> bool:
    return bool(columns.classes) or not columns.prediction.upper().startswith(
        ("DOUBLE", "FLOAT", "DECIMAL", "REAL")
    )


def _prediction_drift(
    logs: PredictionLogs,
    files: Sequence[str],
    window: Window,
    reference: Reference,
    columns: Columns,
    levels: Sequence[DriftLevels],
    notes: list[str],
) -> CheckOutcome | None:
    profile, target = reference.profile, reference.target
    if _is_classifier(columns):
        counts = {
            str(k): n for k, n in logs.prediction_counts(files, window).items() if k is not None
        }
        if reference.prediction_counts:
            return count_drift(
                reference.prediction_counts, counts, levels, source=reference.prediction_source
            )
        if profile is not None and target is not None:
            ref_counts = _target_counts(profile, target)
            if ref_counts:
                return count_drift(ref_counts, counts, levels, source=f"training labels ({target})")
        notes.append("no reference for the predictions (no evaluation, no training target)")
        return None
    if profile is None or target is None:
        notes.append("no training target to compare the predictions with")
        return None
    renamed = (
        pa.table({target: batch.column(0)}) for batch in logs.prediction_batches(files, window)
    )
    stats = _count(profile, (t.to_batches()[0] for t in renamed if t.num_rows), [target])
    (outcome,) = feature_drift(profile, stats, [target], levels, category="prediction_drift")
    return CheckOutcome(
        check="prediction_drift",
        category="prediction_drift",
        status=outcome.status,
        value=outcome.value,
        threshold=outcome.threshold,
        message="predictions vs training target " + outcome.message,
        evidence=outcome.evidence,
    )


def _target_counts(profile: Profile, target: str) -> dict[str, int]:
    column = profile.column(target).to_dict()
    pairs = (
        column.get("counts") if column.get("kind") == "categorical" else column.get("value_counts")
    )
    return {_label_text(v): int(n) for v, n in pairs or []}


def _label_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _skew(
    logs: PredictionLogs,
    reference: Reference,
    profile: Profile,
    features: list[str],
    levels: Sequence[DriftLevels],
    options: Options,
    notes: list[str],
) -> list[CheckOutcome]:
    first = logs.first_day(reference.version)
    if first is None:
        return []
    files = logs.prediction_files([first]).get(reference.version, [])
    if not files:
        return []
    rows = min(logs.count(files, None), SKEW_ROWS)
    if rows < options.min_rows:
        notes.append(
            f"day one ({first}) has {rows:,} served rows, fewer than {options.min_rows:,}: "
            "training–serving skew is not judged"
        )
        return []
    if options.engine == "numpy":
        stats = _count(profile, logs.input_batches(files, None, limit=SKEW_ROWS), features)
    else:
        stats = _engine_count(options.engine, profile, files, None, features, limit=SKEW_ROWS)
    outcomes = feature_drift(profile, stats, features, levels, category="skew")
    return [_on_day(o, first, rows) for o in outcomes]


def _on_day(outcome: CheckOutcome, day: date, rows: int) -> CheckOutcome:
    return CheckOutcome(
        check=outcome.check,
        category=outcome.category,
        status=outcome.status,
        value=outcome.value,
        threshold=outcome.threshold,
        message=f"day one ({day}, {rows:,} rows) {outcome.message}",
        evidence={**outcome.evidence, "day": day.isoformat(), "rows": rows},
    )


def _typed_label(text: str, prediction_type: str) -> Any:
    kind = prediction_type.upper()
    if kind.startswith(("BIGINT", "INTEGER", "SMALLINT", "TINYINT", "HUGEINT", "UBIGINT")):
        return int(float(text))
    if kind.startswith(("DOUBLE", "FLOAT", "REAL")):
        return float(text)
    if kind.startswith("BOOLEAN"):
        return text.lower() in ("true", "1")
    return text


def _labelled_checks(
    logs: PredictionLogs,
    files: Sequence[str],
    window: Window,
    rows: int,
    reference: Reference,
    columns: Columns,
    policy: Policy | None,
    options: Options,
    notes: list[str],
) -> list[CheckOutcome]:
    monitoring = None if policy is None else policy.monitoring
    rules = [] if monitoring is None else list(monitoring.performance)
    fair_rules = [] if monitoring is None else list(monitoring.fairness)
    sensitive = [] if policy is None or policy.fairness is None else list(policy.fairness.sensitive)
    classifier = _is_classifier(columns)
    pos_label = reference.pos_label
    if classifier and pos_label is None and len(columns.classes) == 2:
        pos_label = _typed_label(columns.classes[1], columns.prediction)
    score_class = None
    if classifier and pos_label is not None and len(columns.classes) == 2:
        score_class = str(pos_label)
        if score_class not in columns.classes:
            score_class = next(
                (c for c in columns.classes if c.lower() == score_class.lower()), None
            )
    labelled = _Labelled()
    feedback_rows, batches, labelled.found = logs.labelled(
        files,
        window,
        score_class=score_class,
        sensitive=sensitive if fair_rules else [],
        columns=columns,
    )
    labelled.feedback_rows = feedback_rows
    binary = classifier and pos_label is not None and len(columns.classes) <= 2
    classes = [_typed_label(c, columns.prediction) for c in columns.classes] or None
    rng = np.random.default_rng(options.seed)
    for batch in batches:
        _add_batch(
            labelled,
            batch,
            binary=binary,
            classifier=classifier,
            pos_label=pos_label,
            classes=classes,
            rng=rng,
        )
    rows = logs.count(files, window)
    out = [
        coverage_outcome(
            rows,
            labelled.rows,
            feedback_rows,
            labelled.delays,
            options.min_labels,
            corrections=labelled.corrections,
            skipped=labelled.skipped,
            skipped_examples=labelled.skipped_examples,
        )
    ]
    if labelled.skipped:
        notes.append(
            f"{labelled.skipped:,} label(s) skipped as they cannot be true, first: "
            + "; ".join(labelled.skipped_examples[:5])
        )
    enough = labelled.rows >= options.min_labels
    short = f"{labelled.rows:,} labelled rows, fewer than {options.min_labels:,}"
    for rule in rules:
        stats, why = (None, short) if not enough else _stats_for(labelled, rule.metric)
        out.append(performance_outcome(rule.metric, rule.low, rule.high, stats, why))
    if fair_rules and policy is not None and policy.fairness is not None:
        out += _fairness(labelled, policy, enough, short, binary, options, notes)
    return out


def _add_batch(
    labelled: _Labelled,
    batch: pa.RecordBatch,
    *,
    binary: bool,
    classifier: bool,
    pos_label: Any,
    classes: list[Any] | None,
    rng: np.random.Generator,
) -> None:
    if batch.num_rows == 0:
        return
    batch = _true_labels(labelled, batch, classifier=classifier, classes=classes)
    if batch.num_rows == 0:
        return
    names = batch.schema.names
    y_pred = batch.column(names.index("prediction")).to_numpy(zero_copy_only=False)
    y_true = _like(batch.column(names.index("label")).to_numpy(zero_copy_only=False), y_pred)
    delays = batch.column(names.index("delay_s")).to_numpy(zero_copy_only=False)
    found: dict[str, Any] = {}
    try:
        if binary:
            groups = {n: batch.column(names.index(n)).to_pylist() for n in labelled.found}
            found["grouped"] = binary_confusion(
                y_true,
                y_pred,
                pos_label=pos_label,
                sensitive_features=groups or None,
                missing="group",
            )
            found["binary"] = binary_confusion(y_true, y_pred, pos_label=pos_label)
            if "score" in names:
                scores = batch.column(names.index("score")).to_numpy(zero_copy_only=False)
                found["score"] = score_samples(
                    y_true, scores.astype(np.float64), pos_label=pos_label
                )
        elif classifier:
            found["multiclass"] = multiclass_confusion(y_true, y_pred)
        else:
            found["regression"] = regression_moments(
                y_true.astype(np.float64), y_pred.astype(np.float64)
            )
    except MetricInputError as exc:  # labels of a model whose classes the log does not name
        ids = batch.column(names.index("request_id")).to_pylist()
        labelled.skip(
            ids, batch.column(names.index("record")).to_pylist(), [exc.message] * len(ids)
        )
        return
    labelled.rows += batch.num_rows
    labelled.corrections += int(np.count_nonzero(batch.column(names.index("corrected"))))
    keep = delays if len(delays) <= 10_000 else rng.choice(delays, 10_000, replace=False)
    if len(labelled.delays) < _DELAY_SAMPLE:
        labelled.delays.extend(float(d) for d in keep)
    for kind, stats in found.items():
        before = labelled.stats.get(kind)
        labelled.stats[kind] = stats if before is None else before.merge(stats)


def _true_labels(
    labelled: _Labelled, batch: pa.RecordBatch, *, classifier: bool, classes: list[Any] | None
) -> pa.RecordBatch:
    """Return the rows whose label could be true; count and name the others.

    A classifier's label must be one of the classes the log names (its probabilities), or at
    least of the predictions' type; a regressor's a finite number.
    """
    names = batch.schema.names
    column = batch.column(names.index("label"))
    kind = batch.column(names.index("prediction")).type
    allowed = None if classes is None else set(classes)
    if column.type == kind and (pa.types.is_integer(kind) or pa.types.is_floating(kind)):
        # Typed as the predictions (the gateway writes them so): checked column-wise.
        valid = pc.is_valid(column)
        if classifier and classes is not None:
            valid = pc.and_(valid, pc.is_in(column, value_set=pa.array(classes, type=kind)))
        elif not classifier and pa.types.is_floating(kind):
            valid = pc.and_(valid, pc.is_finite(column))
        valid = pc.fill_null(valid, False)
        if pc.all(valid).as_py():
            return batch
    labels = column.to_pylist()
    reasons: list[str | None] = []
    shown = "" if classes is None else ", ".join(str(c) for c in classes[:10])
    for label in labels:
        value = _as_prediction(label, kind)
        if value is None:
            reasons.append(f"label {label!r} is not a {kind}")
        elif not classifier and not math.isfinite(value):
            reasons.append(f"label {label!r} is not a finite number")
        elif classifier and allowed is not None and value not in allowed:
            reasons.append(f"label {label!r} is not one of the classes {shown}")
        else:
            reasons.append(None)
    bad = [i for i, reason in enumerate(reasons) if reason is not None]
    if not bad:
        return batch
    ids = batch.column(names.index("request_id")).to_pylist()
    records = batch.column(names.index("record")).to_pylist()
    labelled.skip([ids[i] for i in bad], [records[i] for i in bad], [str(reasons[i]) for i in bad])
    keep = pa.array([reason is None for reason in reasons])
    filtered: pa.RecordBatch = batch.filter(keep)
    return filtered


def _as_prediction(label: Any, kind: pa.DataType) -> Any:
    """Return ``label`` as a value of the predictions' Arrow type, or None when it is not one."""
    if label is None:
        return None
    try:
        if pa.types.is_boolean(kind):
            if isinstance(label, bool):
                return label
            text = str(label).lower()
            return {"true": True, "1": True, "false": False, "0": False}.get(text)
        if pa.types.is_integer(kind):
            number = float(label)
            return int(number) if number.is_integer() else None
        if pa.types.is_floating(kind):
            return float(label)
    except (TypeError, ValueError, OverflowError):
        return None
    return str(label)


def _like(values: Any, template: Any) -> Any:
    """Cast labels to the predictions' type (feedback of ints sent as text, for example)."""
    if values.dtype == template.dtype or template.dtype.kind not in "biuf":
        return values
    try:
        return values.astype(template.dtype)
    except (TypeError, ValueError):
        return values


def _stats_for(labelled: _Labelled, metric: str) -> tuple[Any, str | None]:
    for kind in spec_for(metric).kinds:
        if kind in labelled.stats:
            return labelled.stats[kind], None
    if "score" in spec_for(metric).kinds and "binary" in labelled.stats:
        return None, f"{metric} needs class probabilities, which the log does not carry"
    return None, f"{metric} does not apply to this model's predictions"


def _fairness(
    labelled: _Labelled,
    policy: Policy,
    enough: bool,
    short: str,
    binary: bool,
    options: Options,
    notes: list[str],
) -> list[CheckOutcome]:
    section = policy.fairness
    monitoring = policy.monitoring
    assert section is not None and monitoring is not None
    missing = [n for n in section.sensitive if n not in labelled.found]
    if missing:
        notes.append(
            "sensitive attributes neither logged nor in the feedback: " + ", ".join(missing)
        )
    reason = None
    if not labelled.found:
        reason = (
            "no sensitive attribute (" + ", ".join(section.sensitive) + ") in the log or feedback"
        )
    elif not enough:
        reason = short
    elif not binary or "grouped" not in labelled.stats:
        reason = "fairness drift is computed for binary classifiers"
    if reason is not None:
        return [
            CheckOutcome(
                check=f"fairness:{rule.metric}",
                category="fairness",
                status="insufficient",
                value=None,
                threshold={},
                message=f"{rule.metric} is not judged: {reason}",
            )
            for rule in monitoring.fairness
        ]
    rules = section.model_copy(
        update={
            "rules": list(monitoring.fairness),
            "sensitive": list(labelled.found),
            "reference_groups": {
                k: v for k, v in section.reference_groups.items() if k in labelled.found
            },
        }
    )
    stats = labelled.stats["grouped"]
    reports = fairness_reports(
        stats, rules, default_n_boot=FAIRNESS_BOOT, random_state=options.seed
    )
    return [
        fairness_outcome(result)
        for result in fairness_checks(reports, rules, default_n_boot=FAIRNESS_BOOT)
    ]


def _attribution(
    logs: PredictionLogs,
    files: Sequence[str],
    window: Window,
    reference: Reference,
    policy: Policy | None,
    options: Options,
    notes: list[str],
) -> CheckOutcome | None:
    section = None if policy is None else policy.explainability
    if reference.importance is None:
        notes.append(
            "no SHAP importance stored by an evaluation of this version: attribution drift "
            "is not checked"
        )
        return None
    if reference.load_model is None:
        return None
    rows = options.shap_rows or (DEFAULT_SHAP_ROWS if section is None else section.sample_rows)
    sample = logs.sample_inputs(files, window, rows=rows, seed=options.seed)
    try:
        model = reference.load_model()
        explained = explain(
            model,
            sample.to_pandas(),
            explainer=reference.explainer,  # type: ignore[arg-type]
            sample_rows=rows,
            random_state=options.seed,
        )
    except GovmlError as exc:
        notes.append(f"attribution drift was not computed: {exc.message}")
        return None
    stability = None if section is None else section.stability_vs_production
    return attribution_outcome(
        explained.importance,
        reference.importance,
        k=5 if section is None else section.top_k,
        min_overlap=None if stability is None else stability.min_overlap,
        min_rank_correlation=None if stability is None else stability.min_rank_correlation,
        evidence={"explainer": explained.explainer, "sample_rows": explained.sample_rows},
    )


def prediction_reference(document: Mapping[str, Any]) -> tuple[dict[str, int] | None, Any]:
    """Return the predicted-class counts and positive class an evaluation document records.

    The counts come from the overall confusion of a performance check's evidence (binary
    classifiers): ``fp + tp`` predicted positive, ``tn + fn`` predicted negative.
    """
    inputs = document.get("inputs") or {}
    pos_label = inputs.get("pos_label")
    for check in document.get("checks", []):
        confusion = (check.get("evidence") or {}).get("confusion")
        if check.get("category") != "performance" or not isinstance(confusion, dict):
            continue
        if pos_label is None:
            return None, None
        positive = float(confusion["fp"]) + float(confusion["tp"])
        negative = float(confusion["tn"]) + float(confusion["fn"])
        classes = _two_classes(pos_label)
        if classes is None:
            return None, pos_label
        neg_label, pos_text = classes
        return {neg_label: round(negative), pos_text: round(positive)}, pos_label
    return None, pos_label


def _two_classes(pos_label: Any) -> tuple[str, str] | None:
    if isinstance(pos_label, bool):
        return str(not pos_label), str(pos_label)
    if isinstance(pos_label, int) and pos_label in (0, 1):
        return str(1 - pos_label), str(pos_label)
    return None
