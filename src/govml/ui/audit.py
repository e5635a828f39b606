"""The audit explorer: search the ledger, prove one entry, verify the whole ledger, download.

- ``/audit``: entries by model, actor, action (``version.*`` for a family) and time, newest
  first, a page at a time (also ``/audit.json``);
- ``/audit/entries/N``: one entry's canonical JSON (the exact bytes its leaf hash covers) and
  its inclusion proof, built by `ProofService.proof` and verified again during the request
  against the latest signed checkpoint and the instance's public key, step by step;
- ``POST /audit/verify``: `AuditService.verify`, run while the person waits (one at a time
  per server; a million entries take a few seconds), its result or the first entry that
  does not match;
- downloads: each signed checkpoint (the C2SP signed note), the proof bundle of an entry, and
  the export bundle of the whole ledger or one model (`ProofService.export`);
- ``POST /audit/checkpoints``: an admin signs the latest tree head (`ProofService.checkpoint`).
"""

from __future__ import annotations

import json
import re
import threading
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from govml.documents.audit import steps_of, summary
from govml.domain.records import LedgerEntry, check_name
from govml.errors import GovmlError, NotFoundError, StoreError, ValidationError
from govml.ledger.bundle import verify_bundle
from govml.ledger.checkpoint import VerifierKey
from govml.ledger.merkle import leaf_hash
from govml.services.audit import AuditService
from govml.services.proofs import ProofService
from govml.store.audit_search import EntryQuery, ledger_size, load_entry, search_entries
from govml.store.checkpoints import signed_heads
from govml.store.ledger import format_time
from govml.ui.problems import problem
from govml.ui.render import json_response, page
from govml.ui.viewer import Viewer, checked_form, signed_in

router = APIRouter()

PAGE = 100
VERIFY_WAIT_S = 1.0
ERR_TIME = "{field}: {value!r} is not a date or time (use 2026-12-07 or 2026-12-07T14:30Z)"
ERR_SEQ = "before: {value!r} is not an entry number"
ERR_BUSY = "the ledger is being verified for someone else; try again when it is done"
_verifying = threading.Lock()


def _moment(value: str, field: str, *, end_of_day: bool = False) -> str | None:
    text = value.strip()
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValidationError(ERR_TIME.format(field=field, value=value)) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if end_of_day and len(text) == 10:  # a date: up to the end of that day
        moment += timedelta(days=1)
    return format_time(moment)


def parse_query(params: dict[str, str]) -> EntryQuery:
    """Read the search form's fields into a query, naming the field that is wrong."""
    model = params.get("model", "").strip() or None
    if model is not None:
        check_name(model)
    before_text = params.get("before", "").strip()
    if before_text and not before_text.isdigit():
        raise ValidationError(ERR_SEQ.format(value=before_text))
    return EntryQuery(
        model=model,
        actor=params.get("actor", "").strip() or None,
        action=params.get("action", "").strip() or None,
        since=_moment(params.get("since", ""), "from"),
        until=_moment(params.get("until", ""), "to", end_of_day=True),
        before=int(before_text) if before_text else None,
        limit=PAGE,
    )


@router.get("/audit")
@router.get("/audit.json")
def audit_page(request: Request, viewer: Viewer = Depends(signed_in)) -> Response:  # noqa: B008
    """Search the ledger; newest first, a page at a time."""
    params = {k: v for k, v in request.query_params.items()}
    query = parse_query(params)
    with viewer.ctx.store.read() as conn:
        entries = search_entries(conn, query)
        size = ledger_size(conn)
        heads = signed_heads(conn)
    older = None
    if len(entries) == PAGE:
        older = "/audit?" + urlencode({**params, "before": str(entries[-1].seq)})
    data = {
        "entries": [e.to_dict() for e in entries],
        "ledger_size": size,
        "older": older,
        "signed_checkpoints": [
            {"tree_size": h.tree_size, "root_hash": h.root_hash, "created_at": h.created_at}
            for h in heads
        ],
    }
    return page(
        request,
        "audit.html",
        {
            "title": "Audit",
            "nav": "audit",
            "params": params,
            "entries": entries,
            "what": {entry.seq: what_of(entry) for entry in entries},
            "size": size,
            "heads": list(reversed(heads)),
            "older": older,
            "export_model": query.model or "",
        },
        data=data,
    )


_LONG_HEX = re.compile(r"\b([0-9a-f]{12})[0-9a-f]{20,}\b")


def what_of(entry: LedgerEntry) -> str:
    """Say in one line what an entry records (as the audit report does), at most 160 chars.

    Digests are cut to their first 12 hex digits (``sha256:9fc0aa13b5e8…``): a column of
    64-digit hex is not read by anyone, and the entry's page shows them whole.
    """
    text = _LONG_HEX.sub(r"\1…", summary(entry, steps_of(entry)[-1]))
    return text if len(text) <= 160 else text[:159] + "…"


def prove(viewer: Viewer, seq: int, text: str) -> dict[str, Any]:
    """Build the entry's proof and verify it here, against the instance's public key.

    Returns what the page shows: ``verified`` with the checkpoint and the path, or the reason
    the entry is not covered yet or does not verify.
    """
    proofs = ProofService(viewer.ctx)
    try:
        bundle = proofs.proof(seq)
        key = VerifierKey.parse(proofs.public_key().verifier_key)
        report = verify_bundle(bundle, [key])
    except GovmlError as error:
        return {"verified": False, "reason": error.message, "hint": error.hint}
    (item,) = bundle.entries
    same = item.entry == text and item.leaf_hash == leaf_hash(text.encode("utf-8"))
    return {
        "verified": same,
        "reason": "" if same else "the proven bytes are not the stored entry",
        "hint": None,
        "tree_size": report.checkpoint.tree_size,
        "root_hash": report.checkpoint.root_hash.hex(),
        "origin": report.checkpoint.origin,
        "key": report.key.label,
        "leaf_hash": item.leaf_hash.hex(),
        "path": [node.hex() for node in item.inclusion_proof],
        "checkpoint": bundle.checkpoint,
        "bundle": bundle.to_json(),
    }


def _entry(viewer: Viewer, seq: int) -> tuple[Any, str]:
    with viewer.ctx.store.read() as conn:
        found = load_entry(conn, seq)
        size = ledger_size(conn)
    if found is None:
        raise NotFoundError(f"ledger entry {seq} does not exist (the ledger has {size} entries)")
    return found


@router.get("/audit/entries/{seq}")
@router.get("/audit/entries/{seq}.json")
def entry_page(
    request: Request,
    seq: int,
    viewer: Viewer = Depends(signed_in),  # noqa: B008
) -> Response:
    """One entry, its canonical JSON, and its inclusion proof verified in this request."""
    entry, text = _entry(viewer, seq)
    proof = prove(viewer, seq, text)
    pretty = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    return page(
        request,
        "audit_entry.html",
        {
            "title": f"Ledger entry {seq}",
            "nav": "audit",
            "entry": entry,
            "canonical": text,
            "pretty": pretty,
            "proof": proof,
        },
        data={
            "entry": entry.to_dict(),
            "canonical": text,
            "proof": {k: v for k, v in proof.items() if k != "bundle"},
        },
    )


@router.get("/audit/entries/{seq}/proof.json")
def entry_proof(seq: int, viewer: Viewer = Depends(signed_in)) -> Response:  # noqa: B008
    """Download the entry's proof bundle, to verify offline (`tools/govml_verify.py`)."""
    _entry(viewer, seq)
    bundle = ProofService(viewer.ctx).proof(seq)
    return json_response(
        bundle.to_json(),
        headers={"Content-Disposition": f'attachment; filename="govml-entry-{seq}.proof.json"'},
    )


@router.get("/audit/checkpoints/{tree_size}.note")
def checkpoint_note(tree_size: int, viewer: Viewer = Depends(signed_in)) -> Response:  # noqa: B008
    """Download a signed checkpoint as its C2SP signed note."""
    with viewer.ctx.store.read() as conn:
        heads = {head.tree_size: head for head in signed_heads(conn)}
    head = heads.get(tree_size)
    if head is None or head.signed_note is None:
        raise NotFoundError(f"no signed checkpoint at tree size {tree_size}")
    return Response(
        head.signed_note,
        media_type="text/plain; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="govml-checkpoint-{tree_size}.note"'
        },
    )


@router.get("/audit/export.json")
def export_bundle(
    model: str = "",
    viewer: Viewer = Depends(signed_in),  # noqa: B008
) -> Response:
    """Download the export bundle of the ledger (or one model) up to the latest checkpoint."""
    name = model.strip() or None
    if name is not None:
        check_name(name)
    result = ProofService(viewer.ctx).export(model=name)
    stem = f"govml-export-{name}" if name else "govml-export"
    return json_response(
        {
            "bundle": result.bundle.to_json(),
            "tree_size": result.tree_size,
            "uncovered": result.uncovered,
        },
        headers={"Content-Disposition": f'attachment; filename="{stem}-{result.tree_size}.json"'},
    )


@router.post("/audit/verify")
async def verify(request: Request) -> Response:
    """Verify the whole ledger and the records against it, while the person waits."""
    viewer, _ = await checked_form(request)

    def run() -> dict[str, Any]:
        if not _verifying.acquire(timeout=VERIFY_WAIT_S):
            raise StoreError(ERR_BUSY)
        try:
            started = datetime.now(UTC)
            result = AuditService(viewer.ctx).verify()
            seconds = (datetime.now(UTC) - started).total_seconds()
            return {"result": result, "seconds": seconds, "failure": None}
        except GovmlError as error:
            if isinstance(error, StoreError) and error.message == ERR_BUSY:
                raise
            return {
                "result": None,
                "seconds": None,
                "failure": problem(request, error),
                "seq": getattr(error, "seq", None),
            }
        finally:
            _verifying.release()

    outcome = await run_in_threadpool(run)
    data = {
        "ok": outcome["result"] is not None,
        "result": None if outcome["result"] is None else outcome["result"].to_dict(),
        "failure": outcome["failure"],
    }
    return await run_in_threadpool(
        lambda: page(
            request,
            "audit_verify.html",
            {"title": "Ledger verification", "nav": "audit", **outcome},
            data=data,
            status=200 if outcome["result"] is not None else 409,
        )
    )


@router.post("/audit/checkpoints")
async def sign_checkpoint(request: Request) -> Response:
    """Sign the latest tree head (admins; the proofs service refuses anyone else)."""
    viewer, _ = await checked_form(request)
    result = await run_in_threadpool(ProofService(viewer.ctx).checkpoint)
    state = "signed" if result.created else "already-signed"
    return RedirectResponse(f"/audit?checkpoint={state}&size={result.tree_size}", status_code=303)
