r"""Proof bundles: ledger entries with the proofs that a signed checkpoint covers them.

A bundle is one JSON document that anyone can check offline, with nothing but the log's
public key (``tools/govml_verify.py`` does it with the standard library and
``cryptography``)::

    {
      "format": "govml-ledger-bundle/v1",
      "origin": "govml/3f9a1c0e77d2b5a4",
      "public_key": "govml/3f9a1c0e77d2b5a4+1a2b3c4d+AX...",
      "checkpoint": "govml/3f9a1c0e77d2b5a4\\n120\\nCsUY...=\\n\\n— govml/3f9a... Az3g...\\n",
      "entries": [
        {"index": 5, "entry": "{\\"action\\":...}", "leaf_hash": "9c1d...",
         "inclusion_proof": ["5f0a...", ...]}
      ],
      "consistency": {"checkpoint": "<an older signed checkpoint>", "proof": ["...", ...]},
      "signature": "govml-ledger-bundle/v1\\n<sha256 hex>\\n\\n— govml/3f9a... <base64>\\n"
    }

``entry`` is the exact leaf data (its UTF-8 bytes are hashed); ``consistency`` is optional and
proves that the log only grew between an older checkpoint and this one; ``signature`` is a
signed note by the log's key over the SHA-256 of the RFC 8785 JSON of every other field, so
leaving out an entry is caught as surely as changing one. Tree size and root
hash come from the signed checkpoint only. Parsing is strict (unknown or missing fields,
uppercase hex, a number where a string belongs are all rejected) so that no part of a bundle
can change without failing verification.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final

from govml.errors import InputError, LedgerVerificationError
from govml.ledger.canonical import canonical_json
from govml.ledger.checkpoint import (
    Checkpoint,
    SignedNote,
    SignerKey,
    VerifierKey,
    open_checkpoint,
    sign_note,
    verify_checkpoint,
)
from govml.ledger.merkle import leaf_hash, verify_consistency, verify_inclusion

BUNDLE_FORMAT: Final = "govml-ledger-bundle/v1"
ERR_BUNDLE: Final = "malformed proof bundle: {reason}"

_HEX_HASH: Final = re.compile(r"[0-9a-f]{64}")
_FIELDS: Final = {
    "format",
    "origin",
    "public_key",
    "checkpoint",
    "entries",
    "consistency",
    "signature",
}
_ENTRY_FIELDS: Final = {"index", "entry", "leaf_hash", "inclusion_proof"}
_CONSISTENCY_FIELDS: Final = {"checkpoint", "proof"}


@dataclass(frozen=True, kw_only=True)
class BundleEntry:
    """One entry of a bundle with its inclusion proof."""

    index: int
    entry: str
    leaf_hash: bytes
    inclusion_proof: tuple[bytes, ...]

    def to_json(self) -> dict[str, Any]:
        """Return the JSON form."""
        return {
            "index": self.index,
            "entry": self.entry,
            "leaf_hash": self.leaf_hash.hex(),
            "inclusion_proof": [node.hex() for node in self.inclusion_proof],
        }


@dataclass(frozen=True, kw_only=True)
class ConsistencyLink:
    """An older signed checkpoint and the proof that the bundle's checkpoint extends it."""

    checkpoint: str
    proof: tuple[bytes, ...]

    def to_json(self) -> dict[str, Any]:
        """Return the JSON form."""
        return {"checkpoint": self.checkpoint, "proof": [node.hex() for node in self.proof]}


@dataclass(frozen=True, kw_only=True)
class ProofBundle:
    """Entries, their inclusion proofs, a signed checkpoint and the key that signed it.

    ``signature`` is a signed note by the same key over the SHA-256 of the rest of the bundle
    (RFC 8785 JSON): it makes the bundle as a whole, which entries it holds included, a
    statement of the log. Unsigned bundles exist only while being built.
    """

    origin: str
    public_key: str
    checkpoint: str
    entries: tuple[BundleEntry, ...]
    consistency: ConsistencyLink | None = None
    signature: str | None = None

    def to_json(self) -> dict[str, Any]:
        """Return the JSON document."""
        document = self.unsigned_json()
        if self.signature is not None:
            document["signature"] = self.signature
        return document

    def signed(self, signer: SignerKey) -> ProofBundle:
        """Return the bundle with its signature by ``signer``."""
        text = bundle_signature_text(self.unsigned_json())
        return replace(self, signature=sign_note(text, [signer]))

    def unsigned_json(self) -> dict[str, Any]:
        """Return the JSON document without its signature: what the signature covers."""
        document: dict[str, Any] = {
            "format": BUNDLE_FORMAT,
            "origin": self.origin,
            "public_key": self.public_key,
            "checkpoint": self.checkpoint,
            "entries": [entry.to_json() for entry in self.entries],
        }
        if self.consistency is not None:
            document["consistency"] = self.consistency.to_json()
        return document

    @classmethod
    def from_json(cls, document: object) -> ProofBundle:
        """Read a bundle from its decoded JSON, strictly.

        Raises
        ------
        LedgerVerificationError
            If a field is missing, unknown, or of the wrong form.
        """
        data = _object(document, _FIELDS, {"consistency"}, "the bundle")
        signature = _text(data["signature"], "signature")
        if data["format"] != BUNDLE_FORMAT:
            raise _malformed(f"format is {data['format']!r}, not {BUNDLE_FORMAT!r}")
        entries = data["entries"]
        if not isinstance(entries, list):
            raise _malformed("entries is not a list")
        link = data.get("consistency")
        consistency = None
        if link is not None:
            fields = _object(link, _CONSISTENCY_FIELDS, set(), "consistency")
            consistency = ConsistencyLink(
                checkpoint=_text(fields["checkpoint"], "consistency.checkpoint"),
                proof=_hashes(fields["proof"], "consistency.proof"),
            )
        items = tuple(_entry(item, n) for n, item in enumerate(entries))
        if any(a.index >= b.index for a, b in itertools.pairwise(items)):
            raise _malformed("entries are not in increasing order of index (or repeat one)")
        return cls(
            origin=_text(data["origin"], "origin"),
            public_key=_text(data["public_key"], "public_key"),
            checkpoint=_text(data["checkpoint"], "checkpoint"),
            entries=items,
            consistency=consistency,
            signature=signature,
        )


@dataclass(frozen=True, kw_only=True)
class BundleReport:
    """What a verified bundle proves."""

    checkpoint: Checkpoint
    key: VerifierKey
    entries: int
    consistent_from: int | None


def verify_bundle(bundle: ProofBundle, trusted: Sequence[VerifierKey]) -> BundleReport:
    """Verify a bundle against keys the caller trusts.

    Parameters
    ----------
    bundle
        The bundle.
    trusted
        Keys that may have signed its checkpoint (usually the log's public key, obtained
        independently of the bundle).

    Returns
    -------
    BundleReport
        The verified checkpoint, the key that signed it, the number of entries proven and
        the size of the older checkpoint the log is proven to extend (if any).

    Raises
    ------
    LedgerVerificationError
        At the first check that fails.
    """
    # 1. A trusted key signed the checkpoint, which is of the bundle's log, and it is the key
    #    the bundle names.
    checkpoint, key = verify_checkpoint(bundle.checkpoint, trusted, origin=bundle.origin)
    try:
        named = VerifierKey.parse(bundle.public_key)
    except InputError as error:
        raise _malformed(f"public_key: {error.message}") from None
    if named != key:
        raise LedgerVerificationError(
            f"the bundle names the key {named.label}, but its checkpoint is signed by {key.label}"
        )
    # 2. The same key signed the bundle as it is: no entry added, removed or changed.
    if bundle.signature is None:
        raise _malformed("the bundle is not signed")
    note = SignedNote.parse(bundle.signature)
    note.verify([key])
    if note.text != bundle_signature_text(bundle.unsigned_json()):
        raise LedgerVerificationError("the bundle's signature is for other contents")
    # 3. Every entry hashes to its leaf hash, says its own position, and is in the tree.
    for item in bundle.entries:
        verify_bundle_entry(item, checkpoint)
    # 4. The log only grew since the older checkpoint.
    consistent_from = None
    if bundle.consistency is not None:
        older = open_checkpoint(bundle.consistency.checkpoint, trusted, origin=bundle.origin)
        verify_consistency(
            old_size=older.tree_size,
            new_size=checkpoint.tree_size,
            old_root=older.root_hash,
            new_root=checkpoint.root_hash,
            proof=bundle.consistency.proof,
        )
        consistent_from = older.tree_size
    return BundleReport(
        checkpoint=checkpoint,
        key=key,
        entries=len(bundle.entries),
        consistent_from=consistent_from,
    )


def bundle_signature_text(unsigned: Mapping[str, Any]) -> str:
    """Return the note text a bundle's signature signs: format and SHA-256 of its contents."""
    return f"{BUNDLE_FORMAT}\n{hashlib.sha256(canonical_json(unsigned)).hexdigest()}\n"


def verify_bundle_entry(item: BundleEntry, checkpoint: Checkpoint) -> None:
    """Check one entry of a bundle against a verified checkpoint.

    Raises
    ------
    LedgerVerificationError
        If the entry does not hash to its leaf hash, is not entry ``index``, or its
        inclusion proof does not lead to the checkpoint's root.
    """
    where = f"bundle entry {item.index}"
    if leaf_hash(item.entry.encode("utf-8")) != item.leaf_hash:
        raise LedgerVerificationError(f"{where}: the entry does not hash to its leaf hash")
    try:
        seq = json.loads(item.entry)["seq"]
    except (ValueError, KeyError, TypeError):
        seq = None
    if seq != item.index:
        raise LedgerVerificationError(f"{where}: the entry says it is entry {seq!r}")
    try:
        verify_inclusion(
            index=item.index,
            size=checkpoint.tree_size,
            leaf_hash=item.leaf_hash,
            proof=item.inclusion_proof,
            root=checkpoint.root_hash,
        )
    except LedgerVerificationError as error:
        raise LedgerVerificationError(f"{where}: {error.message}", seq=item.index) from None


def _entry(item: object, position: int) -> BundleEntry:
    where = f"entries[{position}]"
    fields = _object(item, _ENTRY_FIELDS, set(), where)
    index = fields["index"]
    if type(index) is not int or index < 0:
        raise _malformed(f"{where}.index is not an entry number")
    digest = fields["leaf_hash"]
    if not isinstance(digest, str) or _HEX_HASH.fullmatch(digest) is None:
        raise _malformed(f"{where}.leaf_hash is not 64 lowercase hex digits")
    return BundleEntry(
        index=index,
        entry=_text(fields["entry"], f"{where}.entry"),
        leaf_hash=bytes.fromhex(digest),
        inclusion_proof=_hashes(fields["inclusion_proof"], f"{where}.inclusion_proof"),
    )


def _object(value: object, fields: set[str], optional: set[str], where: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise _malformed(f"{where} is not an object")
    unknown = set(value) - fields
    missing = fields - optional - set(value)
    if unknown or missing:
        names = ", ".join(sorted(unknown | missing))
        raise _malformed(f"{where}: unknown or missing field(s) {names}")
    return value


def _text(value: object, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise _malformed(f"{where} is not a non-empty string")
    return value


def _hashes(value: object, where: str) -> tuple[bytes, ...]:
    if not isinstance(value, list) or not all(
        isinstance(item, str) and _HEX_HASH.fullmatch(item) for item in value
    ):
        raise _malformed(f"{where} is not a list of 64-digit lowercase hex hashes")
    return tuple(bytes.fromhex(item) for item in value)


def _malformed(reason: str) -> LedgerVerificationError:
    return LedgerVerificationError(ERR_BUNDLE.format(reason=reason))
