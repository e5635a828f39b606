"""Attestations of model versions: in-toto Statement v1, SLSA provenance v1, DSSE-signed.

The subject is the version's artifact (``name@version``, digest ``{"sha256": hex}``). The
predicate records what the registration recorded: the datasets and the code commit as
resolved dependencies, the environment lock, the parameters; its byproduct is the
``version.registered`` ledger entry with its inclusion proof and the signed checkpoint that
covers it. The envelope is signed with the instance's ledger key.
"""

from __future__ import annotations

import json
from typing import Any

from govml.domain.records import ModelVersion
from govml.errors import InputError, IntegrityError, LedgerVerificationError
from govml.ledger.attest import (
    BUILD_TYPE,
    REGISTERED_ACTION,
    SLSA_PROVENANCE,
    AttestationReport,
    Envelope,
    ledger_byproduct,
    sign_statement,
    statement,
    verify_model_attestation,
)
from govml.ledger.checkpoint import VerifierKey, verify_checkpoint
from govml.ledger.tree import inclusion_path
from govml.services.context import ServiceContext
from govml.services.proofs import HINT_SIGN, ProofService, trusted_keys
from govml.services.registry import RegistryService, version_subject
from govml.store.checkpoints import (
    StoredBlocks,
    find_entry,
    latest_signed_head,
    note_keys,
    require_origin,
    use_snapshot,
)
from govml.store.keys import instance_id, load_signer


class AttestationService:
    """Sign and verify attestations of model versions."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def attest(self, ref: str) -> dict[str, Any]:
        """Return the DSSE envelope (as JSON) attesting version ``ref``.

        Raises
        ------
        NotFoundError
            If the version does not exist.
        InputError
            If its registration is not covered by a signed checkpoint yet.
        LedgerVerificationError
            If the ledger does not match its latest signed checkpoint.
        """
        version = RegistryService(self.ctx).get_version(ref)
        keys_dir = ProofService(self.ctx).keys_dir()
        with self.ctx.store.read() as conn:
            use_snapshot(conn)
            origin = require_origin(conn)
            subject = version_subject(version.model, version.version)
            entry = find_entry(conn, action=REGISTERED_ACTION, subject=subject)
            if entry is None:
                raise IntegrityError(f"version {version.ref} has no registration in the ledger")
            head = latest_signed_head(conn)
            if head is None or head.signed_note is None or head.tree_size <= entry.seq:
                raise InputError(
                    f"the registration of {version.ref} (ledger entry {entry.seq}) is not "
                    "covered by a signed checkpoint yet",
                    hint=HINT_SIGN,
                )
            recorded = [key for _, key in note_keys(conn, head.signed_note)]
            checkpoint, checkpoint_key = verify_checkpoint(
                head.signed_note, recorded, origin=origin
            )
            proof = inclusion_path(entry.seq, checkpoint.tree_size, StoredBlocks(conn))
        signer = load_signer(keys_dir, origin)
        predicate = _provenance(
            version,
            origin=origin,
            entry_seq=entry.seq,
            entry_time=json.loads(entry.entry)["time"],
            byproduct=ledger_byproduct(
                origin=origin,
                index=entry.seq,
                entry=entry.entry,
                inclusion_proof=proof,
                checkpoint=head.signed_note,
                public_key=checkpoint_key,
            ),
        )
        document = statement(
            subject_name=version.ref,
            sha256_hex=version.artifact_digest.removeprefix("sha256:"),
            predicate_type=SLSA_PROVENANCE,
            predicate=predicate,
        )
        envelope = sign_statement(document, signer)
        try:
            verify_model_attestation(envelope, [signer.verifier(), checkpoint_key])
        except LedgerVerificationError as error:
            raise LedgerVerificationError(
                f"the stored ledger does not match its signed checkpoint: {error.message}",
                hint="run `govml audit verify`",
            ) from None
        return envelope.to_json()

    def verify(self, text: str, *, key: str | None = None) -> AttestationReport:
        """Verify an attestation (the text of its envelope file).

        Parameters
        ----------
        text
            The DSSE envelope JSON.
        key
            Text of the public key file to trust; default: this home's keys.

        Raises
        ------
        LedgerVerificationError
            If the envelope is malformed, not signed by a trusted key, or its statement or
            ledger entry does not hold.
        InputError
            If there is no key to verify with.
        """
        try:
            document = json.loads(text)
        except ValueError:
            raise LedgerVerificationError("the attestation is not JSON") from None
        envelope = Envelope.from_json(document)
        trusted: list[VerifierKey] = trusted_keys(self.ctx, key, name=_claimed_origin(envelope))
        return verify_model_attestation(envelope, trusted)


def _provenance(
    version: ModelVersion,
    *,
    origin: str,
    entry_seq: int,
    entry_time: str,
    byproduct: dict[str, Any],
) -> dict[str, Any]:
    """Return the SLSA provenance v1 predicate of a registered version."""
    dependencies: list[dict[str, Any]] = [
        {
            "name": f"dataset:{ref.role}",
            "uri": f"govml:dataset/{ref.digest}",
            "digest": {"sha256": ref.digest.removeprefix("sha256:")},
            "annotations": {"rows": ref.row_count, "columns": ref.columns},
        }
        for ref in version.datasets
    ]
    code = version.code
    if code.get("git_commit"):
        dependencies.append(
            {
                "name": "code",
                "digest": {"gitCommit": code["git_commit"]},
                "annotations": {
                    key: code[key] for key in ("repository", "branch", "git_dirty") if key in code
                },
            }
        )
    lock = str(version.environment.get("lock_digest", ""))
    if lock.startswith("sha256:"):
        dependencies.append(
            {
                "name": "environment",
                "digest": {"sha256": lock.removeprefix("sha256:")},
                "annotations": {"python": version.environment.get("python")},
            }
        )
    return {
        "buildDefinition": {
            "buildType": BUILD_TYPE,
            "externalParameters": {
                "model": version.model,
                "version": version.version,
                "flavor": version.flavor,
                "params": version.params,
            },
            "internalParameters": {
                "registrant": version.registrant,
                "flavorOptions": version.flavor_options,
                "mlflowRunId": version.mlflow_run_id,
            },
            "resolvedDependencies": dependencies,
        },
        "runDetails": {
            "builder": {"id": f"urn:govml:instance:{instance_id(origin)}"},
            "metadata": {
                "invocationId": f"{origin}/entries/{entry_seq}",
                "startedOn": entry_time,
                "finishedOn": entry_time,
            },
            "byproducts": [byproduct],
        },
    }


def _claimed_origin(envelope: Envelope) -> str:
    """Return the origin an envelope's ledger entry claims, to name a PEM-only key."""
    try:
        document = json.loads(envelope.payload)
        for item in document["predicate"]["runDetails"]["byproducts"]:
            origin = item.get("annotations", {}).get("origin")
            if isinstance(origin, str) and origin:
                return origin
    except (ValueError, KeyError, TypeError, AttributeError):
        pass
    return "govml"
