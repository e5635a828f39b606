"""The ML Test Score (Breck et al., IEEE BigData 2017) of a model, from the evidence govml holds.

28 tests in four sections of seven. Each scores 0, ½ or 1: ½ for a test done by hand with
documented results, 1 when it is automated and repeated. Here "automated and repeated"
means the policy in force makes it repeat and it has run under that policy: a section
every evaluation runs (promotion needs a passing evaluation under the policy in force), or
a monitoring rule every run applies. "Documented once" is a result govml recorded that
nothing repeats: a check the policy in force does not ask for, an evaluation against a
``--policy`` file or under a policy since replaced, a monitoring run under another policy.
A test govml holds no evidence for scores 0, and the report says what it found instead.

Each test reads the records the other commands show: evaluations (``govml evaluations``),
approvals and alias changes (``govml models history``), the serving set-up (``govml
serving``) and the monitoring time series (``govml monitor history``). A section's score
is the sum of its tests; the final score is the minimum over the four sections.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from govml.documents import _common as common
from govml.documents._ml_evidence import (
    Found,
    Score,
    best,
    check_kind,
    checks,
    gated,
    ids,
    measured,
    monitored,
    monitoring_rule,
    policy_name,
    runs_in_force,
    window_day,
)
from govml.documents.facts import EXPLANATION_EVIDENCE, FAIRNESS_EVIDENCE, ModelFacts
from govml.documents.outline import Block, Outline, Paragraph, Section, Table
from govml.evaluation import Evaluation

SCHEMA = "govml.ml-test-score/v1"
SECTIONS = ("data", "model", "infrastructure", "monitoring")
META_CHECKS = ("forbidden_in_top_k", "proxy_association", "personal_data")
"""Checks of what features may be (forbidden in the top k, proxies, personal data)."""

_Rule = Callable[[ModelFacts], Score]


def _ran(facts: ModelFacts, predicate: Callable[[Mapping[str, Any]], bool]) -> Found:
    """Return the checks ``predicate`` keeps that ran: those with a value.

    An ``undefined`` check computed nothing (``not run: data check ... failed`` after bad
    data, a group with no rows), as ``govml evaluations show`` says; it is no evidence.
    """
    return checks(facts, lambda c: c.get("status") != "undefined" and predicate(c))


def _none(what: str) -> _Rule:
    def rule(_facts: ModelFacts) -> Score:
        return Score(0, [f"govml holds no evidence of {what}"])

    return rule


# -- data ------------------------------------------------------------------------------------


def _schema(facts: ModelFacts) -> Score:
    found = _ran(facts, lambda c: c.get("category") == "data")
    if found:
        return gated(facts, "data", found, "data expectations")
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


def _explained(facts: ModelFacts) -> list[int]:
    return [e.id for e in facts.evaluations if e.evidence_digest(EXPLANATION_EVIDENCE)]


def _beneficial(facts: ModelFacts) -> Score:
    explained = _explained(facts)
    if explained:
        return Score(
            0.5,
            [
                f"feature importance (SHAP) stored by evaluation(s) {ids(explained)}; "
                "no ablation shows each feature helps"
            ],
        )
    return Score(0, ["no feature importance stored"])


def _meta(facts: ModelFacts) -> Score:
    found = _ran(facts, lambda c: check_kind(c) in META_CHECKS)
    if not found:
        return Score(0, ["no check of forbidden features, proxies or personal data ran"])
    by_section: dict[str, list[tuple[Evaluation, Mapping[str, Any]]]] = {}
    for evaluation, check in found:
        by_section.setdefault(str(check.get("category")), []).append((evaluation, check))
    scores = [
        gated(facts, section, items, "meta-level feature checks")
        for section, items in sorted(by_section.items())
    ]
    return Score(
        best(scores).points, list(dict.fromkeys(line for s in scores for line in s.evidence))
    )


def _privacy(facts: ModelFacts) -> Score:
    found = _ran(facts, lambda c: check_kind(c) == "personal_data")
    score = gated(facts, "data", found, "the personal-data check")
    return Score(
        score.points,
        [*score.evidence, "govml stores sufficient statistics and profiles, no raw rows"],
    )


# -- model -----------------------------------------------------------------------------------


def _reviewed(facts: ModelFacts) -> Score:
    approved = [a for a in facts.approvals if a.decision == "approve"]
    if not approved:
        return Score(0, ["no version was reviewed (no approval recorded)"])
    refs = ", ".join(dict.fromkeys(a.ref for a in approved))
    evidence = [f"approved: {refs}"]
    rules = facts.policy.policy.approvals if facts.policy is not None else None
    if rules is None or rules.required == 0:
        return Score(0.5, [*evidence, f"{policy_name(facts)}, in force, requires no approval"])
    digest = facts.policy.digest if facts.policy is not None else None
    current = [a for a in approved if a.policy_digest == digest]
    required = f"{policy_name(facts)}, in force, requires {rules.required} approval(s)"
    if current:
        return Score(1, [*evidence, f"{required} before production"])
    return Score(0.5, [*evidence, f"{required}; none of these was given under it"])


def _offline(facts: ModelFacts, version: int, metric: str) -> tuple[int, float] | None:
    for evaluation in facts.evaluations_of(version):
        for check in evaluation.checks:
            if check.get("check") == metric and isinstance(check.get("value"), int | float):
                return evaluation.id, float(check["value"])
    return None


def _online_offline(facts: ModelFacts) -> Score:
    online = measured(p for p in facts.monitoring if p.category == "performance")
    if not online:
        return monitored(
            facts,
            "performance",
            "performance on served data",
            monitoring_rule(facts, "performance"),
        )
    series: dict[tuple[int, str], list[float]] = {}
    for point in online:
        series.setdefault((point.version, point.check.partition(":")[2]), []).append(
            float(point.value or 0.0)
        )
    pairs = []
    for (version, metric), values in sorted(series.items()):
        offline = _offline(facts, version, metric)
        if offline is not None:
            shown = ", ".join(common.number_text(v) for v in values)
            pairs.append(
                f"{metric} of {facts.model.name}@{version}: {common.number_text(offline[1])} "
                f"offline (evaluation {offline[0]}), {shown} online"
            )
    runs = ids(p.run_id for p in online)
    rule = monitoring_rule(facts, "performance")
    if not pairs:
        return Score(
            0.5,
            [
                f"performance measured on served data in monitoring run(s) {runs}",
                "no evaluation of the same version measured the same metric offline",
            ],
        )
    current = any(p.run_id in runs_in_force(facts) for p in online)
    evidence = [*pairs, f"online values from monitoring run(s) {runs}"]
    if current and rule is not None:
        return Score(1, [*evidence, f"{policy_name(facts)}, in force, sets {rule}"])
    return Score(0.5, [*evidence, "no performance rule of the policy in force repeats it"])


def _hyperparameters(facts: ModelFacts) -> Score:
    recorded = [v.ref for v in facts.versions if v.params]
    note = (
        f"hyperparameters recorded for {', '.join(recorded)}"
        if recorded
        else "no hyperparameters recorded"
    )
    return Score(0, [note, "no evidence of a search over them"])


def _staleness_known(facts: ModelFacts) -> Score:
    online = measured(p for p in facts.monitoring if p.category == "performance")
    windows: dict[tuple[int, str], list[Any]] = {}
    for point in online:
        windows.setdefault((point.version, point.check), []).append(point)
    aged = {
        key: points for key, points in windows.items() if len({p.window_end for p in points}) > 1
    }
    if aged:
        (version, check), points = max(aged.items(), key=lambda item: len(item[1]))
        values = " → ".join(common.number_text(p.value) for p in points)
        return Score(
            0.5,
            [
                f"{check.partition(':')[2]} of {facts.model.name}@{version} measured on "
                f"{len({p.window_end for p in points})} windows ending {window_day(points[0])} "
                f"to {window_day(points[-1])}: {values}",
                "no study relates the loss of quality to the model's age",
            ],
        )
    runs = facts.monitoring_runs()
    if runs:
        return Score(
            0,
            [
                f"{len(runs)} monitoring run(s) recorded; no version's performance was "
                "measured on more than one window"
            ],
        )
    return Score(0, ["no monitoring run is recorded: performance over time is unknown"])


def _slices(facts: ModelFacts) -> Score:
    found: list[tuple[Evaluation, Mapping[str, Any]]] = [
        (e, {"check": "per-group metrics"})
        for e in facts.evaluations
        if e.evidence_digest(FAIRNESS_EVIDENCE)
    ]
    return gated(facts, "fairness", found, "per-group (slice) metrics")


def _inclusion(facts: ModelFacts) -> Score:
    found = _ran(facts, lambda c: c.get("category") == "fairness")
    return gated(facts, "fairness", found, "fairness rules")


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
    explained = _explained(facts)
    if explained:
        return Score(
            0.5,
            [
                f"explanations stored by evaluation(s) {ids(explained)}; artifacts load "
                "with `govml` for step-by-step debugging"
            ],
        )
    return Score(0, ["no explanation stored"])


def _canaried(facts: ModelFacts) -> Score:
    """1 for a canary the gateway serves now: the staging version beside production."""
    serving = facts.serving
    aliases = facts.model.aliases
    staging, production = aliases.get("staging"), aliases.get("production")
    configured = [e for e in facts.entries if e.action == "serving.configured"]
    where = f" (ledger entry {configured[-1].seq})" if configured else ""
    name = facts.model.name
    if serving.mode == "off":
        past = [e for e in configured if e.payload.get("mode") in ("canary", "shadow")]
        note = (
            f"; a {past[-1].payload.get('mode')} was set up in ledger entry {past[-1].seq}"
            if past
            else ""
        )
        return Score(0, [f"serving mode is off: no challenger is served{note}"])
    if staging is None:
        return Score(
            0,
            [
                f"serving mode is {serving.mode}{where}, but no version holds staging: "
                "no challenger is served"
            ],
        )
    if production is None:
        return Score(0, [f"serving mode is {serving.mode}{where}, but no version holds production"])
    if staging == production:
        return Score(
            0,
            [
                f"serving mode is {serving.mode}{where}, but {name}@{staging} holds both "
                "staging and production: no challenger is served"
            ],
        )
    if serving.mode == "shadow":
        return Score(
            0.5,
            [
                f"{name}@{staging} (staging) runs in shadow beside {name}@{production} "
                f"(production){where}: it sees every request and answers none"
            ],
        )
    share = common.number_text(round((serving.share or 0.0) * 100, 6))
    return Score(
        1,
        [
            f"{name}@{staging} (staging) answers {share} % of the traffic as a canary beside "
            f"{name}@{production} (production){where}"
        ],
    )


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


def _category(category: str, label: str, rule: str) -> _Rule:
    def score(facts: ModelFacts) -> Score:
        return monitored(facts, category, label, monitoring_rule(facts, rule))

    return score


def _not_stale(facts: ModelFacts) -> Score:
    production = facts.model.aliases.get("production")
    if production is None:
        return Score(0, ["no version holds production"])
    version = facts.version(production)
    days = (facts.generated_at - version.created_at).days
    return Score(
        0,
        [
            f"production is {version.ref}, registered {common.day(version.created_at)} "
            f"({days} day(s) before this report)",
            "no monitoring rule alerts on a model's age",
        ],
    )


def _computing(facts: ModelFacts) -> Score:
    return Score(
        0,
        [
            "the gateway logs each request's latency and exports Prometheus metrics, but no "
            "monitoring check compares latency, throughput or memory over time"
        ],
    )


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
        ("The impact of model staleness is known", _staleness_known),
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
        (
            "Data invariants hold for training and serving inputs",
            _category("data_drift", "drift of serving inputs from training", "drift"),
        ),
        (
            "Training and serving are not skewed",
            _category("skew", "training–serving skew", "drift"),
        ),
        ("Models are not too stale", _not_stale),
        ("Models are numerically stable", _none("numerical-stability checks on served models")),
        ("Computing performance has not regressed", _computing),
        (
            "Prediction quality has not regressed",
            _category("performance", "performance on served data", "performance"),
        ),
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
            (t["id"], t["test"], _points(t["points"]), tuple(t["evidence"]))
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


def _points(value: float) -> str:
    whole, half = int(value), value - int(value) >= 0.5
    if half:
        return f"{whole}½" if whole else "½"
    return str(whole)
