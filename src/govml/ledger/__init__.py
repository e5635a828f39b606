"""The tamper-evident ledger: canonical entries in an RFC 6962 Merkle tree.

Every governance event is one entry. Its leaf data is the RFC 8785 canonical JSON of the
entry (``entry_bytes``); the tree over all leaves follows RFC 6962 / RFC 9162, so inclusion
and consistency proofs can be checked by any transparency-log verifier.
"""

from govml.ledger.canonical import canonical_json, entry_bytes
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
from govml.ledger.verify import CheckpointRecord, EntryRecord, VerifyReport, verify_ledger

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "LEAF_PREFIX",
    "NODE_PREFIX",
    "CheckpointRecord",
    "EntryRecord",
    "Frontier",
    "VerifyReport",
    "canonical_json",
    "consistency_proof",
    "entry_bytes",
    "fold_frontier",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "root_hash",
    "subtree_ranges",
    "verify_consistency",
    "verify_inclusion",
    "verify_ledger",
]
