"""The web UI's pure parts on records built in memory: filters, facets, redirects, CSRF checks,
charts, the lineage graph, the policy diff, escaping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from starlette.requests import Request

from govml.domain.lifecycle import AliasChange, Approval
from govml.domain.records import DatasetRef, LedgerEntry, ModelVersion
from govml.errors import ValidationError
from govml.store.inventory_records import AliasRow, EvaluationSummary, TierPolicy
from govml.ui.audit import what_of
from govml.ui.charts import Marker, Point, levels_of, series_chart
from govml.ui.csrf import CsrfError, check_origin, check_token
from govml.ui.inventory import FACETS, Filters, Item, select
from govml.ui.lineage import build_graph, layout
from govml.ui.policies import diff_lines
from govml.ui.render import breakable
from govml.ui.signin import SignInLimiter, safe_next

NOW = datetime(2026, 1, 5, tzinfo=UTC)


def _item(
    name: str, tier: str, gate: str, *, staging: bool = False, tags: dict[str, str] | None = None
) -> Item:
    tags = tags or {}
    stages = ("staging",) if staging else ("none",)
    return Item(
        name=name,
        owner=f"{name}@example.com",
        risk_tier=tier,
        description="",
        tags=tags,
        versions=1,
        newest=1,
        production=None,
        staging=AliasRow(alias="staging", version=1) if staging else None,
        evaluation=None,
        gate=gate,
        approvals=None,
        monitoring="none",
        monitored_at=None,
        changed_at=NOW,
        search_text=name,
        facet_values=(
            (tier,),
            stages,
            (gate,),
            ("none",),
            (f"{name}@example.com",),
            tuple(f"{k}={v}" for k, v in tags.items()),
        ),
    )


ITEMS = [
    _item("a", "high", "pass", staging=True, tags={"team": "x"}),
    _item("b", "high", "fail"),
    _item("c", "minimal", "pass", tags={"team": "y"}),
]


def test_a_facets_counts_are_of_the_items_the_other_filters_keep() -> None:
    chosen = select(ITEMS, Filters.parse([("tier", "high"), ("gate", "pass")]))
    assert [item.name for item in chosen.items] == ["a"]
    counts = {facet: dict(values) for facet, values in chosen.facets.items()}
    # tier counts ignore the tier filter (gate=pass keeps a and c), gate counts the reverse
    assert counts["tier"] == {"minimal": 1, "limited": 0, "high": 1, "unacceptable": 0}
    assert counts["gate"]["pass"] == 1 and counts["gate"]["fail"] == 1
    assert counts["tag"] == {"team=x": 1}
    assert set(counts) == set(FACETS)


def test_filters_read_and_write_the_url() -> None:
    filters = Filters.parse(
        [
            ("tier", "high"),
            ("tier", "limited"),
            ("q", " credit "),
            ("sort", "-changed"),
            ("page", "2"),
            ("unknown", "x"),
        ]
    )
    assert filters.values["tier"] == ("high", "limited") and filters.q == "credit"
    assert filters.url() == "/models?tier=high&tier=limited&q=credit&sort=-changed&page=2"
    assert filters.without("tier", "high") == "/models?tier=limited&q=credit&sort=-changed"
    assert filters.sort_url("changed") == "/models?tier=high&tier=limited&q=credit&sort=changed"
    assert filters.sort_state("changed") == "descending"
    for params, message in (
        ([("sort", "colour")], "sort: unknown column"),
        ([("page", "0")], "page: '0' is not a page number"),
        ([("page", "x")], "page: 'x' is not a page number"),
    ):
        with pytest.raises(ValidationError, match=message):
            Filters.parse(params)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("/queue?version=a@1", "/queue?version=a@1"),
        ("", "/models"),
        ("//evil.example", "/models"),
        ("/\\evil.example", "/models"),
        ("https://evil.example", "/models"),
        ("/ok\r\nSet-Cookie: x", "/models"),
    ],
)
def test_only_paths_on_this_site_are_followed_after_sign_in(given: str, expected: str) -> None:
    assert safe_next(given) == expected


def _request(headers: dict[str, str], scheme: str = "http") -> Request:
    raw = [
        (k.lower().encode(), v.encode()) for k, v in {"host": "ui.example:8080", **headers}.items()
    ]
    return Request(
        {
            "type": "http",
            "method": "POST",
            "path": "/x",
            "headers": raw,
            "scheme": scheme,
            "server": ("ui.example", 8080),
            "query_string": b"",
        }
    )


def test_origin_checks() -> None:
    check_origin(_request({}), secure=False)  # curl: judged by the token alone
    check_origin(
        _request({"Origin": "http://ui.example:8080", "Sec-Fetch-Site": "same-origin"}),
        secure=False,
    )
    check_origin(_request({"Origin": "https://ui.example:8080"}), secure=True)
    for headers, secure in (
        ({"Origin": "http://evil.example"}, False),
        ({"Origin": "null"}, False),
        ({"Origin": "http://ui.example:8080"}, True),
        ({"Sec-Fetch-Site": "cross-site"}, False),
        ({"Sec-Fetch-Site": "same-site"}, False),
    ):
        with pytest.raises(CsrfError, match="another site"):
            check_origin(_request(headers), secure=secure)
    check_token("abc", "abc")
    for given, expected in (("abc", "abd"), ("", "abc"), (None, "abc"), ("abc", None)):
        with pytest.raises(CsrfError, match="has expired or did not come from this site"):
            check_token(given, expected)


def test_failed_sign_ins_are_limited_per_address() -> None:
    limiter = SignInLimiter(2)
    assert limiter.wait_s("a") == 0
    limiter.failed("a")
    limiter.failed("a")
    assert limiter.wait_s("a") > 0 and limiter.wait_s("b") == 0


def test_a_chart_places_levels_values_and_markers() -> None:
    points = [
        Point(at=NOW + timedelta(days=d), value=v, status=s, version=2)
        for d, v, s in ((0, 0.05, "ok"), (1, 0.12, "warn"), (2, 0.4, "alert"))
    ]
    levels = levels_of({"warn": 0.1, "alert": 0.25, "test": "psi"})
    assert levels == [("warn", 0.1), ("alert", 0.25)]
    chart = series_chart(
        points, levels, [Marker(at=NOW + timedelta(days=2), kind="rollback", label="r")]
    )
    ys = {level["label"]: level["y"] for level in chart["levels"]}
    assert chart["bottom"] > ys["warn"] > ys["alert"] > chart["top"]  # higher values higher up
    shapes = [p["shape"] for p in chart["points"]]
    assert shapes == ["circle", "square", "triangle"]
    assert chart["points"][0]["x"] == chart["left"] and chart["points"][-1]["x"] == chart["right"]
    assert chart["markers"][0]["anchor"] == "end"  # at the right edge its label goes left
    assert chart["line"].startswith("M")


def _version(number: int) -> ModelVersion:
    return ModelVersion(
        model="m",
        version=number,
        artifact_digest="sha256:" + "a" * 64,
        artifact_size=10,
        flavor="sklearn",
        flavor_options={},
        signature=None,
        datasets=(DatasetRef(role="train", digest="sha256:" + "b" * 64, row_count=5, columns=2),),
        code={"git_commit": "0123456789abcdef", "git_dirty": False},
        environment={"python": "3.11"},
        params={},
        metrics={},
        registrant="bob",
        created_at=NOW,
        aliases=("production",),
    )


def test_the_lineage_graph_links_approvals_promotions_and_a_rollback() -> None:
    approval = Approval(
        model="m",
        version=2,
        decision="approve",
        role="approver",
        comment="ok",
        actor="carol",
        created_at=NOW,
        evaluation_id=None,
        id=7,
    )
    changes = [
        AliasChange(
            model="m",
            alias="production",
            action="promote",
            version=2,
            previous=1,
            reason="",
            actor="frank",
            created_at=NOW,
            approvals=("carol",),
            id=1,
        ),
        AliasChange(
            model="m",
            alias="production",
            action="rollback",
            version=1,
            previous=2,
            reason="drift",
            actor="frank",
            created_at=NOW,
            id=2,
        ),
    ]
    graph = build_graph(
        version=_version(2),
        evaluations=[],
        approvals=[approval],
        changes=changes,
        serving=None,
        base="/models/m",
    )
    titles = {node.id: node.title for node in graph.nodes}
    assert titles["change-1"] == "↑ to production"
    assert titles["change-2"] == "↩ production rolled back"
    assert ("approval-7", "change-1") in graph.edges
    assert ("change-1", "change-2") in graph.edges  # the rollback undid that promotion
    assert ("data-train", "code") in graph.edges and ("code", "artifact") in graph.edges
    drawn = layout(graph)
    assert len(drawn["paths"]) == len(graph.edges)


def test_the_policy_diff_marks_lines() -> None:
    lines = diff_lines("a: 1\nb: 2\nc: 3\n", "a: 1\nb: 5\nc: 3\n", old_name="v1", new_name="v2")
    assert [(line.mark, line.text) for line in lines if line.mark in "+-"] == [
        ("-", "b: 2"),
        ("+", "b: 5"),
    ]
    assert diff_lines("same\n", "same\n", old_name="v1", new_name="v2") == []


def test_breakable_text_is_escaped() -> None:
    assert str(breakable("<b>@x")) == "&lt;b&gt;<wbr>@x"
    assert str(breakable("k=<i>")) == "k=<wbr>&lt;i&gt;"


def test_gate_and_approvals_of_the_inventory() -> None:
    from govml.store.inventory_records import Decision
    from govml.ui.inventory import _approvals, gate_of

    policy = TierPolicy(
        name="p", version=2, digest="d2", approvals_required=2, approval_roles=("approver",)
    )
    evaluation = EvaluationSummary(id=9, version=3, status="pass", policy_digest="d2")
    assert gate_of(evaluation, policy) == "pass"
    assert gate_of(evaluation._replace(policy_digest="d1"), policy) == "stale"
    assert gate_of(None, policy) == "none"
    decisions = [
        Decision(
            id=1,
            version=3,
            actor="carol",
            decision="approve",
            role="approver",
            evaluation_id=9,
            policy_digest="d2",
        ),
        Decision(
            id=2,
            version=3,
            actor="bob",
            decision="approve",
            role="approver",
            evaluation_id=9,
            policy_digest="d2",
        ),  # the registrant: not counted
        Decision(
            id=3,
            version=3,
            actor="Dave",
            decision="approve",
            role="approver",
            evaluation_id=8,
            policy_digest="d2",
        ),  # an older evaluation: not counted
        Decision(
            id=4,
            version=3,
            actor="erin",
            decision="approve",
            role="risk_officer",
            evaluation_id=9,
            policy_digest="d2",
        ),  # a role the policy does not ask for
    ]
    counted = _approvals(3, "Bob", evaluation, decisions, policy)
    assert counted is not None and counted.counted == ("carol",) and counted.pending
    rejected = _approvals(
        3, "bob", evaluation, [*decisions, decisions[0]._replace(id=5, decision="reject")], policy
    )
    assert rejected is not None and rejected.rejected_by == ("carol",) and rejected.pending


def _entry(action: str, subject: str, payload: dict[str, object]) -> LedgerEntry:
    return LedgerEntry(
        seq=7,
        time="2026-12-07T14:22:00Z",
        actor="bob",
        action=action,
        subject=subject,
        payload=payload,
        leaf_hash="0" * 64,
    )


def test_the_audit_explorer_cuts_digests_in_its_one_line_summaries() -> None:
    artifact = "9fc0aa13b5e8c8ded768a47446d9e9297982cec38a9b4a20fbf5d750b100e4d2"
    registered = _entry(
        "version.registered",
        "model/credit/versions/1",
        {"model": "credit", "version": 1, "artifact_digest": f"sha256:{artifact}"}
        | {"flavor": "sklearn"},
    )
    line = what_of(registered)
    assert artifact not in line and "sha256:9fc0aa13b5e8…" in line and len(line) <= 160
    revoked = what_of(_entry("token.revoked", "user/bob", {"token_id": "0123456789abcdef"}))
    assert "0123456789abcdef" in revoked  # a 16-digit token id is not a digest: kept whole
