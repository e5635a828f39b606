"""DSSE envelopes and in-toto statements: PAE against the specification, signing, tampering."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from govml.errors import InputError, LedgerVerificationError
from govml.ledger.attest import (
    PAYLOAD_TYPE,
    SLSA_PROVENANCE,
    STATEMENT_TYPE,
    Envelope,
    ledger_byproduct,
    pae,
    sign_envelope,
    sign_statement,
    statement,
    verify_envelope,
    verify_model_attestation,
)
from govml.ledger.canonical import entry_bytes
from govml.ledger.checkpoint import Checkpoint, SignerKey, sign_checkpoint
from govml.ledger.merkle import leaf_hash
from govml.ledger.tree import MerkleTree

ORIGIN = "govml/00112233aabbccdd"
DIGEST = hashlib.sha256(b"model artifact").hexdigest()


def test_pae_is_the_dsse_specification_example() -> None:
    # secure-systems-lab/dsse, protocol.md: PAE("http://example.com/HelloWorld", "hello world")
    assert (
        pae("http://example.com/HelloWorld", b"hello world")
        == b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    )


def test_pae_counts_bytes_not_characters() -> None:
    assert pae("é", "ø".encode()) == b"DSSEv1 2 \xc3\xa9 2 \xc3\xb8"
    assert pae("t", b"") == b"DSSEv1 1 t 0 "


@pytest.fixture(scope="module")
def signer() -> SignerKey:
    return SignerKey.generate(ORIGIN)


def test_envelope_round_trip(signer: SignerKey) -> None:
    envelope = sign_envelope(b'{"a":1}', signer)
    document = json.loads(json.dumps(envelope.to_json()))
    assert set(document) == {"payload", "payloadType", "signatures"}
    assert document["payloadType"] == PAYLOAD_TYPE
    assert document["signatures"][0]["keyid"] == signer.verifier().label
    parsed = Envelope.from_json(document)
    assert parsed == envelope
    assert verify_envelope(parsed, [signer.verifier()]) == signer.verifier()
    # The signature is over PAE, not over the payload alone.
    signature = base64.b64decode(document["signatures"][0]["sig"])
    signer.verifier().verify(pae(PAYLOAD_TYPE, b'{"a":1}'), signature)
    with pytest.raises(LedgerVerificationError):
        signer.verifier().verify(b'{"a":1}', signature)


@settings(max_examples=80, deadline=None)
@given(position=st.integers(0, 1000), flip=st.integers(1, 255))
def test_any_payload_byte_change_fails(signer: SignerKey, position: int, flip: int) -> None:
    payload = b'{"_type":"https://in-toto.io/Statement/v1","subject":[]}'
    envelope = sign_envelope(payload, signer)
    changed = bytearray(payload)
    changed[position % len(changed)] ^= flip
    forged = Envelope(
        payload_type=envelope.payload_type,
        payload=bytes(changed),
        signatures=envelope.signatures,
    )
    with pytest.raises(LedgerVerificationError, match="not signed by"):
        verify_envelope(forged, [signer.verifier()])


def test_payload_type_is_signed(signer: SignerKey) -> None:
    envelope = sign_envelope(b"{}", signer)
    forged = Envelope(payload_type="text/plain", payload=b"{}", signatures=envelope.signatures)
    with pytest.raises(LedgerVerificationError):
        verify_envelope(forged, [signer.verifier()])


def test_keyid_is_only_a_hint(signer: SignerKey) -> None:
    envelope = sign_envelope(b"{}", signer)
    relabelled = Envelope(
        payload_type=envelope.payload_type,
        payload=envelope.payload,
        signatures=(("someone-else", envelope.signatures[0][1]),),
    )
    assert verify_envelope(relabelled, [signer.verifier()]) == signer.verifier()
    with pytest.raises(LedgerVerificationError, match="not signed by"):
        verify_envelope(envelope, [SignerKey.generate(ORIGIN).verifier()])


@pytest.mark.parametrize(
    "document",
    [
        [],
        {"payload": "e30=", "payloadType": PAYLOAD_TYPE},
        {"payload": "e30=", "payloadType": PAYLOAD_TYPE, "signatures": []},
        {"payload": "e30", "payloadType": PAYLOAD_TYPE, "signatures": [{"keyid": "", "sig": ""}]},
        {"payload": "e30=", "payloadType": 7, "signatures": [{"keyid": "", "sig": ""}]},
        {"payload": "e30=", "payloadType": PAYLOAD_TYPE, "signatures": [{"sig": ""}]},
        {"payload": "e30=", "payloadType": PAYLOAD_TYPE, "signatures": [], "extra": 1},
    ],
)
def test_malformed_envelopes_are_rejected(document: object) -> None:
    with pytest.raises(LedgerVerificationError, match="malformed DSSE envelope"):
        Envelope.from_json(document)


def test_statement_shape() -> None:
    document = statement(
        subject_name="credit@3", sha256_hex=DIGEST, predicate_type=SLSA_PROVENANCE, predicate={}
    )
    assert document == {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": "credit@3", "digest": {"sha256": DIGEST}}],
        "predicateType": "https://slsa.dev/provenance/v1",
        "predicate": {},
    }
    with pytest.raises(InputError):
        statement(subject_name="x", sha256_hex="sha256:" + DIGEST, predicate_type="p", predicate={})


def _registration(*, digest: str = DIGEST) -> tuple[list[str], int]:
    entries = []
    for seq in range(6):
        payload: dict[str, Any] = {"n": seq}
        action = "model.created"
        if seq == 3:
            action = "version.registered"
            payload = {"model": "credit", "version": 3, "artifact_digest": "sha256:" + digest}
        entries.append(
            entry_bytes(
                seq=seq,
                time="2026-01-01T00:00:00.000000Z",
                actor="alice",
                action=action,
                subject="model/credit",
                payload=payload,
            ).decode()
        )
    return entries, 3


def _attestation(
    signer: SignerKey,
    *,
    subject: str = "credit@3",
    digest: str = DIGEST,
    entry_digest: str = DIGEST,
) -> Envelope:
    entries, index = _registration(digest=entry_digest)
    tree = MerkleTree(b"".join(leaf_hash(e.encode()) for e in entries))
    note = sign_checkpoint(
        Checkpoint(origin=ORIGIN, tree_size=tree.size, root_hash=tree.root()), signer
    )
    byproduct = ledger_byproduct(
        origin=ORIGIN,
        index=index,
        entry=entries[index],
        inclusion_proof=tree.inclusion_proof(index),
        checkpoint=note,
        public_key=signer.verifier(),
    )
    document = statement(
        subject_name=subject,
        sha256_hex=digest,
        predicate_type=SLSA_PROVENANCE,
        predicate={"runDetails": {"byproducts": [byproduct]}},
    )
    return sign_statement(document, signer)


def test_model_attestation_verifies(signer: SignerKey) -> None:
    report = verify_model_attestation(_attestation(signer), [signer.verifier()])
    assert (report.subject, report.sha256, report.entry_index, report.tree_size) == (
        "credit@3",
        DIGEST,
        3,
        6,
    )


def test_attestation_of_another_digest_or_version_fails(signer: SignerKey) -> None:
    other = hashlib.sha256(b"another artifact").hexdigest()
    with pytest.raises(LedgerVerificationError, match="registers credit@3 with"):
        verify_model_attestation(_attestation(signer, digest=other), [signer.verifier()])
    with pytest.raises(LedgerVerificationError, match="not credit@4"):
        verify_model_attestation(_attestation(signer, subject="credit@4"), [signer.verifier()])


def test_attestation_with_a_tampered_ledger_entry_fails(signer: SignerKey) -> None:
    envelope = _attestation(signer)
    document = json.loads(envelope.payload)
    byproduct = document["predicate"]["runDetails"]["byproducts"][0]
    entry = base64.b64decode(byproduct["content"]).replace(b'"version":3', b'"version":4')
    byproduct["content"] = base64.b64encode(entry).decode()
    byproduct["digest"]["sha256"] = hashlib.sha256(entry).hexdigest()
    byproduct["annotations"]["leafHash"] = leaf_hash(entry).hex()
    resigned = sign_statement(document, signer)  # even signed again, the proof fails
    with pytest.raises(LedgerVerificationError, match="inclusion proof"):
        verify_model_attestation(resigned, [signer.verifier()])


def test_attestation_signed_by_another_key_fails(signer: SignerKey) -> None:
    other = SignerKey.generate(ORIGIN)
    with pytest.raises(LedgerVerificationError, match="not signed by"):
        verify_model_attestation(_attestation(other), [signer.verifier()])
