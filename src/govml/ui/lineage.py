"""A version's lineage as a graph drawn on the server (SVG, no JavaScript).

Data fingerprints → code commit and environment → artifact → evaluations → approvals →
promotions and rollbacks → serving. `build_graph` is a pure function of the records (tested
on records built in memory); `layout` places the nodes in one column per stage and draws
each edge as a curve from the right side of one node to the left side of the next. Every
node says what it is in words and glyphs (✓ pass, ✗ fail, ↑ promoted, ↩ rolled back), so
colour is never the only signal, and the page lists the same graph as text below it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Depends
from starlette.requests import Request
from starlette.responses import Response

from govml.domain.lifecycle import PRODUCTION, AliasChange, Approval
from govml.domain.records import ModelVersion
from govml.domain.serving import ServingConfig
from govml.evaluation import Evaluation
from govml.services.evaluation import EvaluationService
from govml.services.lifecycle import LifecycleService
from govml.services.serving import ServingService
from govml.ui.model_page import model_head, version_number
from govml.ui.render import page, short_digest, size, when
from govml.ui.viewer import Viewer, signed_in

router = APIRouter()

COLUMNS = (
    "Data",
    "Code and environment",
    "Artifact",
    "Evaluations",
    "Approvals",
    "Promotions and rollbacks",
    "Serving",
)
NODE_W, NODE_H, GAP_X, GAP_Y, TOP, LEFT = 176, 50, 20, 14, 34, 4
MAX_PER_COLUMN = 8
TITLE_CHARS, DETAIL_CHARS = 22, 28


@dataclass(frozen=True, kw_only=True)
class Node:
    """One box of the graph: its column, two lines of text, a kind for its style."""

    id: str
    column: int
    title: str
    detail: str = ""
    kind: str = "plain"  # plain, pass, warn, fail, approve, reject, promote, rollback, serving
    href: str = ""
    full: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dictionary."""
        return {
            "id": self.id,
            "stage": COLUMNS[self.column],
            "title": self.title,
            "detail": self.detail,
            "kind": self.kind,
        }


@dataclass(frozen=True, kw_only=True)
class Graph:
    """Nodes and edges (pairs of node ids) of one version's lineage."""

    nodes: list[Node]
    edges: list[tuple[str, str]] = field(default_factory=list)

    def column(self, index: int) -> list[Node]:
        """Return the nodes of one column, in order."""
        return [node for node in self.nodes if node.column == index]


_GLYPH = {
    "pass": "✓",
    "warn": "!",
    "fail": "✗",
    "approve": "✓",
    "reject": "✗",
    "promote": "↑",
    "rollback": "↩",
    "serving": "▶",
}


def _policy_name(evaluation: Evaluation) -> str:
    policy = evaluation.document.get("policy") or {}
    return str(policy.get("name", "")) if isinstance(policy, dict) else ""


def _change_node(
    change: AliasChange,
    version: ModelVersion,
    shown: Sequence[AliasChange],
    approvals: Sequence[Approval],
    nodes: Sequence[Node],
) -> tuple[str, str, str]:
    """Return the title, kind and source node of an alias move that concerns ``version``.

    A promotion to it comes from the approvals it relied on (else its evaluation); a move
    away from it (a later promotion of another version, or a rollback) from the promotion
    that had put it there.
    """
    here = {node.id for node in nodes}
    earlier = [
        f"change-{c.id}"
        for c in shown
        if c.action == "promote"
        and c.alias == change.alias
        and c.version == version.version
        and c.id is not None
        and change.id is not None
        and c.id < change.id
    ]
    if change.version == version.version and change.action == "promote":
        sources = [
            f"approval-{a.id}"
            for a in approvals
            if a.actor in change.approvals and a.decision == "approve"
        ]
        source = next((s for s in reversed(sources) if s in here), "")
        return f"↑ to {change.alias}", "promote", source
    if change.version == version.version:
        return f"↩ {change.alias} back to it", "rollback", "artifact"
    source = earlier[-1] if earlier else ""
    if change.action == "rollback":
        return f"↩ {change.alias} rolled back", "rollback", source
    return f"→ {change.alias} moved to v{change.version}", "plain", source


def build_graph(
    *,
    version: ModelVersion,
    evaluations: Sequence[Evaluation],
    approvals: Sequence[Approval],
    changes: Sequence[AliasChange],
    serving: ServingConfig | None,
    base: str,
) -> Graph:
    """Return the lineage graph of ``version`` (``base``: the model page's URL)."""
    nodes: list[Node] = []
    edges: list[tuple[str, str]] = []
    for ref in version.datasets:
        nodes.append(
            Node(
                id=f"data-{ref.role}",
                column=0,
                title=f"{ref.role} data",
                detail=f"{ref.row_count:,} rows · {short_digest(ref.digest, 8)}",
                full=f"{ref.role} data {ref.digest}: {ref.row_count:,} rows, {ref.columns} columns",
            )
        )
    if not version.datasets:
        nodes.append(Node(id="data-none", column=0, title="no data recorded", kind="warn"))
    commit = version.code.get("git_commit")
    dirty = " (dirty)" if version.code.get("git_dirty") else ""
    nodes.append(
        Node(
            id="code",
            column=1,
            title=f"code {str(commit)[:10]}{dirty}" if commit else "code: not in git",
            detail=str(version.code.get("repository") or version.code.get("branch") or ""),
            kind="warn" if dirty or not commit else "plain",
            full=str(commit or version.code.get("reason") or "no commit recorded"),
        )
    )
    env = version.environment
    packages = env.get("packages") or {}
    nodes.append(
        Node(
            id="environment",
            column=1,
            title=f"Python {env.get('python', '?')}",
            detail=f"{len(packages)} packages · {short_digest(env.get('lock_digest'), 8)}",
            full=f"environment lock {env.get('lock_digest')}",
        )
    )
    edges += [(d.id, t) for d in nodes if d.column == 0 for t in ("code", "environment")]
    nodes.append(
        Node(
            id="artifact",
            column=2,
            title=version.ref,
            detail=f"{version.flavor} · {size(version.artifact_size)}",
            href=f"{base}/versions#v{version.version}",
            full=f"artifact {version.artifact_digest}",
        )
    )
    edges += [("code", "artifact"), ("environment", "artifact")]
    shown = sorted(evaluations, key=lambda e: e.id)[-MAX_PER_COLUMN:]
    for evaluation in shown:
        glyph, policy = _GLYPH.get(evaluation.status, ""), _policy_name(evaluation)
        nodes.append(
            Node(
                id=f"evaluation-{evaluation.id}",
                column=3,
                title=f"{glyph} evaluation {evaluation.id}: {evaluation.status}",
                detail=policy,
                kind=evaluation.status,
                href=f"{base}/evaluations?id={evaluation.id}",
                full=f"evaluation {evaluation.id} under {policy}",
            )
        )
        edges.append(("artifact", f"evaluation-{evaluation.id}"))
    evaluation_ids = {e.id for e in shown}
    for approval in list(approvals)[-MAX_PER_COLUMN:]:
        verb = "approved" if approval.decision == "approve" else "rejected"
        node_id = f"approval-{approval.id}"
        nodes.append(
            Node(
                id=node_id,
                column=4,
                title=f"{_GLYPH[approval.decision]} {approval.actor} {verb}",
                detail=f"{approval.role} · {approval.created_at:%Y-%m-%d}",
                kind=approval.decision,
                href=f"{base}/approvals",
                full=f"{approval.actor} ({approval.role}) {verb}: {approval.comment}",
            )
        )
        if approval.evaluation_id in evaluation_ids:
            edges.append((f"evaluation-{approval.evaluation_id}", node_id))
    mine = [c for c in changes if c.version == version.version or c.previous == version.version]
    shown_changes = mine[-MAX_PER_COLUMN:]
    for change in shown_changes:
        node_id = f"change-{change.id}"
        title, kind, source = _change_node(change, version, shown_changes, approvals, nodes)
        nodes.append(
            Node(
                id=node_id,
                column=5,
                title=title,
                detail=f"{change.actor} · {change.created_at:%Y-%m-%d %H:%M}",
                kind=kind,
                href=f"{base}/versions",
                full=f"{title} by {change.actor} on {when(change.created_at)}: {change.reason}",
            )
        )
        if source:
            edges.append((source, node_id))
        elif change.evaluation_id in evaluation_ids and change.version == version.version:
            edges.append((f"evaluation-{change.evaluation_id}", node_id))
    if version.aliases:
        mode = "" if serving is None or serving.mode == "off" else f" · challenger {serving.mode}"
        nodes.append(
            Node(
                id="serving",
                column=6,
                title=f"▶ holds {', '.join(version.aliases)}",
                detail=f"served as {version.model}@{version.aliases[0]}{mode}"
                if PRODUCTION in version.aliases
                else "not served in production",
                kind="serving",
                full=f"{version.ref} holds {', '.join(version.aliases)}",
            )
        )
        last = [n for n in nodes if n.column == 5 and n.kind == "promote"]
        edges += [(last[-1].id, "serving")] if last else [("artifact", "serving")]
    else:
        nodes.append(
            Node(id="serving", column=6, title="not serving", detail="holds no alias", kind="plain")
        )
    return Graph(nodes=nodes, edges=edges)


@dataclass(frozen=True, kw_only=True)
class Placed:
    """A node with its box and the lines drawn in it."""

    node: Node
    x: int
    y: int
    lines: tuple[str, str]


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def layout(graph: Graph) -> dict[str, Any]:
    """Place the nodes and route the edges; return what the SVG template draws."""
    placed: dict[str, Placed] = {}
    rows = 1
    for column in range(len(COLUMNS)):
        for row, node in enumerate(graph.column(column)):
            placed[node.id] = Placed(
                node=node,
                x=LEFT + column * (NODE_W + GAP_X),
                y=TOP + row * (NODE_H + GAP_Y),
                lines=(_cut(node.title, TITLE_CHARS), _cut(node.detail, DETAIL_CHARS)),
            )
            rows = max(rows, row + 1)
    paths = []
    for source, target in graph.edges:
        a, b = placed.get(source), placed.get(target)
        if a is None or b is None:
            continue
        if a.x == b.x:  # within a column: from the bottom of one box to the top of the other
            x = a.x + NODE_W // 2
            paths.append(f"M{x},{a.y + NODE_H} L{x},{b.y - 5}")
            continue
        x1, y1 = a.x + NODE_W, a.y + NODE_H // 2
        x2, y2 = b.x - 6, b.y + NODE_H // 2
        bend = max(12, (x2 - x1) // 2)
        paths.append(f"M{x1},{y1} C{x1 + bend},{y1} {x2 - bend},{y2} {x2},{y2}")
    width = LEFT * 2 + len(COLUMNS) * NODE_W + (len(COLUMNS) - 1) * GAP_X
    height = TOP + rows * (NODE_H + GAP_Y) + 4
    headings = [(LEFT + index * (NODE_W + GAP_X), title) for index, title in enumerate(COLUMNS)]
    return {
        "width": width,
        "height": height,
        "nodes": list(placed.values()),
        "paths": paths,
        "headings": headings,
        "node_w": NODE_W,
        "node_h": NODE_H,
    }


@router.get("/models/{name}/lineage")
def lineage_tab(
    request: Request,
    name: str,
    version: str = "",
    viewer: Viewer = Depends(signed_in),  # noqa: B008
) -> Response:
    """Show the lineage graph of one version (the newest by default)."""
    head = model_head(viewer, name)
    number = version_number(head, version)
    graph = drawing = None
    if number is not None:
        chosen = next(v for v in head.versions if v.version == number)
        lifecycle = LifecycleService(viewer.ctx)
        graph = build_graph(
            version=chosen,
            evaluations=EvaluationService(viewer.ctx).query(model=name, version=number),
            approvals=lifecycle.approvals(chosen.ref),
            changes=lifecycle.history(name),
            serving=ServingService(viewer.ctx).get(name),
            base=f"/models/{name}",
        )
        drawing = layout(graph)
    return page(
        request,
        "model_lineage.html",
        {
            "title": f"{name}: lineage",
            "nav": "models",
            "head": head,
            "tab": "lineage",
            "number": number,
            "graph": graph,
            "drawing": drawing,
            "columns": COLUMNS,
        },
        data=None
        if graph is None
        else {"nodes": [n.to_dict() for n in graph.nodes], "edges": [list(e) for e in graph.edges]},
    )
