#!/usr/bin/env python3
"""Verify a govml ledger export bundle (or a model attestation) offline.

Usage::

    python govml_verify.py bundle.json [--key KEY]
    python govml_verify.py attestation.json [--key KEY]

KEY is the log's public key, as ``govml audit key`` prints it: a file holding the verifier
key line ``<name>+<hex key id>+<base64(0x01 || Ed25519 public key)>`` and/or a PEM public
key, or the verifier key line itself. Obtain it independently of the bundle; without --key
the key the bundle names is used, which only shows that the bundle is self-consistent.

Checks, one line each: the bundle is signed as a whole by the key (a signed note over the
SHA-256 of its other fields as RFC 8785 JSON, so no entry can be left out); the checkpoint is
a C2SP signed note signed by the key (Ed25519, key id = SHA-256(name || 0x0A || 0x01 ||
public key)[:4]); every entry hashes to its RFC 6962
leaf hash (SHA-256(0x00 || entry)), is the entry its index says, and its inclusion proof
leads to the checkpoint's root (RFC 9162 §2.1.3.2); when present, the consistency proof
shows the log only grew since an older signed checkpoint (RFC 9162 §2.1.4.2). For an
attestation (a DSSE envelope): the signature over PAE, the in-toto statement, and its
ledger entry's inclusion proof.

Exit status: 0 when every check passes, 1 when one fails, 2 for a usage error. This file
needs only the Python standard library and ``cryptography``; it does not import govml.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import functools
import hashlib
import itertools
import json
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

BUNDLE_FORMAT = "govml-ledger-bundle/v1"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PAYLOAD_TYPE = "application/vnd.in-toto+json"
LEDGER_BYPRODUCT = "govml-ledger-entry"
LEAF_PREFIX, NODE_PREFIX = b"\x00", b"\x01"
SIGNATURE_PREFIX = "\u2014 "
MAX_SIGNATURES = 100
HEX_HASH = re.compile(r"[0-9a-f]{64}")
VERIFIER_LINE = re.compile(r"^[^\s+]+\+[0-9a-f]{8}\+[A-Za-z0-9+/=]+$", re.MULTILINE)
PEM_PUBLIC = re.compile(r"-----BEGIN PUBLIC KEY-----\s.*?-----END PUBLIC KEY-----", re.DOTALL)


class Failure(Exception):
    """A check that does not pass."""


class UsageError(Exception):
    """A problem with the command line or the key given."""


# --- keys and signed notes (c2sp.org/signed-note) -------------------------------------


@dataclass(frozen=True)
class Key:
    """A named Ed25519 public key."""

    name: str
    raw: bytes

    @property
    def key_id(self) -> bytes:
        """SHA-256(name || 0x0A || 0x01 || public key)[:4]."""
        return hashlib.sha256(self.name.encode() + b"\n\x01" + self.raw).digest()[:4]

    @property
    def label(self) -> str:
        """``<name>+<hex key id>``."""
        return f"{self.name}+{self.key_id.hex()}"

    def verify(self, message: bytes, signature: bytes) -> bool:
        """Return True if ``signature`` is this key's Ed25519 signature of ``message``."""
        try:
            Ed25519PublicKey.from_public_bytes(self.raw).verify(signature, message)
        except (InvalidSignature, ValueError):
            return False
        return True


def b64decode(text: str) -> bytes:
    """Decode canonical standard base64; raise ValueError otherwise."""
    data = base64.b64decode(text, validate=True)
    if base64.b64encode(data).decode("ascii") != text:
        raise ValueError("not canonical base64")
    return data


def valid_name(name: str) -> bool:
    """Return True for a signed-note key name: non-empty, no space, no '+'."""
    return bool(name) and "+" not in name and not any(c.isspace() for c in name)


def parse_verifier_key(text: str) -> Key:
    """Parse ``<name>+<hex key id>+<base64(0x01 || key)>``; raise ValueError otherwise."""
    name, _, rest = text.partition("+")
    hex_id, _, material = rest.partition("+")
    raw = b64decode(material)
    if not valid_name(name) or len(raw) != 33 or raw[:1] != b"\x01":
        raise ValueError(f"{text!r} is not an Ed25519 verifier key")
    key = Key(name, raw[1:])
    if key.key_id.hex() != hex_id:
        raise ValueError(f"{text!r}: the key id does not match the key")
    return key


def load_key(argument: str, *, pem_name: str) -> Key:
    """Read --key: a file (verifier key line and/or PEM) or a verifier key line."""
    path = Path(argument)
    text = path.read_text(encoding="utf-8") if path.is_file() else argument
    line, pem = VERIFIER_LINE.search(text), PEM_PUBLIC.search(text)
    try:
        key = parse_verifier_key(line.group(0)) if line else None
        if pem is not None:
            loaded = serialization.load_pem_public_key(pem.group(0).encode("ascii"))
            if not isinstance(loaded, Ed25519PublicKey):
                raise ValueError("the PEM key is not an Ed25519 key")
            raw = loaded.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
            if key is not None and key.raw != raw:
                raise ValueError("the key line and the PEM block are different keys")
            key = key or Key(pem_name, raw)
    except ValueError as error:
        raise UsageError(f"--key: {error}") from None
    if key is None:
        raise UsageError(f"--key: no public key in {argument!r}")
    return key


def open_note(note: str, key: Key) -> str:
    """Return the text of a signed note once ``key`` is shown to have signed it."""
    if any(c < " " and c != "\n" for c in note):
        raise Failure("the note holds a control character")
    split = note.rfind("\n\n")
    if split < 0 or not note.endswith("\n"):
        raise Failure("not a signed note (no blank line before the signatures)")
    text, block = note[: split + 1], note[split + 2 : -1]
    if block.count("\n") >= MAX_SIGNATURES:
        raise Failure(f"more than {MAX_SIGNATURES} signatures")
    signed = False
    for line in block.split("\n"):
        if not line.startswith(SIGNATURE_PREFIX):
            raise Failure(f"malformed signature line {line!r}")
        name, _, encoded = line[len(SIGNATURE_PREFIX) :].partition(" ")
        try:
            raw = b64decode(encoded)
        except (ValueError, binascii.Error):
            raise Failure(f"malformed signature line {line!r}") from None
        if not valid_name(name) or len(raw) <= 4:
            raise Failure(f"malformed signature line {line!r}")
        # Signatures by other keys (name and key id both matching, or not) are ignored.
        if name != key.name or raw[:4] != key.key_id:
            continue
        if not key.verify(text.encode("utf-8"), raw[4:]):
            raise Failure(f"the signature by {key.label} does not verify")
        signed = True
    if not signed:
        found = ", ".join(line[len(SIGNATURE_PREFIX) :].split(" ")[0] for line in block.split("\n"))
        raise Failure(f"not signed by {key.label} (signed by: {found})")
    return text


@dataclass(frozen=True)
class Checkpoint:
    """Origin, tree size and root hash of a log."""

    origin: str
    size: int
    root: bytes


def parse_checkpoint(text: str) -> Checkpoint:
    """Parse a c2sp.org/tlog-checkpoint body."""
    lines = text[:-1].split("\n")
    if len(lines) < 3 or not all(lines) or re.fullmatch(r"0|[1-9][0-9]*", lines[1]) is None:
        raise Failure("the note is not a checkpoint (origin, size, root hash)")
    try:
        root = b64decode(lines[2])
    except (ValueError, binascii.Error):
        root = b""
    if len(root) != 32:
        raise Failure("the checkpoint's root hash is not 32 bytes of base64")
    return Checkpoint(lines[0], int(lines[1]), root)


# --- RFC 6962 / 9162 Merkle proofs ------------------------------------------------------


def node(left: bytes, right: bytes) -> bytes:
    """Return the RFC 6962 node hash SHA-256(0x01 || left || right)."""
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes
) -> None:
    """RFC 9162 §2.1.3.2."""
    if not 0 <= index < size:
        raise Failure(f"index {index} is not in a tree of size {size}")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise Failure("the inclusion proof is too long")
        if fn & 1 or fn == sn:
            r = node(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0 or r != root:
        raise Failure("the inclusion proof does not lead to the checkpoint's root")


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """RFC 9162 §2.1.4.2 (equal trees and the empty tree are trivially consistent)."""
    if not 0 <= old_size <= new_size:
        raise Failure(f"the older checkpoint (size {old_size}) is larger than {new_size}")
    if old_size == 0 or old_size == new_size:
        if proof or (old_size == new_size and old_root != new_root):
            raise Failure("the trees are not consistent")
        return
    if not proof:
        raise Failure("empty consistency proof")
    path = [old_root, *proof] if old_size & (old_size - 1) == 0 else list(proof)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise Failure("the consistency proof is too long")
        if fn & 1 or fn == sn:
            fr, sr = node(c, fr), node(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node(sr, c)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0 or fr != old_root or sr != new_root:
        raise Failure("the consistency proof does not connect the two checkpoints")


# --- reporting ------------------------------------------------------------------------------


class Report:
    """Prints one line per check and remembers whether any failed."""

    def __init__(self) -> None:
        self.failed = 0
        self.passed = 0

    def check(self, label: str, run: Callable[[], str]) -> bool:
        """Run one check and print its line; return whether it passed."""
        try:
            detail = run()
        except Failure as failure:
            self.failed += 1
            print(f"FAIL  {label}: {failure}")
            return False
        self.passed += 1
        print(f"ok    {label}{': ' + detail if detail else ''}")
        return True

    def note(self, text: str) -> None:
        """Print a remark that is not a check."""
        print(f"note  {text}")


def hashes(value: object, where: str) -> list[bytes]:
    """Decode a JSON list of lowercase hex hashes."""
    if not isinstance(value, list) or not all(
        isinstance(item, str) and HEX_HASH.fullmatch(item) for item in value
    ):
        raise Failure(f"{where} is not a list of lowercase hex hashes")
    return [bytes.fromhex(item) for item in value]


def exact_fields(
    value: object, required: set[str], optional: set[str], where: str
) -> dict[str, Any]:
    """Return ``value`` if it is an object with exactly these fields (optional ones aside)."""
    if not isinstance(value, dict):
        raise Failure(f"{where} is not an object")
    if not required <= set(value) <= required | optional:
        raise Failure(f"{where} has missing or unknown fields")
    return value


# --- bundles --------------------------------------------------------------------------------


def verify_bundle(document: object, key_argument: str | None, report: Report) -> None:
    """Check a ledger bundle: its form, key, checkpoint, entries and consistency proof."""
    fields = {"format", "origin", "public_key", "checkpoint", "entries", "signature"}
    bundle: dict[str, Any] = {}

    def shape() -> str:
        nonlocal bundle
        bundle = exact_fields(document, fields, {"consistency"}, "the bundle")
        if bundle["format"] != BUNDLE_FORMAT:
            raise Failure(f"format is {bundle['format']!r}, not {BUNDLE_FORMAT}")
        for name in ("origin", "public_key", "checkpoint"):
            if not isinstance(bundle[name], str) or not bundle[name]:
                raise Failure(f"{name} is not a string")
        if not isinstance(bundle["entries"], list):
            raise Failure("entries is not a list")
        indexes = [
            item.get("index") if isinstance(item, dict) else None for item in bundle["entries"]
        ]
        if not all(type(index) is int for index in indexes) or any(
            a >= b for a, b in itertools.pairwise(indexes)
        ):
            raise Failure("entries are not in increasing order of index (or repeat one)")
        return f"{BUNDLE_FORMAT}, {len(bundle['entries'])} entries"

    if not report.check("bundle", shape):
        return
    key: Key | None = None

    def trusted_key() -> str:
        nonlocal key
        try:
            named = parse_verifier_key(bundle["public_key"])
        except ValueError as error:
            raise Failure(f"public_key: {error}") from None
        if key_argument is None:
            key = named
            return f"{named.label} (taken from the bundle)"
        key = load_key(key_argument, pem_name=bundle["origin"])
        if key != named:
            raise Failure(f"the bundle names {named.label}, not the given key {key.label}")
        return f"{key.label} (given with --key)"

    if not report.check("key", trusted_key) or key is None:
        return
    if key_argument is None:
        report.note("no --key: this only shows the bundle is self-consistent; pass the log's key")
    signing_key = key

    def bundle_signature() -> str:
        unsigned = {name: value for name, value in bundle.items() if name != "signature"}
        canonical = json.dumps(unsigned, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
        if not isinstance(bundle["signature"], str):
            raise Failure("the signature is not a signed note")
        if open_note(bundle["signature"], signing_key) != f"{BUNDLE_FORMAT}\n{digest}\n":
            raise Failure(
                "the signature is for other contents: an entry was added, removed or changed"
            )
        return f"the bundle as a whole is signed by {signing_key.label}"

    report.check("signature", bundle_signature)
    checkpoint: Checkpoint | None = None

    def signed_checkpoint() -> str:
        nonlocal checkpoint
        checkpoint = parse_checkpoint(open_note(bundle["checkpoint"], signing_key))
        if checkpoint.origin != bundle["origin"]:
            raise Failure(f"it is of log {checkpoint.origin}, not {bundle['origin']}")
        return f"{checkpoint.origin}, size {checkpoint.size}, root {checkpoint.root.hex()[:16]}…"

    if not report.check("checkpoint", signed_checkpoint) or checkpoint is None:
        return
    head = checkpoint
    for position, item in enumerate(bundle["entries"]):
        label = f"entry #{position}"
        if isinstance(item, dict) and type(item.get("index")) is int:
            label = f"entry {item['index']}"
        report.check(label, functools.partial(check_entry, item, head))
    if "consistency" in bundle:
        report.check("consistency", lambda: check_consistency(bundle, head, signing_key))


def check_entry(item: object, checkpoint: Checkpoint) -> str:
    """Check one bundle entry: leaf hash, own seq, inclusion in the checkpoint's tree."""
    fields = exact_fields(item, {"index", "entry", "leaf_hash", "inclusion_proof"}, set(), "entry")
    index, entry, digest = fields["index"], fields["entry"], fields["leaf_hash"]
    if type(index) is not int or not isinstance(entry, str) or not isinstance(digest, str):
        raise Failure("malformed entry")
    if HEX_HASH.fullmatch(digest) is None:
        raise Failure("leaf_hash is not 64 lowercase hex digits")
    leaf = hashlib.sha256(LEAF_PREFIX + entry.encode("utf-8")).digest()
    if leaf.hex() != digest:
        raise Failure("the entry does not hash to its leaf hash")
    try:
        parsed = json.loads(entry)
    except ValueError:
        raise Failure("the entry is not JSON") from None
    if not isinstance(parsed, dict) or parsed.get("seq") != index:
        raise Failure("the entry's own seq is not its index")
    verify_inclusion(
        index, checkpoint.size, leaf, hashes(fields["inclusion_proof"], "proof"), checkpoint.root
    )
    return (
        f"{parsed.get('action')} {parsed.get('subject')}, included in the tree of {checkpoint.size}"
    )


def check_consistency(bundle: dict[str, Any], checkpoint: Checkpoint, key: Key) -> str:
    """Check that the bundle's checkpoint extends the older signed one it carries."""
    link = exact_fields(bundle["consistency"], {"checkpoint", "proof"}, set(), "consistency")
    if not isinstance(link["checkpoint"], str):
        raise Failure("consistency.checkpoint is not a signed note")
    older = parse_checkpoint(open_note(link["checkpoint"], key))
    if older.origin != checkpoint.origin:
        raise Failure(f"the older checkpoint is of log {older.origin}")
    verify_consistency(
        older.size, checkpoint.size, older.root, checkpoint.root, hashes(link["proof"], "proof")
    )
    return f"the log of size {checkpoint.size} extends the signed checkpoint of size {older.size}"


# --- attestations (DSSE + in-toto) ----------------------------------------------------------


def pae(payload_type: str, payload: bytes) -> bytes:
    """Return the DSSE v1 pre-authentication encoding."""
    kind = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def verify_attestation(document: object, key_argument: str | None, report: Report) -> None:
    """Check a DSSE envelope: signature, in-toto statement, and its ledger entry's proof."""
    state: dict[str, Any] = {}

    def envelope() -> str:
        fields = exact_fields(document, {"payload", "payloadType", "signatures"}, set(), "envelope")
        if fields["payloadType"] != PAYLOAD_TYPE:
            raise Failure(f"payloadType is {fields['payloadType']!r}")
        try:
            payload = b64decode(fields["payload"])
            statement = json.loads(payload)
        except (ValueError, TypeError, binascii.Error):
            raise Failure("the payload is not base64 JSON") from None
        if not isinstance(statement, dict) or statement.get("_type") != STATEMENT_TYPE:
            raise Failure("the payload is not an in-toto Statement v1")
        state.update(payload=payload, statement=statement, signatures=fields["signatures"])
        return "DSSE envelope with an in-toto Statement v1"

    if not report.check("envelope", envelope):
        return
    statement = state["statement"]
    try:
        ledger = next(
            item
            for item in statement["predicate"]["runDetails"]["byproducts"]
            if item.get("name") == LEDGER_BYPRODUCT
        )
        notes = ledger["annotations"]
        origin = notes["origin"]
    except (KeyError, TypeError, StopIteration, AttributeError):
        ledger, notes, origin = None, {}, "govml"

    def signature() -> str:
        key = load_key(key_argument, pem_name=origin) if key_argument else None
        if key is None:
            try:
                key = parse_verifier_key(notes.get("publicKey", ""))
            except ValueError:
                raise Failure("no --key, and the attestation names no key") from None
        message = pae(PAYLOAD_TYPE, state["payload"])
        signatures = state["signatures"] if isinstance(state["signatures"], list) else []
        for item in signatures:
            try:
                raw = b64decode(item["sig"])
            except (ValueError, TypeError, KeyError, binascii.Error):
                continue
            if key.verify(message, raw):
                state["key"] = key
                return f"signed by {key.label}" + ("" if key_argument else " (key from the file)")
        raise Failure(f"not signed by {key.label}")

    if not report.check("signature", signature):
        return

    def subject() -> str:
        subjects = statement.get("subject")
        if not isinstance(subjects, list) or len(subjects) != 1:
            raise Failure("expected one subject")
        digest = subjects[0].get("digest", {}).get("sha256", "")
        if not isinstance(digest, str) or HEX_HASH.fullmatch(digest) is None:
            raise Failure("the subject has no sha256 digest")
        state.update(name=subjects[0].get("name"), digest=digest)
        return f"{subjects[0].get('name')} sha256:{digest}"

    if not report.check("subject", subject):
        return
    if ledger is None:
        report.check("ledger entry", failing(f"the statement has no {LEDGER_BYPRODUCT} byproduct"))
        return

    def ledger_entry() -> str:
        data = b64decode(ledger["content"])
        head = parse_checkpoint(open_note(notes["checkpoint"], state["key"]))
        if head.origin != origin:
            raise Failure(f"the checkpoint is of log {head.origin}")
        leaf = hashlib.sha256(LEAF_PREFIX + data).digest()
        if leaf.hex() != notes.get("leafHash") or hashlib.sha256(data).hexdigest() != ledger.get(
            "digest", {}
        ).get("sha256"):
            raise Failure("the entry does not match its hashes")
        verify_inclusion(
            notes["index"], head.size, leaf, hashes(notes["inclusionProof"], "proof"), head.root
        )
        entry = json.loads(data)
        payload = entry.get("payload", {})
        registered = f"{payload.get('model')}@{payload.get('version')}"
        if (
            entry.get("seq") != notes["index"]
            or entry.get("action") != "version.registered"
            or payload.get("artifact_digest") != "sha256:" + state["digest"]
            or registered != state["name"]
        ):
            raise Failure("the ledger entry does not register this subject's digest")
        return f"entry {notes['index']} registers it, included in the signed tree of {head.size}"

    report.check("ledger entry", lambda: _guard(ledger_entry))


def failing(reason: str) -> Callable[[], str]:
    """Return a check that fails with ``reason``."""

    def run() -> str:
        raise Failure(reason)

    return run


def _guard(run: Callable[[], str]) -> str:
    try:
        return run()
    except (KeyError, TypeError, ValueError, AttributeError, binascii.Error) as error:
        raise Failure(f"malformed ({type(error).__name__}: {error})") from None


# --- main -----------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Run the verifier; return the exit status."""
    parser = argparse.ArgumentParser(
        description="Verify a govml ledger bundle or model attestation offline."
    )
    parser.add_argument(
        "file", help="bundle.json (govml audit export / proof --json) or attestation"
    )
    parser.add_argument("--key", help="the log's public key: a file or a NAME+ID+KEY line")
    args = parser.parse_args(argv)
    try:
        text = Path(args.file).read_text(encoding="utf-8")
    except OSError as error:
        print(f"error: cannot read {args.file}: {error.strerror}", file=sys.stderr)
        return 2
    except UnicodeDecodeError:
        text = ""
    report = Report()
    try:
        try:
            document = json.loads(text)
        except ValueError:
            report.check("file", failing("not JSON (or not UTF-8)"))
            document = None
        if isinstance(document, dict) and "payloadType" in document:
            verify_attestation(document, args.key, report)
        elif document is not None:
            verify_bundle(document, args.key, report)
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if report.failed:
        print(f"FAILED: {report.failed} of {report.failed + report.passed} checks failed")
        return 1
    print(f"OK: {report.passed} checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
