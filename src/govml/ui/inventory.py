"""The inventory: every model with its tier, owner, aliases, gate, approvals and monitoring.

The rows come from `govml.store.inventory_records.read_inventory` (a few aggregate queries in
one read transaction); `build_items` joins them into one `Item` per model, and `select` applies
the filters of the URL (facets, free text), sorts and counts the facets, all in memory. Filters
live in the query string (``/models?tier=high&gate=fail&sort=-changed``), so a view can be
bookmarked and shared; ``/models.json`` answers the same view as JSON.

A process keeps the items of the store's latest state: every change govml makes is written with
a ledger entry in the same transaction, so the items are read again only when the ledger's
latest tree head (its size and root) is no longer the one they were read at, and then only
those of the models the new entries are about (`govml.ui.inventory_cache`).

The approvals column reads the model's newest version: how many people's latest decisions
approve it on its latest evaluation under the policy in force, not counting its registrant,
against the number the policy asks for. The model page and the approval queue show the
service's full readiness (roles, grant times, disabled people), which may count fewer.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends
from starlette.requests import Request
from starlette.responses import Response

from govml.domain.lifecycle import PRODUCTION, STAGING
from govml.domain.records import RiskTier, name_key
from govml.errors import ValidationError
from govml.monitoring.records import RANK
from govml.services.context import ServiceContext
from govml.store.inventory_records import (
    AliasRow,
    Decision,
    EvaluationSummary,
    InventoryRows,
    NewestVersion,
    TierPolicy,
)
from govml.ui.inventory_cache import InventoryCache
from govml.ui.render import page
from govml.ui.viewer import Viewer, signed_in

router = APIRouter()

PAGE_SIZE = 50
TAG_VALUE_CHARS = 40
FACET_VALUES = 20
TIER_ORDER = {tier.value: rank for rank, tier in enumerate(reversed(list(RiskTier)))}
GATE_ORDER = {"fail": 0, "stale": 1, "warn": 2, "pass": 3, "none": 4}
STAGES = ("production", "staging", "retired", "none")
GATES = ("pass", "warn", "fail", "stale", "none")
MONITORING = ("critical", "alert", "warn", "ok", "insufficient", "none")
SORTS = ("name", "tier", "owner", "changed", "gate", "monitoring", "approvals")
FACETS = ("tier", "stage", "gate", "monitoring", "owner", "tag")
ERR_SORT = "sort: unknown column {value!r}; sort by {valid} (a leading '-' reverses)"
ERR_PAGE = "page: {value!r} is not a page number (1, 2, ...)"


@dataclass(frozen=True, kw_only=True, slots=True)
class Approvals:
    """Decisions on a model's candidate (its newest version, when it is not in production)."""

    version: int
    counted: tuple[str, ...]
    required: int
    rejected_by: tuple[str, ...] = ()

    @property
    def pending(self) -> bool:
        """True while fewer people approved than the policy asks for, or someone rejected."""
        return bool(self.rejected_by) or len(self.counted) < self.required

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dictionary."""
        return {
            "version": self.version,
            "approved_by": list(self.counted),
            "required": self.required,
            "rejected_by": list(self.rejected_by),
            "pending": self.pending,
        }


@dataclass(kw_only=True, slots=True)
class Item:
    """One row of the inventory.

    Read-only once built (requests share it), though not ``frozen``: a frozen dataclass's
    slower initialisation counts when thousands are built per read.
    """

    name: str
    owner: str
    risk_tier: str
    description: str
    tags: Mapping[str, str]
    versions: int
    newest: int | None
    production: AliasRow | None
    staging: AliasRow | None
    evaluation: EvaluationSummary | None
    gate: str
    approvals: Approvals | None
    monitoring: str
    monitored_at: datetime | None
    changed_at: datetime
    policy: TierPolicy | None = None
    candidate: NewestVersion | None = None
    candidate_evaluation: EvaluationSummary | None = None
    decisions: tuple[Decision, ...] = ()
    retired_at: datetime | None = None
    search_text: str = field(default="", repr=False)
    facet_values: tuple[tuple[str, ...], ...] = field(default=(), repr=False)  # as FACETS

    @property
    def candidate_version(self) -> int | None:
        """The candidate's version number (the newest version, unless it holds production)."""
        return None if self.candidate is None else self.candidate.version

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dictionary."""
        evaluation = self.evaluation
        return {
            "name": self.name,
            "owner": self.owner,
            "risk_tier": self.risk_tier,
            "description": self.description,
            "tags": dict(self.tags),
            "versions": self.versions,
            "latest_version": self.newest,
            "production": _alias_dict(self.production),
            "staging": _alias_dict(self.staging),
            "gate": self.gate,
            "evaluation": None
            if evaluation is None
            else {"id": evaluation.id, "version": evaluation.version, "status": evaluation.status},
            "approvals": None if self.approvals is None else self.approvals.to_dict(),
            "monitoring": self.monitoring,
            "monitored_at": None if self.monitored_at is None else self.monitored_at.isoformat(),
            "changed_at": self.changed_at.isoformat(),
            "retired_at": None if self.retired_at is None else self.retired_at.isoformat(),
        }


def _alias_dict(alias: AliasRow | None) -> int | None:
    return None if alias is None else alias.version


def build_items(rows: InventoryRows) -> list[Item]:
    """Join the inventory's rows into one item per model, by name.

    Each item carries its values of every facet (in the order of `FACETS`), which `select`
    filters and counts on.
    """
    items = []
    for model in rows.models:
        mid = model.id
        policy = rows.policies.get(model.risk_tier)
        aliases = rows.aliases.get(mid, {})
        production, staging = aliases.get(PRODUCTION), aliases.get(STAGING)
        newest = rows.newest.get(mid)
        latest = rows.latest_evaluation.get(mid)
        run = rows.monitoring.get(mid)
        approvals = None
        retired_at = rows.retired.get(mid)  # a retired model awaits no decision
        candidate = production is None or newest is None or production.version != newest.version
        if newest is not None and retired_at is None and candidate:
            approvals = _approvals(
                newest.version,
                newest.registrant,
                rows.newest_evaluation.get(mid),
                rows.decisions.get(mid, []),
                policy,
            )
        tags = rows.tags.get(mid, {})
        text = " ".join([model.name, model.owner, model.description, *tags, *tags.values()])
        gate, monitoring = gate_of(latest, policy), run.status if run else "none"
        stages = tuple(s for s, a in ((PRODUCTION, production), (STAGING, staging)) if a)
        if retired_at is not None:
            stages = ("retired",)  # a retired model holds no alias
        facet_values = (
            (model.risk_tier,),
            stages or ("none",),
            (gate,),
            (monitoring,),
            (model.owner,),
            tuple(f"{k}={v}" for k, v in tags.items() if len(v) <= TAG_VALUE_CHARS),
        )
        items.append(
            Item(
                name=model.name,
                owner=model.owner,
                risk_tier=model.risk_tier,
                description=model.description,
                tags=tags,
                versions=newest.versions if newest else 0,
                newest=newest.version if newest else None,
                production=production,
                staging=staging,
                evaluation=latest,
                gate=gate,
                approvals=approvals,
                monitoring=monitoring,
                monitored_at=run.window_end if run else None,
                changed_at=rows.changed[mid],
                policy=policy,
                candidate=newest if approvals is not None else None,
                candidate_evaluation=rows.newest_evaluation.get(mid),
                decisions=tuple(rows.decisions.get(mid, ())),
                retired_at=retired_at,
                search_text=text.casefold(),
                facet_values=facet_values,
            )
        )
    return items


def gate_of(evaluation: EvaluationSummary | None, policy: TierPolicy | None) -> str:
    """Return the gate facet of a model's latest evaluation.

    ``stale`` when it ran under another policy than the one now in force (the lifecycle
    service will not count it), ``none`` without an evaluation.
    """
    if evaluation is None:
        return "none"
    if policy is not None and evaluation.policy_digest != policy.digest:
        return "stale"
    return evaluation.status


def _approvals(
    version: int,
    registrant: str,
    evaluation: EvaluationSummary | None,
    decisions: Sequence[Decision],
    policy: TierPolicy | None,
) -> Approvals | None:
    if policy is None:
        return None
    latest: dict[str, Decision] = {}
    for decision in decisions:  # oldest first: the last one of each person wins
        latest[name_key(decision.actor)] = decision
    rejected = sorted(d.actor for d in latest.values() if d.decision == "reject")
    counted = sorted(
        d.actor
        for key, d in latest.items()
        if d.decision == "approve"
        and key != name_key(registrant)
        and evaluation is not None
        and d.evaluation_id == evaluation.id
        and d.policy_digest == policy.digest
        and (not policy.approval_roles or d.role in policy.approval_roles)
    )
    return Approvals(
        version=version,
        counted=tuple(counted),
        required=policy.approvals_required,
        rejected_by=tuple(rejected),
    )


# -- filters ---------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Filters:
    """What the URL asks for: facet values (any of each), free text, sort and page."""

    values: Mapping[str, tuple[str, ...]]
    q: str = ""
    sort: str = "name"
    page: int = 1

    @classmethod
    def parse(cls, params: Iterable[tuple[str, str]]) -> Filters:
        """Read filters from query parameters (repeat a facet for any of several values).

        Raises
        ------
        ValidationError
            On an unknown sort column or a page that is not a positive number.
        """
        values: dict[str, list[str]] = {facet: [] for facet in FACETS}
        q, sort, page_text = "", "name", "1"
        for key, value in params:
            if key in values and value and value not in values[key]:
                values[key].append(value)
            elif key == "q":
                q = value.strip()[:200]
            elif key == "sort" and value:
                sort = value
            elif key == "page" and value:
                page_text = value
        if sort.lstrip("-") not in SORTS:
            raise ValidationError(ERR_SORT.format(value=sort, valid=", ".join(SORTS)))
        if not page_text.isdigit() or not 1 <= int(page_text) <= 1_000_000:
            raise ValidationError(ERR_PAGE.format(value=page_text))
        return cls(
            values={k: tuple(v) for k, v in values.items()}, q=q, sort=sort, page=int(page_text)
        )

    def active(self) -> bool:
        """Return True when any facet or text filter is set."""
        return bool(self.q) or any(self.values.values())

    def params(self, **changes: Any) -> list[tuple[str, str]]:
        """Return the query parameters of these filters with ``changes`` applied."""
        values = {k: list(v) for k, v in self.values.items()}
        q, sort, number = self.q, self.sort, self.page
        for key, value in changes.items():
            if key == "q":
                q = value
            elif key == "sort":
                sort = value
            elif key == "page":
                number = value
            else:
                values[key] = list(value)
        pairs = [(k, v) for k in FACETS for v in values[k]]
        if q:
            pairs.append(("q", q))
        if sort != "name":
            pairs.append(("sort", sort))
        if number != 1:
            pairs.append(("page", str(number)))
        return pairs

    def url(self, **changes: Any) -> str:
        """Return the inventory URL of these filters with ``changes`` applied."""
        pairs = self.params(**changes)
        return "/models" + ("?" + urlencode(pairs) if pairs else "")

    def without(self, facet: str, value: str) -> str:
        """Return the URL with one facet value removed (and back to page 1)."""
        kept = [v for v in self.values.get(facet, ()) if v != value]
        return self.url(**{facet: kept, "page": 1})

    def sort_url(self, column: str) -> str:
        """Return the URL sorted by ``column``, reversing it when it is the current sort."""
        new = f"-{column}" if self.sort == column else column
        return self.url(sort=new, page=1)

    def sort_state(self, column: str) -> str:
        """Return ``ascending``, ``descending`` or ``none`` for ``aria-sort``."""
        if self.sort == column:
            return "ascending"
        if self.sort == f"-{column}":
            return "descending"
        return "none"


_SORT_KEYS: Mapping[str, Callable[[Item], Any]] = {
    "name": lambda item: item.name.casefold(),
    "tier": lambda item: (TIER_ORDER.get(item.risk_tier, 9), item.name.casefold()),
    "owner": lambda item: (item.owner.casefold(), item.name.casefold()),
    "changed": lambda item: item.changed_at,
    "gate": lambda item: (GATE_ORDER.get(item.gate, 9), item.name.casefold()),
    "monitoring": lambda item: (-RANK.get(item.monitoring, -1), item.name.casefold()),
    "approvals": lambda item: (
        0 if item.approvals is not None and item.approvals.pending else 1,
        item.name.casefold(),
    ),
}


@dataclass(frozen=True, kw_only=True)
class Selection:
    """A page of filtered, sorted items, the total, and the facet counts."""

    items: list[Item]
    total: int
    models: int
    pages: int
    facets: dict[str, list[tuple[str, int]]]


def select(items: Sequence[Item], filters: Filters) -> Selection:
    """Filter, count facets, sort and cut one page.

    A facet's counts are those of the items every other filter keeps (so choosing a value
    shows what the other values would add): an item all filters keep counts in every facet,
    an item only one facet's filter drops counts in that facet alone, in one pass.
    """
    wanted = [
        (index, frozenset(filters.values[facet]))
        for index, facet in enumerate(FACETS)
        if filters.values.get(facet)
    ]
    text = filters.q.casefold()
    tallies: list[dict[str, int]] = [{} for _ in FACETS]
    kept = []
    for item in items:
        if text and text not in item.search_text:
            continue
        values = item.facet_values
        failed = [index for index, chosen in wanted if chosen.isdisjoint(values[index])]
        if len(failed) > 1:
            continue
        for index in failed or range(len(FACETS)):
            tally = tallies[index]
            for value in values[index]:
                tally[value] = tally.get(value, 0) + 1
        if not failed:
            kept.append(item)
    counts = {facet: Counter(tallies[index]) for index, facet in enumerate(FACETS)}
    facets = {
        facet: _ordered_counts(facet, counts[facet], filters.values.get(facet, ()))
        for facet in FACETS
    }
    column = filters.sort.lstrip("-")
    kept.sort(key=_SORT_KEYS[column], reverse=filters.sort.startswith("-"))
    pages = max(1, -(-len(kept) // PAGE_SIZE))
    start = (min(filters.page, pages) - 1) * PAGE_SIZE
    return Selection(
        items=kept[start : start + PAGE_SIZE],
        total=len(kept),
        models=len(items),
        pages=pages,
        facets=facets,
    )


def _ordered_counts(
    facet: str, counts: Counter[str], chosen: Sequence[str]
) -> list[tuple[str, int]]:
    fixed = {"tier": [t.value for t in RiskTier], "stage": STAGES, "gate": GATES}.get(facet)
    if facet == "monitoring":
        fixed = MONITORING
    if fixed is not None:
        return [(value, counts.get(value, 0)) for value in fixed]
    top = [value for value, _ in counts.most_common(FACET_VALUES)]
    top += [value for value in chosen if value not in top]
    return [(value, counts.get(value, 0)) for value in top]


_items = InventoryCache(build_items)


def read_items(ctx: ServiceContext) -> list[Item]:
    """Return the inventory of the store: one item per model, by name (read when it changed)."""
    return _items.get(ctx)


def inventory(ctx: ServiceContext, filters: Filters) -> Selection:
    """Read the inventory of the store and select what ``filters`` ask for."""
    return select(read_items(ctx), filters)


FACET_TITLES = {
    "tier": "Risk tier",
    "stage": "Stage",
    "gate": "Latest gate",
    "monitoring": "Monitoring",
    "owner": "Owner",
    "tag": "Tag",
}


@router.get("/models")
@router.get("/models.json")
def models_page(request: Request, viewer: Viewer = Depends(signed_in)) -> Response:  # noqa: B008
    """Show the inventory, filtered, sorted and paged as the URL says (HTML or JSON)."""
    started = time.perf_counter()
    filters = Filters.parse(request.query_params.multi_items())
    chosen = inventory(viewer.ctx, filters)
    data = {
        "models": [item.to_dict() for item in chosen.items],
        "total": chosen.total,
        "page": min(filters.page, chosen.pages),
        "pages": chosen.pages,
        "page_size": PAGE_SIZE,
        "facets": {k: dict(v) for k, v in chosen.facets.items()},
        "filters": {"q": filters.q, "sort": filters.sort, **filters.values},
    }
    response = page(
        request,
        "inventory.html",
        {
            "title": "Models",
            "nav": "models",
            "wide": True,
            "chosen": chosen,
            "filters": filters,
            "facet_titles": FACET_TITLES,
        },
        data=data,
    )
    elapsed_ms = 1000 * (time.perf_counter() - started)
    response.headers["Server-Timing"] = f"inventory;dur={elapsed_ms:.1f}"
    if request.headers.get("hx-request"):  # htmx shows the canonical URL of the view
        response.headers["HX-Push-Url"] = filters.url()
    return response
