"""Prometheus metrics of the gateway (``GET /metrics``, text exposition format 0.0.4).

Every name starts with ``govml_gateway_``:

=================================== ========= ===============================================
requests_total                      counter   requests by ``endpoint`` and HTTP ``status``
errors_total                        counter   refused or failed requests by ``endpoint`` and
                                              ``reason`` (unauthorized, forbidden,
                                              invalid_json, invalid_input, labelled,
                                              too_large, body_timeout, overloaded,
                                              unavailable, model_error, not_found,
                                              method_not_allowed, large_process)
request_duration_seconds            histogram time from arrival to the answer, by ``endpoint``
records_total                       counter   scored records by ``version`` and ``variant``
predictions_total                   counter   predicted class by ``version``, ``variant``,
                                              ``prediction`` (classifiers)
prediction_value                    histogram predicted value (regressors) or the positive
                                              class probability (binary classifiers)
batch_records                       histogram records per model call (request batching)
out_of_range_total                  counter   values outside the training profile, by
                                              ``feature`` and ``kind`` (below_min, above_max,
                                              unseen_category); accepted, not refused
shadow_records_total                counter   records the challenger scored in shadow
shadow_disagreements_total          counter   shadow records whose prediction differs
shadow_dropped_total                counter   shadow copies dropped (queue full or failure)
feedback_labels_total               counter   ground-truth labels received
feedback_corrections_total          counter   labels that corrected an earlier label
model_info                          gauge     1 per loaded version: ``model``, ``alias``,
                                              ``variant``, ``version``, ``digest``
model_switches_total                counter   version changes picked up live, by ``variant``
model_load_failures_total           counter   versions that could not be loaded
log_queue_records                   gauge     records in the prediction log's queue
log_queue_capacity                  gauge     its capacity
log_records_written_total           counter   records written to Parquet, by ``kind``
log_records_dropped_total           counter   records dropped (shadow only), by ``kind``
log_write_errors_total              counter   failed Parquet writes (retried)
log_files_total                     counter   Parquet files written
log_files_sent_total                counter   files sent to the server (client mode)
log_send_errors_total               counter   failed sends (tried again next round)
=================================== ========= ===============================================

With a large-request process (:mod:`govml.serving.large`), `merged_exposition` adds its
counters and histograms to the gateway's; the requests and their durations (which the gateway
counts for every answer it relays) and the gauges are the gateway's alone.
"""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector

from govml.serving.deployment import Deployment, Scores
from govml.serving.predlog import PredictionLog
from govml.serving.validation import Validated

PREFIX = "govml_gateway"
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
LATENCY_BUCKETS = (
    0.0005,
    0.001,
    0.002,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096)
SCORE_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


class _StateCollector(Collector):
    """Reads the gateway's live state (versions, log queue) at scrape time."""

    def __init__(self, log: PredictionLog, versions: Callable[[], Iterable[dict[str, str]]]):
        self.log = log
        self.versions = versions

    def collect(self) -> Iterator[Metric]:
        info = GaugeMetricFamily(
            f"{PREFIX}_model_info",
            "Loaded model versions (value 1).",
            labels=["model", "alias", "variant", "version", "digest"],
        )
        for labels in self.versions():
            info.add_metric(
                [labels[k] for k in ("model", "alias", "variant", "version", "digest")], 1
            )
        yield info
        yield GaugeMetricFamily(
            f"{PREFIX}_log_queue_records",
            "Records reserved, queued or being written in the prediction log.",
            value=self.log.depth,
        )
        yield GaugeMetricFamily(
            f"{PREFIX}_log_queue_capacity",
            "Records the prediction log holds before requests wait.",
            value=self.log.capacity,
        )
        written = CounterMetricFamily(
            f"{PREFIX}_log_records_written",
            "Records written to Parquet.",
            labels=["kind"],
        )
        for kind in ("prediction", "feedback", "event"):
            written.add_metric([kind], self.log.written.get(kind, 0))
        yield written
        dropped = CounterMetricFamily(
            f"{PREFIX}_log_records_dropped",
            "Records dropped because the log was full (shadow copies only).",
            labels=["kind"],
        )
        for kind, count in sorted(self.log.dropped.items()):
            dropped.add_metric([kind], count)
        yield dropped
        yield CounterMetricFamily(
            f"{PREFIX}_log_write_errors", "Failed Parquet writes.", value=self.log.write_errors
        )
        yield CounterMetricFamily(
            f"{PREFIX}_log_files", "Parquet files written.", value=self.log.files
        )


class GatewayMetrics:
    """The gateway's metrics in their own registry (several gateways may share a process)."""

    def __init__(self, log: PredictionLog, versions: Callable[[], Iterable[dict[str, str]]]):
        # The *_created series (one timestamp per label set) double the exposition and tell
        # nothing the process start time does not.
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            f"{PREFIX}_requests", "Requests answered.", ["endpoint", "status"], registry=r
        )
        self.errors = Counter(
            f"{PREFIX}_errors", "Requests refused or failed.", ["endpoint", "reason"], registry=r
        )
        self.duration = Histogram(
            f"{PREFIX}_request_duration_seconds",
            "Time from a request's arrival to its answer.",
            ["endpoint"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.records = Counter(
            f"{PREFIX}_records", "Records scored.", ["version", "variant"], registry=r
        )
        self.predictions = Counter(
            f"{PREFIX}_predictions",
            "Predicted classes.",
            ["version", "variant", "prediction"],
            registry=r,
        )
        self.values = Histogram(
            f"{PREFIX}_prediction_value",
            "Predicted values (regressors) or positive-class probabilities (binary classifiers).",
            ["version", "variant"],
            buckets=SCORE_BUCKETS,
            registry=r,
        )
        self.batch = Histogram(
            f"{PREFIX}_batch_records", "Records per model call.", buckets=BATCH_BUCKETS, registry=r
        )
        self.out_of_range = Counter(
            f"{PREFIX}_out_of_range",
            "Input values outside the training profile (accepted).",
            ["feature", "kind"],
            registry=r,
        )
        self.shadow_records = Counter(
            f"{PREFIX}_shadow_records", "Records scored by the challenger in shadow.", registry=r
        )
        self.shadow_disagreements = Counter(
            f"{PREFIX}_shadow_disagreements",
            "Shadow records whose prediction differs from the champion's.",
            registry=r,
        )
        self.shadow_dropped = Counter(
            f"{PREFIX}_shadow_dropped", "Shadow copies dropped.", ["reason"], registry=r
        )
        self.feedback = Counter(f"{PREFIX}_feedback_labels", "Labels received.", registry=r)
        self.corrections = Counter(
            f"{PREFIX}_feedback_corrections",
            "Labels that corrected a label given before (key scope correct_labels).",
            registry=r,
        )
        self.switches = Counter(
            f"{PREFIX}_model_switches", "Version changes picked up live.", ["variant"], registry=r
        )
        self.load_failures = Counter(
            f"{PREFIX}_model_load_failures", "Versions that failed to load.", registry=r
        )
        self.files_sent = Counter(
            f"{PREFIX}_log_files_sent", "Log files sent to the server (client mode).", registry=r
        )
        self.send_errors = Counter(
            f"{PREFIX}_log_send_errors",
            "Failed sends of log files to the server (tried again).",
            registry=r,
        )
        self.referred = Counter(
            f"{PREFIX}_referred_records",
            "Records referred to a person instead of answered (policy oversight, suspension).",
            registry=r,
        )
        r.register(_StateCollector(log, versions))
        self._children: dict[tuple[Any, ...], Any] = {}

    def child(self, metric: Counter | Histogram, *labels: str) -> Any:
        """Return the labelled child of ``metric``, cached (``labels()`` is slow)."""
        key = (id(metric), *labels)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*labels)
        return found

    def request(self, endpoint: str, status: int, seconds: float) -> None:
        """Count one answered request and its duration."""
        self.child(self.requests, endpoint, str(status)).inc()
        self.child(self.duration, endpoint).observe(seconds)

    def error(self, endpoint: str, reason: str) -> None:
        """Count a refused or failed request."""
        self.child(self.errors, endpoint, reason).inc()

    def scored(
        self, deployment: Deployment, variant: str, validated: Validated, scores: Scores
    ) -> None:
        """Count a request's scored records, their out-of-range values and predictions."""
        metrics = self
        version = str(deployment.number)
        metrics.child(metrics.records, version, variant).inc(validated.count)
        for warning in validated.warnings:
            metrics.child(metrics.out_of_range, warning.field, warning.kind).inc()
        predictions = scores.predictions
        probabilities = scores.probabilities
        if deployment.classes is not None:
            if len(predictions) == 1:
                metrics.child(metrics.predictions, version, variant, str(predictions[0])).inc()
            else:
                for label, n in Tally(predictions.tolist()).items():
                    metrics.child(metrics.predictions, version, variant, str(label)).inc(n)
            if probabilities is not None and probabilities.shape[1] == 2:
                histogram = metrics.child(metrics.values, version, variant)
                for value in probabilities[:, 1].tolist():
                    histogram.observe(value)
        elif predictions.dtype.kind in "iuf":
            histogram = metrics.child(metrics.values, version, variant)
            for value in predictions.tolist():
                histogram.observe(value)

    def exposition(self) -> bytes:
        """Return the metrics in the Prometheus text format."""
        return generate_latest(self.registry)


_GATEWAY_ONLY = frozenset({f"{PREFIX}_requests", f"{PREFIX}_request_duration_seconds"})
_SUMMED = frozenset({"counter", "histogram"})


def merged_exposition(own: bytes, other: bytes) -> bytes:
    """Return ``own`` with the counters and histograms of ``other`` added (see the module).

    A series only ``other`` has is added as it is; ``other``'s requests, durations and gauges
    are left out. A text that does not parse adds nothing.
    """
    try:
        theirs = {
            family.name: family
            for family in text_string_to_metric_families(other.decode())
            if family.type in _SUMMED and family.name not in _GATEWAY_ONLY
        }
    except (ValueError, UnicodeDecodeError):
        return own
    families = list(text_string_to_metric_families(own.decode()))
    for family in families:
        extra = theirs.pop(family.name, None)
        if extra is None or extra.type != family.type:
            continue
        index = {(s.name, tuple(sorted(s.labels.items()))): i for i, s in enumerate(family.samples)}
        for sample in extra.samples:
            at = index.get((sample.name, tuple(sorted(sample.labels.items()))))
            if at is None:
                family.samples.append(sample)
            else:
                mine = family.samples[at]
                family.samples[at] = mine._replace(value=mine.value + sample.value)
    families.extend(theirs.values())

    class _Parsed(Collector):
        def collect(self) -> Iterator[Metric]:
            yield from families

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Parsed())
    return generate_latest(registry)
