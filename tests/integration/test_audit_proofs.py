"""Signed checkpoints, proofs, export bundles and attestations through the CLI (both backends).

Proofs are checked against the RFC 6962 definitions recomputed here from the stored entries,
the export bundle with the standalone verifier, and tampering of every kind (a byte of any
ledger row, a deleted or swapped row, a consistent rewrite, a forged checkpoint) must fail
verification and name the first bad entry. The standalone verifier runs once as an auditor
runs it (a fresh interpreter without govml on its path); its other runs, every tampered
bundle among them, call its ``main`` in this process, which is the same code without an
interpreter start each.
"""

from __future__ import annotations

import ast
import base64
import functools
import importlib.util
import io
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import replace
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from tests.conftest import populate

import govml
from govml.cli.main import invoke
from govml.errors import LedgerVerificationError
from govml.ledger.bundle import ProofBundle, verify_bundle
from govml.ledger.checkpoint import Checkpoint, SignedNote, SignerKey, VerifierKey, sign_checkpoint
from govml.ledger.merkle import (
    Frontier,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    root_hash,
    subtree_ranges,
    verify_consistency,
    verify_inclusion,
)
from govml.store.keys import load_signer
from govml.store.schema import APPEND_ONLY_TABLES, ledger_checkpoints, ledger_entries

VERIFIER = Path(__file__).resolve().parents[2] / "tools" / "govml_verify.py"
Run = Callable[..., tuple[int, str, str]]


# --- helpers --------------------------------------------------------------------------------


def _drop_triggers(client: govml.Client) -> None:
    with client.ctx.store.write() as conn:
        for table in APPEND_ONLY_TABLES:
            if client.ctx.store.dialect == "sqlite":
                conn.execute(sa.text(f"DROP TRIGGER IF EXISTS {table}_no_update"))
                conn.execute(sa.text(f"DROP TRIGGER IF EXISTS {table}_no_delete"))
            else:
                conn.execute(sa.text(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}"))


def _raw(client: govml.Client, sql: str, **params: object) -> None:
    with client.ctx.store.write() as conn:
        conn.execute(sa.text(sql), params)


def _leaves(client: govml.Client) -> list[bytes]:
    """Leaf hashes recomputed from the stored entry text (RFC 6962: SHA-256(0x00 || entry))."""
    with client.ctx.store.read() as conn:
        texts = conn.execute(sa.text("SELECT entry FROM ledger_entries ORDER BY seq")).scalars()
        return [leaf_hash(text.encode()) for text in texts]


def _size(client: govml.Client) -> int:
    return len(_leaves(client))


def _rewrite(client: govml.Client, seq: int, old: str, new: str, *, erase: bool) -> None:
    """Rewrite entry ``seq`` consistently: its text, query column, leaf hash and tree heads."""
    with client.ctx.store.read() as conn:
        rows = conn.execute(sa.select(ledger_entries).order_by(ledger_entries.c.seq)).all()
        sizes = conn.execute(sa.select(ledger_checkpoints.c.tree_size)).scalars().all()
    texts = [row.entry for row in rows]
    assert old in texts[seq]
    texts[seq] = texts[seq].replace(old, new)
    frontier, heads = Frontier(), {}
    for text in texts:
        frontier.append(leaf_hash(text.encode()))
        if frontier.size in sizes:
            heads[frontier.size] = (frontier.root().hex(), frontier.to_json())
    with client.ctx.store.write() as conn:
        conn.execute(
            sa.update(ledger_entries)
            .where(ledger_entries.c.seq == seq)
            .values(
                entry=texts[seq],
                leaf_hash=leaf_hash(texts[seq].encode()).hex(),
                actor=json.loads(texts[seq])["actor"],
            )
        )
        for size, (root, hashes) in heads.items():
            values: dict[str, Any] = {"root_hash": root, "frontier": hashes}
            if erase:
                values["signed_note"] = None
            conn.execute(
                sa.update(ledger_checkpoints)
                .where(ledger_checkpoints.c.tree_size == size)
                .values(**values)
            )


def _verify_offline(bundle: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the standalone verifier as an auditor does: its own interpreter, no govml path."""
    return subprocess.run(
        [sys.executable, str(VERIFIER), str(bundle), *args],
        capture_output=True,
        text=True,
        check=False,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
        cwd=bundle.parent,
    )


@functools.cache
def _verifier() -> ModuleType:
    """The standalone verifier's module, loaded from its file (it is not a govml module)."""
    spec = importlib.util.spec_from_file_location("govml_verify_standalone", VERIFIER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def _verify(bundle: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the standalone verifier's ``main`` in this process; the same result as a run."""
    argv = [str(bundle), *args]
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = _verifier().main(argv)
        except SystemExit as exit_:  # argparse's usage errors
            code = int(exit_.code or 0)
    return subprocess.CompletedProcess(argv, code, out.getvalue(), err.getvalue())


@pytest.fixture
def run(
    client: govml.Client,
    db_url: str,
    home: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Run:
    """The CLI on the client's store (same database, same home and key), after init + data."""
    monkeypatch.setenv("GOVML_HOME", str(home))
    monkeypatch.setenv("GOVML_USER", "alice")
    client.init()
    populate(client)

    def cli(*args: str) -> tuple[int, str, str]:
        code = invoke(["--store", db_url, *args])
        out, err = capsys.readouterr()
        return code, out, err

    return cli


def _checkpoint(run: Run, path: Path, *, as_json: bool = False) -> str:
    args = ["audit", "checkpoint", "--out", str(path)] + (["--json"] if as_json else [])
    code, out, err = run(*args)
    assert code == 0, err
    return out


def _key(run: Run, path: Path) -> VerifierKey:
    code, out, err = run("audit", "key")
    assert code == 0, err
    path.write_text(out)
    return VerifierKey.parse(out.splitlines()[0])


# --- keys -----------------------------------------------------------------------------------


def test_init_creates_a_private_key_and_records_it(
    run: Run, client: govml.Client, home: Path
) -> None:
    keys = home / "keys"
    private = next(keys.glob("*.key"))
    assert keys.stat().st_mode & 0o777 == 0o700
    assert private.stat().st_mode & 0o777 == 0o600
    code, out, _ = run("audit", "key", "--json")
    assert code == 0
    info = json.loads(out)
    key = VerifierKey.parse(info["verifier_key"])
    assert key.name == info["origin"] == client.init()["ledger_origin"]
    assert info["public_key_pem"].startswith("-----BEGIN PUBLIC KEY-----")
    assert info["recorded_in_entry"] == 1
    entries = client.audit_log(action="ledger.key_added")
    assert [e.payload["key"] for e in entries] == [info["verifier_key"]]
    client.init()  # again: no new key, no new entry
    assert len(client.audit_log(action="ledger.key_added")) == 1
    assert len(list(keys.glob("*.key"))) == 1


def test_a_private_key_readable_by_others_is_refused(run: Run, home: Path) -> None:
    private = next((home / "keys").glob("*.key"))
    private.chmod(0o640)
    code, _, err = run("audit", "checkpoint")
    assert code == 2
    assert "accessible to other users" in err and "chmod 600" in err


# --- checkpoints, proofs, consistency ---------------------------------------------------------


def test_checkpoint_is_signed_stored_and_not_signed_twice(
    run: Run, client: govml.Client, tmp_path: Path
) -> None:
    key = _key(run, tmp_path / "key.txt")
    note = _checkpoint(run, tmp_path / "cp.note")
    assert (tmp_path / "cp.note").read_text() == note
    checkpoint = Checkpoint.parse(SignedNote.parse(note).text)
    SignedNote.parse(note).verify([key])
    leaves = _leaves(client)
    assert checkpoint.tree_size == len(leaves)
    assert checkpoint.root_hash == root_hash(leaves)
    code, out, _ = run("audit", "checkpoint", "--json")
    again = json.loads(out)
    assert code == 0 and again["created"] is False and again["signed_note"] == note
    client.create_model("later", risk_tier="minimal")
    code, out, _ = run("audit", "checkpoint", "--json")
    newer = json.loads(out)
    assert newer["created"] is True and newer["tree_size"] == checkpoint.tree_size + 1
    code, out, _ = run("audit", "verify", "--json")
    assert code == 0 and json.loads(out)["signed_checkpoints"] == 2


def test_inclusion_proof_through_the_cli(run: Run, client: govml.Client, tmp_path: Path) -> None:
    old_note = _checkpoint(run, tmp_path / "old.note")
    client.create_model("later", risk_tier="minimal")
    _checkpoint(run, tmp_path / "new.note")
    leaves = _leaves(client)
    for seq in (0, 4, len(leaves) - 1):
        code, out, err = run("audit", "proof", str(seq), "--json")
        assert code == 0, err
        bundle = ProofBundle.from_json(json.loads(out))
        (item,) = bundle.entries
        assert item.index == seq and item.leaf_hash == leaves[seq]
        assert list(item.inclusion_proof) == inclusion_proof(seq, leaves)
        verify_inclusion(
            index=seq,
            size=len(leaves),
            leaf_hash=leaves[seq],
            proof=item.inclusion_proof,
            root=root_hash(leaves),
        )
        verify_bundle(bundle, [VerifierKey.parse(bundle.public_key)])
    # Against the older checkpoint given as a file: a proof in the smaller tree.
    old_size = len(leaves) - 1
    code, out, _ = run("audit", "proof", "2", "--json", "--checkpoint", str(tmp_path / "old.note"))
    bundle = ProofBundle.from_json(json.loads(out))
    assert bundle.checkpoint == old_note
    assert list(bundle.entries[0].inclusion_proof) == inclusion_proof(2, leaves[:old_size])
    code, out, _ = run("audit", "proof", "3")
    assert code == 0 and "entry 3 is in the ledger" in out


def test_single_proofs_from_tree_heads_equal_the_definition(
    client: govml.Client, home: Path
) -> None:
    """`audit proof` builds a proof from the tree heads' frontiers; with sparse tree heads
    (large transactions) it hashes the missing subtrees: the proof is always RFC 6962's."""
    from datetime import UTC, datetime

    from govml.store.ledger import NewEntry, append

    client.init()
    for count in (1, 3, 40, 1, 1, 70, 2, 9, 130, 1):
        with client.ctx.store.write() as conn:
            entries = [
                NewEntry(action="x.done", subject="s", payload={"n": n}) for n in range(count)
            ]
            append(conn, actor="alice", now=datetime.now(UTC), entries=entries)
    client.sign_checkpoint()
    leaves = _leaves(client)
    for seq in [*range(0, len(leaves), 5), len(leaves) - 1]:
        bundle = client.ledger_proof(seq)
        assert list(bundle.entries[0].inclusion_proof) == inclusion_proof(seq, leaves), seq


def test_consistency_through_the_cli(run: Run, client: govml.Client, tmp_path: Path) -> None:
    _checkpoint(run, tmp_path / "old.note")
    old_size = _size(client)
    client.create_model("later", risk_tier="minimal")
    client.set_tag("later", "k", "v")
    _checkpoint(run, tmp_path / "new.note")
    code, out, err = run("audit", "verify", "--checkpoint", str(tmp_path / "old.note"), "--json")
    assert code == 0, err
    assert json.loads(out)["checkpoint"]["tree_size"] == old_size
    code, out, err = run(
        "audit", "export", "--out", str(tmp_path / "b.json"), "--since", str(tmp_path / "old.note")
    )
    assert code == 0, err
    bundle = ProofBundle.from_json(json.loads((tmp_path / "b.json").read_text()))
    leaves = _leaves(client)
    assert bundle.consistency is not None
    assert list(bundle.consistency.proof) == consistency_proof(old_size, leaves)
    verify_consistency(
        old_size=old_size,
        new_size=len(leaves),
        old_root=root_hash(leaves[:old_size]),
        new_root=root_hash(leaves),
        proof=bundle.consistency.proof,
    )


def test_proof_errors_are_usage_errors(run: Run, tmp_path: Path) -> None:
    code, _, err = run("audit", "proof", "3")
    assert code == 2 and "no checkpoint" in err and "govml audit checkpoint" in err
    _checkpoint(run, tmp_path / "cp.note")
    code, _, err = run("audit", "proof", "999")
    assert code == 2 and "not covered" in err
    code, _, err = run("audit", "proof", "-1")
    assert code == 2
    code, _, err = run("audit", "verify", "--checkpoint", str(tmp_path / "missing.note"))
    assert code == 2 and "cannot read" in err
    code, _, err = run("audit", "attest", "credit@1", "--verify", str(tmp_path / "cp.note"))
    assert code == 2 and "either" in err
    code, _, err = run("audit", "verify", "--key", str(tmp_path / "cp.note"))
    assert code == 2 and "give both" in err


def test_checkpoint_needs_a_key(
    client: govml.Client,
    db_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    populate(client)  # no `govml init`: no key in this home
    monkeypatch.setenv("GOVML_USER", "alice")  # the store's admin (its first user)
    code = invoke(["--store", db_url, "audit", "checkpoint"])
    err = capsys.readouterr().err
    assert code == 2 and "no signing key" in err and "govml init" in err


# --- truncation, rewrites and forged checkpoints ---------------------------------------------


def test_truncated_ledger_fails_against_an_old_checkpoint(
    run: Run, client: govml.Client, tmp_path: Path
) -> None:
    _checkpoint(run, tmp_path / "cp.note")
    size = _size(client)
    _drop_triggers(client)
    # The last entry (model 'fraud' created) removed with its tree head and its record.
    _raw(client, "DELETE FROM ledger_entries WHERE seq = :s", s=size - 1)
    _raw(client, "DELETE FROM ledger_checkpoints WHERE tree_size = :s", s=size)
    _raw(client, "DELETE FROM models WHERE name = 'fraud'")
    code, _, err = run("audit", "verify")
    assert code == 0, err  # nothing inside the database shows it
    code, out, _ = run("audit", "verify", "--checkpoint", str(tmp_path / "cp.note"), "--json")
    assert code == 1
    result = json.loads(out)
    assert result["seq"] == size - 1
    assert f"entry {size - 1} is missing" in result["error"]


def test_consistent_rewrite_is_caught_by_the_stored_signatures(
    run: Run, client: govml.Client, tmp_path: Path
) -> None:
    _checkpoint(run, tmp_path / "cp.note")
    _drop_triggers(client)
    _rewrite(client, 4, '"actor":"alice"', '"actor":"mallory"', erase=False)
    code, out, _ = run("audit", "verify", "--json")
    assert code == 1
    result = json.loads(out)
    assert "rewritten since the checkpoint" in result["error"] and result["seq"] == 0
    # And the log refuses to sign a checkpoint that is not consistent with the last one.
    code, _, err = run("audit", "checkpoint")
    assert code == 1 and "not signing" in err


def test_consistent_rewrite_with_erased_signatures_needs_the_kept_checkpoint(
    run: Run, client: govml.Client, tmp_path: Path
) -> None:
    _checkpoint(run, tmp_path / "cp.json", as_json=True)
    last = _size(client) - 1
    _drop_triggers(client)
    _rewrite(client, last, '"actor":"alice"', '"actor":"mallory"', erase=True)
    code, _, _ = run("audit", "verify")
    assert code == 0  # a consistent rewrite is invisible from inside the database
    code, out, err = run("audit", "verify", "--checkpoint", str(tmp_path / "cp.json"), "--json")
    assert code == 1, err
    result = json.loads(out)
    # The kept checkpoint's frontier narrows the rewrite to its last perfect subtree; with
    # the stored signatures erased nothing narrows it further, so the earliest entry of that
    # subtree is named (the entry itself when the subtree is one leaf).
    start = subtree_ranges(last + 1)[-1][0]
    assert result["seq"] == start
    if start == last:
        assert f"entry {last} differs from what it signed" in result["error"]
    else:
        assert f"one of entries {start} to {last} differs" in result["error"]


def test_rewrite_of_an_early_entry_is_located_in_a_subtree(
    run: Run, client: govml.Client, tmp_path: Path
) -> None:
    note = json.loads(_checkpoint(run, tmp_path / "cp.json", as_json=True))
    size = note["tree_size"]
    _drop_triggers(client)
    _rewrite(client, 3, '"actor":"alice"', '"actor":"mallory"', erase=True)
    code, out, _ = run("audit", "verify", "--checkpoint", str(tmp_path / "cp.json"), "--json")
    assert code == 1
    result = json.loads(out)
    # The checkpoint's largest subtree holds entry 3; the earliest entry it can be is named.
    assert result["seq"] <= 3
    assert f"rewritten since the checkpoint at size {size}" in result["error"]
    (tmp_path / "cp.note").write_text(note["signed_note"])
    code, out, _ = run("audit", "verify", "--checkpoint", str(tmp_path / "cp.note"), "--json")
    assert code == 1 and json.loads(out)["seq"] == 0


def test_checkpoint_signed_by_another_key_is_rejected(
    run: Run, client: govml.Client, tmp_path: Path
) -> None:
    note = _checkpoint(run, tmp_path / "cp.note")
    real = Checkpoint.parse(SignedNote.parse(note).text)
    other = SignerKey.generate(real.origin)
    forged = Checkpoint(origin=real.origin, tree_size=real.tree_size, root_hash=b"\x07" * 32)
    (tmp_path / "forged.note").write_text(sign_checkpoint(forged, other))
    code, _, err = run("audit", "verify", "--checkpoint", str(tmp_path / "forged.note"))
    assert code == 1
    assert "not signed by" in err and other.verifier().label in err
    # Given the other key, the signature checks, and the ledger is not consistent with it.
    (tmp_path / "other.pub").write_text(str(other.verifier()) + "\n")
    code, _, err = run(
        "audit",
        "verify",
        "--checkpoint",
        str(tmp_path / "forged.note"),
        "--key",
        str(tmp_path / "other.pub"),
    )
    assert code == 1 and "rewritten since the checkpoint" in err


def test_checkpoint_with_altered_signature_bytes_is_rejected(run: Run, tmp_path: Path) -> None:
    note = _checkpoint(run, tmp_path / "cp.note")
    text, line = note.split("\n\n")
    name, blob = line.rstrip("\n").rsplit(" ", 1)
    raw = bytearray(base64.b64decode(blob))
    raw[-1] ^= 0x40
    (tmp_path / "bad.note").write_text(
        f"{text}\n\n{name} {base64.b64encode(bytes(raw)).decode()}\n"
    )
    code, _, err = run("audit", "verify", "--checkpoint", str(tmp_path / "bad.note"))
    assert code == 1 and "does not verify" in err


def test_checkpoint_of_another_store_is_rejected(
    run: Run, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other_home = tmp_path / "other"
    other = govml.connect(other_home, user="bob", create=True)
    other.init()
    note = other.sign_checkpoint().signed_note
    key = other.ledger_key().verifier_key
    other.close()
    (tmp_path / "other.note").write_text(note)
    (tmp_path / "other.pub").write_text(key + "\n")
    code, _, err = run(
        "audit",
        "verify",
        "--checkpoint",
        str(tmp_path / "other.note"),
        "--key",
        str(tmp_path / "other.pub"),
    )
    assert code == 1 and "another store" in err


# --- export and the standalone verifier -------------------------------------------------------


def test_export_verifies_offline(run: Run, client: govml.Client, tmp_path: Path) -> None:
    _checkpoint(run, tmp_path / "old.note")
    client.set_tag("credit", "reviewed", "yes")
    _checkpoint(run, tmp_path / "new.note")
    client.create_model("unsigned-yet", risk_tier="minimal")
    _key(run, tmp_path / "key.txt")
    code, out, err = run(
        "audit", "export", "--model", "credit", "--out", str(tmp_path / "b.json"), "--json"
    )
    assert code == 0, err
    summary = json.loads(out)
    bundle = json.loads((tmp_path / "b.json").read_text())
    subjects = [json.loads(item["entry"])["subject"] for item in bundle["entries"]]
    assert subjects and all(s.startswith("model/credit") for s in subjects)
    assert summary["consistency"] is True and summary["entries"] == len(subjects)
    done = _verify(tmp_path / "b.json", "--key", str(tmp_path / "key.txt"))
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[-1] == f"OK: {len(subjects) + 5} checks passed"
    assert sum(line.startswith("ok    entry ") for line in lines) == len(subjects)
    code, out, _ = run("audit", "export", "--out", str(tmp_path / "all.json"))
    assert code == 0 and "1 newer entries are not covered yet" in out


def test_standalone_verifier_imports_no_govml() -> None:
    tree = ast.parse(VERIFIER.read_text())
    imported = {
        (node.module or "").split(".")[0]
        if isinstance(node, ast.ImportFrom)
        else alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    assert imported - set(sys.stdlib_module_names) == {"cryptography"}


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path, SignerKey]]:
    """A SQLite store with two signed checkpoints: its export bundle, key file and signer."""
    folder = tmp_path_factory.mktemp("export")
    client = govml.connect(folder / "home", user="alice", create=True)
    client.init()
    populate(client)
    client.sign_checkpoint()
    client.set_tag("credit", "reviewed", "yes")
    client.sign_checkpoint()
    bundle = folder / "bundle.json"
    bundle.write_text(json.dumps(client.export_ledger(model="credit").bundle.to_json(), indent=2))
    key = folder / "key.txt"
    info = client.ledger_key()
    key.write_text(info.verifier_key + "\n" + info.pem)
    signer = load_signer(folder / "home" / "keys", info.origin)
    client.close()
    yield bundle, key, signer


def _variants(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    """Every single-field tampering of a JSON document: (path, replacement or removal)."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield (*path, key), _REMOVE
            yield from _variants(item, (*path, key))
    elif isinstance(value, list):
        if value:
            yield path, value[:-1]
            yield path, [*value, value[-1]]
            yield path, value[::-1] if len(value) > 1 else [*value, value[0]]
        for index, item in enumerate(value):
            yield from _variants(item, (*path, index))
    elif isinstance(value, str):
        for index in sorted({0, len(value) // 2, len(value) - 1}):
            char = "0" if value[index] != "0" else "1"
            yield path, value[:index] + char + value[index + 1 :]
    elif isinstance(value, int):
        yield path, value + 1


_REMOVE = object()


def _apply(document: Any, path: tuple[Any, ...], replacement: Any) -> Any:
    copy = json.loads(json.dumps(document))
    target = copy
    for step in path[:-1]:
        target = target[step]
    if replacement is _REMOVE:
        del target[path[-1]]
    elif path:
        target[path[-1]] = replacement
    else:
        copy = replacement
    return copy


def test_standalone_verifier_rejects_every_tampered_variant(
    exported: tuple[Path, Path, SignerKey], tmp_path: Path
) -> None:
    bundle, key, _ = exported
    good = _verify_offline(bundle, "--key", str(key))
    assert good.returncode == 0, good.stdout
    document = json.loads(bundle.read_text())
    variants = [(path, new) for path, new in _variants(document) if path]
    assert len(variants) > 60
    files = []
    for number, (path, replacement) in enumerate(variants):
        target = tmp_path / f"v{number}.json"
        target.write_text(json.dumps(_apply(document, path, replacement)))
        files.append((target, path))
    for target, path in files:
        done = _verify(target, "--key", str(key))
        assert done.returncode == 1, (path, done.stdout, done.stderr)
        assert "FAIL" in done.stdout, path


def test_standalone_verifier_rejects_another_key(
    exported: tuple[Path, Path, SignerKey], tmp_path: Path
) -> None:
    bundle, _, _ = exported
    other = SignerKey.generate(json.loads(bundle.read_text())["origin"]).verifier()
    (tmp_path / "other.txt").write_text(str(other) + "\n")
    done = _verify(bundle, "--key", str(tmp_path / "other.txt"))
    assert done.returncode == 1 and "FAIL  key" in done.stdout
    (tmp_path / "other.pem").write_text(other.pem())
    done = _verify(bundle, "--key", str(tmp_path / "other.pem"))
    assert done.returncode == 1
    done = _verify(tmp_path / "missing.json")
    assert done.returncode == 2


def test_standalone_verifier_checks_every_proof_of_a_signed_bundle(
    exported: tuple[Path, Path, SignerKey], tmp_path: Path
) -> None:
    """A bundle signed by the right key but built wrong (a bad proof, a forged entry) fails."""
    bundle_path, key, signer = exported
    good = ProofBundle.from_json(json.loads(bundle_path.read_text()))
    first, *rest = good.entries
    forged_text = first.entry.replace('"actor":"alice"', '"actor":"mallory"')
    cases = {
        "proof": replace(first, inclusion_proof=first.inclusion_proof[::-1]),
        "entry": replace(first, entry=forged_text, leaf_hash=leaf_hash(forged_text.encode())),
        "index": replace(first, index=first.index + 1) if rest[0].index > first.index + 1 else None,
    }
    for name, item in cases.items():
        if item is None:
            continue
        forged = replace(good, entries=(item, *rest), signature=None).signed(signer)
        (tmp_path / f"{name}.json").write_text(json.dumps(forged.to_json()))
        done = _verify(tmp_path / f"{name}.json", "--key", str(key))
        assert done.returncode == 1, (name, done.stdout)
        assert f"FAIL  entry {item.index}" in done.stdout, (name, done.stdout)
        assert "ok    signature" in done.stdout
        with pytest.raises(LedgerVerificationError):
            verify_bundle(forged, [signer.verifier()])
    link = good.consistency
    assert link is not None
    forged = replace(good, consistency=replace(link, proof=link.proof[1:]), signature=None)
    (tmp_path / "consistency.json").write_text(json.dumps(forged.signed(signer).to_json()))
    done = _verify(tmp_path / "consistency.json", "--key", str(key))
    assert done.returncode == 1 and "FAIL  consistency" in done.stdout


# --- attestations ---------------------------------------------------------------------------


def test_attestation_round_trip(run: Run, client: govml.Client, tmp_path: Path) -> None:
    code, _, err = run("audit", "attest", "credit@1", "--out", str(tmp_path / "a.json"))
    assert code == 2 and "not covered by a signed checkpoint" in err
    _checkpoint(run, tmp_path / "cp.note")
    code, _, err = run("audit", "attest", "credit@1", "--out", str(tmp_path / "a.json"))
    assert code == 0, err
    envelope = json.loads((tmp_path / "a.json").read_text())
    assert envelope["payloadType"] == "application/vnd.in-toto+json"
    statement = json.loads(base64.b64decode(envelope["payload"]))
    version = client.get_version("credit@1")
    assert statement["_type"] == "https://in-toto.io/Statement/v1"
    assert statement["subject"] == [
        {"name": "credit@1", "digest": {"sha256": version.artifact_digest.removeprefix("sha256:")}}
    ]
    assert statement["predicateType"] == "https://slsa.dev/provenance/v1"
    build = statement["predicate"]["buildDefinition"]
    dataset = version.datasets[0].digest.removeprefix("sha256:")
    assert {"name": "dataset:train"} | {"digest": {"sha256": dataset}} == {
        k: v for k, v in build["resolvedDependencies"][0].items() if k in ("name", "digest")
    }
    code, out, err = run("audit", "attest", "--verify", str(tmp_path / "a.json"), "--json")
    assert code == 0, err
    assert json.loads(out)["subject"] == "credit@1"
    key = _key(run, tmp_path / "key.txt")
    done = _verify(tmp_path / "a.json", "--key", str(tmp_path / "key.txt"))
    assert done.returncode == 0, done.stdout
    # The subject changed (payload re-encoded without a new signature) fails both verifiers.
    statement["subject"][0]["digest"]["sha256"] = "0" * 64
    envelope["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
    (tmp_path / "bad.json").write_text(json.dumps(envelope))
    code, _, err = run("audit", "attest", "--verify", str(tmp_path / "bad.json"))
    assert code == 1 and f"not signed by {key.label}" in err
    assert _verify(tmp_path / "bad.json", "--key", str(tmp_path / "key.txt")).returncode == 1


# --- tampering: every row, every column -------------------------------------------------------


@pytest.fixture
def signed(run: Run, client: govml.Client, tmp_path: Path) -> govml.Client:
    """A store with a signed checkpoint, its triggers dropped."""
    _checkpoint(run, tmp_path / "cp.note")
    client.set_tag("credit", "reviewed", "yes")
    _drop_triggers(client)
    return client


def _fails(client: govml.Client) -> LedgerVerificationError:
    with pytest.raises(LedgerVerificationError) as info:
        client.verify_ledger()
    return info.value


@pytest.mark.parametrize("column", ["time", "actor", "action", "subject", "entry", "leaf_hash"])
def test_one_byte_of_an_entry_column_is_named(signed: govml.Client, column: str) -> None:
    with signed.ctx.store.read() as conn:
        value = conn.execute(
            sa.text(f"SELECT {column} FROM ledger_entries WHERE seq = 4")
        ).scalar_one()
    middle = len(value) // 2
    changed = value[:middle] + ("0" if value[middle] != "0" else "1") + value[middle + 1 :]
    _raw(signed, f"UPDATE ledger_entries SET {column} = :v WHERE seq = 4", v=changed)
    assert _fails(signed).seq == 4


@pytest.mark.parametrize("column", ["root_hash", "frontier", "created_at", "signed_note"])
def test_one_byte_of_a_tree_head_column_is_named(signed: govml.Client, column: str) -> None:
    with signed.ctx.store.read() as conn:
        size, value = conn.execute(
            sa.text(
                f"SELECT tree_size, CAST({column} AS TEXT) FROM ledger_checkpoints "
                "WHERE signed_note IS NOT NULL"
            )
        ).one()
    # In the signature line, in a hash of the frontier (PostgreSQL refuses invalid JSON), or in
    # the middle of the root hash or time.
    if column == "signed_note":
        index = value.index("\n") + 3
    elif column == "frontier":
        index = value.index('"') + 5
    else:
        index = len(value) // 2
    changed = value[:index] + ("0" if value[index] != "0" else "1") + value[index + 1 :]
    cast = (
        "CAST(:v AS JSON)"
        if column == "frontier" and signed.ctx.store.dialect != "sqlite"
        else ":v"
    )
    _raw(
        signed,
        f"UPDATE ledger_checkpoints SET {column} = {cast} WHERE tree_size = :s",
        v=changed,
        s=size,
    )
    error = _fails(signed)
    assert error.seq is None and str(size) in error.message


def test_deleted_and_swapped_rows_are_named(signed: govml.Client) -> None:
    _raw(signed, "UPDATE ledger_entries SET seq = -1 WHERE seq = 3")
    _raw(signed, "UPDATE ledger_entries SET seq = 3 WHERE seq = 4")
    _raw(signed, "UPDATE ledger_entries SET seq = 4 WHERE seq = -1")
    assert _fails(signed).seq == 3
    _raw(signed, "UPDATE ledger_entries SET seq = -1 WHERE seq = 3")
    _raw(signed, "UPDATE ledger_entries SET seq = 3 WHERE seq = 4")
    _raw(signed, "UPDATE ledger_entries SET seq = 4 WHERE seq = -1")
    signed.verify_ledger()
    _raw(signed, "DELETE FROM ledger_entries WHERE seq = 5")
    assert _fails(signed).seq == 5


def test_deleted_tree_head_is_found(signed: govml.Client) -> None:
    with signed.ctx.store.read() as conn:
        sizes = (
            conn.execute(sa.text("SELECT tree_size FROM ledger_checkpoints ORDER BY tree_size"))
            .scalars()
            .all()
        )
    _raw(signed, "DELETE FROM ledger_checkpoints WHERE tree_size = :s", s=sizes[2])
    error = _fails(signed)
    assert f"tree head at size {sizes[2]} is missing" in error.message


def test_forged_signed_note_in_the_database_is_found(signed: govml.Client) -> None:
    with signed.ctx.store.read() as conn:
        size, note = conn.execute(
            sa.text(
                "SELECT tree_size, signed_note FROM ledger_checkpoints "
                "WHERE signed_note IS NOT NULL"
            )
        ).one()
    real = Checkpoint.parse(SignedNote.parse(note).text)
    forged = sign_checkpoint(
        Checkpoint(origin=real.origin, tree_size=size, root_hash=real.root_hash),
        SignerKey.generate(real.origin),
    )
    _raw(
        signed,
        "UPDATE ledger_checkpoints SET signed_note = :n WHERE tree_size = :s",
        n=forged,
        s=size,
    )
    error = _fails(signed)
    assert f"signed checkpoint at size {size} does not verify" in error.message


def test_a_tree_head_frontier_spelled_otherwise_is_named(client: govml.Client) -> None:
    client.init()
    populate(client)
    _drop_triggers(client)
    with client.ctx.store.read() as conn:
        heads = conn.execute(
            sa.text("SELECT tree_size, CAST(frontier AS TEXT) FROM ledger_checkpoints")
        ).all()
    # A tree head whose frontier lists two subtrees or more (a size with two bits set).
    size, text = next((size, text) for size, text in heads if ", " in text)
    # The same list of hashes, one space turned into a tab: JSON that decodes equal.
    _raw(
        client,
        "UPDATE ledger_checkpoints SET frontier = :v WHERE tree_size = :k",
        v=text.replace(", ", ",\t", 1),
        k=size,
    )
    error = _fails(client)
    assert error.seq is None and f"tree head at size {size}" in error.message, error.message


@pytest.fixture(scope="module")
def tamper_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[govml.Client]:
    home = tmp_path_factory.mktemp("tamper-proofs")
    client = govml.connect(home, user="alice", create=True)
    client.init()
    populate(client)
    client.sign_checkpoint()
    client.set_tag("credit", "reviewed", "yes")
    client.sign_checkpoint()
    _drop_triggers(client)
    yield client
    client.close()


_ENTRY_COLUMNS = ("time", "actor", "action", "subject", "entry", "leaf_hash")
_HEAD_COLUMNS = ("root_hash", "frontier", "created_at", "signed_note")


@pytest.mark.slow  # 10 s: 150 examples, each a tampered store verified
@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    table=st.sampled_from(["ledger_entries", "ledger_checkpoints"]),
    row=st.integers(0, 1000),
    column=st.integers(0, 5),
    position=st.integers(0, 100_000),
    new=st.integers(1, 127),
)
def test_any_single_byte_of_any_ledger_row_is_detected_and_named(
    tamper_store: govml.Client, table: str, row: int, column: int, position: int, new: int
) -> None:
    client = tamper_store
    key = "seq" if table == "ledger_entries" else "tree_size"
    names = _ENTRY_COLUMNS if table == "ledger_entries" else _HEAD_COLUMNS
    name = names[column % len(names)]
    with client.ctx.store.read() as conn:
        rows = conn.execute(
            sa.text(f"SELECT {key}, {name} FROM {table} WHERE {name} IS NOT NULL ORDER BY {key}")
        ).all()
    number, original = rows[row % len(rows)]
    raw = bytearray(original.encode())
    index = position % len(raw)
    assume(raw[index] < 128 and raw[index] != new)  # stay valid UTF-8 text, change one byte
    raw[index] = new
    try:
        _raw(client, f"UPDATE {table} SET {name} = :v WHERE {key} = :k", v=raw.decode(), k=number)
        error = _fails(client)
        if table == "ledger_entries":
            assert error.seq == number, error.message
        else:
            assert error.seq is None and f"size {number}" in error.message, error.message
    finally:
        _raw(client, f"UPDATE {table} SET {name} = :v WHERE {key} = :k", v=original, k=number)
    client.verify_ledger()


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(first=st.integers(0, 1000), second=st.integers(0, 1000), delete=st.booleans())
def test_any_deleted_or_swapped_entry_is_named(
    tamper_store: govml.Client, first: int, second: int, delete: bool
) -> None:
    client = tamper_store
    size = _size(client)
    a, b = sorted((first % size, second % size))
    assume(delete or a != b)
    with client.ctx.store.read() as conn:
        saved = conn.execute(
            sa.select(ledger_entries).where(ledger_entries.c.seq.in_([a, b]))
        ).all()
    try:
        if delete:
            _raw(client, "DELETE FROM ledger_entries WHERE seq = :s", s=a)
        else:
            _raw(client, "UPDATE ledger_entries SET seq = -1 WHERE seq = :a", a=a)
            _raw(client, "UPDATE ledger_entries SET seq = :a WHERE seq = :b", a=a, b=b)
            _raw(client, "UPDATE ledger_entries SET seq = :b WHERE seq = -1", b=b)
        assert _fails(client).seq == a
    finally:
        _raw(client, "DELETE FROM ledger_entries WHERE seq IN (:a, :b, -1)", a=a, b=b)
        with client.ctx.store.write() as conn:
            conn.execute(sa.insert(ledger_entries), [dict(row._mapping) for row in saved])
    client.verify_ledger()
