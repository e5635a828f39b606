"""A model's page: overview with its card, versions with alias chips, approvals, ledger.

Every tab is its own URL under ``/models/NAME`` (lineage, evaluations, monitoring and
documents have modules of their own). The overview is also JSON (``/models/NAME.json``): the
model, its versions, its card fields and the readiness of its candidate for production.

The card's editable fields are changed through `DocumentService.set_card_fields`, as with
``govml models card NAME --set``: each save is a new revision and a ``model.card_updated``
ledger entry; the form refuses to overwrite a revision someone saved meanwhile.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from govml.documents.fields import CARD_FIELDS, RISK_SEPARATOR, FieldSpec, ModelCardFields
from govml.domain.lifecycle import PRODUCTION, STAGING, AliasChange, Readiness
from govml.domain.records import Model, ModelVersion, check_name
from govml.errors import GovmlError, NotFoundError, ValidationError
from govml.policy.records import StoredPolicy
from govml.services.documents import DocumentService
from govml.services.lifecycle import LifecycleService
from govml.services.model_risk import ModelRiskService
from govml.services.monitoring import MonitoringService
from govml.services.policy import PolicyService
from govml.services.registry import RegistryService
from govml.settings import ticket_link
from govml.store.ledger import iter_entries
from govml.ui.problems import problem as problem_of
from govml.ui.problems import status_of
from govml.ui.render import page, strip_json, wants_json
from govml.ui.viewer import Viewer, checked_form, form_text, signed_in

router = APIRouter()

ERR_STALE_CARD = (
    "The model card was changed (revision {now}) since you opened it (revision {was}): your "
    "changes were not saved. Review the current card and make them again."
)
LEDGER_LIMIT = 500


@dataclass(frozen=True, kw_only=True)
class ModelHead:
    """What every tab of a model page shows at its top."""

    model: Model
    policy: StoredPolicy | None
    versions: list[ModelVersion]
    retired: dict[str, Any] | None = None

    @property
    def ticket_url(self) -> str | None:
        """The link of the retirement's ticket, when a ticket URL pattern is set."""
        ticket = None if self.retired is None else self.retired.get("ticket")
        return None if not ticket else ticket_link(ticket)

    @property
    def production(self) -> int | None:
        """The version holding production, if any."""
        return self.model.aliases.get(PRODUCTION)

    @property
    def staging(self) -> int | None:
        """The version holding staging, if any."""
        return self.model.aliases.get(STAGING)

    @property
    def candidate(self) -> ModelVersion | None:
        """The newest version, unless it holds production (what awaits a decision).

        A retired model awaits none.
        """
        if self.retired is not None or not self.versions:
            return None
        if self.versions[-1].version == self.production:
            return None
        return self.versions[-1]


def model_head(viewer: Viewer, name: str) -> ModelHead:
    """Read the model, its policy in force and its versions."""
    check_name(name)
    registry = RegistryService(viewer.ctx)
    model = registry.get_model(name)
    return ModelHead(
        model=model,
        policy=PolicyService(viewer.ctx).for_tier(model.risk_tier.value),
        versions=registry.list_versions(name),
        retired=ModelRiskService(viewer.ctx).retirement(name),
    )


def version_number(head: ModelHead, text: str | None) -> int | None:
    """Return the version a ``?version=`` parameter names (default: the newest).

    Raises
    ------
    ValidationError
        When it is not a number. NotFoundError when the model has no such version.
    """
    if not text:
        return head.versions[-1].version if head.versions else None
    if not text.isdigit():
        raise ValidationError(f"version: {text!r} is not a version number")
    number = int(text)
    if number not in {v.version for v in head.versions}:
        raise NotFoundError(f"{head.model.name} has no version {number}")
    return number


def _readiness(viewer: Viewer, head: ModelHead) -> dict[str, Readiness]:
    """Readiness of the candidate for each alias it does not hold yet."""
    candidate = head.candidate
    if candidate is None:
        return {}
    lifecycle = LifecycleService(viewer.ctx)
    found = {PRODUCTION: lifecycle.readiness(candidate.ref, to=PRODUCTION)}
    if head.staging != candidate.version:
        found[STAGING] = lifecycle.readiness(candidate.ref, to=STAGING)
    return found


@router.get("/models/{name}")
def overview(request: Request, name: str, viewer: Viewer = Depends(signed_in)) -> Response:  # noqa: B008
    """Show the model's overview: facts, aliases, the candidate's readiness, its card."""
    name = strip_json(name) if wants_json(request) else name
    head = model_head(viewer, name)
    readiness = _readiness(viewer, head)
    card = DocumentService(viewer.ctx).card_fields(name)
    production = LifecycleService(viewer.ctx).history(name, alias=PRODUCTION)
    runs = MonitoringService(viewer.ctx).latest_runs(name, limit=1)
    register = _register(viewer, name)
    data = {
        "model": head.model.to_dict(),
        "policy": None if head.policy is None else head.policy.to_dict(with_document=False),
        "versions": [v.to_dict() for v in head.versions],
        "readiness": {alias: r.to_dict() for alias, r in readiness.items()},
        "card": card.to_dict(),
        "retired": head.retired,
        "risk_register": register,
    }
    return page(
        request,
        "model_overview.html",
        {
            "title": name,
            "nav": "models",
            "head": head,
            "tab": "overview",
            "readiness": readiness,
            "card": card,
            "card_fields": CARD_FIELDS,
            "last_move": production[-1] if production else None,
            "latest_run": runs[0] if runs else None,
            "register": register,
        },
        data=data,
    )


def _register(viewer: Viewer, name: str) -> dict[str, Any] | None:
    """Return the latest revision of the risk register with its ticket's link, or None."""
    revisions = ModelRiskService(viewer.ctx).history(name)
    if not revisions:
        return None
    latest = dict(revisions[-1])
    latest["ticket_url"] = ticket_link(latest["ticket"]) if latest["ticket"] else None
    return latest


@router.get("/models/{name}/versions")
def versions(request: Request, name: str, viewer: Viewer = Depends(signed_in)) -> Response:  # noqa: B008
    """Every version with its alias chips, and who moved each alias when."""
    head = model_head(viewer, name)
    history = LifecycleService(viewer.ctx).history(name)
    moves: dict[int, list[AliasChange]] = {}
    for change in history:
        moves.setdefault(change.version, []).append(change)
        if change.previous is not None and change.action == "rollback":
            moves.setdefault(change.previous, []).append(change)
    return page(
        request,
        "model_versions.html",
        {
            "title": f"{name}: versions",
            "nav": "models",
            "head": head,
            "tab": "versions",
            "history": list(reversed(history)),
            "moves": moves,
        },
    )


@router.get("/models/{name}/approvals")
def approvals(request: Request, name: str, viewer: Viewer = Depends(signed_in)) -> Response:  # noqa: B008
    """Decisions on each version, the policy's requirement and separation of duties."""
    head = model_head(viewer, name)
    lifecycle = LifecycleService(viewer.ctx)
    by_version = []
    for version in reversed(head.versions):
        decided = lifecycle.approvals(version.ref)
        ready = lifecycle.readiness(version.ref, to=PRODUCTION)
        verdicts = {v.approval_id: v for v in ready.verdicts}
        by_version.append(
            {"version": version, "decisions": decided, "verdicts": verdicts, "readiness": ready}
        )
    rules = None if head.policy is None else head.policy.policy.approvals
    return page(
        request,
        "model_approvals.html",
        {
            "title": f"{name}: approvals",
            "nav": "models",
            "head": head,
            "tab": "approvals",
            "by_version": by_version,
            "rules": rules,
        },
    )


@router.get("/models/{name}/ledger")
def ledger(request: Request, name: str, viewer: Viewer = Depends(signed_in)) -> Response:  # noqa: B008
    """List the ledger entries about the model and its versions, newest first."""
    head = model_head(viewer, name)
    with viewer.ctx.store.read() as conn:
        entries = list(iter_entries(conn, model=name, limit=LEDGER_LIMIT, newest_first=True))
    return page(
        request,
        "model_ledger.html",
        {
            "title": f"{name}: ledger",
            "nav": "models",
            "head": head,
            "tab": "ledger",
            "entries": entries,
            "limit": LEDGER_LIMIT,
        },
    )


# -- the model card --------------------------------------------------------------------------


def field_text(spec: FieldSpec, value: Any) -> str:
    """Return a card field's stored value as the text of its form field."""
    if value is None:
        return ""
    if spec.kind == "text":
        return str(value)
    if spec.kind == "list":
        return "\n".join(str(item) for item in value)
    return "\n".join(
        f"{risk['name']}{RISK_SEPARATOR}{risk.get('mitigation_strategy', '')}".rstrip(" |")
        for risk in value
    )


def card_changes(
    current: ModelCardFields, submitted: dict[str, str]
) -> tuple[dict[str, Any], list[str]]:
    """Return the fields to set and to unset for what the form submitted.

    A field whose text is unchanged is left alone; an emptied one is unset; a list or risks
    field takes one item per non-empty line.
    """
    to_set: dict[str, Any] = {}
    to_unset: list[str] = []
    for spec in CARD_FIELDS:
        if spec.name not in submitted:
            continue
        text = submitted[spec.name].replace("\r\n", "\n").strip()
        if text == field_text(spec, current.fields.get(spec.name)).strip():
            continue
        if not text:
            if spec.name in current.fields:
                to_unset.append(spec.name)
            continue
        if spec.kind == "text":
            to_set[spec.name] = text
        else:
            to_set[spec.name] = [line.strip() for line in text.split("\n") if line.strip()]
    return to_set, to_unset


def _card_form(
    request: Request,
    head: ModelHead,
    card: ModelCardFields,
    values: dict[str, str],
    problem: dict[str, Any] | None = None,
    field: str | None = None,
    status: int = 200,
) -> Response:
    return page(
        request,
        "model_card_edit.html",
        {
            "title": f"{head.model.name}: edit the model card",
            "nav": "models",
            "head": head,
            "tab": "overview",
            "card": card,
            "card_fields": CARD_FIELDS,
            "values": values,
            "problem": problem,
            "error_field": field,
        },
        status=status,
    )


@router.get("/models/{name}/card")
def card_form(request: Request, name: str, viewer: Viewer = Depends(signed_in)) -> Response:  # noqa: B008
    """Show the form that edits the model card's fields (contributors and admins)."""
    head = model_head(viewer, name)
    card = DocumentService(viewer.ctx).card_fields(name)
    values = {spec.name: field_text(spec, card.fields.get(spec.name)) for spec in CARD_FIELDS}
    return _card_form(request, head, card, values)


@router.post("/models/{name}/card")
async def card_save(request: Request, name: str) -> Response:
    """Save the card: a new revision through the documents service (refusals shown)."""
    viewer, form = await checked_form(request)
    head = await run_in_threadpool(model_head, viewer, name)
    documents = DocumentService(viewer.ctx)
    card = await run_in_threadpool(documents.card_fields, name)
    values = {spec.name: form_text(form, spec.name) for spec in CARD_FIELDS}
    was = form_text(form, "revision")
    if was != str(card.revision):
        error = ValidationError(ERR_STALE_CARD.format(now=card.revision, was=was or "?"))
        return _card_form(request, head, card, values, problem_of(request, error), status=409)
    to_set, to_unset = card_changes(card, values)
    try:
        await run_in_threadpool(lambda: documents.set_card_fields(name, to_set, unset=to_unset))
    except GovmlError as error:
        field = next((s.name for s in CARD_FIELDS if f"'{s.name}'" in error.message), None)
        return _card_form(
            request, head, card, values, problem_of(request, error), field, status_of(error)
        )
    return RedirectResponse(f"/models/{name}?saved=card", status_code=303)
