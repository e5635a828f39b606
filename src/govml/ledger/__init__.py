"""The tamper-evident ledger: canonical entries in an RFC 6962 Merkle tree.

Every governance event is one entry. Its leaf data is the RFC 8785 canonical JSON of the
entry (``entry_bytes``); the tree over all leaves follows RFC 6962 / RFC 9162, so inclusion
and consistency proofs can be checked by any transparency-log verifier. Tree heads are signed
as C2SP checkpoints (``checkpoint``), proofs travel in signed bundles (``bundle``) and model
versions are attested as in-toto statements in DSSE envelopes (``attest``).
"""

from govml.ledger.attest import Envelope, pae, verify_envelope, verify_model_attestation
from govml.ledger.bundle import ProofBundle, verify_bundle
from govml.ledger.canonical import canonical_json, entry_bytes
from govml.ledger.checkpoint import (
    Checkpoint,
    SignedNote,
    SignerKey,
    VerifierKey,
    open_checkpoint,
    sign_checkpoint,
)
from govml.ledger.merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    LEAF_PREFIX,
    NODE_PREFIX,
    Frontier,
    consistency_proof,
    fold_frontier,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_hash,
    subtree_ranges,
    verify_consistency,
    verify_inclusion,
)
from govml.ledger.rows import verify_stored
from govml.ledger.tree import MerkleTree
from govml.ledger.verify import CheckpointRecord, EntryRecord, VerifyReport, verify_ledger

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "LEAF_PREFIX",
    "NODE_PREFIX",
    "Checkpoint",
    "CheckpointRecord",
    "EntryRecord",
    "Envelope",
    "Frontier",
    "MerkleTree",
    "ProofBundle",
    "SignedNote",
    "SignerKey",
    "VerifierKey",
    "VerifyReport",
    "canonical_json",
    "consistency_proof",
    "entry_bytes",
    "fold_frontier",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "open_checkpoint",
    "pae",
    "root_hash",
    "sign_checkpoint",
    "subtree_ranges",
    "verify_bundle",
    "verify_consistency",
    "verify_envelope",
    "verify_inclusion",
    "verify_ledger",
    "verify_model_attestation",
    "verify_stored",
]
