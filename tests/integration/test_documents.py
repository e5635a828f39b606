"""Documents on demand, on SQLite and PostgreSQL: model card, datasheet, Annex IV, audit report,
ML Test Score; numbers traced to stored evaluations, proofs verified, goldens, bad input.

One fixed registry state: a clock that ticks one second per call, fixed users and data, two
versions (the first evaluated with fairness evidence, approved, promoted; the second
canaried, promoted and rolled back), a signed checkpoint in the middle, written card fields.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from sklearn.linear_model import LogisticRegression

import govml
from govml.cli.main import invoke
from govml.errors import InputError, IntegrityError, NotFoundError, ValidationError
from govml.ledger.checkpoint import verify_checkpoint
from govml.ledger.merkle import leaf_hash, verify_consistency, verify_inclusion
from govml.services.card_fields import verify_card_records
from govml.store.checkpoints import note_keys

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "documents"
UPDATE = os.environ.get("GOVML_UPDATE_GOLDEN") == "1"

POLICY = """\
apiVersion: govml/v1
kind: Policy
metadata: {name: credit-gate, owner: risk@example.com}
tiers: [high]
data:
  - {expect: no_nulls, columns: [x1, x2]}
performance:
  - {metric: accuracy, min: 0.6}
fairness:
  sensitive: [sex, region]
  intersectional: true
  min_group_size: 10
  rules:
    - {metric: demographic_parity_ratio, min: 0.2}
    - {metric: equalized_odds_difference, max: 0.9, confidence: 0.95, n_boot: 100}
approvals: {required: 2, roles: [approver, risk_officer]}
monitoring:
  window: 1d
  drift: {psi: {warn: 0.1, alert: 0.25}}
  performance:
    - {metric: accuracy, min: 0.6}
  on_critical: [rollback]
"""


class Clock:
    """A clock for every client of the store: one second later at each call."""

    def __init__(self) -> None:
        self.now = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


def _frame(n: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2))
    sex = np.where(rng.random(n) < 0.5, "F", "M")
    region = np.where(rng.random(n) < 0.6, "north", "south")
    noise = rng.normal(scale=0.5, size=n)
    y = (x[:, 0] - x[:, 1] + (sex == "M") * 0.3 + noise > 0).astype("int64")
    return pd.DataFrame({"x1": x[:, 0], "x2": x[:, 1], "sex": sex, "region": region, "y": y})


class Registry:
    """The fixed registry state every test here reads."""

    def __init__(self, db_url: str, home: Path, tmp: Path) -> None:
        self.home, self.db_url, self.tmp = home, db_url, tmp
        self.clock = Clock()
        self.clients: dict[str, govml.Client] = {}
        alice = self["alice"]
        alice.init()
        for name, role in [
            ("bob", "contributor"),
            ("carol", "approver"),
            ("erin", "risk_officer"),
            ("frank", "deployer"),
        ]:
            alice.add_user(name, roles=[role])
        policy = tmp / "policy.yaml"
        policy.write_text(POLICY, encoding="utf-8")
        alice.apply_policy(policy)
        bob = self["bob"]
        bob.create_model(
            "credit", risk_tier="high", intended_use="Score consumer credit applications"
        )
        train = _frame()
        self.data = tmp / "eval.csv"
        _frame(seed=1).to_csv(self.data, index=False)
        model = LogisticRegression().fit(train[["x1", "x2"]], train["y"])
        for c in (1.0, 0.5):
            bob.register_version(
                "credit",
                model=model,
                train_data=train[["x1", "x2", "y"]],
                target="y",
                params={"C": c},
                code_path=tmp,
            )
        self.evaluation = bob.evaluate("credit@1", data=str(self.data), target="y", n_boot=100)
        self["carol"].approve("credit@1", comment="metrics reviewed")
        self["erin"].approve("credit@1", comment="risk accepted")
        frank = self["frank"]
        frank.promote("credit@1", to="staging")
        frank.promote("credit@1", to="production", reason="go live")
        alice.sign_checkpoint()
        bob.evaluate("credit@2", data=str(self.data), target="y", n_boot=100)
        self["carol"].approve("credit@2", comment="ok")
        self["erin"].approve("credit@2", comment="ok")
        frank.configure_serving("credit", mode="canary", share=0.1)
        frank.promote("credit@2", to="staging")
        frank.promote("credit@2", to="production")
        frank.rollback("credit", reason="canary errors")
        bob.set_model_card_fields(
            "credit",
            {
                "limitations": ["Not for business loans", "Trained on 300 rows"],
                "ethical_considerations": "Lower approval rates for one region | reviewed monthly",
                "licenses": "Apache-2.0",
            },
        )
        bob.set_model_card_fields("credit", {"intended_users": "Credit officers"})
        bob.create_model("churn", risk_tier="minimal")
        bob.register_version("churn", model=model, code_path=tmp)

    def __getitem__(self, name: str) -> govml.Client:
        if name not in self.clients:
            opened = govml.connect(self.home, database_url=self.db_url, user=name)
            opened.ctx.clock = self.clock
            self.clients[name] = opened
        return self.clients[name]

    def close(self) -> None:
        for opened in self.clients.values():
            opened.close()


@pytest.fixture
def registry(db_url: str, home: Path, tmp_path: Path) -> Iterator[Registry]:
    made = Registry(db_url, home, tmp_path)
    yield made
    made.close()


def _json(client: govml.Client, kind: str, ref: str, **kwargs: Any) -> dict[str, Any]:
    text = client.report(kind, ref, format="json", **kwargs)
    assert isinstance(text, str)
    data: dict[str, Any] = json.loads(text)
    return data


def test_every_number_in_the_card_is_the_stored_evaluations(registry: Registry) -> None:
    viewer = registry["frank"]
    card = _json(viewer, "model-card", "credit@1")
    stored = viewer.get_evaluation(registry.evaluation.id)
    evidence = json.loads(viewer.evaluation_evidence(stored, "fairness_report") or b"")
    metrics = card["quantitative_analysis"]["performance_metrics"]
    assert metrics, "the card reports the evaluation's metrics"
    groups = 0
    for metric in metrics:
        source = metric["source"]
        assert source["evaluation_id"] == stored.id
        assert source["evaluation_digest"] == stored.digest
        entry = viewer.audit_log(action="evaluation.recorded")[0]
        assert source["ledger_entry"] == entry.seq and entry.payload["id"] == stored.id
        if "evidence" in source:
            groups += 1
            assert source["evidence_digest"] == stored.evidence_digest("fairness_report")
            section = evidence["sections"][source["section"]]
            (result,) = [
                r for r in section["by_group"][source["metric"]] if r["group"] == source["group"]
            ]
            expected = result.get("value")
            interval = result.get("interval")
        else:
            check = stored.check(source["check"])
            expected, interval = check["value"], check["interval"]
        assert (None if metric["value"] is None else float(metric["value"])) == expected
        bounds = metric["confidence_interval"]
        if interval is None:
            assert bounds is None
        else:
            assert [float(bounds["lower_bound"]), float(bounds["upper_bound"])] == interval
    assert groups > 0
    slices = {m["slice"] for m in metrics if m.get("intersectional")}
    assert "sex=F, region=north" in slices
    assert card["model_details"]["licenses"] == [{"identifier": "Apache-2.0"}]
    assert card["considerations"]["ethical_considerations"] == [
        {"name": "Lower approval rates for one region", "mitigation_strategy": "reviewed monthly"}
    ]
    assert card["provenance"]["fields"]["intended_use"] == "model record (intended_use)"
    assert card["provenance"]["fields"]["intended_users"].startswith("card revision 2 (bob")


def test_a_version_without_evaluation_says_so(registry: Registry) -> None:
    bob = registry["bob"]
    card = _json(bob, "model-card", "churn@1")
    assert card["quantitative_analysis"]["performance_metrics"] == []
    assert card["provenance"]["evaluation"] is None
    markdown = bob.report("model-card", "churn@1")
    assert isinstance(markdown, str)
    assert "churn@1 has no evaluation: govml reports no measured performance" in markdown
    annex = _json(bob, "annex-iv", "churn")
    item3 = next(i for i in annex["items"] if i["id"] == "3")
    assert item3["content"]["performance"] == [] and item3["content"]["evaluation"] is None
    score = _json(bob, "ml-test-score", "churn")
    assert score["final"] == 0


def test_audit_report_proofs_verify_against_the_signed_checkpoint(registry: Registry) -> None:
    alice = registry["alice"]
    report = _json(alice, "audit", "credit")
    checkpoint, head = report["checkpoint"], report["tree_head"]
    assert report["proven_against"] == "signed_checkpoint"
    with alice.ctx.store.read() as conn:
        keys = [key for _, key in note_keys(conn, checkpoint["signed_note"])]
    signed, _ = verify_checkpoint(checkpoint["signed_note"], keys)
    assert signed.tree_size == checkpoint["tree_size"]
    assert signed.root_hash.hex() == checkpoint["root_hash"]
    kinds = set()
    for item in report["entries"]:
        digest = leaf_hash(item["entry"].encode("utf-8"))
        assert digest.hex() == item["leaf_hash"]
        anchor = checkpoint if item["proven_against"] == "signed_checkpoint" else head
        kinds.add(item["proven_against"])
        verify_inclusion(
            index=item["seq"],
            size=anchor["tree_size"],
            leaf_hash=digest,
            proof=[bytes.fromhex(node) for node in item["inclusion_proof"]],
            root=bytes.fromhex(anchor["root_hash"]),
        )
    assert kinds == {"signed_checkpoint", "tree_head"}
    verify_consistency(
        old_size=checkpoint["tree_size"],
        new_size=head["tree_size"],
        old_root=bytes.fromhex(checkpoint["root_hash"]),
        new_root=bytes.fromhex(head["root_hash"]),
        proof=[bytes.fromhex(node) for node in report["consistency_proof"]],
    )
    steps = {step["step"]: step["items"] for step in report["chain"]}
    for step in ("commit", "data", "training", "artifact", "evaluation", "approvals"):
        assert steps[step], step
    assert [i["action"] for i in steps["rollbacks"]] == ["alias.rolled_back"]
    assert steps["alerts"] == []
    assert "No alerts recorded." in str(alice.report("audit", "credit"))
    last = max((i for items in steps.values() for i in items), key=lambda i: i["seq"])
    since = _json(alice, "audit", "credit", since=last["time"])
    assert [e["seq"] for e in since["entries"]] == [last["seq"]]


def test_card_fields_are_versioned_ledgered_and_replayed(registry: Registry) -> None:
    bob = registry["bob"]
    history = bob.model_card_history("credit")
    assert [h.revision for h in history] == [1, 2]
    assert history[1].fields["limitations"] == ["Not for business loans", "Trained on 300 rows"]
    assert history[1].changed == ("intended_users",)
    assert bob.model_card_fields("credit", revision=1).fields.get("intended_users") is None
    changed = bob.set_model_card_fields("credit", unset=["licenses"])
    assert changed.revision == 3 and "licenses" not in changed.fields
    entry = bob.audit_log(action="model.card_updated")[-1]
    assert entry.seq == changed.ledger_entry and entry.payload["revision"] == 3
    with pytest.raises(ValidationError, match="unknown model card field 'limitation'") as info:
        bob.set_model_card_fields("credit", {"limitation": "x"})
    assert "limitations" in str(info.value.hint)
    with pytest.raises(ValidationError, match="must not be empty"):
        bob.set_model_card_fields("credit", {"overview": "  "})
    with pytest.raises(NotFoundError):
        bob.set_model_card_fields("nope", {"overview": "x"})
    store = bob.ctx.store
    with store.read() as conn:
        assert verify_card_records(conn) == 3
    with pytest.raises(sa.exc.DatabaseError, match="append-only"), store.write() as conn:
        conn.execute(sa.text("UPDATE model_card_revisions SET revision = revision"))
    with store.write() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO model_card_revisions (model_id, revision, fields, changed, "
                "created_at, created_by) SELECT model_id, 9, fields, changed, created_at, "
                "created_by FROM model_card_revisions WHERE revision = 1"
            )
        )
    with store.read() as conn, pytest.raises(IntegrityError, match="revision 9 of 'credit'"):
        verify_card_records(conn)


def test_datasheet_and_bad_references(registry: Registry) -> None:
    bob = registry["bob"]
    digest = bob.get_version("credit@1").datasets[0].digest
    sheet = _json(bob, "datasheet", "credit@1:train")
    assert sheet["dataset"] == digest
    assert sheet["composition"]["rows"] == 300
    assert [u["version"] for u in sheet["uses"]["versions"]] == [1, 2]
    assert sheet["collection_process"]["first_recorded"]["first_seen_as"] == "credit@1 train"
    assert _json(bob, "datasheet", digest[7:20])["dataset"] == digest
    with pytest.raises(NotFoundError, match="no stored dataset"):
        bob.report("datasheet", "sha256:" + "0" * 64)
    with pytest.raises(InputError, match="is not a dataset"):
        bob.report("datasheet", "../etc/passwd")
    with pytest.raises(NotFoundError, match="has no validation data"):
        bob.report("datasheet", "credit@1:validation")
    with pytest.raises(NotFoundError, match="model 'credt' does not exist"):
        bob.report("model-card", "credt@1")
    with pytest.raises(NotFoundError):
        bob.report("annex-iv", "credit@7")
    with pytest.raises(InputError, match="unknown document"):
        bob.report("model-cards", "credit@1")
    with pytest.raises(InputError, match="unknown format"):
        bob.report("model-card", "credit@1", format="docx")
    with pytest.raises(InputError, match="not a date"):
        bob.report("audit", "credit", since="yesterday")


def test_cli_writes_reports_and_refuses_to_overwrite(
    registry: Registry,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GOVML_HOME", str(registry.home))
    monkeypatch.setenv("GOVML_DATABASE_URL", registry.db_url)
    monkeypatch.setenv("GOVML_USER", "bob")
    out = tmp_path / "card.html"
    assert invoke(["report", "model-card", "credit@1", "--out", str(out)]) == 0
    assert out.read_text().startswith("<!DOCTYPE html>")
    assert invoke(["report", "model-card", "credit@1", "--out", str(out)]) == 2
    assert "exists; pass --force" in capsys.readouterr().err
    assert invoke(["report", "model-card", "credit@1", "-o", str(out), "--force"]) == 0
    capsys.readouterr()
    assert invoke(["report", "ml-test-score", "credit", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["schema"] == "govml.ml-test-score/v1"
    assert invoke(["models", "card", "credit", "--set", "overview=Scorecard"]) == 0
    capsys.readouterr()
    assert invoke(["models", "card", "credit", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["fields"]["overview"] == "Scorecard"
    assert invoke(["report", "annex-iv", "nope@1"]) == 2
    assert invoke(["report", "audit", "credit", "--format", "pdf"]) == 2
    assert "give --out FILE.pdf" in capsys.readouterr().err


# -- golden files (SQLite only: the same state gives the same text on PostgreSQL) -------------


def _normalise(text: str, registry: Registry) -> str:
    text = text.replace(str(registry.tmp), "<tmp>")
    version = registry["bob"].get_version("credit@1")
    env = version.environment
    for name, value in sorted(env.get("packages", {}).items(), key=lambda kv: -len(kv[0])):
        text = text.replace(f"{name} {value}", f"{name} <version>")
    text = text.replace(f"Python {env['python']}", "Python <version>")
    text = re.sub(r"\d+ packages", "<n> packages", text)
    text = re.sub(r"\(\d+ bytes\)", "(<n> bytes)", text)
    names: dict[str, str] = {}

    def named(match: re.Match[str]) -> str:
        return names.setdefault(match.group(0), f"<hash-{len(names) + 1}>")

    text = re.sub(r"(sha256:)?[0-9a-f]{64}", named, text)
    text = re.sub(r"govml/[0-9a-f]{16}(\+[0-9a-f]{8})?", "<log-key>", text)
    text = re.sub(r"^[A-Za-z0-9+/]{43}=$", "<root-base64>", text, flags=re.MULTILINE)
    return re.sub(r"— <log-key> [A-Za-z0-9+/=]+", "— <log-key> <signature>", text)


@pytest.mark.parametrize(
    ("kind", "ref"),
    [
        ("model-card", "credit@1"),
        ("datasheet", "credit@1:train"),
        ("annex-iv", "credit@1"),
        ("audit", "credit"),
        ("ml-test-score", "credit"),
    ],
)
def test_markdown_matches_the_golden_file(
    request: pytest.FixtureRequest, db_url: str, kind: str, ref: str
) -> None:
    if not db_url.startswith("sqlite"):
        pytest.skip("golden files are compared on SQLite")
    registry: Registry = request.getfixturevalue("registry")
    text = registry["bob"].report(kind, ref)
    assert isinstance(text, str)
    got = _normalise(text, registry)
    path = GOLDEN / f"{kind}.md"
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(got, encoding="utf-8")
    assert got == path.read_text(encoding="utf-8")
