"""The Grafana dashboard and Prometheus alerting rules shipped with govml.

``grafana/govml-dashboard.json`` shows gateway traffic, latency and errors
(``govml_gateway_*``, `govml.serving.metrics`) and monitoring results per model
(``govml_monitoring_*``, `govml.monitoring.prometheus`); ``prometheus/govml-alerts.yml``
holds alerting rules over the same series with defaults for every model. A policy's
``monitoring.serving`` thresholds become one rule group per model (`serving_rules`): the
gateway's series carry no model label, so each rule joins on the gateway's
``govml_gateway_model_info`` by ``job`` and ``instance``.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import yaml

from govml.domain.records import check_name
from govml.policy.operations import ServingThresholds

DASHBOARD = "grafana/govml-dashboard.json"
ALERT_RULES = "prometheus/govml-alerts.yml"

_PREDICT = 'endpoint="/predict"'


def _read(name: str) -> str:
    return resources.files("govml.integrations").joinpath(name).read_text(encoding="utf-8")


def dashboard_text() -> str:
    """Return the Grafana dashboard JSON as shipped (import it, or provision it)."""
    return _read(DASHBOARD)


def dashboard() -> dict[str, Any]:
    """Return the Grafana dashboard as data."""
    data: dict[str, Any] = json.loads(dashboard_text())
    return data


def alert_rules_text() -> str:
    """Return the default Prometheus alerting rules (a ``rule_files`` entry) as shipped."""
    return _read(ALERT_RULES)


def dashboard_queries() -> list[str]:
    """Return every PromQL expression of the dashboard (panels and template variables)."""
    board = dashboard()
    out = [
        str(target["expr"])
        for panel in board["panels"]
        for target in panel.get("targets", [])
        if target.get("expr")
    ]
    for variable in board["templating"]["list"]:
        query = variable.get("query")
        if isinstance(query, dict) and query.get("query"):
            out.append(str(query["query"]))
    return out


def serving_rules(model: str, thresholds: ServingThresholds) -> dict[str, Any]:
    """Return the rule group that alerts when ``model``'s gateways break ``thresholds``.

    Parameters
    ----------
    model
        The governed model's name (``model`` label of ``govml_gateway_model_info``).
    thresholds
        The policy's ``monitoring.serving`` section.
    """
    name = check_name(model, what="model name")
    window = thresholds.window
    gateway = f'group by (job, instance) (govml_gateway_model_info{{model="{name}"}})'
    rules: list[dict[str, Any]] = []
    for quantile, seconds in thresholds.percentiles():
        label = f"p{round(quantile * 100)}"
        latency = (
            f"histogram_quantile({quantile}, sum by (job, instance, le) "
            f"(rate(govml_gateway_request_duration_seconds_bucket{{{_PREDICT}}}[{window}])))"
        )
        rules.append(
            _rule(
                f"GovmlServingLatency{label.upper()}",
                f"{latency} > {seconds:g} and on (job, instance) {gateway}",
                thresholds.for_,
                name,
                f"{name}: {label} latency of /predict above {seconds * 1000:g} ms",
                f"{label} is {{{{ $value | humanizeDuration }}}} over {window} on "
                "{{ $labels.instance }} (policy monitoring.serving).",
            )
        )
    if thresholds.error_rate is not None:
        requests = f"govml_gateway_requests_total{{{_PREDICT}"
        rate = (
            f'sum by (job, instance) (rate({requests}, status=~"5.."}}[{window}])) '
            f"/ sum by (job, instance) (rate({requests}}}[{window}]))"
        )
        rules.append(
            _rule(
                "GovmlServingErrorRate",
                f"{rate} > {thresholds.error_rate:g} and on (job, instance) {gateway}",
                thresholds.for_,
                name,
                f"{name}: more than {thresholds.error_rate:.2%} of predictions fail",
                f"{{{{ $value | humanizePercentage }}}} of /predict requests answered 5xx over "
                f"{window} on {{{{ $labels.instance }}}} (policy monitoring.serving).",
            )
        )
    return {"name": f"govml-serving-{name}", "rules": rules}


def _rule(
    alert: str, expr: str, for_: str, model: str, summary: str, description: str
) -> dict[str, Any]:
    rule: dict[str, Any] = {"alert": alert, "expr": expr}
    if for_ != "0m":
        rule["for"] = for_
    rule["labels"] = {"severity": "warning", "model": model, "source": "govml-policy"}
    rule["annotations"] = {"summary": summary, "description": description}
    return rule


def rules_file(groups: list[dict[str, Any]]) -> str:
    """Return ``groups`` as a Prometheus rules file (YAML)."""
    return yaml.safe_dump({"groups": groups}, sort_keys=False, width=1000)
