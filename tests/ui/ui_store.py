"""A store for the web UI tests: a team, a policy, models awaiting decisions, hostile text.

People: alice (admin), bob (contributor), carol (approver), erin (risk officer), frank
(deployer), vic (viewer), ivan (contributor and approver, who registers a version himself).

Models:
- ``credit`` (high): v1 evaluated, approved by carol and erin, in staging then production;
  v2 registered by bob, evaluated (pass), in staging, awaiting approvals;
- ``churn`` (limited): v1 evaluated by ivan, who registered it (his own approval is refused);
- ``xss-probe`` (minimal): hostile text everywhere text is free: the description, the owner,
  a tag, a model card field, and (on credit v1) a decision's comment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

import govml
from govml.services.documents import DocumentService

SCRIPT = "<script>alert('x')</script>"
IMAGE = '<img src=x onerror="alert(1)">'
POLICY = """\
apiVersion: govml/v1
kind: Policy
metadata: {name: gate, owner: risk@example.com}
tiers: [high, limited, minimal]
performance:
  - {metric: accuracy, min: 0.6}
approvals: {required: 2, roles: [approver, risk_officer]}
"""
POLICY_V2 = POLICY.replace("min: 0.6", "min: 0.55")
PEOPLE = [
    ("bob", ["contributor"]),
    ("carol", ["approver"]),
    ("erin", ["risk_officer"]),
    ("frank", ["deployer"]),
    ("vic", ["viewer"]),
    ("ivan", ["contributor", "approver"]),
]


def frame(n: int = 300, seed: int = 0) -> pd.DataFrame:
    """Two features and a label a logistic regression gets mostly right."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2))
    y = (x[:, 0] - x[:, 1] + rng.normal(scale=0.5, size=n) > 0).astype("int64")
    return pd.DataFrame({"x1": x[:, 0], "x2": x[:, 1], "y": y})


@dataclass
class UIStore:
    """The store's location and everyone's first token."""

    home: Path
    db_url: str
    tokens: dict[str, str] = field(default_factory=dict)

    def client(self, user: str) -> govml.Client:
        """Open the store as ``user`` (local mode, for setting up and checking)."""
        return govml.connect(self.home, database_url=self.db_url, user=user)


def build_store(home: Path, db_url: str, tmp: Path) -> UIStore:
    """Build the store described in the module docstring."""
    made = UIStore(home=home, db_url=db_url)
    with govml.connect(home, database_url=db_url, user="alice", create=True) as alice:
        alice.init()
        made.tokens["alice"] = alice.issue_token("alice").token
        for name, roles in PEOPLE:
            made.tokens[name] = alice.add_user(name, roles=roles).token
        policy = tmp / "gate.yaml"
        policy.write_text(POLICY, encoding="utf-8")
        alice.apply_policy(policy)
    data = tmp / "eval.csv"
    frame(300, seed=1).to_csv(data, index=False)
    train = frame(300, seed=0)
    fitted = LogisticRegression().fit(train[["x1", "x2"]], train["y"])
    with made.client("bob") as bob, made.client("frank") as frank:
        bob.create_model(
            "credit",
            risk_tier="high",
            owner="risk-team@example.com",
            description="Scores credit applications.",
            intended_use="pre-screening",
            tags={"domain": "credit"},
        )
        for number in (1, 2):
            version = bob.register_version("credit", model=fitted, train_data=train, target="y")
            bob.evaluate(version.ref, data=str(data), target="y", n_boot=20)
            if number == 1:
                with made.client("carol") as carol, made.client("erin") as erin:
                    carol.approve(version.ref, comment=f"looks fine {SCRIPT}")
                    erin.approve(version.ref, comment="risk accepted")
                frank.promote(version.ref, to="staging")
                frank.promote(version.ref, to="production", reason="first release")
            else:
                frank.promote(version.ref, to="staging", reason="candidate")
        bob.create_model(
            "xss-probe",
            risk_tier="minimal",
            owner=IMAGE,
            description=f"hostile {SCRIPT}",
            tags={"note": SCRIPT},
        )
        DocumentService(bob.ctx).set_card_fields("xss-probe", {"limitations": [SCRIPT]})
    with made.client("ivan") as ivan:
        ivan.create_model("churn", risk_tier="limited", description="Predicts churn.")
        version = ivan.register_version("churn", model=fitted, train_data=train, target="y")
        ivan.evaluate(version.ref, data=str(data), target="y", n_boot=20)
    with made.client("alice") as alice:
        policy = tmp / "gate-v2.yaml"
        policy.write_text(POLICY_V2, encoding="utf-8")
        alice.apply_policy(policy)  # a second version to diff; v2 evaluations become stale
        alice.sign_checkpoint()
    # evaluate again under the policy now in force, so that decisions are possible
    with made.client("bob") as bob:
        bob.evaluate("credit@2", data=str(data), target="y", n_boot=20)
    with made.client("ivan") as ivan:
        ivan.evaluate("churn@1", data=str(data), target="y", n_boot=20)
    with made.client("alice") as alice:
        alice.sign_checkpoint()
    return made
