"""Documents (model card, datasheet, Annex IV, audit report, ML Test Score) and card fields."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from govml.server.auth import Acting
from govml.server.routes.common import ERRORS
from govml.server.schemas import INT32
from govml.services.documents import DocumentService

router = APIRouter(tags=["documents"], responses=ERRORS)

MEDIA_TYPES = {
    "md": "text/markdown; charset=utf-8",
    "html": "text/html; charset=utf-8",
    "json": "application/json",
}

Kind = Literal["model-card", "datasheet", "annex-iv", "audit", "ml-test-score"]


class CardFieldsOut(BaseModel):
    """One revision of a model's editable card fields."""

    model: str
    revision: int
    fields: dict[str, Any]
    changed: list[str]
    actor: str | None
    created_at: str | None
    ledger_entry: int | None


class CardFieldsRequest(BaseModel):
    """Fields to set (name to text, list or risks) and fields to remove."""

    model_config = ConfigDict(extra="forbid")

    fields: dict[str, Any] = Field(default_factory=dict)
    unset: list[Annotated[str, Field(max_length=100)]] = Field(default_factory=list)


@router.get(
    "/documents/{kind}/{ref}",
    response_class=Response,
    responses={
        200: {
            "content": {
                "text/markdown": {},
                "text/html": {},
                "application/json": {},
            }
        }
    },
)
def document(
    ctx: Acting,
    kind: Kind,
    ref: Annotated[str, Path(max_length=1000)],
    format: Annotated[Literal["md", "html", "json"], Query()] = "md",
    since: Annotated[str | None, Query(max_length=100)] = None,
) -> Response:
    """Return a document rendered as Markdown, self-contained HTML or JSON.

    PDF is printed by the client from the HTML (the server needs no browser).
    """
    text = DocumentService(ctx).render(kind, ref, fmt=format, since=since)
    assert isinstance(text, str)
    return Response(content=text, media_type=MEDIA_TYPES[format])


@router.get("/models/{name}/card", response_model=CardFieldsOut)
def card_fields(
    ctx: Acting,
    name: str,
    revision: Annotated[int | None, Query(ge=0, le=INT32)] = None,
) -> dict[str, Any]:
    """Return the model's editable card fields (the latest or a given revision)."""
    return DocumentService(ctx).card_fields(name, revision=revision).to_dict()


@router.put("/models/{name}/card", response_model=CardFieldsOut)
def set_card_fields(ctx: Acting, name: str, body: CardFieldsRequest) -> dict[str, Any]:
    """Set or remove editable card fields: a new revision, recorded in the ledger."""
    return DocumentService(ctx).set_card_fields(name, body.fields, unset=body.unset).to_dict()


@router.get("/models/{name}/card/history", response_model=list[CardFieldsOut])
def card_history(ctx: Acting, name: str) -> list[dict[str, Any]]:
    """Return every revision of the model's editable card fields, oldest first."""
    return [item.to_dict() for item in DocumentService(ctx).card_history(name)]
