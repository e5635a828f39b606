"""Attestations: an in-toto Statement v1 in a DSSE envelope, signed with the ledger's key.

A model version's attestation states "this artifact digest is version N of model M, built
from these datasets and this code, and its registration is entry K of this ledger": its
subject is the artifact digest, its predicate is SLSA provenance v1, and one byproduct is the
``version.registered`` ledger entry with its inclusion proof and the signed checkpoint that
covers it, so the claim can be checked against the ledger offline.

The envelope is DSSE v1: ``{"payload": base64(statement), "payloadType":
"application/vnd.in-toto+json", "signatures": [{"keyid", "sig"}]}``, each signature an
Ed25519 signature of PAE(type, payload) = ``"DSSEv1" SP len(type) SP type SP len(payload) SP
payload`` (lengths in bytes, ASCII decimal). The statement is serialised as RFC 8785 JSON.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from govml.errors import InputError, LedgerVerificationError
from govml.ledger.canonical import canonical_json
from govml.ledger.checkpoint import SignerKey, VerifierKey, verify_checkpoint
from govml.ledger.merkle import leaf_hash, verify_inclusion

STATEMENT_TYPE: Final = "https://in-toto.io/Statement/v1"
PAYLOAD_TYPE: Final = "application/vnd.in-toto+json"
SLSA_PROVENANCE: Final = "https://slsa.dev/provenance/v1"
BUILD_TYPE: Final = "urn:govml:build-type:model-registration:v1"
LEDGER_BYPRODUCT: Final = "govml-ledger-entry"
REGISTERED_ACTION: Final = "version.registered"

ERR_ENVELOPE: Final = "malformed DSSE envelope: {reason}"
ERR_STATEMENT: Final = "malformed attestation statement: {reason}"
ERR_UNSIGNED: Final = "the attestation is not signed by {wanted}"

_HEX_HASH: Final = re.compile(r"[0-9a-f]{64}")


def pae(payload_type: str, payload: bytes) -> bytes:
    """Return the DSSE v1 pre-authentication encoding of a payload.

    Parameters
    ----------
    payload_type
        The payload's media type.
    payload
        The serialised payload.

    Returns
    -------
    bytes
        ``b"DSSEv1 " + len(type) + b" " + type + b" " + len(payload) + b" " + payload``,
        lengths counted in bytes.
    """
    kind = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


@dataclass(frozen=True, kw_only=True)
class Envelope:
    """A DSSE envelope: payload, its type, and (keyid, signature) pairs."""

    payload_type: str
    payload: bytes
    signatures: tuple[tuple[str, bytes], ...]

    def to_json(self) -> dict[str, Any]:
        """Return the JSON form."""
        return {
            "payload": base64.b64encode(self.payload).decode("ascii"),
            "payloadType": self.payload_type,
            "signatures": [
                {"keyid": keyid, "sig": base64.b64encode(sig).decode("ascii")}
                for keyid, sig in self.signatures
            ],
        }

    @classmethod
    def from_json(cls, document: object) -> Envelope:
        """Read an envelope from its decoded JSON, strictly.

        Raises
        ------
        LedgerVerificationError
            If a field is missing, unknown or malformed.
        """
        if not isinstance(document, dict) or set(document) != {
            "payload",
            "payloadType",
            "signatures",
        }:
            raise LedgerVerificationError(
                ERR_ENVELOPE.format(reason="expected exactly payload, payloadType, signatures")
            )
        signatures = document["signatures"]
        if not isinstance(signatures, list) or not signatures:
            raise LedgerVerificationError(ERR_ENVELOPE.format(reason="no signatures"))
        pairs = []
        for item in signatures:
            if not isinstance(item, dict) or set(item) != {"keyid", "sig"}:
                raise LedgerVerificationError(
                    ERR_ENVELOPE.format(reason="a signature is not {keyid, sig}")
                )
            if not isinstance(item["keyid"], str):
                raise LedgerVerificationError(ERR_ENVELOPE.format(reason="a keyid is not text"))
            pairs.append((item["keyid"], _b64(item["sig"], "sig")))
        payload_type = document["payloadType"]
        if not isinstance(payload_type, str):
            raise LedgerVerificationError(ERR_ENVELOPE.format(reason="payloadType is not text"))
        return cls(
            payload_type=payload_type,
            payload=_b64(document["payload"], "payload"),
            signatures=tuple(pairs),
        )


def sign_envelope(
    payload: bytes, signer: SignerKey, *, payload_type: str = PAYLOAD_TYPE
) -> Envelope:
    """Sign a payload into a DSSE envelope; the keyid is the key's ``<name>+<hex key id>``."""
    signature = signer.sign(pae(payload_type, payload))
    return Envelope(
        payload_type=payload_type,
        payload=payload,
        signatures=((signer.verifier().label, signature),),
    )


def verify_envelope(envelope: Envelope, trusted: Sequence[VerifierKey]) -> VerifierKey:
    """Check that a trusted key signed the envelope's PAE; return that key.

    The keyid is only a hint (DSSE does not authenticate it): every signature is tried with
    every trusted key.

    Raises
    ------
    LedgerVerificationError
        If no signature verifies with a trusted key.
    """
    message = pae(envelope.payload_type, envelope.payload)
    for _, signature in envelope.signatures:
        for key in trusted:
            try:
                key.verify(message, signature)
            except LedgerVerificationError:
                continue
            return key
    wanted = ", ".join(key.label for key in trusted) or "any trusted key"
    raise LedgerVerificationError(ERR_UNSIGNED.format(wanted=wanted))


def statement(
    *, subject_name: str, sha256_hex: str, predicate_type: str, predicate: Mapping[str, Any]
) -> dict[str, Any]:
    """Return an in-toto Statement v1 about one subject.

    Raises
    ------
    InputError
        If the digest is not 64 lowercase hex digits.
    """
    if _HEX_HASH.fullmatch(sha256_hex) is None:
        raise InputError(f"subject digest {sha256_hex!r} is not a SHA-256 hex digest")
    return {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": subject_name, "digest": {"sha256": sha256_hex}}],
        "predicateType": predicate_type,
        "predicate": dict(predicate),
    }


def ledger_byproduct(
    *,
    origin: str,
    index: int,
    entry: str,
    inclusion_proof: Sequence[bytes],
    checkpoint: str,
    public_key: VerifierKey,
) -> dict[str, Any]:
    """Return the SLSA resource descriptor of a ledger entry with its inclusion proof."""
    data = entry.encode("utf-8")
    return {
        "name": LEDGER_BYPRODUCT,
        "mediaType": "application/json",
        "content": base64.b64encode(data).decode("ascii"),
        "digest": {"sha256": hashlib.sha256(data).hexdigest()},
        "annotations": {
            "origin": origin,
            "index": index,
            "leafHash": leaf_hash(data).hex(),
            "inclusionProof": [node.hex() for node in inclusion_proof],
            "checkpoint": checkpoint,
            "publicKey": str(public_key),
        },
    }


def sign_statement(document: Mapping[str, Any], signer: SignerKey) -> Envelope:
    """Serialise a statement as RFC 8785 JSON and sign it into a DSSE envelope."""
    return sign_envelope(canonical_json(document), signer)


@dataclass(frozen=True, kw_only=True)
class AttestationReport:
    """What a verified model attestation proves."""

    subject: str
    sha256: str
    key: VerifierKey
    entry_index: int
    tree_size: int


def verify_model_attestation(
    envelope: Envelope, trusted: Sequence[VerifierKey]
) -> AttestationReport:
    """Verify a model version's attestation, including its ledger entry.

    Raises
    ------
    LedgerVerificationError
        If the envelope is not signed by a trusted key, the statement is not an in-toto v1
        SLSA provenance statement about one artifact digest, or its ledger entry does not
        hash and prove into a checkpoint signed by a trusted key, or does not register that
        digest under the subject's name.
    """
    # 1. A trusted key signed the envelope, whose payload is an in-toto statement.
    key = verify_envelope(envelope, trusted)
    if envelope.payload_type != PAYLOAD_TYPE:
        raise LedgerVerificationError(
            ERR_ENVELOPE.format(reason=f"payloadType is {envelope.payload_type!r}")
        )
    document = _statement(envelope.payload)
    subject = document["subject"][0]
    name, digest = subject["name"], subject["digest"]["sha256"]
    # 2. The ledger entry byproduct hashes and proves into a trusted checkpoint.
    byproduct = _ledger_byproduct(document)
    notes = byproduct["annotations"]
    data = _b64(byproduct["content"], "byproduct content")
    if hashlib.sha256(data).hexdigest() != byproduct["digest"].get("sha256"):
        raise LedgerVerificationError("the ledger entry does not match its digest")
    checkpoint, _ = verify_checkpoint(notes["checkpoint"], trusted, origin=notes["origin"])
    if leaf_hash(data).hex() != notes["leafHash"]:
        raise LedgerVerificationError("the ledger entry does not match its leaf hash")
    verify_inclusion(
        index=notes["index"],
        size=checkpoint.tree_size,
        leaf_hash=leaf_hash(data),
        proof=[_hex_hash(node) for node in notes["inclusionProof"]],
        root=checkpoint.root_hash,
    )
    # 3. The entry registers this digest as this version.
    try:
        entry = json.loads(data)
    except ValueError:
        entry = None
    payload = entry.get("payload") if isinstance(entry, dict) else None
    if (
        not isinstance(entry, dict)
        or not isinstance(payload, dict)
        or entry.get("seq") != notes["index"]
        or entry.get("action") != REGISTERED_ACTION
    ):
        raise LedgerVerificationError(
            f"ledger entry {notes['index']} is not the registration of a version"
        )
    registered = f"{payload.get('model')}@{payload.get('version')}"
    if payload.get("artifact_digest") != "sha256:" + digest or registered != name:
        raise LedgerVerificationError(
            f"ledger entry {notes['index']} registers {registered} with "
            f"{payload.get('artifact_digest')}, not {name} with sha256:{digest}"
        )
    return AttestationReport(
        subject=name,
        sha256=digest,
        key=key,
        entry_index=notes["index"],
        tree_size=checkpoint.tree_size,
    )


def _statement(payload: bytes) -> dict[str, Any]:
    try:
        document = json.loads(payload)
    except ValueError:
        raise LedgerVerificationError(ERR_STATEMENT.format(reason="not JSON")) from None
    if not isinstance(document, dict) or document.get("_type") != STATEMENT_TYPE:
        raise LedgerVerificationError(ERR_STATEMENT.format(reason=f"_type is not {STATEMENT_TYPE}"))
    if document.get("predicateType") != SLSA_PROVENANCE:
        raise LedgerVerificationError(
            ERR_STATEMENT.format(reason=f"predicateType is not {SLSA_PROVENANCE}")
        )
    subjects = document.get("subject")
    if (
        not isinstance(subjects, list)
        or len(subjects) != 1
        or not isinstance(subjects[0], dict)
        or not isinstance(subjects[0].get("name"), str)
        or not isinstance(subjects[0].get("digest"), dict)
        or not isinstance(subjects[0]["digest"].get("sha256"), str)
        or _HEX_HASH.fullmatch(subjects[0]["digest"]["sha256"]) is None
    ):
        raise LedgerVerificationError(
            ERR_STATEMENT.format(reason="expected one subject with a sha256 digest")
        )
    return document


def _ledger_byproduct(document: Mapping[str, Any]) -> dict[str, Any]:
    try:
        byproducts = document["predicate"]["runDetails"]["byproducts"]
        found = [item for item in byproducts if item.get("name") == LEDGER_BYPRODUCT]
    except (KeyError, TypeError, AttributeError):
        found = []
    if len(found) != 1:
        raise LedgerVerificationError(
            ERR_STATEMENT.format(reason=f"expected one {LEDGER_BYPRODUCT} byproduct")
        )
    item: dict[str, Any] = found[0]
    notes = item.get("annotations")
    if (
        not isinstance(notes, dict)
        or not isinstance(item.get("digest"), dict)
        or not isinstance(notes.get("checkpoint"), str)
        or not isinstance(notes.get("origin"), str)
        or not isinstance(notes.get("leafHash"), str)
        or type(notes.get("index")) is not int
        or not isinstance(notes.get("inclusionProof"), list)
    ):
        raise LedgerVerificationError(
            ERR_STATEMENT.format(reason=f"the {LEDGER_BYPRODUCT} byproduct is incomplete")
        )
    return item


def _hex_hash(value: object) -> bytes:
    if not isinstance(value, str) or _HEX_HASH.fullmatch(value) is None:
        raise LedgerVerificationError(ERR_STATEMENT.format(reason="a proof hash is not hex"))
    return bytes.fromhex(value)


def _b64(value: object, what: str) -> bytes:
    if not isinstance(value, str):
        raise LedgerVerificationError(ERR_ENVELOPE.format(reason=f"{what} is not text"))
    try:
        data = base64.b64decode(value, validate=True)
    except (ValueError, binascii.Error):
        raise LedgerVerificationError(ERR_ENVELOPE.format(reason=f"{what} is not base64")) from None
    if base64.b64encode(data).decode("ascii") != value:
        raise LedgerVerificationError(ERR_ENVELOPE.format(reason=f"{what} is not canonical base64"))
    return data
