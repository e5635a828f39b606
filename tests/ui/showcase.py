"""A store that shows every page of the web UI with realistic content, and its screenshots.

``.venv/bin/python -m tests.ui.showcase docs/ui`` builds the store in a temporary folder,
serves it with `govml server`'s application on loopback, and saves a 1280-pixel-wide
screenshot of each page to ``docs/ui`` (PNG, palette-compressed). ``--keep DIR`` builds the
store in DIR and leaves it there (``govml --store DIR server`` then shows it).

The store: a team (as `tests.ui.ui_store`), a policy with a monitoring section in two
versions, ``credit-scoring`` (high risk) with three versions — v1 and v2 promoted through the
gates, eight days of v2's traffic monitored, the last drifted, which rolled production back
to v1, and v3 awaiting its approvals — and eleven more models in every state a portfolio has.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

import govml
from govml.services.documents import DocumentService
from tests.integration.monitoring_logs import write_feedback, write_predictions
from tests.ui.ui_store import PEOPLE

MODEL = "credit-scoring"
DAY = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=9)
POLICY = """\
apiVersion: govml/v1
kind: Policy
metadata:
  name: credit-gate
  owner: model-risk@example.com
  description: Gates for models that decide about credit.
tiers: [high, limited]
performance:
  - {{metric: accuracy, min: {minimum}}}
  - {{metric: roc_auc, min: 0.75}}
fairness:
  sensitive: [group]
  min_group_size: 30
  rules:
    - {{metric: demographic_parity_ratio, min: 0.8}}
    - {{metric: equalized_odds_difference, max: 0.2, confidence: 0.95, n_boot: 200}}
explainability: {{top_k: 2, sample_rows: 100}}
approvals: {{required: 2, roles: [approver, risk_officer], separation_of_duties: true}}
monitoring:
  window: 1d
  drift: {{psi: {{warn: 0.1, alert: 0.25}}}}
  performance: [{{metric: accuracy, min: 0.75}}]
  fairness: [{{metric: demographic_parity_difference, max: 0.3}}]
  on_critical: [rollback]
"""
LIGHT = """\
apiVersion: govml/v1
kind: Policy
metadata: {name: light-touch, owner: data-office@example.com}
tiers: [minimal]
performance:
  - {metric: accuracy, min: 0.55}
"""
PORTFOLIO = [
    # name, tier, owner, tags, what happens
    (
        "churn-propensity",
        "minimal",
        "marketing-analytics@example.com",
        {"domain": "marketing"},
        "production",
    ),
    ("claims-triage", "high", "claims-ops@example.com", {"domain": "insurance"}, "failed"),
    ("fraud-alerts", "limited", "fraud-team@example.com", {"domain": "payments"}, "staging"),
    (
        "hiring-screen",
        "unacceptable",
        "people-analytics@example.com",
        {"domain": "hr"},
        "registered",
    ),
    ("income-verification", "high", "model-risk@example.com", {"domain": "credit"}, "production"),
    ("loan-pricing", "high", "pricing@example.com", {"domain": "credit"}, "stale"),
    (
        "marketing-mix",
        "minimal",
        "marketing-analytics@example.com",
        {"domain": "marketing"},
        "production",
    ),
    ("patient-no-show", "limited", "clinic-ops@example.com", {"domain": "health"}, "evaluated"),
    ("sepsis-early-warning", "high", "clinical-ai@example.com", {"domain": "health"}, "staging"),
    (
        "transaction-limits",
        "limited",
        "payments-risk@example.com",
        {"domain": "payments"},
        "production",
    ),
    (
        "voice-routing",
        "minimal",
        "contact-centre@example.com",
        {"domain": "operations"},
        "registered",
    ),
]
CARD = {
    "overview": "Scores consumer credit applications for pre-screening; a person decides.",
    "intended_users": ["credit analysts", "model risk officers"],
    "limitations": [
        "Trained on applications from one market; other markets need their own evaluation.",
        "Applicants under 21 are rare in the training data.",
    ],
    "ethical_considerations": [
        "Proxy discrimination through postcode | postcode is not an input; proxies are "
        "checked by the explainability gate",
    ],
    "human_oversight": "Every refusal is reviewed by an analyst, who may override it.",
}


def frame(n: int, seed: int, *, shift: float = 0.0) -> pd.DataFrame:
    """x1, x2 (x1 shifted by ``shift``), a group and the label."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2))
    y = (2 * x[:, 0] - 0.5 * x[:, 1] + rng.normal(scale=0.5, size=n) > 0).astype("int64")
    group = np.where(rng.random(n) < 0.5, "a", "b")
    return pd.DataFrame({"x1": x[:, 0] + shift, "x2": x[:, 1], "group": group, "y": y})


def build(home: Path, files: Path) -> dict[str, str]:
    """Build the store in ``home`` (SQLite); return everyone's token."""
    url = f"sqlite:///{home / 'govml.db'}"
    tokens: dict[str, str] = {}

    def client(user: str) -> govml.Client:
        return govml.connect(home, database_url=url, user=user)

    with govml.connect(home, database_url=url, user="alice", create=True) as alice:
        alice.init()
        tokens["alice"] = alice.issue_token("alice").token
        for name, roles in PEOPLE:
            tokens[name] = alice.add_user(name, roles=roles).token
        for text, file in ((POLICY.format(minimum=0.7), "gate.yaml"), (LIGHT, "light.yaml")):
            (files / file).write_text(text, encoding="utf-8")
            alice.apply_policy(files / file)
    data = files / "eval.csv"
    frame(600, seed=5).to_csv(data, index=False)
    train = frame(2000, seed=0)
    fitted = {
        number: LogisticRegression().fit(part[["x1", "x2"]], part["y"])
        for number, part in ((n, train.sample(frac=0.8, random_state=n)) for n in (1, 2, 3))
    }
    stale = [entry for entry in PORTFOLIO if entry[4] == "stale"]
    _portfolio(client, files, data, train, fitted[1], stale)  # evaluated under policy v1
    with client("alice") as alice:  # a second version of the policy, to diff
        (files / "gate.yaml").write_text(POLICY.format(minimum=0.72), encoding="utf-8")
        alice.apply_policy(files / "gate.yaml")
    with client("bob") as bob, client("frank") as frank:
        bob.create_model(
            MODEL,
            risk_tier="high",
            owner="model-risk@example.com",
            description="Gradient-free logistic scorecard for consumer credit pre-screening.",
            intended_use="pre-screening of consumer credit applications",
            out_of_scope_use="final credit decisions without human review",
            tags={"domain": "credit", "team": "retail-credit"},
        )
        DocumentService(bob.ctx).set_card_fields(MODEL, CARD)
        for number in (1, 2, 3):
            version = bob.register_version(
                MODEL,
                model=fitted[number],
                train_data=train[["x1", "x2", "y"]],
                target="y",
                description=f"Retrained on the quarter's applications (seed {number}).",
            )
            bob.evaluate(version.ref, data=str(data), target="y", n_boot=200)
            if number == 3:
                with client("carol") as carol:
                    carol.approve(version.ref, comment="Performance holds; group rates checked.")
                frank.promote(version.ref, to="staging", reason="candidate for next quarter")
                continue
            with client("carol") as carol, client("erin") as erin:
                carol.approve(version.ref, comment="Metrics and intervals reviewed.")
                erin.approve(version.ref, comment="Residual risk accepted for pre-screening.")
            frank.promote(version.ref, to="staging", reason="gate passed")
            frank.promote(version.ref, to="production", reason="two approvals, gate passed")
    _monitor(client, home, fitted[2])
    _portfolio(client, files, data, train, fitted[1], [e for e in PORTFOLIO if e[4] != "stale"])
    with client("alice") as alice:
        alice.sign_checkpoint()
    return tokens


def _monitor(client: Any, home: Path, model: LogisticRegression) -> None:
    """Eight days of v2's traffic; the last drifted, which rolls production back to v1."""
    logs = home / "predictions"
    for day in range(8):
        start = DAY + timedelta(days=day)
        shift = 1.6 if day == 7 else 0.05 * day
        data = frame(1500, seed=100 + day, shift=shift)
        inputs = data[["x1", "x2"]]
        ids = write_predictions(
            logs,
            MODEL,
            2,
            inputs,
            model.predict(inputs),
            model.predict_proba(inputs),
            start=start,
            spacing=timedelta(hours=20) / len(data),
            prefix=f"d{day}",
        )
        labels = data["y"].to_numpy()
        if day == 7:  # the world changed: the old boundary is wrong for many
            labels = (data["x1"] - 1.6 - 0.5 * data["x2"] > 0).astype("int64").to_numpy()
        write_feedback(
            logs,
            MODEL,
            ids,
            labels,
            when=start + timedelta(hours=22),
            extra={"group": data["group"].tolist()},
            name=f"part-d{day}.parquet",
        )
        with client("frank") as frank:
            frank.monitor(MODEL, log_dir=logs, since=start, until=start + timedelta(days=1))


def _portfolio(
    client: Any,
    files: Path,
    data: Path,
    train: pd.DataFrame,
    model: LogisticRegression,
    entries: list[tuple[str, str, str, dict[str, str], str]],
) -> None:
    flipped = files / "flipped.csv"
    bad = frame(600, seed=9)
    bad["y"] = 1 - bad["y"]
    bad.to_csv(flipped, index=False)
    with client("bob") as bob, client("frank") as frank:
        for name, tier, owner, tags, state in entries:
            bob.create_model(
                name,
                risk_tier=tier,
                owner=owner,
                tags=tags,
                description=f"{name.replace('-', ' ').capitalize()} model.",
            )
            version = bob.register_version(
                name, model=model, train_data=train[["x1", "x2", "y"]], target="y"
            )
            if state == "registered":
                continue
            source = flipped if state == "failed" else data
            bob.evaluate(version.ref, data=str(source), target="y", n_boot=50)
            if state in ("staging", "production"):
                frank.promote(version.ref, to="staging")
            if state == "production":
                if tier != "minimal":
                    with client("carol") as carol, client("erin") as erin:
                        carol.approve(version.ref, comment="Reviewed.")
                        erin.approve(version.ref, comment="Accepted.")
                frank.promote(version.ref, to="production")


PAGES = [
    # file, user, path
    ("inventory", "erin", "/models"),
    ("inventory-filtered", "erin", "/models?tier=high&sort=-changed"),
    ("model-overview", "erin", f"/models/{MODEL}"),
    ("model-versions", "frank", f"/models/{MODEL}/versions"),
    ("model-lineage", "erin", f"/models/{MODEL}/lineage?version=2"),
    ("model-evaluations", "erin", f"/models/{MODEL}/evaluations"),
    ("model-compare", "erin", f"/models/{MODEL}/compare"),
    ("model-approvals", "erin", f"/models/{MODEL}/approvals"),
    ("model-monitoring", "erin", f"/models/{MODEL}/monitoring"),
    ("model-documents", "erin", f"/models/{MODEL}/documents"),
    ("model-ledger", "erin", f"/models/{MODEL}/ledger"),
    ("model-card-edit", "bob", f"/models/{MODEL}/card"),
    ("queue", "erin", "/queue"),
    ("decision-form", "erin", f"/decisions/approval?ref={MODEL}@3"),
    ("audit", "vic", "/audit"),
    ("audit-entry", "vic", "/audit/entries/40"),
    ("policy", "vic", "/policies/credit-gate"),
    ("policy-diff", "vic", "/policies/credit-gate/diff"),
    ("people", "alice", "/people"),
    ("person", "alice", "/people/erin"),
    ("sign-in", "", "/sign-in"),
]


def screenshots(home: Path, tokens: dict[str, str], folder: Path, width: int = 1280) -> None:
    """Save a screenshot of every page of `PAGES` to ``folder`` (full pages, ``width`` wide)."""
    from playwright.sync_api import sync_playwright

    from govml.server.app import create_app
    from govml.server.background import serving
    from govml.settings import load_settings

    folder.mkdir(parents=True, exist_ok=True)
    app = create_app(load_settings(home=home))
    with serving(app) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"]
        )
        pages: dict[str, Any] = {}
        for name, user, path in PAGES:
            if user not in pages:
                page = browser.new_context(viewport={"width": width, "height": 800}).new_page()
                if user:
                    page.goto(f"{url}/sign-in")
                    page.fill("#token", tokens[user])
                    page.click("button[type=submit]")
                    page.wait_for_url("**/models")
                pages[user] = page
            page = pages[user]
            page.goto(url + path)
            if name == "decision-form":  # the check-your-answers step
                page.check("#decision-approve")
                page.fill("#comment", "Intervals overlap production's; rates per group hold.")
                page.click("text=Continue")
            target = folder / f"{name}.png"
            page.screenshot(path=str(target), full_page=True)
            _compress(target)
            print(target)
        browser.close()


MAX_HEIGHT = 2200


def _compress(path: Path) -> None:
    """Re-save a screenshot as a 256-colour PNG, at most `MAX_HEIGHT` pixels tall."""
    from PIL import Image

    with Image.open(path) as image:
        shown = image.crop((0, 0, image.width, min(image.height, MAX_HEIGHT)))
        small = shown.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
        small.save(path, optimize=True)


def main() -> int:
    """Build the showcase store and take the screenshots."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="where the screenshots go (docs/ui)")
    parser.add_argument("--keep", type=Path, help="build the store in this folder and keep it")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--reuse", action="store_true", help="screenshot the --keep store again")
    args = parser.parse_args()
    if args.reuse and args.keep:
        tokens = {}
        with govml.connect(args.keep, user="alice") as alice:
            for name in ("alice", *(person for person, _ in PEOPLE)):
                tokens[name] = alice.issue_token(name, expires_in_days=1).token
        screenshots(args.keep, tokens, args.folder, args.width)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        home = args.keep or Path(tmp) / "home"
        home.mkdir(parents=True, exist_ok=True)
        tokens = build(home, Path(tmp))
        screenshots(home, tokens, args.folder, args.width)
    return 0


if __name__ == "__main__":
    sys.exit(main())
