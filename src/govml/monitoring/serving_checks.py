"""Serving latency as monitoring checks: the policy's ``monitoring.serving`` percentiles.

Each threshold (``p50_ms``, ``p95_ms``, ``p99_ms``) becomes a check ``serving:<name>`` (category
``serving``) on the window's answered requests, from the gateway's logged ``latency_ms`` (each
request once): ``alert`` above the threshold, ``ok`` at or below, ``insufficient`` with no
request. The error rate is not in the prediction log (it keeps answered requests), so it is
judged by Prometheus (`govml.integrations.observability.serving_rules`).
"""

from __future__ import annotations

from collections.abc import Sequence

from govml.monitoring.logs import PredictionLogs
from govml.monitoring.records import CheckOutcome
from govml.monitoring.window import Window
from govml.policy.operations import ServingThresholds


def serving_outcomes(
    logs: PredictionLogs, files: Sequence[str], window: Window, thresholds: ServingThresholds
) -> list[CheckOutcome]:
    """Return one check per latency threshold of ``thresholds`` (see the module docstring)."""
    limits = [
        (name, q, ms)
        for name, q, ms in (
            ("p50_ms", 0.5, thresholds.p50_ms),
            ("p95_ms", 0.95, thresholds.p95_ms),
            ("p99_ms", 0.99, thresholds.p99_ms),
        )
        if ms is not None
    ]
    if not limits:
        return []
    requests, values = logs.latency_quantiles(files, window, [q for _, q, _ in limits])
    out = []
    for index, (name, _q, limit) in enumerate(limits):
        label = name.removesuffix("_ms")
        if requests == 0:
            out.append(
                CheckOutcome(
                    check=f"serving:{name}",
                    category="serving",
                    status="insufficient",
                    value=None,
                    threshold={"max": limit},
                    message=f"no answered request with a logged latency: {label} not judged",
                )
            )
            continue
        value = values[index]
        over = value > limit
        out.append(
            CheckOutcome(
                check=f"serving:{name}",
                category="serving",
                status="alert" if over else "ok",
                value=value,
                threshold={"max": limit},
                message=f"{label} latency {value:.1f} ms "
                + (f"above the policy's {limit:g} ms" if over else f"within {limit:g} ms")
                + f" over {requests:,} requests",
                evidence={"requests": requests},
            )
        )
    return out
