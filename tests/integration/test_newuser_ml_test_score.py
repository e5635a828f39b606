"""ML Test Score on a new user's store: a check that never ran is not evidence.

An evaluation on bad data records its data checks and leaves the model-bound checks
``undefined`` ("not run: data check ... failed"); `govml evaluations show` says they did not
run, so the ML Test Score must not name that evaluation as one where they ran.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

import govml

POLICY = """\
apiVersion: govml/v1
kind: Policy
metadata: {name: newcomer, owner: risk@example.com}
tiers: [high]
data:
  - {expect: no_nulls, columns: [x1, x2]}
performance:
  - {metric: accuracy, min: 0.6}
fairness:
  sensitive: [group]
  min_group_size: 30
  rules: [{metric: demographic_parity_difference, max: 0.9}]
"""


def _frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2))
    y = (2 * x[:, 0] - 0.5 * x[:, 1] + rng.normal(scale=0.5, size=n) > 0).astype("int64")
    group = np.where(rng.random(n) < 0.5, "a", "b")
    return pd.DataFrame({"x1": x[:, 0], "x2": x[:, 1], "group": group, "y": y})


def _score(client: govml.Client) -> dict[str, tuple[float, str]]:
    document: Any = json.loads(str(client.report("ml-test-score", "credit", format="json")))
    return {
        test["id"]: (test["points"], " | ".join(test["evidence"]))
        for section in document["sections"]
        for test in section["tests"]
    }


def test_checks_an_evaluation_did_not_run_are_not_counted(tmp_path: Path) -> None:
    client = govml.connect(str(tmp_path / "store"), user="ada", create=True)
    try:
        (tmp_path / "policy.yaml").write_text(POLICY, encoding="utf-8")
        client.apply_policy(str(tmp_path / "policy.yaml"))
        client.create_model("credit", risk_tier="high", description="d", intended_use="u")
        train = _frame(800, seed=0)
        model = LogisticRegression().fit(train[["x1", "x2"]], train["y"])
        client.register_version(
            "credit", model=model, train_data=train[["x1", "x2", "y"]], target="y"
        )
        bad = _frame(300, seed=1)
        bad.loc[:9, "x1"] = np.nan
        bad.to_csv(tmp_path / "bad.csv", index=False)
        first = client.evaluate("credit@1", data=str(tmp_path / "bad.csv"), target="y", n_boot=0)
        statuses = {c["check"]: (c["status"], c["reason"]) for c in first.checks}
        assert statuses["no_nulls"][0] == "fail"
        assert statuses["demographic_parity_difference:group"][0] == "undefined"
        assert str(statuses["demographic_parity_difference:group"][1]).startswith("not run:")

        scores = _score(client)
        assert scores["model.7"] == (0, "no evaluation of this model ran fairness rules")
        assert scores["data.1"][0] == 1
        assert f"ran in evaluation(s) {first.id}" in scores["data.1"][1]

        _frame(300, seed=2).to_csv(tmp_path / "good.csv", index=False)
        second = client.evaluate("credit@1", data=str(tmp_path / "good.csv"), target="y", n_boot=0)
        assert second.status == "pass"
        points, evidence = _score(client)["model.7"]
        assert points == 1
        assert f"demographic_parity_difference ran in evaluation(s) {second.id} |" in evidence
    finally:
        client.close()
