"""Signed notes and checkpoints against the C2SP specifications and Go's reference vectors."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from hypothesis import given, settings
from hypothesis import strategies as st

from govml.errors import InputError, LedgerVerificationError
from govml.ledger.checkpoint import (
    Checkpoint,
    SignedNote,
    SignerKey,
    VerifierKey,
    key_id,
    open_checkpoint,
    sign_checkpoint,
    sign_note,
    verifiers_for_checkpoint,
)
from govml.ledger.merkle import consistency_proof, inclusion_proof, leaf_hash, root_hash
from govml.ledger.tree import MerkleTree

# golang.org/x/mod/sumdb/note, note_test.go and the package documentation.
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
GO_SIGNATURE = (
    "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6"
    "KE6RyyBwJnAM=\n"
)
GO_NOTE = GO_TEXT + "\n" + GO_SIGNATURE

# c2sp.org/tlog-checkpoint, the example checkpoint's body.
SPEC_BODY = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"


@pytest.fixture(scope="module")
def go_signer() -> SignerKey:
    return SignerKey.parse(GO_SKEY)


@pytest.fixture(scope="module")
def log_key() -> SignerKey:
    seed = hashlib.sha256(b"govml test log key").digest()
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return SignerKey("govml/0123456789abcdef", Ed25519PrivateKey.from_private_bytes(seed))


def _checkpoint(size: int = 7) -> Checkpoint:
    leaves = [leaf_hash(n.to_bytes(4, "big")) for n in range(size)]
    return Checkpoint(origin="govml/0123456789abcdef", tree_size=size, root_hash=root_hash(leaves))


def test_go_key_round_trips_and_has_the_published_key_id(go_signer: SignerKey) -> None:
    verifier = go_signer.verifier()
    assert str(verifier) == GO_VKEY
    assert verifier.key_id == bytes.fromhex("c74f20a3")
    assert VerifierKey.parse(GO_VKEY) == verifier
    raw = base64.b64decode(GO_VKEY.split("+")[2])[1:]
    assert key_id("PeterNeumann", raw) == hashlib.sha256(b"PeterNeumann\n\x01" + raw).digest()[:4]


def test_signing_reproduces_the_go_note_byte_for_byte(go_signer: SignerKey) -> None:
    # Ed25519 is deterministic (RFC 8032): the same key and text give the published signature.
    assert sign_note(GO_TEXT, [go_signer]) == GO_NOTE


def test_the_go_note_verifies() -> None:
    note = SignedNote.parse(GO_NOTE)
    assert note.text == GO_TEXT
    assert note.verify([VerifierKey.parse(GO_VKEY)]) == (VerifierKey.parse(GO_VKEY),)


def test_checkpoint_body_is_the_specification_format() -> None:
    checkpoint = Checkpoint.parse(SPEC_BODY)
    assert checkpoint.origin == "example.com/behind-the-sofa"
    assert checkpoint.tree_size == 20852163
    assert checkpoint.root_hash == base64.b64decode("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=")
    assert checkpoint.body() == SPEC_BODY


def test_signed_checkpoint_bytes(log_key: SignerKey) -> None:
    checkpoint = _checkpoint()
    note = sign_checkpoint(checkpoint, log_key)
    body = f"govml/0123456789abcdef\n7\n{base64.b64encode(checkpoint.root_hash).decode()}\n"
    assert note.startswith(body + "\n— govml/0123456789abcdef ")
    assert note.endswith("\n") and note.count("\n") == 5
    blob = base64.b64decode(note.rstrip("\n").rsplit(" ", 1)[1])
    public = log_key.verifier().public_key
    assert blob[:4] == hashlib.sha256(b"govml/0123456789abcdef\n\x01" + public).digest()[:4]
    # Checked with the cryptography library directly, not through govml's verifier.
    Ed25519PublicKey.from_public_bytes(public).verify(blob[4:], body.encode())


def test_round_trip(log_key: SignerKey) -> None:
    checkpoint = _checkpoint(1000)
    note = sign_checkpoint(checkpoint, log_key)
    assert open_checkpoint(note, [log_key.verifier()], origin=checkpoint.origin) == checkpoint
    assert SignedNote.parse(note).format() == note


@settings(max_examples=300, deadline=None)
@given(position=st.integers(0, 10_000), char=st.characters(codec="utf-8"))
def test_any_one_character_change_fails(log_key: SignerKey, position: int, char: str) -> None:
    note = sign_checkpoint(_checkpoint(), log_key)
    index = position % len(note)
    if note[index] == char:
        return
    forged = note[:index] + char + note[index + 1 :]
    with pytest.raises(LedgerVerificationError):
        open_checkpoint(forged, [log_key.verifier()], origin="govml/0123456789abcdef")


@pytest.mark.parametrize("part", ["body", "signature"])
def test_one_byte_change_in_body_or_signature_fails(log_key: SignerKey, part: str) -> None:
    note = sign_checkpoint(_checkpoint(), log_key)
    text, signature_line = note.split("\n\n")
    if part == "body":
        forged = text.replace("\n7\n", "\n8\n") + "\n\n" + signature_line
    else:
        name, blob = signature_line.rstrip("\n").rsplit(" ", 1)
        raw = bytearray(base64.b64decode(blob))
        raw[10] ^= 0x01
        forged = text + "\n\n" + name + " " + base64.b64encode(bytes(raw)).decode() + "\n"
    with pytest.raises(LedgerVerificationError, match="does not verify"):
        open_checkpoint(forged, [log_key.verifier()])


def test_wrong_key_name_or_id_is_not_a_known_key(log_key: SignerKey) -> None:
    note = sign_checkpoint(_checkpoint(), log_key)
    right = log_key.verifier()
    other_name = VerifierKey("govml/ffffffffffffffff", right.public_key)
    other_key = SignerKey.generate(right.name).verifier()
    for verifier in (other_name, other_key):
        with pytest.raises(LedgerVerificationError, match="not signed by") as info:
            open_checkpoint(note, [verifier])
        assert right.label in info.value.message  # names who did sign


def test_unknown_signatures_are_ignored_and_a_bad_known_one_rejects(log_key: SignerKey) -> None:
    witness = SignerKey.generate("witness.example/w1")
    note = sign_note(_checkpoint().body(), [witness, log_key])
    assert open_checkpoint(note, [log_key.verifier()]) == _checkpoint()
    # A known key's signature that does not verify rejects the whole note, even if another
    # known key signed it correctly.
    impostor = SignerKey(witness.name, SignerKey.generate("x").private_key)
    forged = sign_note(_checkpoint().body(), [log_key])
    forged_sig = SignedNote.parse(sign_note(_checkpoint().body(), [impostor])).signatures[0]
    witness_sig = SignedNote.parse(note).signatures[0]
    bad = type(witness_sig)(witness_sig.name, witness_sig.key_id, forged_sig.signature)
    tampered = forged + bad.line() + "\n"
    with pytest.raises(LedgerVerificationError, match="does not verify"):
        open_checkpoint(tampered, [log_key.verifier(), witness.verifier()])


def test_checkpoint_of_another_log_is_refused(log_key: SignerKey) -> None:
    note = sign_checkpoint(_checkpoint(), log_key)
    with pytest.raises(LedgerVerificationError, match="of log 'govml/0123456789abcdef'"):
        open_checkpoint(note, [log_key.verifier()], origin="govml/somewhere-else")


@pytest.mark.parametrize(
    ("note", "reason"),
    [
        (GO_NOTE.rstrip("\n"), "no final newline"),
        (GO_TEXT + GO_SIGNATURE, "no blank line"),
        (GO_NOTE.replace("— ", "- "), "does not start"),
        (GO_NOTE.replace("If you", "If\tyou"), "control character"),
        (GO_NOTE.replace("AM=\n", "AN=\n"), "is not"),  # unused base64 bits set
        (GO_NOTE.replace("PeterNeumann x0", "Peter+Neumann x0"), "is not"),
        (GO_NOTE.replace("x08go/", "x08go-"), "is not"),
        (GO_TEXT + "\n" + GO_SIGNATURE * 101, "more than 100"),
        (GO_TEXT + "\n", "no signature lines"),
    ],
)
def test_malformed_notes_are_rejected(note: str, reason: str) -> None:
    with pytest.raises(LedgerVerificationError, match=reason):
        SignedNote.parse(note).verify([VerifierKey.parse(GO_VKEY)])


@pytest.mark.parametrize(
    "body",
    [
        "origin\n007\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
        "origin\n-1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
        "origin\n7\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I\n",
        "origin\n7\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jx\n",
        "\n7\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
        "origin\n7\n",
        "origin\n7\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=",
        "origin\n7\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\nextension after a blank\n",
    ],
)
def test_malformed_checkpoint_bodies_are_rejected(body: str) -> None:
    with pytest.raises(LedgerVerificationError, match="malformed checkpoint"):
        Checkpoint.parse(body)


def test_checkpoint_with_extension_lines_round_trips() -> None:
    body = SPEC_BODY + "extension line\n"
    assert Checkpoint.parse(body).body() == body


def test_mangled_verifier_keys_are_rejected() -> None:
    # As Go's TestNewVerifier: every proper substring and every one-character change fails.
    key = GO_VKEY
    for start in range(len(key)):
        for end in range(start + 1, len(key) + 1):
            if (start, end) != (0, len(key)):
                with pytest.raises(InputError):
                    VerifierKey.parse(key[start:end])
    for index in range(len(key)):
        with pytest.raises(InputError):
            VerifierKey.parse(key[:index] + chr(ord(key[index]) + 1) + key[index + 1 :])


def test_invalid_key_names_are_refused() -> None:
    for name in ("", "with space", "plus+sign", "tab\tname"):
        with pytest.raises(InputError, match="invalid key name"):
            SignerKey.generate(name)


def test_a_pem_key_is_named_after_the_checkpoint(log_key: SignerKey) -> None:
    note = sign_checkpoint(_checkpoint(), log_key)
    verifiers = verifiers_for_checkpoint(note, log_key.verifier().public_key)
    assert open_checkpoint(note, verifiers) == _checkpoint()


@settings(max_examples=60, deadline=None)
@given(size=st.integers(1, 300), data=st.data())
def test_tree_proofs_equal_the_rfc_6962_definitions(size: int, data: st.DataObject) -> None:
    leaves = [leaf_hash(n.to_bytes(4, "big")) for n in range(size)]
    tree = MerkleTree(b"".join(leaves))
    at = data.draw(st.integers(1, size))
    index = data.draw(st.integers(0, at - 1))
    old = data.draw(st.integers(0, at))
    assert tree.root(at) == root_hash(leaves[:at])
    assert tree.inclusion_proof(index, at) == inclusion_proof(index, leaves[:at])
    assert tree.consistency_proof(old, at) == consistency_proof(old, leaves[:at])
    assert tree.leaf(index) == leaves[index]


def test_tree_refuses_ranges_outside_it() -> None:
    tree = MerkleTree(b"".join(leaf_hash(bytes([n])) for n in range(5)))
    with pytest.raises(InputError):
        tree.inclusion_proof(5)
    with pytest.raises(InputError):
        tree.consistency_proof(3, 6)
    with pytest.raises(InputError):
        tree.subtree(1, 3)  # not a subtree of an RFC 6962 tree
    with pytest.raises(InputError):
        MerkleTree(b"\x00" * 33)
