"""A model's documents: model card, Annex IV, audit report, datasheets, ML Test Score.

Each is built and rendered by `DocumentService.render`, as ``govml report`` does: HTML to read
in the browser or download, Markdown, JSON, and PDF when the server has a Chromium to print it
with (one PDF at a time: printing starts a browser). A document's HTML is self-contained, with
its own inline style, so it is served under a policy of its own that allows that style and
nothing else (no script, sandboxed, not framable).
"""

from __future__ import annotations

import threading

from fastapi import APIRouter, Depends
from starlette.requests import Request
from starlette.responses import Response

from govml.documents.pdf import chromium_path
from govml.errors import InputError, StoreError
from govml.services.documents import KINDS, DocumentService
from govml.ui.model_page import model_head, version_number
from govml.ui.render import page
from govml.ui.viewer import Viewer, signed_in

router = APIRouter()

DOCUMENT_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'none'; sandbox"
)
MEDIA_TYPES = {
    "html": "text/html; charset=utf-8",
    "md": "text/markdown; charset=utf-8",
    "json": "application/json",
    "pdf": "application/pdf",
}
TITLES = {
    "model-card": "Model card",
    "annex-iv": "EU AI Act Annex IV technical documentation",
    "audit": "Audit report",
    "datasheet": "Datasheet",
    "ml-test-score": "ML Test Score",
}
PER_VERSION = ("model-card", "annex-iv")
PDF_WAIT_S = 60.0
ERR_KIND = "unknown document {kind!r}; documents are {valid}"
ERR_FORMAT = "unknown format {fmt!r}; formats are html, md, json and pdf"
ERR_ROLE = "role: {role!r} is not a dataset role of a version (train or validation)"
ERR_BUSY = "another PDF is being printed; try again in a minute"
_printing = threading.BoundedSemaphore(1)


@router.get("/models/{name}/documents")
def documents_tab(
    request: Request,
    name: str,
    version: str = "",
    viewer: Viewer = Depends(signed_in),  # noqa: B008
) -> Response:
    """List the documents of the model (per version where they are per version)."""
    head = model_head(viewer, name)
    number = version_number(head, version)
    chosen = next((v for v in head.versions if v.version == number), None)
    return page(
        request,
        "model_documents.html",
        {
            "title": f"{name}: documents",
            "nav": "models",
            "head": head,
            "tab": "documents",
            "number": number,
            "chosen": chosen,
            "titles": TITLES,
            "pdf": chromium_path() is not None,
        },
    )


def _ref(name: str, kind: str, number: int | None, role: str) -> str:
    if kind in PER_VERSION:
        return name if number is None else f"{name}@{number}"
    if kind == "datasheet":
        if role not in ("train", "validation"):
            raise InputError(ERR_ROLE.format(role=role))
        return f"{name}@{number}:{role}"
    return name


@router.get("/models/{name}/documents/{kind}.{fmt}")
def document_file(
    name: str,
    kind: str,
    fmt: str,
    version: str = "",
    role: str = "train",
    download: str = "",
    viewer: Viewer = Depends(signed_in),  # noqa: B008
) -> Response:
    """One document, rendered by the documents service; shown in the browser or downloaded."""
    if kind not in KINDS:
        raise InputError(ERR_KIND.format(kind=kind, valid=", ".join(KINDS)))
    if fmt not in MEDIA_TYPES:
        raise InputError(ERR_FORMAT.format(fmt=fmt))
    head = model_head(viewer, name)
    number = version_number(head, version)
    ref = _ref(name, kind, number, role)
    service = DocumentService(viewer.ctx)
    if fmt == "pdf":
        if not _printing.acquire(timeout=PDF_WAIT_S):
            raise StoreError(ERR_BUSY)
        try:
            body = service.render(kind, ref, fmt="pdf")
        finally:
            _printing.release()
    else:
        body = service.render(kind, ref, fmt=fmt)
    stem = f"{kind}-{ref.replace('@', '-').replace(':', '-')}"
    headers = {}
    if fmt == "html":
        headers["Content-Security-Policy"] = DOCUMENT_POLICY
    if download or fmt in ("pdf", "md"):
        headers["Content-Disposition"] = f'attachment; filename="{stem}.{fmt}"'
    return Response(body, media_type=MEDIA_TYPES[fmt], headers=headers)
