"""Business metrics in a policy: German credit's cost matrix, and metrics installed by a package.

The installed metrics are real: a module and a ``*.dist-info/entry_points.txt`` written into
a folder on ``sys.path``, found by ``importlib.metadata`` as an installed package would be.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path
from textwrap import dedent

import httpx
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import confusion_matrix
from tests.integration.test_evaluate_bad_data import (
    GERMAN_CATEGORICAL,
    GERMAN_NUMERIC,
    _pipeline,
    load_german,
)

import govml
from govml.metrics import binary_confusion, bootstrap, group_results
from govml.metrics.custom import expected_cost_spec, installed_metrics, load_metric
from govml.policy import InvalidPolicyError, parse_policy
from govml.remote import RemoteClient
from govml.server import create_app
from govml.server.background import serving
from govml.settings import load_settings

HEAD = "apiVersion: govml/v1\nkind: Policy\nmetadata: {name: credit-costs}\ntiers: [high]\n"

PLUGIN = '''\
import numpy as np

from govml.metrics.custom import confusion_metric, row_metric


@confusion_metric(direction="lower", low=0.0)
def fraud_loss(tp, fp, tn, fn):
    """Losses per application: 500 for a missed default, 20 for a refused good customer."""
    return (500 * fn + 20 * fp) / (tp + fp + tn + fn)


@row_metric(direction="higher", low=0.0, high=1.0, needs_scores=True)
def top_decile_default_rate(y_true, y_pred, y_score):
    """Share of defaults among the tenth of applicants with the highest scores."""
    order = np.argsort(-np.asarray(y_score), kind="stable")
    top = order[: max(1, len(order) // 10)]
    return float(np.mean(np.asarray(y_true)[top]))


def not_a_metric(tp, fp, tn, fn):
    return tp
'''

ENTRY_POINTS = """\
[govml.metrics]
fraud_loss = {module}:fraud_loss
top_decile_default_rate = {module}:top_decile_default_rate
plain_function = {module}:not_a_metric
broken = {module}_missing:anything
"""


@pytest.fixture
def plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Install a package providing metrics under ``govml.metrics``; return its module name."""
    module = f"acme_metrics_{tmp_path.name.replace('-', '_')}"
    site = tmp_path / "site"
    info = site / f"{module}-1.0.dist-info"
    info.mkdir(parents=True)
    (site / f"{module}.py").write_text(PLUGIN, encoding="utf-8")
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {module}\nVersion: 1.0\n", encoding="utf-8"
    )
    (info / "entry_points.txt").write_text(ENTRY_POINTS.format(module=module), encoding="utf-8")
    monkeypatch.syspath_prepend(str(site))
    yield module
    sys.modules.pop(module, None)


def _problems(body: str) -> list[str]:
    with pytest.raises(InvalidPolicyError) as caught:
        parse_policy(HEAD + dedent(body), source="policy.yaml")
    return [str(d) for d in caught.value.errors]


def test_installed_metrics_are_found_by_entry_point_and_named_in_errors(plugin: str) -> None:
    assert installed_metrics()["fraud_loss"] == f"{plugin}:fraud_loss"
    loaded = parse_policy(HEAD + "performance:\n  - {metric: fraud_loss, max: 40}\n")
    assert loaded.policy.performance[0].traits().direction == "lower"
    found = _problems(
        """\
        performance:
          - {metric: fraud_los, max: 40}
          - {metric: zzz, max: 1}
          - {metric: plain_function, max: 1}
          - {metric: broken, max: 1}
          - {metric: fraud_loss, vs_champion: {max_drop: 1}}
          - {metric: top_decile_default_rate, min: 2}
        """
    )
    assert found[0] == (
        "policy.yaml:6:14: performance[0].metric: unknown metric 'fraud_los' — did you mean "
        "'fraud_loss'?"
    )
    assert found[1].startswith("policy.yaml:7:14: performance[1].metric: unknown metric 'zzz' (")
    assert "expected_cost" in found[1]
    assert found[1].endswith(
        "; installed: broken, fraud_loss, plain_function, top_decile_default_rate)"
    )
    assert found[2] == (
        f"policy.yaml:8:14: performance[2].metric: entry point 'plain_function' "
        f"({plugin}:not_a_metric) of group govml.metrics is a function, not a metric made with "
        "govml.metrics.custom.confusion_metric or row_metric"
    )
    assert found[3] == (
        f"policy.yaml:9:14: performance[3].metric: entry point 'broken' ({plugin}_missing:"
        f"anything) of group govml.metrics cannot be loaded: ModuleNotFoundError: No module "
        f"named '{plugin}_missing'"
    )
    assert found[4] == (
        "policy.yaml:10:50: performance[4].vs_champion.max_drop: fraud_loss is better when "
        "lower; compare it with the champion using max_increase"
    )
    assert found[5] == (
        "policy.yaml:11:44: performance[5].min: top_decile_default_rate lies in [0, 1], so min "
        "2 can never be met"
    )


def test_a_policy_cannot_name_an_import_path(plugin: str) -> None:
    # The module is importable from sys.path, but only entry points are ever loaded.
    found = _problems(f"performance:\n  - {{metric: '{plugin}:fraud_loss', max: 1}}\n")
    assert "unknown metric" in found[0]
    assert plugin not in sys.modules


def test_without_the_package_the_names_are_unknown() -> None:
    assert "fraud_loss" not in installed_metrics()
    [problem] = _problems("performance:\n  - {metric: fraud_loss, max: 40}\n")
    assert problem.endswith("; none installed under the entry-point group govml.metrics)")


def test_evaluation_gates_on_cost_and_installed_metrics(
    plugin: str, client: govml.Client, shared_datasets: Path, tmp_path: Path
) -> None:
    frame = load_german(shared_datasets)
    features = [*GERMAN_NUMERIC, *GERMAN_CATEGORICAL]
    train, valid = frame.iloc[:700], frame.iloc[700:].reset_index(drop=True)
    model = _pipeline(GERMAN_NUMERIC, GERMAN_CATEGORICAL).fit(train[features], train["default"])
    client.create_model("credit", risk_tier="high")
    client.register_version(
        "credit", model=model, train_data=train[[*features, "default"]], target="default"
    )
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        HEAD
        + dedent(
            """\
            performance:
              # German credit's cost matrix: a bad customer classed good costs 5, a good one
              # classed bad costs 1 (default = 1 is the positive label).
              - {metric: expected_cost, max: 0.6, costs: {false_positive: 1, false_negative: 5}}
              - {metric: fraud_loss, max: 10}
              - {metric: top_decile_default_rate, min: 0.3}
            """
        ),
        encoding="utf-8",
    )
    evaluation = client.evaluate("credit@1", policy=policy, data=valid, target="default")
    y = valid["default"].to_numpy()
    y_pred = model.predict(valid[features])
    scores = model.predict_proba(valid[features])[:, 1]
    tn, fp, fn, tp = confusion_matrix(y, y_pred, labels=[0, 1]).ravel()
    cost = evaluation.check("expected_cost")
    assert cost["value"] == pytest.approx((1 * fp + 5 * fn) / len(y), abs=1e-12)
    assert cost["evidence"]["costs"] == {
        "true_positive": 0.0,
        "false_positive": 1.0,
        "true_negative": 0.0,
        "false_negative": 5.0,
    }
    assert cost["evidence"]["confusion"] == {"tn": tn, "fp": fp, "fn": fn, "tp": tp}
    assert cost["status"] == ("pass" if cost["value"] <= 0.6 else "fail")
    loss = evaluation.check("fraud_loss")
    assert loss["value"] == pytest.approx((500 * fn + 20 * fp) / len(y), abs=1e-9)
    assert loss["evidence"]["statistics"] == "BinaryConfusion"
    decile = evaluation.check("top_decile_default_rate")
    top = np.argsort(-scores, kind="stable")[: len(y) // 10]
    assert decile["value"] == pytest.approx(float(np.mean(y[top])))
    assert decile["evidence"] == {"statistics": "rows", "rows": len(y)}
    assert client.verify_ledger().evaluations == 1


def test_cost_and_confusion_metrics_come_per_group_and_bootstrapped(plugin: str) -> None:
    rng = np.random.default_rng(7)
    y, y_pred = rng.integers(0, 2, 600), rng.integers(0, 2, 600)
    group = rng.choice(["a", "b", "c"], 600)
    stats = binary_confusion(y, y_pred, sensitive_features=pd.Series(group, name="g"))
    costs = {"false_positive": 1.0, "false_negative": 5.0}
    spec = expected_cost_spec(costs)
    for result, key in zip(group_results(stats, spec), ["a", "b", "c"], strict=True):
        rows = group == key
        fp = np.sum((y_pred == 1) & (y == 0) & rows)
        fn = np.sum((y_pred == 0) & (y == 1) & rows)
        assert result.value == pytest.approx((fp + 5 * fn) / rows.sum(), abs=1e-12)
    fraud = load_metric("fraud_loss").spec("fraud_loss")
    replicated = bootstrap(stats, metrics=[spec, fraud], n_boot=200, random_state=0)
    low, high = replicated.overall_interval(spec).bounds or (np.nan, np.nan)
    point = group_results(stats.overall(), spec)[0].value
    assert point is not None and low <= point <= high
    assert replicated.overall_interval(fraud).bounds is not None


EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "policies" / "german-credit.yaml"


def test_the_german_credit_example_policy(client: govml.Client, shared_datasets: Path) -> None:
    frame = load_german(shared_datasets)
    features = [*GERMAN_NUMERIC, *GERMAN_CATEGORICAL]
    train, valid = frame.iloc[:700], frame.iloc[700:].reset_index(drop=True)
    model = _pipeline(GERMAN_NUMERIC, GERMAN_CATEGORICAL).fit(train[features], train["default"])
    client.create_model("credit", risk_tier="high", description="German credit scorer.")
    client.register_version(
        "credit", model=model, train_data=train[[*features, "default"]], target="default"
    )
    evaluation = client.evaluate("credit@1", policy=EXAMPLE, data=valid, target="default")
    inputs = evaluation.document["inputs"]
    assert (inputs["pos_label"], inputs["favourable_label"]) == (1, 0)
    assert inputs["favourable_label_source"] == "policy"
    assert not any("assumed" in note for note in evaluation.document["notes"])
    y_pred = model.predict(valid[features])
    granted = y_pred == 0
    young = (valid["age_group"] == "25 or younger").to_numpy()
    impact = evaluation.check("disparate_impact_ratio:age_group")
    assert impact["value"] == pytest.approx(granted[young].mean() / granted[~young].mean())
    assert impact["evidence"]["outcome"] == "favourable"
    assert evaluation.check("expected_cost")["threshold"] == {"max": 0.6}


def test_a_policy_sent_to_the_server_cannot_make_it_import_code(
    plugin: str, db_url: str, home: Path, tmp_path: Path
) -> None:
    local = govml.connect(home, database_url=db_url, user="alice")
    local.init()
    token = local.issue_token("alice").token
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x1": rng.normal(size=300), "x2": rng.normal(size=300)})
    frame["y"] = (frame["x1"] + rng.normal(scale=0.5, size=300) > 0).astype("int64")
    model = LogisticRegression().fit(frame[["x1", "x2"]], frame["y"])
    local.create_model("scorer", risk_tier="high")
    local.register_version("scorer", model=model, train_data=frame, target="y")
    data = io.BytesIO()
    frame.to_parquet(data)
    # The module is importable from the server's sys.path; the policy names it as code.
    hostile = HEAD + f"performance:\n  - {{metric: '{plugin}:fraud_loss', max: 1}}\n"
    app = create_app(load_settings(home=home, database_url=db_url))
    with (
        serving(app) as url,
        httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as http,
    ):
        response = http.post(
            "/api/v1/evaluations",
            data={"ref": "scorer@1", "target": "y"},
            files={
                "data": ("data.parquet", data.getvalue(), "application/vnd.apache.parquet"),
                "policy": ("policy.yaml", hostile.encode(), "application/yaml"),
            },
            timeout=60,
        )
        assert response.status_code == 422, response.text
        assert "unknown metric" in response.text
        assert plugin not in sys.modules
        assert local.list_evaluations() == []
        # An installed metric is named, not imported by path, and runs on the server.
        policy = tmp_path / "policy.yaml"
        policy.write_text(HEAD + "performance:\n  - {metric: fraud_loss, max: 1000}\n")
        remote = RemoteClient(load_settings(server=url, token=token))
        evaluation = remote.evaluate("scorer@1", policy=policy, data=frame, target="y")
        remote.close()
    y_pred = model.predict(frame[["x1", "x2"]])
    fn = np.sum((frame["y"] == 1) & (y_pred == 0))
    fp = np.sum((frame["y"] == 0) & (y_pred == 1))
    assert evaluation.check("fraud_loss")["value"] == pytest.approx((500 * fn + 20 * fp) / 300)
    local.close()
