"""Documents on demand: model cards, datasheets, Annex IV, audit reports, ML Test Scores.

`DocumentService` reads what govml holds about a model (registry, lineage, evaluations with
their evidence, approvals, alias changes, serving set-up, the ledger) and hands it to the
builders in `govml.documents`, then renders the result as JSON, Markdown, HTML or PDF. The
audit report's inclusion proofs are built and verified inside one read transaction.

The model card's editable fields are read and changed by
`govml.services.card_fields.CardFieldService`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal, get_args

from govml.documents import annex_iv, audit, datasheet, ml_test_score, model_card
from govml.documents.audit import Anchor, AuditFacts, ProvenEntry
from govml.documents.facts import FAIRNESS_EVIDENCE, DatasetFacts, ModelFacts
from govml.documents.fields import ModelCardFields
from govml.documents.outline import Figure, Outline, render_html, render_markdown
from govml.domain.records import VersionRef, check_name
from govml.errors import (
    InputError,
    LedgerVerificationError,
    NotFoundError,
)
from govml.evaluation import Evaluation
from govml.ledger.checkpoint import verify_checkpoint
from govml.ledger.merkle import leaf_hash, verify_consistency, verify_inclusion
from govml.ledger.tree import consistency_path, inclusion_path
from govml.services.card_fields import (
    CardFieldService,
    latest_card,
)
from govml.services.context import ServiceContext
from govml.services.evaluation import EvaluationService
from govml.services.lifecycle import LifecycleService
from govml.services.monitoring import MonitoringService
from govml.services.policy import PolicyService
from govml.services.registry import RegistryService
from govml.services.serving import ServingService
from govml.settings import load_settings
from govml.store import records, risk_records
from govml.store.checkpoints import (
    StoredBlocks,
    latest_head,
    latest_signed_head,
    note_keys,
    read_entries,
    require_origin,
    use_snapshot,
)
from govml.store.ledger import format_time, iter_entries

DocumentKind = Literal["model-card", "datasheet", "annex-iv", "audit", "ml-test-score"]
KINDS: tuple[DocumentKind, ...] = get_args(DocumentKind)
"""The documents govml writes."""

DocumentFormat = Literal["md", "html", "json", "pdf"]
FORMATS: tuple[DocumentFormat, ...] = get_args(DocumentFormat)
"""The formats it writes them in (PDF needs chromium and the ``pdf`` extra)."""

MIN_PREFIX = 6

ERR_KIND = "unknown document {kind!r}; documents are {valid}"
ERR_FORMAT = "unknown format {fmt!r}; formats are {valid}"
ERR_NO_VERSION = "model {name!r} has no registered version"
ERR_SINCE = "--since {value!r} is not a date or time (use e.g. 2026-01-31 or 2026-01-31T12:00Z)"
ERR_DATASET = (
    "{value!r} is not a dataset: give a digest (sha256:…), a prefix of at least "
    f"{MIN_PREFIX} hex digits, or NAME@VERSION:train|validation"
)
ERR_AMBIGUOUS = "dataset prefix {prefix!r} matches {count} datasets: {some}"
ERR_NO_ROLE = "{ref} has no {role} data in its lineage (it has: {have})"
ERR_SINCE_OTHER = "--since applies to the audit report only"
_HEX = re.compile(r"^(sha256:)?([0-9a-f]+)$")


class DocumentService:
    """Build and render documents; keep the model card's editable fields."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    # -- documents -------------------------------------------------------------------------

    def document(
        self, kind: str, ref: str, *, since: str | None = None
    ) -> tuple[dict[str, Any], Outline]:
        """Return a document as JSON and its outline for people.

        Parameters
        ----------
        kind
            One of `KINDS`.
        ref
            ``NAME@VERSION`` (model card, Annex IV; ``NAME`` is the latest version), a
            dataset (datasheet: digest, prefix or ``NAME@VERSION:train``), or ``NAME``
            (audit report, ML Test Score).
        since
            Audit report only: leave out entries before this date or time (UTC).

        Raises
        ------
        InputError
            On an unknown kind, a malformed reference or ``since``.
        NotFoundError
            When the model, version or dataset does not exist.
        """
        if kind not in KINDS:
            raise InputError(ERR_KIND.format(kind=kind, valid=", ".join(KINDS)))
        if since is not None and kind != "audit":
            raise InputError(ERR_SINCE_OTHER)
        if kind == "datasheet":
            facts = self.dataset_facts(ref)
            sheet = datasheet.build_datasheet(facts)
            return sheet, datasheet.outline_datasheet(sheet)
        if kind == "audit":
            check_name(ref)
            audit_facts = self.audit_facts(ref, since=since)
            report = audit.build_audit(audit_facts)
            return report, audit.outline_audit(report)
        if kind == "ml-test-score":
            check_name(ref)
            facts_ = self.model_facts(ref)
            score = ml_test_score.build_ml_test_score(facts_)
            return score, ml_test_score.outline_ml_test_score(score)
        name, number = self._version_of(ref)
        model_facts = self.model_facts(name)
        if kind == "annex-iv":
            document = annex_iv.build_annex_iv(model_facts, number)
            return document, annex_iv.outline_annex_iv(document, model_facts)
        card = model_card.build_model_card(model_facts, number)
        figures = _figures(model_facts, model_facts.evaluations_of(number))
        return card, model_card.outline_model_card(card, model_facts, figures=figures)

    def render(
        self, kind: str, ref: str, *, fmt: str = "md", since: str | None = None
    ) -> str | bytes:
        """Return a document rendered as ``md``, ``html``, ``json`` (text) or ``pdf`` (bytes)."""
        if fmt not in FORMATS:
            raise InputError(ERR_FORMAT.format(fmt=fmt, valid=", ".join(FORMATS)))
        document, outline = self.document(kind, ref, since=since)
        return render(document, outline, fmt)

    # -- facts -----------------------------------------------------------------------------

    def model_facts(self, name: str) -> ModelFacts:
        """Gather everything govml holds about model ``name``."""
        registry = RegistryService(self.ctx)
        model = registry.get_model(name)
        versions = registry.list_versions(name)
        lifecycle = LifecycleService(self.ctx)
        evaluations = EvaluationService(self.ctx)
        approvals = [a for v in versions for a in lifecycle.approvals(v.ref)]
        with self.ctx.store.read() as conn:
            entries = list(iter_entries(conn, model=name))
            recorded = {
                int(e.payload["id"]): e.seq
                for e in iter_entries(conn, action="evaluation.recorded", model=name)
            }
            digests = sorted({ref.digest for v in versions for ref in v.datasets})
            fingerprints = {d: records.load_dataset(conn, d) for d in digests}
            dataset_entries = {
                e.payload["digest"]: e
                for e in iter_entries(conn, action="dataset.recorded")
                if e.payload.get("digest") in fingerprints
            }
            card = latest_card(conn, name)
            registers = risk_records.register_revisions(conn, records.model_id(conn, name))
        return ModelFacts(
            model=model,
            versions=versions,
            card=card,
            policy=PolicyService(self.ctx).for_tier(model.risk_tier.value),
            evaluations=evaluations.query(model=name),
            approvals=sorted(approvals, key=lambda a: (a.created_at, a.id or 0)),
            changes=lifecycle.history(name),
            serving=ServingService(self.ctx).get(name),
            entries=entries,
            evaluation_entries=recorded,
            datasets=fingerprints,
            dataset_entries=dataset_entries,
            monitoring=MonitoringService(self.ctx).history(name, limit=None),
            evidence=evaluations.evidence,
            risk_registers=registers,
            ticket_url=load_settings().ticket_url,
            generated_at=self.ctx.clock(),
        )

    def dataset_facts(self, spec: str) -> DatasetFacts:
        """Gather a dataset's fingerprint, first ledger entry and uses."""
        digest = self.resolve_dataset(spec)
        with self.ctx.store.read() as conn:
            fingerprint = records.load_dataset(conn, digest)
            recorded = next(
                (
                    e
                    for e in iter_entries(conn, action="dataset.recorded")
                    if e.payload.get("digest") == digest
                ),
                None,
            )
            names = records.model_names(conn)
        uses: list[tuple[str, int, str]] = []
        targets: dict[str, str] = {}
        sensitive: set[str] = set()
        registry = RegistryService(self.ctx)
        for name in names:
            for version in registry.list_versions(name):
                for ref in version.datasets:
                    if ref.digest == digest:
                        uses.append((name, version.version, ref.role))
                        if version.params.get("target"):
                            targets[version.ref] = str(version.params["target"])
        evaluations = [
            e
            for e in EvaluationService(self.ctx).query()
            if e.document["data"]["digest"] == digest
            or e.document["subject"].get("model") in {m for m, _, _ in uses}
        ]
        for evaluation in evaluations:
            sensitive.update(str(c) for c in evaluation.document["inputs"]["sensitive"])
        on_data = [e for e in evaluations if e.document["data"]["digest"] == digest]
        return DatasetFacts(
            digest=digest,
            fingerprint=fingerprint,
            recorded=recorded,
            uses=uses,
            targets=targets,
            evaluations=on_data,
            sensitive=sorted(sensitive),
            generated_at=self.ctx.clock(),
        )

    def resolve_dataset(self, spec: str) -> str:
        """Return the digest a datasheet argument names (digest, prefix, ``NAME@V:role``).

        Raises
        ------
        InputError
            When the argument is none of those forms or a prefix is ambiguous.
        NotFoundError
            When no stored dataset matches.
        """
        text = spec.strip()
        if "@" in text and ":" in text.split("@", 1)[1]:
            ref, _, role = text.rpartition(":")
            version = RegistryService(self.ctx).get_version(ref)
            for dataset in version.datasets:
                if dataset.role == role:
                    return dataset.digest
            have = ", ".join(d.role for d in version.datasets) or "none"
            raise NotFoundError(ERR_NO_ROLE.format(ref=version.ref, role=role, have=have))
        match = _HEX.match(text.lower())
        if match is None or len(match.group(2)) < MIN_PREFIX or len(match.group(2)) > 64:
            raise InputError(ERR_DATASET.format(value=spec))
        prefix = "sha256:" + match.group(2)
        with self.ctx.store.read() as conn:
            found = records.dataset_digests(conn, prefix, limit=6)
        if not found:
            raise NotFoundError(f"no stored dataset has the digest {prefix}…")
        if len(found) > 1:
            some = ", ".join(d[:19] + "…" for d in found[:5])
            raise InputError(ERR_AMBIGUOUS.format(prefix=spec, count=len(found), some=some))
        return str(found[0])

    def audit_facts(self, name: str, *, since: str | None = None) -> AuditFacts:
        """Gather a model's ledger entries with verified inclusion proofs.

        Raises
        ------
        NotFoundError
            When the model does not exist.
        LedgerVerificationError
            When a proof does not verify against its checkpoint (the ledger was changed).
        """
        cutoff = None if since is None else parse_since(since)
        with self.ctx.store.read() as conn:
            use_snapshot(conn)
            records.model_id(conn, name)
            origin = require_origin(conn)
            head = latest_head(conn)
            if head is None:
                raise InputError("the ledger is empty", hint="run `govml init`")
            about = list(iter_entries(conn, model=name))
            digests = {
                d
                for e in about
                if e.action == "version.registered"
                for d in (e.payload.get("datasets") or {}).values()
            }
            about += [
                e
                for e in iter_entries(conn, action="dataset.recorded")
                if e.payload.get("digest") in digests
            ]
            chosen = sorted(
                (e for e in about if cutoff is None or e.time >= cutoff), key=lambda e: e.seq
            )
            texts = {s.seq: s.entry for s in read_entries(conn, seqs=[e.seq for e in chosen])}
            signed_head = latest_signed_head(conn)
            checkpoint = None
            if signed_head is not None and signed_head.signed_note is not None:
                keys = [key for _, key in note_keys(conn, signed_head.signed_note)]
                signed, signer = verify_checkpoint(signed_head.signed_note, keys, origin=origin)
                checkpoint = Anchor(
                    kind="signed_checkpoint",
                    origin=origin,
                    tree_size=signed.tree_size,
                    root_hash=signed.root_hash.hex(),
                    created_at=signed_head.created_at,
                    signed_note=signed_head.signed_note,
                    key=signer.label,
                )
            tree_head = Anchor(
                kind="tree_head",
                origin=origin,
                tree_size=head.tree_size,
                root_hash=head.root_hash,
                created_at=head.created_at,
            )
            blocks = StoredBlocks(conn)
            proven = []
            for entry in chosen:
                anchor = (
                    checkpoint
                    if checkpoint is not None and entry.seq < checkpoint.tree_size
                    else tree_head
                )
                path = inclusion_path(entry.seq, anchor.tree_size, blocks)
                data = texts[entry.seq]
                _verify_proof(entry.seq, data, entry.leaf_hash, path, anchor)
                proven.append(
                    ProvenEntry(
                        entry=entry,
                        data=data,
                        proof=tuple(node.hex() for node in path),
                        anchor=anchor.kind,
                    )
                )
            consistency = None
            if checkpoint is not None:
                nodes = consistency_path(checkpoint.tree_size, tree_head.tree_size, blocks)
                verify_consistency(
                    old_size=checkpoint.tree_size,
                    new_size=tree_head.tree_size,
                    old_root=bytes.fromhex(checkpoint.root_hash),
                    new_root=bytes.fromhex(tree_head.root_hash),
                    proof=nodes,
                )
                consistency = tuple(node.hex() for node in nodes)
        return AuditFacts(
            model=name,
            since=cutoff,
            entries=proven,
            checkpoint=checkpoint,
            tree_head=tree_head,
            consistency=consistency,
            generated_at=self.ctx.clock(),
        )

    def _version_of(self, ref: str) -> tuple[str, int]:
        parsed = VersionRef.parse(ref)
        if parsed.version is None and parsed.alias is None:
            latest = RegistryService(self.ctx).get_model(parsed.name).latest_version
            if latest is None:
                raise NotFoundError(ERR_NO_VERSION.format(name=parsed.name))
            return parsed.name, latest
        version = RegistryService(self.ctx).get_version(parsed)
        return version.model, version.version

    # -- editable card fields (kept here for the REST routes and the web UI) ---------------

    def set_card_fields(
        self, name: str, fields: Mapping[str, Any] | None = None, *, unset: Sequence[str] = ()
    ) -> ModelCardFields:
        """Set (or ``unset``) editable model card fields (see `CardFieldService.set`)."""
        return CardFieldService(self.ctx).set(name, fields, unset=unset)

    def card_fields(self, name: str, *, revision: int | None = None) -> ModelCardFields:
        """Return a model's editable card fields (see `CardFieldService.get`)."""
        return CardFieldService(self.ctx).get(name, revision=revision)

    def card_history(self, name: str) -> list[ModelCardFields]:
        """Return every revision of a model's editable card fields, oldest first."""
        return CardFieldService(self.ctx).history(name)


# -- rendering -------------------------------------------------------------------------------


def render(document: Mapping[str, Any], outline: Outline, fmt: str) -> str | bytes:
    """Render a built document: JSON (indented, sorted keys), Markdown, HTML or PDF bytes."""
    if fmt == "json":
        import json

        return json.dumps(dict(document), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    if fmt == "md":
        return render_markdown(outline)
    if fmt == "html":
        return render_html(outline)
    if fmt == "pdf":
        from govml.documents.pdf import html_to_pdf

        return html_to_pdf(render_html(outline))
    raise InputError(ERR_FORMAT.format(fmt=fmt, valid=", ".join(FORMATS)))


def _figures(facts: ModelFacts, evaluations: Sequence[Evaluation]) -> list[Figure]:
    if not evaluations:
        return []
    report = facts.evidence_json(evaluations[0], FAIRNESS_EVIDENCE)
    if report is None:
        return []
    from govml.reports.plots import fairness_plots

    return [
        Figure(
            title=plot.title,
            png=plot.png,
            caption=f"{plot.caption} From evaluation {evaluations[0].id}.",
        )
        for plot in fairness_plots(report)
    ]


def parse_since(value: str) -> str:
    """Return ``value`` (an ISO date or date-time, UTC unless it says) in the ledger's format.

    Raises
    ------
    InputError
        When it is not a date or time.
    """
    text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InputError(ERR_SINCE.format(value=value)) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return format_time(moment)


def _verify_proof(seq: int, data: str, stored: str, path: Sequence[bytes], anchor: Anchor) -> None:
    digest = leaf_hash(data.encode("utf-8"))
    if digest.hex() != stored:
        raise LedgerVerificationError(
            f"ledger entry {seq} does not hash to its stored leaf hash",
            seq=seq,
            hint="run `govml audit verify`",
        )
    try:
        verify_inclusion(
            index=seq,
            size=anchor.tree_size,
            leaf_hash=digest,
            proof=path,
            root=bytes.fromhex(anchor.root_hash),
        )
    except LedgerVerificationError as error:
        raise LedgerVerificationError(
            f"ledger entry {seq} is not proven by the {anchor.kind.replace('_', ' ')} at size "
            f"{anchor.tree_size}: {error.message}",
            seq=seq,
            hint="run `govml audit verify`",
        ) from None
