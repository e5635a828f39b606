"""Policies: every stored version, its YAML, the tiers it governs, the diff of two versions.

Read through `PolicyService`. The diff is `difflib`'s unified diff, shown line by line (every
line escaped like any stored text), of either the validated documents written out the same
way (``what=rules``, the default: only what changed in the rules shows, whatever the layout
of the files) or the YAML sources as they were applied (``what=source``, comments included).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

import yaml
from fastapi import APIRouter, Depends
from starlette.requests import Request
from starlette.responses import Response

from govml.domain.records import RiskTier
from govml.errors import ValidationError
from govml.policy.records import StoredPolicy
from govml.services.policy import PolicyService
from govml.ui.render import page
from govml.ui.viewer import Viewer, signed_in

router = APIRouter()

ERR_VERSION = "{field}: {value!r} is not a version number"
CONTEXT_LINES = 3


@dataclass(frozen=True, kw_only=True)
class DiffLine:
    """One line of a unified diff: ``+`` added, ``-`` removed, `` `` kept, ``@`` a hunk head."""

    mark: str
    text: str


def diff_lines(old: str, new: str, *, old_name: str, new_name: str) -> list[DiffLine]:
    """Return the unified diff of two texts as marked lines (empty when they are equal)."""
    lines = []
    for line in difflib.unified_diff(
        old.splitlines(), new.splitlines(), old_name, new_name, n=CONTEXT_LINES, lineterm=""
    ):
        if line.startswith(("---", "+++")):
            continue
        mark = line[:1] if line[:1] in "+-@" else " "
        lines.append(DiffLine(mark=mark, text=line if mark == "@" else line[1:]))
    return lines


def rules_text(stored: StoredPolicy) -> str:
    """Return the validated policy document as block YAML with sorted keys (diffable)."""
    return yaml.safe_dump(
        stored.policy.document(), sort_keys=True, default_flow_style=False, allow_unicode=True
    )


def _version(text: str, field: str) -> int | None:
    if not text:
        return None
    if not text.isdigit() or len(text) > 9:
        raise ValidationError(ERR_VERSION.format(field=field, value=text))
    return int(text)


@router.get("/policies")
@router.get("/policies.json")
def policies_page(request: Request, viewer: Viewer = Depends(signed_in)) -> Response:  # noqa: B008
    """Every policy (its newest version) and which tiers each governs."""
    service = PolicyService(viewer.ctx)
    found = service.list_policies()
    in_force = {tier.value: service.for_tier(tier.value) for tier in RiskTier}
    return page(
        request,
        "policies.html",
        {"title": "Policies", "nav": "policies", "policies": found, "in_force": in_force},
        data={
            "policies": [p.to_dict(with_document=False) for p in found],
            "in_force": {
                tier: None if p is None else {"name": p.name, "version": p.version}
                for tier, p in in_force.items()
            },
        },
    )


def _versions(service: PolicyService, name: str, latest: int) -> list[StoredPolicy]:
    return [service.get(name, version=number) for number in range(latest, 0, -1)]


@router.get("/policies/{name}")
def policy_page(
    request: Request,
    name: str,
    version: str = "",
    viewer: Viewer = Depends(signed_in),  # noqa: B008
) -> Response:
    """Show a policy's versions, the YAML of one, and the tiers it governs."""
    service = PolicyService(viewer.ctx)
    newest = service.get(name)
    chosen = service.get(name, version=_version(version, "version") or newest.latest_version)
    versions = _versions(service, name, newest.latest_version)
    return page(
        request,
        "policy.html",
        {
            "title": f"Policy {name}",
            "nav": "policies",
            "policy": chosen,
            "versions": versions,
        },
        data=chosen.to_dict(),
    )


@router.get("/policies/{name}/diff")
def policy_diff(
    request: Request,
    name: str,
    viewer: Viewer = Depends(signed_in),  # noqa: B008
) -> Response:
    """Show the diff between two versions of a policy (default: the two newest)."""
    service = PolicyService(viewer.ctx)
    newest = service.get(name)
    to = _version(request.query_params.get("to", ""), "to") or newest.latest_version
    start = _version(request.query_params.get("from", ""), "from") or max(1, to - 1)
    old, new = service.get(name, version=start), service.get(name, version=to)
    what = request.query_params.get("what", "rules")
    if what not in ("rules", "source"):
        raise ValidationError(f"what: {what!r} is not rules or source")
    texts = (old.source, new.source) if what == "source" else (rules_text(old), rules_text(new))
    lines = diff_lines(*texts, old_name=f"{name} v{start}", new_name=f"{name} v{to}")
    return page(
        request,
        "policy_diff.html",
        {
            "title": f"Policy {name}: v{start} → v{to}",
            "nav": "policies",
            "name": name,
            "old": old,
            "new": new,
            "lines": lines,
            "what": what,
            "versions": list(range(newest.latest_version, 0, -1)),
        },
        data={
            "from": start,
            "to": to,
            "what": what,
            "diff": [[line.mark, line.text] for line in lines],
        },
    )
