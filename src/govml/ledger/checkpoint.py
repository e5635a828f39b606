"""Signed checkpoints: a C2SP tlog-checkpoint body in a C2SP signed note, signed with Ed25519.

A checkpoint states the size and the RFC 6962 root hash of a log at one moment. Its body is
three lines (c2sp.org/tlog-checkpoint)::

    govml/3f9a1c0e77d2b5a4
    120
    CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=

and a signed note (c2sp.org/signed-note) appends a blank line and one line per signature::

    — govml/3f9a1c0e77d2b5a4 Az3grlgt...

The signature is ``base64(key id || Ed25519 signature of the body)``, the key id being
``SHA-256(key name || 0x0A || 0x01 || public key)[:4]``. A verifier key is written
``<name>+<hex key id>+<base64(0x01 || public key)>``, as Go's ``golang.org/x/mod/sumdb/note``
writes it, so checkpoints signed here open with any signed-note implementation.

Verification follows the specification: signatures by keys the verifier does not know (name
and key id both matching) are ignored, a known key whose signature fails rejects the whole
note, and a note with no verified signature by a known key is rejected. Every failure raises
``LedgerVerificationError``; malformed keys given by a user raise ``InputError``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from govml.errors import InputError, LedgerVerificationError
from govml.ledger.merkle import HASH_SIZE

ED25519_TYPE: Final = b"\x01"
"""Signature type byte of Ed25519 in signed notes (and in key ids)."""

SIGNATURE_LINE_PREFIX: Final = "\u2014 "
"""A signature line starts with an em dash (U+2014) and a space."""

KEY_ID_SIZE: Final = 4
MAX_SIGNATURES: Final = 100
"""Signature lines accepted in one note; the specification asks for at least 16."""

PRIVATE_KEY_PREFIX: Final = "PRIVATE+KEY+"

ERR_NOTE_MALFORMED: Final = "malformed signed note: {reason}"
ERR_NOTE_UNSIGNED: Final = "the note is not signed by {wanted}: its signatures are by {found}"
ERR_NOTE_BAD_SIGNATURE: Final = (
    "the signature by {key} does not verify: the signed text or the signature was altered"
)
ERR_CHECKPOINT_MALFORMED: Final = "malformed checkpoint: {reason}"
ERR_KEY_MALFORMED: Final = "malformed verifier key {text!r}: {reason}"
ERR_KEY_NAME: Final = (
    "invalid key name {name!r}: it must be non-empty, without spaces or '+' characters"
)

_HEX_KEY_ID: Final = re.compile(r"[0-9a-f]{8}")
_DECIMAL: Final = re.compile(r"0|[1-9][0-9]*")


def key_id(name: str, public_key: bytes) -> bytes:
    """Return the signed-note key id of an Ed25519 key.

    Parameters
    ----------
    name
        The key name.
    public_key
        The 32-byte raw Ed25519 public key.

    Returns
    -------
    bytes
        ``SHA-256(name || 0x0A || 0x01 || public_key)[:4]``.
    """
    return hashlib.sha256(name.encode() + b"\n" + ED25519_TYPE + public_key).digest()[:KEY_ID_SIZE]


def check_key_name(name: str) -> str:
    """Return ``name`` if it is a valid signed-note key name.

    Raises
    ------
    InputError
        If the name is empty or holds a space or a ``+``.
    """
    if not isinstance(name, str) or not _is_valid_name(name):
        raise InputError(ERR_KEY_NAME.format(name=name))
    return name


def _is_valid_name(name: str) -> bool:
    return bool(name) and "+" not in name and not any(c.isspace() for c in name)


def _b64decode(text: str) -> bytes:
    """Decode standard base64, accepting only the canonical encoding of the bytes.

    Lenient decoders accept a last character whose unused bits are set, which would let a
    note change without its signature changing. Raises ``ValueError``.
    """
    data = base64.b64decode(text, validate=True)
    if base64.b64encode(data).decode("ascii") != text:
        raise ValueError("not canonical base64")
    return data


def _b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@dataclass(frozen=True, slots=True)
class VerifierKey:
    """A public key that checks signed notes: a name and an Ed25519 public key.

    Attributes
    ----------
    name
        The key name; for a log's key, its origin.
    public_key
        The 32-byte raw Ed25519 public key.
    """

    name: str
    public_key: bytes
    _key: Ed25519PublicKey = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        check_key_name(self.name)
        if not isinstance(self.public_key, bytes) or len(self.public_key) != 32:
            raise InputError("an Ed25519 public key has 32 bytes")
        object.__setattr__(self, "_key", Ed25519PublicKey.from_public_bytes(self.public_key))

    @property
    def key_id(self) -> bytes:
        """The 4-byte key id."""
        return key_id(self.name, self.public_key)

    @property
    def label(self) -> str:
        """``<name>+<hex key id>``: how messages name the key."""
        return f"{self.name}+{self.key_id.hex()}"

    @classmethod
    def parse(cls, text: str) -> VerifierKey:
        """Parse ``<name>+<hex key id>+<base64(0x01 || public key)>``.

        Raises
        ------
        InputError
            If the text is not such a key or its key id does not match its name and key.
        """
        name, plus, rest = text.partition("+")
        hex_id, plus2, material = rest.partition("+")
        if not plus or not plus2:
            raise InputError(ERR_KEY_MALFORMED.format(text=text, reason="expected NAME+ID+KEY"))
        if not _is_valid_name(name):
            raise InputError(ERR_KEY_MALFORMED.format(text=text, reason="invalid key name"))
        if _HEX_KEY_ID.fullmatch(hex_id) is None:
            raise InputError(
                ERR_KEY_MALFORMED.format(text=text, reason="the key id is not 8 lowercase hex")
            )
        try:
            raw = _b64decode(material)
        except ValueError:
            raise InputError(
                ERR_KEY_MALFORMED.format(text=text, reason="the key is not base64")
            ) from None
        if len(raw) != 33 or raw[:1] != ED25519_TYPE:
            raise InputError(
                ERR_KEY_MALFORMED.format(text=text, reason="not an Ed25519 key (type 0x01)")
            )
        key = cls(name, raw[1:])
        if key.key_id.hex() != hex_id:
            raise InputError(
                ERR_KEY_MALFORMED.format(text=text, reason="the key id does not match the key")
            )
        return key

    def __str__(self) -> str:
        return f"{self.label}+{_b64encode(ED25519_TYPE + self.public_key)}"

    def pem(self) -> str:
        """Return the public key as PEM (SubjectPublicKeyInfo)."""
        return self._key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode("ascii")

    def verify(self, message: bytes, signature: bytes) -> None:
        """Check an Ed25519 signature of ``message``.

        Raises
        ------
        LedgerVerificationError
            If the signature does not verify.
        """
        try:
            self._key.verify(signature, message)
        except InvalidSignature:
            raise LedgerVerificationError(ERR_NOTE_BAD_SIGNATURE.format(key=self.label)) from None


@dataclass(frozen=True, slots=True)
class SignerKey:
    """A named Ed25519 private key that signs notes."""

    name: str
    private_key: Ed25519PrivateKey = field(repr=False, compare=False)

    def __post_init__(self) -> None:
        check_key_name(self.name)

    @classmethod
    def generate(cls, name: str) -> SignerKey:
        """Return a new random key called ``name``."""
        return cls(name, Ed25519PrivateKey.generate())

    @classmethod
    def parse(cls, text: str) -> SignerKey:
        """Parse a Go-style private key ``PRIVATE+KEY+<name>+<hex id>+<base64(0x01||seed)>``.

        Raises
        ------
        InputError
            If the text is not such a key or its key id does not match.
        """
        if not text.startswith(PRIVATE_KEY_PREFIX):
            raise InputError("a private key starts with PRIVATE+KEY+")
        name, _, rest = text.removeprefix(PRIVATE_KEY_PREFIX).partition("+")
        hex_id, _, material = rest.partition("+")
        try:
            raw = _b64decode(material)
        except ValueError:
            raise InputError("the private key is not base64") from None
        if len(raw) != 33 or raw[:1] != ED25519_TYPE:
            raise InputError("not an Ed25519 private key (type 0x01)")
        signer = cls(name, Ed25519PrivateKey.from_private_bytes(raw[1:]))
        if signer.verifier().key_id.hex() != hex_id:
            raise InputError("the private key's id does not match the key")
        return signer

    def verifier(self) -> VerifierKey:
        """Return the matching public key."""
        raw = self.private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        return VerifierKey(self.name, raw)

    def sign(self, message: bytes) -> bytes:
        """Return the Ed25519 signature of ``message`` (64 bytes, deterministic)."""
        return self.private_key.sign(message)


@dataclass(frozen=True, slots=True)
class NoteSignature:
    """One signature line: key name, key id and signature bytes."""

    name: str
    key_id: bytes
    signature: bytes

    @property
    def label(self) -> str:
        """``<name>+<hex key id>``."""
        return f"{self.name}+{self.key_id.hex()}"

    def line(self) -> str:
        """Return the signature line, without its newline."""
        return f"{SIGNATURE_LINE_PREFIX}{self.name} {_b64encode(self.key_id + self.signature)}"


@dataclass(frozen=True, slots=True)
class SignedNote:
    """A parsed (not yet verified) signed note: text and signature lines."""

    text: str
    signatures: tuple[NoteSignature, ...]

    @classmethod
    def parse(cls, note: str) -> SignedNote:
        """Split a note into its text and its signature lines.

        Raises
        ------
        LedgerVerificationError
            If the note is not well-formed (control characters, no blank line before the
            signatures, a malformed signature line, too many signatures).
        """
        if not isinstance(note, str):
            raise LedgerVerificationError(ERR_NOTE_MALFORMED.format(reason="not text"))
        # 1. Valid UTF-8 (a str that encodes) without ASCII control characters but newline.
        try:
            note.encode("utf-8")
        except UnicodeEncodeError:
            raise LedgerVerificationError(
                ERR_NOTE_MALFORMED.format(reason="not valid UTF-8")
            ) from None
        if any(c < " " and c != "\n" for c in note):
            raise LedgerVerificationError(
                ERR_NOTE_MALFORMED.format(reason="it holds a control character")
            )
        # 2. The text ends at the last blank line; signature lines follow, each ending in \n.
        split = note.rfind("\n\n")
        if split < 0:
            raise LedgerVerificationError(
                ERR_NOTE_MALFORMED.format(reason="no blank line before the signatures")
            )
        text, block = note[: split + 1], note[split + 2 :]
        if not block or not block.endswith("\n"):
            raise LedgerVerificationError(
                ERR_NOTE_MALFORMED.format(reason="no signature lines, or no final newline")
            )
        lines = block[:-1].split("\n")
        if len(lines) > MAX_SIGNATURES:
            raise LedgerVerificationError(
                ERR_NOTE_MALFORMED.format(reason=f"more than {MAX_SIGNATURES} signatures")
            )
        return cls(text, tuple(_parse_signature_line(line) for line in lines))

    def format(self) -> str:
        """Return the note: text, blank line, signature lines."""
        return self.text + "\n" + "".join(sig.line() + "\n" for sig in self.signatures)

    def verify(self, verifiers: Sequence[VerifierKey]) -> tuple[VerifierKey, ...]:
        """Check the signatures by known keys; return the keys that signed.

        Parameters
        ----------
        verifiers
            The keys the caller trusts. A signature line is by a known key when both its key
            name and key id match one of them; other lines are ignored.

        Returns
        -------
        tuple of VerifierKey
            The known keys with a valid signature (at least one).

        Raises
        ------
        LedgerVerificationError
            If a known key's signature does not verify, or no known key signed the note.
        """
        known = {(key.name, key.key_id): key for key in verifiers}
        message = self.text.encode("utf-8")
        signed: dict[tuple[str, bytes], VerifierKey] = {}
        for sig in self.signatures:
            key = known.get((sig.name, sig.key_id))
            # 1. Signatures by unknown keys are ignored (c2sp.org/signed-note).
            if key is None:
                continue
            # 2. A known key's signature must verify, or the whole note is rejected.
            key.verify(message, sig.signature)
            signed[sig.name, sig.key_id] = key
        # 3. At least one known key must have signed.
        if not signed:
            wanted = ", ".join(key.label for key in verifiers) or "any trusted key"
            found = ", ".join(sig.label for sig in self.signatures)
            raise LedgerVerificationError(ERR_NOTE_UNSIGNED.format(wanted=wanted, found=found))
        return tuple(signed.values())


def _parse_signature_line(line: str) -> NoteSignature:
    if not line.startswith(SIGNATURE_LINE_PREFIX):
        raise LedgerVerificationError(
            ERR_NOTE_MALFORMED.format(reason=f"signature line {line!r} does not start with '— '")
        )
    name, space, encoded = line[len(SIGNATURE_LINE_PREFIX) :].partition(" ")
    try:
        raw = _b64decode(encoded) if space and encoded else b""
    except (ValueError, binascii.Error):
        raw = b""
    if not _is_valid_name(name) or len(raw) <= KEY_ID_SIZE:
        raise LedgerVerificationError(
            ERR_NOTE_MALFORMED.format(reason=f"signature line {line!r} is not '— NAME BASE64'")
        )
    return NoteSignature(name, raw[:KEY_ID_SIZE], raw[KEY_ID_SIZE:])


def sign_note(text: str, signers: Iterable[SignerKey]) -> str:
    """Sign ``text`` and return the signed note.

    Parameters
    ----------
    text
        The note text: non-empty, ending in a newline, no control character but newline.
    signers
        One or more keys.

    Returns
    -------
    str
        The text, a blank line and one signature line per signer.

    Raises
    ------
    InputError
        If the text cannot be a note text or no signer is given.
    """
    if not text.endswith("\n") or any(c < " " and c != "\n" for c in text):
        raise InputError("a note text ends in a newline and holds no control characters")
    message = text.encode("utf-8")
    signatures = tuple(
        NoteSignature(signer.name, signer.verifier().key_id, signer.sign(message))
        for signer in signers
    )
    if not signatures:
        raise InputError("a note needs at least one signer")
    return SignedNote(text, signatures).format()


@dataclass(frozen=True, slots=True, kw_only=True)
class Checkpoint:
    """A tree head of a log: origin, tree size and root hash (c2sp.org/tlog-checkpoint).

    Attributes
    ----------
    origin
        Identifies the log: for govml, ``govml/<instance id>``.
    tree_size
        Number of entries.
    root_hash
        RFC 6962 root of the tree of those entries (32 bytes).
    extensions
        Extension lines after the root hash (opaque; govml writes none).
    """

    origin: str
    tree_size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.origin or "\n" in self.origin:
            raise InputError("a checkpoint origin is one non-empty line")
        if type(self.tree_size) is not int or self.tree_size < 0:
            raise InputError(f"invalid tree size {self.tree_size!r}")
        if not isinstance(self.root_hash, bytes) or len(self.root_hash) != HASH_SIZE:
            raise InputError("a checkpoint root hash has 32 bytes")
        if any(not line or "\n" in line for line in self.extensions):
            raise InputError("checkpoint extension lines are single non-empty lines")

    def body(self) -> str:
        """Return the note text: origin, size and base64 root, each on its own line."""
        lines = [self.origin, str(self.tree_size), _b64encode(self.root_hash), *self.extensions]
        return "".join(line + "\n" for line in lines)

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        """Parse a checkpoint body (the text of a signed note).

        Raises
        ------
        LedgerVerificationError
            If the text is not an origin line, a decimal size without leading zeros and the
            base64 of a 32-byte hash, each followed by a newline (then optional non-empty
            extension lines).
        """
        if not text.endswith("\n"):
            raise LedgerVerificationError(
                ERR_CHECKPOINT_MALFORMED.format(reason="it does not end in a newline")
            )
        lines = text[:-1].split("\n")
        if len(lines) < 3 or any(not line for line in lines):
            raise LedgerVerificationError(
                ERR_CHECKPOINT_MALFORMED.format(
                    reason="expected origin, tree size and root hash on non-empty lines"
                )
            )
        origin, size_text, root_text, *extensions = lines
        if _DECIMAL.fullmatch(size_text) is None:
            raise LedgerVerificationError(
                ERR_CHECKPOINT_MALFORMED.format(reason=f"tree size {size_text!r} is not decimal")
            )
        try:
            root = _b64decode(root_text)
        except (ValueError, binascii.Error):
            root = b""
        if len(root) != HASH_SIZE:
            raise LedgerVerificationError(
                ERR_CHECKPOINT_MALFORMED.format(
                    reason=f"root hash {root_text!r} is not the base64 of 32 bytes"
                )
            )
        return cls(
            origin=origin, tree_size=int(size_text), root_hash=root, extensions=tuple(extensions)
        )


def sign_checkpoint(checkpoint: Checkpoint, signer: SignerKey) -> str:
    """Return the signed note of a checkpoint.

    Parameters
    ----------
    checkpoint
        The tree head to sign.
    signer
        The log's key; its name should be the checkpoint's origin.

    Returns
    -------
    str
        The signed note.
    """
    return sign_note(checkpoint.body(), [signer])


def open_checkpoint(
    note: str, verifiers: Sequence[VerifierKey], *, origin: str | None = None
) -> Checkpoint:
    """Verify a signed checkpoint and return its tree head.

    Parameters
    ----------
    note
        The signed note.
    verifiers
        Trusted keys; at least one must have signed.
    origin
        When given, the checkpoint must be of this log.

    Returns
    -------
    Checkpoint
        The verified checkpoint.

    Raises
    ------
    LedgerVerificationError
        If the note is malformed, not signed by a trusted key, altered, not a checkpoint, or
        a checkpoint of another log.
    """
    return verify_checkpoint(note, verifiers, origin=origin)[0]


def verify_checkpoint(
    note: str, verifiers: Sequence[VerifierKey], *, origin: str | None = None
) -> tuple[Checkpoint, VerifierKey]:
    """Verify a signed checkpoint; return its tree head and the first trusted key that signed.

    Raises
    ------
    LedgerVerificationError
        As `open_checkpoint`.
    """
    # 1. The note is well-formed and a trusted key signed it.
    signed = SignedNote.parse(note)
    signers = signed.verify(verifiers)
    # 2. Its text is a checkpoint, of the expected log.
    checkpoint = Checkpoint.parse(signed.text)
    if origin is not None and checkpoint.origin != origin:
        raise LedgerVerificationError(
            f"the checkpoint is of log {checkpoint.origin!r}, not of {origin!r}"
        )
    return checkpoint, signers[0]


def verifiers_for_checkpoint(note: str, public_key: bytes) -> list[VerifierKey]:
    """Name a bare public key (from a PEM file) after the origin of the checkpoint it checks.

    A PEM public key carries no key name, and a signed-note key id depends on the name. A
    log's key name is its origin, so the key is tried under the checkpoint's origin and
    under the names of the note's signature lines.

    Raises
    ------
    LedgerVerificationError
        If the note is malformed.
    """
    signed = SignedNote.parse(note)
    names = {sig.name for sig in signed.signatures}
    first = signed.text.split("\n", 1)[0]
    if _is_valid_name(first):
        names.add(first)
    return [VerifierKey(name, public_key) for name in sorted(names)]
