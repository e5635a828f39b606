"""The instance's ledger signing key: Ed25519, one per ledger, in ``$GOVML_HOME/keys/``.

A ledger is named by its origin, ``govml/<instance id>`` (see `store.checkpoints.origin`),
and its key by the same name, as c2sp.org/tlog-checkpoint recommends. The files are:

- ``<instance id>.key``: the private key as one line in the signed-note signer format
  ``PRIVATE+KEY+<name>+<hex key id>+<base64(0x01 || seed)>`` (Go's ``note.NewSigner`` reads
  it), mode 0600 in a 0700 folder, written once and never overwritten;
- ``<instance id>.pub``: the verifier key ``<name>+<hex key id>+<base64(0x01 || public
  key)>`` on its first line, then the same key as PEM.

A private key file readable by anyone but its owner is refused, as ssh refuses one.
"""

from __future__ import annotations

import base64
import os
import re
import stat
from pathlib import Path
from typing import Final

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from govml.errors import ConfigurationError, InputError, NotFoundError
from govml.ledger.checkpoint import ED25519_TYPE, PRIVATE_KEY_PREFIX, SignerKey, VerifierKey

KEYS_DIR_MODE: Final = 0o700
PRIVATE_KEY_MODE: Final = 0o600
PRIVATE_SUFFIX: Final = ".key"
PUBLIC_SUFFIX: Final = ".pub"

_VERIFIER_LINE: Final = re.compile(r"^[^\s+]+\+[0-9a-f]{8}\+[A-Za-z0-9+/=]+$", re.MULTILINE)
_PEM_PUBLIC: Final = re.compile(
    r"-----BEGIN PUBLIC KEY-----\s.*?-----END PUBLIC KEY-----", re.DOTALL
)


def instance_id(origin: str) -> str:
    """Return the file-name part of an origin (``govml/3f9a…`` → ``3f9a…``)."""
    return origin.rsplit("/", 1)[-1]


def key_paths(keys_dir: Path, origin: str) -> tuple[Path, Path]:
    """Return the private and public key files of the ledger ``origin``."""
    stem = instance_id(origin)
    return keys_dir / f"{stem}{PRIVATE_SUFFIX}", keys_dir / f"{stem}{PUBLIC_SUFFIX}"


def ensure_key(keys_dir: Path, origin: str) -> tuple[SignerKey, bool]:
    """Return the ledger's signing key, creating it when it does not exist yet.

    Parameters
    ----------
    keys_dir
        The key folder (created with mode 0700 when missing).
    origin
        The ledger's origin, which is also the key's name.

    Returns
    -------
    tuple of SignerKey and bool
        The key, and whether it was created now.

    Raises
    ------
    ConfigurationError
        If an existing key file is readable by others or does not hold this ledger's key.
    """
    private, public = key_paths(keys_dir, origin)
    if private.exists():
        return load_signer(keys_dir, origin), False
    keys_dir.mkdir(mode=KEYS_DIR_MODE, parents=True, exist_ok=True)
    signer = SignerKey.generate(origin)
    try:
        _write_new(private, signer_text(signer), PRIVATE_KEY_MODE)
    except FileExistsError:  # another process created it first: use that one
        return load_signer(keys_dir, origin), False
    public.write_text(public_key_text(signer.verifier()), encoding="utf-8")
    return signer, True


def load_signer(keys_dir: Path, origin: str) -> SignerKey:
    """Return the ledger's signing key.

    Raises
    ------
    NotFoundError
        If this home has no key for the ledger.
    ConfigurationError
        If the file is readable by others, or holds another key or an unreadable one.
    """
    private, _ = key_paths(keys_dir, origin)
    try:
        mode = private.stat().st_mode
    except FileNotFoundError:
        raise NotFoundError(
            f"no signing key for the ledger {origin} in {keys_dir}",
            hint="run `govml init` in the home folder that holds this store's key",
        ) from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigurationError(
            f"the private key {private} is accessible to other users (mode "
            f"{stat.S_IMODE(mode):04o}); it is not used",
            hint=f"run `chmod 600 {private}`",
        )
    try:
        signer = SignerKey.parse(private.read_text(encoding="utf-8").strip())
    except InputError as error:
        raise ConfigurationError(f"{private}: {error.message}") from None
    if signer.name != origin:
        raise ConfigurationError(
            f"{private} holds the key of {signer.name}, not of this ledger ({origin})"
        )
    return signer


def public_keys(keys_dir: Path | None) -> list[VerifierKey]:
    """Return the public keys of every ledger key in the folder (none when it is absent)."""
    if keys_dir is None or not keys_dir.is_dir():
        return []
    found = []
    for path in sorted(keys_dir.glob(f"*{PUBLIC_SUFFIX}")):
        found.append(read_verifier_key(path))
    return found


def signer_text(signer: SignerKey) -> str:
    """Return the private key in the signed-note signer format, with a final newline."""
    seed = signer.private_key.private_bytes(
        serialization.Encoding.Raw,
        serialization.PrivateFormat.Raw,
        serialization.NoEncryption(),
    )
    verifier = signer.verifier()
    encoded = base64.b64encode(ED25519_TYPE + seed).decode("ascii")
    return f"{PRIVATE_KEY_PREFIX}{verifier.label}+{encoded}\n"


def public_key_text(verifier: VerifierKey) -> str:
    """Return the verifier key line followed by the PEM public key."""
    return f"{verifier}\n{verifier.pem()}"


def read_verifier_key(path: Path, *, name: str | None = None) -> VerifierKey:
    """Read a public key file: a verifier key line, a PEM public key, or both.

    Parameters
    ----------
    path
        The file (as ``govml audit key`` prints it, or either half of it).
    name
        Key name for a PEM-only file, which carries none (for a ledger: its origin).

    Raises
    ------
    InputError
        If the file cannot be read, holds no key, holds two different keys, or holds only
        a PEM key and no name is given.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise InputError(f"cannot read the key file {path}: {error.strerror}") from None
    return parse_verifier_key(text, name=name, source=str(path))


def parse_verifier_key(text: str, *, name: str | None = None, source: str = "key") -> VerifierKey:
    """Parse the text of a public key file (see `read_verifier_key`).

    Raises
    ------
    InputError
        As `read_verifier_key`.
    """
    line = _VERIFIER_LINE.search(text)
    pem = _PEM_PUBLIC.search(text)
    verifier = VerifierKey.parse(line.group(0)) if line else None
    if pem is not None:
        try:
            loaded = serialization.load_pem_public_key(pem.group(0).encode("ascii"))
        except ValueError:
            raise InputError(f"{source}: the PEM block is not a public key") from None
        if not isinstance(loaded, Ed25519PublicKey):
            raise InputError(f"{source}: not an Ed25519 public key")
        raw = loaded.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        if verifier is not None and verifier.public_key != raw:
            raise InputError(f"{source}: the key line and the PEM block are different keys")
        if verifier is None:
            if name is None:
                raise InputError(f"{source}: a PEM key has no name; give the key line instead")
            verifier = VerifierKey(name, raw)
    if verifier is None:
        raise InputError(
            f"{source}: no public key found (expected NAME+ID+KEY or a PEM public key)"
        )
    return verifier


def _write_new(path: Path, text: str, mode: int) -> None:
    """Create ``path`` with ``mode`` and ``text``, atomically; never replace a file.

    Raises
    ------
    FileExistsError
        If the file already exists.
    """
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.link(temporary, path)  # fails if the key exists: a key is never overwritten
    finally:
        temporary.unlink(missing_ok=True)
