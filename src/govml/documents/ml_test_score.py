"""The ML Test Score (Breck et al., IEEE BigData 2017) of a model, from the evidence govml holds.

28 tests in four sections of seven. Each scores 0, ½ or 1: ½ for a test done by hand with
documented results, 1 when it is automated and repeated. Here "automated and repeated"
means a gate of the policy in force (every evaluation runs it, and promotion needs a passing
evaluation) that has run on this model; "documented once" means a result govml recorded
that no gate repeats. A test govml holds no evidence for scores 0, and the report says what
evidence would count: most infrastructure and monitoring tests score 0 until the serving
gateway and monitoring record their work. A section's score is the sum of its tests; the
final score is the minimum over the four sections.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from govml.documents import _common as common
from govml.documents.facts import EXPLANATION_EVIDENCE, FAIRNESS_EVIDENCE, ModelFacts
from govml.documents.outline import Block, Outline, Paragraph, Section, Table
from govml.evaluation import Evaluation

SCHEMA = "govml.ml-test-score/v1"
SECTIONS = ("data", "model", "infrastructure", "monitoring")


@dataclass(frozen=True)
class Score:
    """One test's points and the evidence for them."""

    points: float
    evidence: list[str]


_Rule = Callable[[ModelFacts], Score]


def _checks(
    facts: ModelFacts, predicate: Callable[[Mapping[str, Any]], bool]
) -> list[tuple[Evaluation, Mapping[str, Any]]]:
    return [(e, c) for e in facts.evaluations for c in e.checks if predicate(c)]


def _ran(found: list[tuple[Evaluation, Mapping[str, Any]]]) -> str:
    ids = sorted({e.id for e, _ in found})
    names = sorted({str(c["check"]) for _, c in found})
    return f"{', '.join(names)} ran in evaluation(s) {', '.join(map(str, ids))}"


def _gated(
    facts: ModelFacts, section: str, found: list[tuple[Evaluation, Mapping[str, Any]]], what: str
) -> Score:
    """1 when the policy in force gates on ``section`` and it ran; ½ when it only ran; else 0."""
    if not found:
        return Score(0, [f"no evaluation of this model ran {what}"])
    policy = facts.policy
    document = policy.policy.document() if policy is not None else {}
    if document.get(section):
        return Score(
            1,
            [
                _ran(found),
                f"policy {policy.name if policy else ''} v{policy.version if policy else ''} "
                f"gates every evaluation on its {section} section",
            ],
        )
    return Score(0.5, [_ran(found), f"the policy in force has no {section} section: not repeated"])


# -- data ------------------------------------------------------------------------------------


def _schema(facts: ModelFacts) -> Score:
    found = _checks(facts, lambda c: c.get("category") == "data")
    if found:
        return _gated(facts, "data", found, "data expectations")
    signed = [v.ref for v in facts.versions if v.signature]
    if signed:
        return Score(
            0.5,
            [
                f"input signatures and training profiles recorded for {', '.join(signed)}; "
                "no data expectations are checked"
            ],
        )
    return Score(0, ["no data expectations checked and no signature recorded"])


def _beneficial(facts: ModelFacts) -> Score:
    explained = [e.id for e in facts.evaluations if e.evidence_digest(EXPLANATION_EVIDENCE)]
    if explained:
        return Score(
            0.5,
            [
                f"feature importance (SHAP) stored by evaluation(s) {_ids(explained)}; "
                "no ablation shows each feature helps"
            ],
        )
    return Score(0, ["no feature importance stored"])


def _none(what: str) -> _Rule:
    def rule(_facts: ModelFacts) -> Score:
        return Score(0, [f"govml holds no evidence of {what}"])

    return rule


def _meta(facts: ModelFacts) -> Score:
    found = _checks(
        facts, lambda c: c.get("check") in ("forbidden_in_top_k", "proxies", "no_personal_data")
    )
    if not found:
        return Score(0, ["no check of forbidden features, proxies or personal data ran"])
    section = (
        "explainability" if any(c.get("category") == "explainability" for _, c in found) else "data"
    )
    return _gated(facts, section, found, "meta-level feature checks")


def _privacy(facts: ModelFacts) -> Score:
    found = _checks(facts, lambda c: c.get("check") == "no_personal_data")
    score = _gated(facts, "data", found, "the personal-data check")
    return Score(
        score.points,
        [*score.evidence, "govml stores sufficient statistics and profiles, no raw rows"],
    )


# -- model -----------------------------------------------------------------------------------


def _reviewed(facts: ModelFacts) -> Score:
    approved = sorted({a.ref for a in facts.approvals if a.decision == "approve"})
    if not approved:
        return Score(0, ["no version was reviewed (no approval recorded)"])
    rules = facts.policy.policy.approvals if facts.policy is not None else None
    evidence = [f"approved: {', '.join(approved)}"]
    if rules is not None and rules.required > 0:
        return Score(
            1, [*evidence, f"the policy requires {rules.required} approval(s) before production"]
        )
    return Score(0.5, [*evidence, "the policy in force does not require approvals"])


def _online_offline(facts: ModelFacts) -> Score:
    monitored = [
        e
        for e in facts.monitoring_entries()
        if "performance" in e.action or "performance" in e.payload
    ]
    if monitored:
        return Score(
            1,
            [
                "monitoring recorded performance on served data (ledger entries "
                f"{_ids(e.seq for e in monitored[:10])})"
            ],
        )
    return Score(0, ["no performance measured on served data is recorded"])


def _slices(facts: ModelFacts) -> Score:
    found: list[tuple[Evaluation, Mapping[str, Any]]] = [
        (e, {"check": FAIRNESS_EVIDENCE})
        for e in facts.evaluations
        if e.evidence_digest(FAIRNESS_EVIDENCE)
    ]
    return _gated(facts, "fairness", found, "per-group (slice) metrics")


def _inclusion(facts: ModelFacts) -> Score:
    found = _checks(facts, lambda c: c.get("category") == "fairness")
    return _gated(facts, "fairness", found, "fairness rules")


def _hyperparameters(facts: ModelFacts) -> Score:
    recorded = [v.ref for v in facts.versions if v.params]
    note = (
        f"hyperparameters recorded for {', '.join(recorded)}"
        if recorded
        else "no hyperparameters recorded"
    )
    return Score(0, [note, "no evidence of a search over them"])


# -- infrastructure --------------------------------------------------------------------------


def _reproducible(facts: ModelFacts) -> Score:
    complete = [
        v.ref
        for v in facts.versions
        if v.code.get("git_commit")
        and not v.code.get("git_dirty")
        and v.datasets
        and v.environment.get("lock_digest")
    ]
    if complete:
        return Score(
            0.5,
            [
                "commit (clean), data fingerprints and environment lock recorded for "
                + ", ".join(complete),
                "training is not re-run to prove it reproduces",
            ],
        )
    return Score(
        0, ["no version records a clean commit, data fingerprints and an environment lock together"]
    )


def _validated(facts: ModelFacts) -> Score:
    promoted = [c for c in facts.changes if c.action == "promote" and c.evaluation_id is not None]
    if promoted:
        return Score(
            1,
            [
                "promotion required a passing evaluation: "
                + ", ".join(
                    f"{c.model}@{c.version} to {c.alias} on evaluation {c.evaluation_id}"
                    for c in promoted
                )
            ],
        )
    if facts.evaluations:
        return Score(
            0.5,
            [
                f"evaluated ({len(facts.evaluations)} evaluation(s)) but never promoted "
                "through the gate"
            ],
        )
    return Score(0, ["no evaluation and no promotion"])


def _debuggable(facts: ModelFacts) -> Score:
    explained = [e.id for e in facts.evaluations if e.evidence_digest(EXPLANATION_EVIDENCE)]
    if explained:
        return Score(
            0.5,
            [
                f"explanations stored by evaluation(s) {_ids(explained)}; artifacts load "
                "with `govml` for step-by-step debugging"
            ],
        )
    return Score(0, ["no explanation stored"])


def _canaried(facts: ModelFacts) -> Score:
    configured = [
        e
        for e in facts.entries
        if e.action == "serving.configured" and e.payload.get("mode") in ("canary", "shadow")
    ]
    if not configured:
        return Score(0, ["no canary or shadow set-up recorded"])
    first = configured[0].seq
    later = [
        e
        for e in facts.entries
        if e.action == "alias.promoted" and e.payload.get("alias") == "production" and e.seq > first
    ]
    evidence = [f"{configured[0].payload.get('mode')} configured in ledger entry {first}"]
    if later:
        return Score(1, [*evidence, f"production promoted after it (ledger entry {later[0].seq})"])
    return Score(0.5, [*evidence, "no production promotion followed it"])


def _rollback(facts: ModelFacts) -> Score:
    rolled = [c for c in facts.changes if c.action == "rollback"]
    if rolled:
        return Score(
            1,
            [
                f"rolled back {len(rolled)} time(s); last to version {rolled[-1].version} "
                f"({rolled[-1].reason})"
            ],
        )
    productions = [c for c in facts.changes if c.alias == "production"]
    if len({c.version for c in productions}) > 1:
        return Score(
            0.5, ["a previous production version exists to roll back to; no rollback was exercised"]
        )
    return Score(0, ["no previous production version to roll back to"])


# -- monitoring ------------------------------------------------------------------------------


def _monitored(keyword: str, rule_key: str) -> _Rule:
    def rule(facts: ModelFacts) -> Score:
        entries = [
            e for e in facts.monitoring_entries() if keyword in e.action or keyword in e.payload
        ]
        rules = facts.policy.policy.document().get("monitoring") if facts.policy else None
        has_rule = bool(rules and rules.get(rule_key))
        if entries:
            return Score(
                1,
                [
                    f"monitoring recorded {keyword} (ledger entries "
                    f"{_ids(e.seq for e in entries[:10])})"
                ],
            )
        if has_rule:
            return Score(
                0,
                [
                    f"the policy defines {rule_key} monitoring rules, but no monitoring run "
                    "is recorded"
                ],
            )
        return Score(0, [f"no {keyword} monitoring rule or run"])

    return rule


TESTS: dict[str, list[tuple[str, _Rule]]] = {
    "data": [
        ("Feature expectations are captured in a schema", _schema),
        ("All features are beneficial", _beneficial),
        ("No feature's cost is too much", _none("the cost of each feature")),
        ("Features adhere to meta-level requirements", _meta),
        ("The data pipeline has appropriate privacy controls", _privacy),
        ("New features can be added quickly", _none("how fast features are added")),
        ("All input feature code is tested", _none("tests of feature code")),
    ],
    "model": [
        ("Model specs are reviewed and submitted", _reviewed),
        ("Offline and online metrics correlate", _online_offline),
        ("All hyperparameters have been tuned", _hyperparameters),
        ("The impact of model staleness is known", _monitored("staleness", "window")),
        ("A simpler model is not better", _none("a comparison with a simpler baseline")),
        ("Model quality is sufficient on important data slices", _slices),
        ("The model is tested for considerations of inclusion", _inclusion),
    ],
    "infrastructure": [
        ("Training is reproducible", _reproducible),
        ("Model specs are unit tested", _none("unit tests of the model specification")),
        ("The ML pipeline is integration tested", _none("integration tests of the pipeline")),
        ("Model quality is validated before serving", _validated),
        ("The model is debuggable", _debuggable),
        ("Models are canaried before serving", _canaried),
        ("Serving models can be rolled back", _rollback),
    ],
    "monitoring": [
        ("Dependency changes result in notification", _none("notifications on dependency changes")),
        ("Data invariants hold for training and serving inputs", _monitored("drift", "drift")),
        ("Training and serving are not skewed", _monitored("skew", "drift")),
        ("Models are not too stale", _monitored("staleness", "window")),
        ("Models are numerically stable", _none("numerical-stability checks on served models")),
        (
            "Computing performance has not regressed",
            _none("latency, throughput or memory tracking"),
        ),
        ("Prediction quality has not regressed", _monitored("performance", "performance")),
    ],
}


def build_ml_test_score(facts: ModelFacts) -> dict[str, Any]:
    """Return the ML Test Score of a model as a JSON-safe document."""
    sections: list[dict[str, Any]] = []
    for name in SECTIONS:
        tests: list[dict[str, Any]] = []
        for index, (title, rule) in enumerate(TESTS[name], start=1):
            score = rule(facts)
            tests.append(
                {
                    "id": f"{name}.{index}",
                    "test": title,
                    "points": score.points,
                    "evidence": score.evidence,
                }
            )
        total = sum(float(t["points"]) for t in tests)
        sections.append({"section": name, "score": total, "tests": tests})
    final = min(float(s["score"]) for s in sections)
    return {
        "schema": SCHEMA,
        "model": facts.model.name,
        "sections": sections,
        "final": final,
        "rule": "final = minimum over the four sections of the sum of their test points",
        "provenance": {"generated_at": facts.generated_at.isoformat()},
    }


def outline_ml_test_score(document: Mapping[str, Any]) -> Outline:
    """Return the reading form of the ML Test Score."""
    sections = []
    for section in document["sections"]:
        rows = [
            (t["id"], t["test"], _points(t["points"]), "; ".join(t["evidence"]))
            for t in section["tests"]
        ]
        blocks: list[Block] = [Table(header=("test", "title", "points", "evidence"), rows=rows)]
        sections.append(
            Section(
                title=f"{section['section'].capitalize()}: {_points(section['score'])} of 7",
                blocks=blocks,
            )
        )
    scores = ", ".join(f"{s['section']} {_points(s['score'])}" for s in document["sections"])
    return Outline(
        title=f"ML Test Score: {document['model']} — {_points(document['final'])}",
        subtitle="Breck et al., The ML Test Score (IEEE BigData 2017): ½ point for a manual test "
        "with documented results, 1 when automated and repeated; final = minimum over sections.",
        facts=[
            ("model", document["model"]),
            ("sections", scores),
            ("final", f"{_points(document['final'])} (the minimum)"),
            ("generated", common.day(document["provenance"]["generated_at"])),
        ],
        sections=[*sections, Section(title="Scoring", blocks=[Paragraph(document["rule"])])],
        kind="ml-test-score",
    )


def _ids(values: Iterable[int]) -> str:
    return ", ".join(str(value) for value in values)


def _points(value: float) -> str:
    whole, half = int(value), value - int(value) >= 0.5
    if half:
        return f"{whole}½" if whole else "½"
    return str(whole)
