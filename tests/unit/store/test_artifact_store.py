"""The content-addressed artifact store: atomic writes, digest checks, no path traversal."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from govml.errors import InputError, IntegrityError, NotFoundError
from govml.store.artifacts import LocalArtifactStore, parse_digest, sha256_digest


def test_put_and_get_round_trip(tmp_path: Path) -> None:
    store = LocalArtifactStore(tmp_path)
    digest = store.put_bytes(b"model bytes")
    assert digest == "sha256:" + hashlib.sha256(b"model bytes").hexdigest()
    assert store.get_bytes(digest) == b"model bytes"
    assert store.put_bytes(b"model bytes") == digest  # idempotent
    assert store.path_for(digest).parent.parent.name == "sha256"


def test_put_file_hashes_what_it_copies(tmp_path: Path) -> None:
    source = tmp_path / "model.skops"
    source.write_bytes(b"x" * (3 << 20))
    store = LocalArtifactStore(tmp_path / "artifacts")
    digest, size = store.put_file(source)
    assert size == 3 << 20
    assert digest == sha256_digest(source.read_bytes())
    assert not list((tmp_path / "artifacts" / "sha256" / "staging").iterdir())


def test_missing_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="nope.bin"):
        LocalArtifactStore(tmp_path).put_file(tmp_path / "nope.bin")


def test_changed_bytes_raise_integrity_error_naming_both_digests(tmp_path: Path) -> None:
    store = LocalArtifactStore(tmp_path)
    digest = store.put_bytes(b"original")
    path = store.path_for(digest)
    path.chmod(0o644)
    path.write_bytes(b"tampered")
    with pytest.raises(IntegrityError) as info:
        store.get_bytes(digest)
    message = str(info.value)
    assert digest in message
    assert sha256_digest(b"tampered") in message
    assert str(path) in message


def test_unknown_digest_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError):
        LocalArtifactStore(tmp_path).get_bytes("sha256:" + "0" * 64)


@pytest.mark.parametrize(
    "digest",
    [
        "../../etc/passwd",
        "sha256:../../../../etc/passwd",
        "sha256:" + "a" * 63 + "/",
        "sha256:" + "A" * 64,
        "sha256:" + "a" * 65,
        "md5:" + "a" * 32,
        "sha256:" + "a" * 62 + "\n",
        "",
    ],
)
def test_no_path_traversal(tmp_path: Path, digest: str) -> None:
    with pytest.raises(InputError, match="invalid artifact digest"):
        LocalArtifactStore(tmp_path).get_bytes(digest)


@settings(max_examples=50, deadline=None)
@given(st.text(max_size=80))
def test_any_string_either_parses_to_hex_or_is_refused(text: str) -> None:
    try:
        hex_digest = parse_digest(text)
    except InputError:
        return
    assert len(hex_digest) == 64
    assert set(hex_digest) <= set("0123456789abcdef")


def test_failed_write_leaves_nothing(tmp_path: Path) -> None:
    store = LocalArtifactStore(tmp_path)

    def chunks():  # type: ignore[no-untyped-def]
        yield b"partial"
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        store._write(chunks())
    assert not any(p.is_file() for p in (tmp_path / "sha256").rglob("*"))
