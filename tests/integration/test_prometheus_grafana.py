"""The shipped Grafana dashboard and Prometheus rules against a real Prometheus.

promtool checks the shipped rules and a policy's rendered serving rules, and its rule unit
tests show the serving rules fire for a slow or failing gateway and stay quiet otherwise. A
Prometheus started on loopback scrapes a live ``govml serve`` gateway: it sees the gateway's
series, loads both rule files and accepts every query of the dashboard.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from tests.integration.test_serving_gateway import (
    build_store,
    free_port,
    record,
    serve,
)

import govml
import govml.serving.environment
import govml.serving.metrics
from govml.cli.main import invoke
from govml.integrations import observability
from govml.monitoring.prometheus import MonitoringCollector
from govml.policy import parse_policy

PROMTOOL = shutil.which("promtool")
PROMETHEUS = shutil.which("prometheus")
needs_promtool = pytest.mark.skipif(PROMTOOL is None, reason="promtool not installed")

POLICY = """\
apiVersion: govml/v1
kind: Policy
metadata: {name: serving-slo}
tiers: [high]
performance:
  - {metric: accuracy, min: 0.5}
monitoring:
  serving: {p50_ms: 20, p99_ms: 200, error_rate: 0.01, window: 1m, for: 1m}
"""


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run([PROMTOOL, *args], capture_output=True, text=True, timeout=60)


def serving_rules_file(tmp_path: Path) -> Path:
    thresholds = parse_policy(POLICY).policy.monitoring.serving  # type: ignore[union-attr]
    assert thresholds is not None
    path = tmp_path / "credit-serving.yml"
    path.write_text(
        observability.rules_file([observability.serving_rules("credit", thresholds)]),
        encoding="utf-8",
    )
    return path


@needs_promtool
def test_shipped_rules_pass_promtool(tmp_path: Path) -> None:
    path = tmp_path / "govml-alerts.yml"
    path.write_text(observability.alert_rules_text(), encoding="utf-8")
    result = promtool("check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 17 rules found" in result.stdout


@needs_promtool
def test_policy_serving_rules_pass_promtool_and_cli_renders_them(tmp_path: Path) -> None:
    path = serving_rules_file(tmp_path)
    result = promtool("check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 3 rules found" in result.stdout
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY, encoding="utf-8")
    out = tmp_path / "cli.yml"
    code = invoke(["integrations", "alert-rules", "--policy", str(policy), "--model", "credit"])
    assert code == 0
    args = ["--policy", str(policy), "--model", "credit", "--out", str(out)]
    assert invoke(["integrations", "alert-rules", *args]) == 0
    assert out.read_text(encoding="utf-8") == path.read_text(encoding="utf-8")


def _series(values: str, labels: str) -> dict[str, str]:
    return {"series": labels, "values": values}


@needs_promtool
def test_serving_rules_fire_for_slow_and_failing_gateways_only(tmp_path: Path) -> None:
    """promtool test rules: gateway a is slow and fails 5%, gateway b is fast and healthy."""
    rules = serving_rules_file(tmp_path)
    series: list[dict[str, str]] = []
    for instance, slow, fails in (("a:1", True, True), ("b:1", False, False)):
        target = f'job="gw", instance="{instance}"'
        info = f'govml_gateway_model_info{{{target}, model="credit", alias="production"}}'
        series.append(_series("1x20", info))
        predict = f'{target}, endpoint="/predict"'
        # 100 requests a minute; a's all take 0.5 s, b's all 10 ms.
        for le, slow_count, fast_count in (("0.01", 0, 100), ("0.25", 0, 100), ("1.0", 100, 100)):
            count = slow_count if slow else fast_count
            bucket = f'govml_gateway_request_duration_seconds_bucket{{{predict}, le="{le}"}}'
            series.append(_series(f"0+{count}x20", bucket))
        inf = f'govml_gateway_request_duration_seconds_bucket{{{predict}, le="+Inf"}}'
        series.append(_series("0+100x20", inf))
        ok = 95 if fails else 100
        series.append(
            _series(f"0+{ok}x20", f'govml_gateway_requests_total{{{predict}, status="200"}}')
        )
        if fails:
            failed = f'govml_gateway_requests_total{{{predict}, status="503"}}'
            series.append(_series("0+5x20", failed))
    expected_a = {"severity": "warning", "model": "credit", "source": "govml-policy", "job": "gw"}

    # Interpolated in a's (0.25, 1.0] bucket: p50 0.625 s, p99 0.9925 s; a fails 5%.
    annotations = {
        "GovmlServingLatencyP50": (
            "credit: p50 latency of /predict above 20 ms",
            "p50 is 625ms over 1m on a:1 (policy monitoring.serving).",
        ),
        "GovmlServingLatencyP99": (
            "credit: p99 latency of /predict above 200 ms",
            "p99 is 992.5ms over 1m on a:1 (policy monitoring.serving).",
        ),
        "GovmlServingErrorRate": (
            "credit: more than 1.00% of predictions fail",
            "5% of /predict requests answered 5xx over 1m on a:1 (policy monitoring.serving).",
        ),
    }

    def alerts(name: str) -> list[dict[str, Any]]:
        summary, description = annotations[name]
        return [
            {
                "exp_labels": {**expected_a, "instance": "a:1"},
                "exp_annotations": {"summary": summary, "description": description},
            }
        ]

    test = {
        "rule_files": [str(rules)],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": series,
                "alert_rule_test": [
                    {"eval_time": "10m", "alertname": name, "exp_alerts": alerts(name)}
                    for name in annotations
                ],
            }
        ],
    }
    path = tmp_path / "test.yml"
    path.write_text(yaml.safe_dump(test, sort_keys=False), encoding="utf-8")
    result = promtool("test", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_dashboard_uses_only_exported_metric_names() -> None:
    names = set()
    for expr in observability.dashboard_queries():
        names |= set(re.findall(r"\bgovml_[a-z_]+", expr))
    monitoring = {family.name for family in MonitoringCollector(list).collect()}
    # Every gateway series is one the gateway defines (metrics.py, environment.py).
    serving = (
        Path(govml.serving.metrics.__file__).read_text()
        + Path(govml.serving.environment.__file__).read_text()
    )
    for name in {n for n in names if n.startswith("govml_gateway_")}:
        base = re.sub(r"_(total|bucket|sum|count)$", "", name).removeprefix("govml_gateway_")
        assert f'{{PREFIX}}_{base}"' in serving or name in serving, name
    gateway_prefix = {n for n in names if n.startswith("govml_gateway_")}
    assert {n for n in names if n.startswith("govml_monitoring_")} <= monitoring
    assert names == gateway_prefix | {n for n in names if n.startswith("govml_monitoring_")}
    # Panels cover traffic, latency, drift, fairness, performance and states.
    text = observability.dashboard_text()
    for needle in ("request_duration_seconds_bucket", "data_drift", "fairness", "performance"):
        assert needle in text
    assert invoke(["integrations", "dashboard"]) == 0


@pytest.fixture
def prometheus(tmp_path: Path) -> Iterator[Any]:
    if PROMETHEUS is None:
        pytest.skip("prometheus not installed")
    yield tmp_path


def _start_prometheus(tmp_path: Path, target: str, rule_files: list[Path]) -> tuple[Any, str]:
    port = free_port()
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(p) for p in rule_files],
        "scrape_configs": [
            {"job_name": "govml-gateway", "static_configs": [{"targets": [target]}]}
        ],
    }
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    log = (tmp_path / "prometheus.log").open("wb")
    assert PROMETHEUS is not None
    process = subprocess.Popen(
        [
            PROMETHEUS,
            f"--config.file={path}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    return process, f"http://127.0.0.1:{port}"


def _query(url: str, expr: str) -> dict[str, Any]:
    response = httpx.get(f"{url}/api/v1/query", params={"query": expr}, timeout=10)
    body: dict[str, Any] = response.json()
    return body


def test_prometheus_scrapes_a_live_gateway_and_loads_the_rules(
    prometheus: Path, home: Path
) -> None:
    tmp_path = prometheus
    url = f"sqlite:///{home / 'govml.db'}"
    govml.connect(home, database_url=url, user="alice", create=True).close()
    team = build_store(url, home, tmp_path)
    shipped = tmp_path / "govml-alerts.yml"
    shipped.write_text(observability.alert_rules_text(), encoding="utf-8")
    rule_files = [shipped, serving_rules_file(tmp_path)]
    try:
        with serve(url, home, tmp_path, "--flush-seconds", "0.2") as served:
            with httpx.Client(base_url=served.url, headers=served.headers, timeout=30) as http:
                for i in range(20):
                    assert http.post("/predict", json=record(i)).status_code == 200
            target = served.url.removeprefix("http://")
            process, prom = _start_prometheus(tmp_path, target, rule_files)
            try:
                found = _wait_for_series(
                    prom, 'govml_gateway_requests_total{endpoint="/predict", status="200"}'
                )
                assert float(found[0]["value"][1]) == 20
                info = _wait_for_series(prom, 'govml_gateway_model_info{model="credit"}')
                assert info[0]["metric"]["version"] == "1"
                _assert_rules_loaded(prom)
                for expr in observability.dashboard_queries():
                    _assert_query_accepted(prom, expr)
            finally:
                process.terminate()
                process.wait(timeout=30)
    finally:
        team.close()


def _wait_for_series(prom: str, expr: str) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            body = _query(prom, expr)
        except (httpx.TransportError, ValueError):  # not listening, or 503 while it starts
            body = {}
        result = body.get("data", {}).get("result", [])
        if result:
            return list(result)
        time.sleep(0.5)
    pytest.fail(f"Prometheus never returned {expr}")


def _assert_rules_loaded(prom: str) -> None:
    body = httpx.get(f"{prom}/api/v1/rules", timeout=10).json()
    groups = {g["name"]: g for g in body["data"]["groups"]}
    assert {"govml-gateway", "govml-monitoring", "govml-serving-credit"} <= set(groups)
    assert len(groups["govml-serving-credit"]["rules"]) == 3


def _assert_query_accepted(prom: str, expr: str) -> None:
    # Grafana's variables, as Grafana substitutes them.
    concrete = (
        expr.replace("$__rate_interval", "1m")
        .replace("$__range", "5m")
        .replace("$model", "credit")
        .replace("$instance", ".*")
    )
    if concrete.startswith("label_values("):
        return  # a Grafana function, not PromQL
    body = _query(prom, concrete)
    assert body.get("status") == "success", f"{concrete}: {body.get('error')}"
