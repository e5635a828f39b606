"""``govml audit``: verify the ledger, sign checkpoints, prove entries, export and attest."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer

from govml.cli.common import JSON_OPTION, client
from govml.cli.output import err_console, print_fields, print_json, print_ok, print_table
from govml.errors import InputError, IntegrityError, LedgerVerificationError

app = typer.Typer(no_args_is_help=True)  # named and described in govml.cli.main

CHECKPOINT_FILE = typer.Option(
    None,
    "--checkpoint",
    help="A signed checkpoint kept elsewhere (note, `audit checkpoint --json` output or bundle).",
    metavar="FILE",
)
KEY_FILE = typer.Option(
    None,
    "--key",
    help="Public key to trust (what `govml audit key` prints); default: this home's key.",
    metavar="FILE",
)
ALSO_WRITE = typer.Option(None, "--out", help="Also write what is printed to FILE.", metavar="FILE")
BUNDLE_OUT = typer.Option(..., "--out", help="Bundle file to write.", metavar="FILE")
SINCE_FILE = typer.Option(
    None,
    "--since",
    help="Older checkpoint to prove consistency from (default: the previous signed one).",
    metavar="FILE",
)
ENVELOPE_OUT = typer.Option(None, "--out", help="Envelope file to write.", metavar="FILE")
ARTIFACTS_OPTION = typer.Option(
    False,
    "--artifacts",
    help="Re-hash the artifact of every version (default: of versions holding an alias).",
)
LOGS_OPTION = typer.Option(
    None,
    "--logs",
    help="Also re-hash the prediction log in DIR against the ledger's log entries.",
    metavar="DIR",
)
MODEL_OPTION = typer.Option(None, "--model", help="Only entries about this model.", metavar="NAME")
VERIFY_FILE = typer.Option(
    None, "--verify", help="Verify this attestation instead.", metavar="FILE"
)


@app.command("verify")
def verify(
    ctx: typer.Context,
    checkpoint: Path | None = CHECKPOINT_FILE,
    key: Path | None = KEY_FILE,
    artifacts: bool = ARTIFACTS_OPTION,
    logs: Path | None = LOGS_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """Recompute the Merkle tree and check every record against the ledger.

    With --checkpoint, also prove that the ledger only grew since that checkpoint, whose
    signature must verify with this instance's key (or --key). The artifacts of versions
    holding an alias are re-hashed against their recorded digests (every version's with
    --artifacts). With --logs DIR, the prediction log's closed files are re-hashed against
    the ledger's log entries. Exits 1 and names the first entry or record that does not
    match, every artifact that does not, or each changed, missing or extra log file.
    """
    if key is not None and checkpoint is None:
        raise InputError("--key checks the checkpoint given with --checkpoint: give both")
    checkpoint_text = _read(checkpoint, "checkpoint")
    key_text = _read(key, "key")
    with client(ctx) as opened, _hashing(quiet=json_out) as progress:
        try:
            result = opened.verify_ledger(
                checkpoint=checkpoint_text, key=key_text, artifacts=artifacts, progress=progress
            )
            checked_logs = None if logs is None else verify_logs(opened, logs)
        except IntegrityError as exc:
            if not json_out:
                raise
            seq = exc.seq if isinstance(exc, LedgerVerificationError) else None
            print_json({"ok": False, "error": exc.message, "seq": seq})
            raise typer.Exit(exc.exit_code) from None
    if json_out:
        out = result.to_dict()
        if checked_logs is not None:
            out["logs"] = checked_logs.to_dict()
        print_json(out)
        return
    if checked_logs is not None:
        print_ok(f"prediction log: {checked_logs.checked} files match the ledger")
    print_ok(
        f"ledger verified: {result.entries} entries, {result.tree_heads} tree heads, "
        f"root {result.root_hash}"
    )
    if result.signed_checkpoints:
        print_ok(f"{result.signed_checkpoints} signed checkpoints verify and match the ledger")
    if result.checkpoint is not None:
        print_ok(
            f"the ledger extends the checkpoint at size {result.checkpoint['tree_size']} "
            f"signed by {result.checkpoint['key']}"
        )
    print_ok(
        f"records match the ledger: {result.models} models, {result.versions} versions, "
        f"{result.datasets} datasets"
    )
    if result.artifacts is not None:
        scope = "every version" if result.artifacts["scope"] == "all" else "versions with an alias"
        print_ok(
            f"artifacts match their digests: {result.artifacts['checked']} artifacts of {scope}"
            f" ({len(result.artifacts['versions'])} versions)"
        )


def verify_logs(opened: object, logs: Path) -> Any:
    """Re-hash the prediction log in ``logs`` against the ledger (a local store only)."""
    from govml.services.log_integrity import verify_log_files

    ctx = getattr(opened, "ctx", None)
    if ctx is None:
        raise InputError("--logs re-hashes a log folder on this machine: use a local store")
    return verify_log_files(ctx, logs)


@contextmanager
def _hashing(*, quiet: bool) -> Iterator[Callable[[int, int], None] | None]:
    """Show a progress bar on stderr while artifacts are re-hashed (none when piped, --json)."""
    if quiet or not err_console.is_terminal:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn

    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=err_console, transient=True) as bar:
        task = bar.add_task("re-hashing artifacts", total=None)

        def step(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield step


@app.command("checkpoint")
def checkpoint(
    ctx: typer.Context,
    json_out: bool = JSON_OPTION,
    out: Path | None = ALSO_WRITE,
) -> None:
    """Sign the latest tree head with this instance's key and print the signed checkpoint.

    The checkpoint is a C2SP signed note; keep a copy outside this store (or give one to an
    auditor) and `govml audit verify --checkpoint FILE` later proves the ledger only grew.
    """
    with client(ctx) as opened:
        result = opened.sign_checkpoint()
    text = json.dumps(result.to_dict(), indent=2) + "\n" if json_out else result.signed_note
    if out is not None:
        _write(out, text)
    print(text, end="")


@app.command("proof")
def proof(
    ctx: typer.Context,
    seq: int = typer.Argument(..., min=0, help="Entry number.", metavar="SEQ"),
    checkpoint: Path | None = CHECKPOINT_FILE,
    json_out: bool = JSON_OPTION,
) -> None:
    """Prove that entry SEQ is in the ledger, against the latest (or given) checkpoint.

    --json prints a self-contained proof bundle: the entry, its leaf hash, index, inclusion
    proof, the signed checkpoint and the public key (`tools/govml_verify.py` checks it).
    """
    with client(ctx) as opened:
        bundle = opened.ledger_proof(seq, checkpoint=_read(checkpoint, "checkpoint"))
    if json_out:
        print_json(bundle.to_json())
        return
    item = bundle.entries[0]
    size = bundle.checkpoint.split("\n", 2)[1]
    print_fields(
        f"entry {item.index} is in the ledger",
        [
            ("entry", item.entry),
            ("leaf hash", item.leaf_hash.hex()),
            ("index", item.index),
            ("tree size", size),
            ("inclusion proof", "\n".join(node.hex() for node in item.inclusion_proof) or "-"),
            ("key", bundle.public_key),
        ],
    )
    print(bundle.checkpoint, end="")


@app.command("export")
def export(
    ctx: typer.Context,
    out: Path = BUNDLE_OUT,
    model: str | None = MODEL_OPTION,
    since: Path | None = SINCE_FILE,
    json_out: bool = JSON_OPTION,
) -> None:
    """Write entries with inclusion proofs, the signed checkpoint and the public key to FILE.

    The bundle covers entries up to the latest signed checkpoint and is verifiable offline:
    `python tools/govml_verify.py FILE --key KEY`.
    """
    with client(ctx) as opened:
        result = opened.export_ledger(model=model, since=_read(since, "checkpoint"))
    _write(out, json.dumps(result.bundle.to_json(), indent=2) + "\n")
    summary = {
        "out": str(out),
        "entries": len(result.bundle.entries),
        "tree_size": result.tree_size,
        "consistency": result.bundle.consistency is not None,
        "uncovered": result.uncovered,
    }
    if json_out:
        print_json(summary)
        return
    print_ok(
        f"wrote {summary['entries']} entries with proofs against the checkpoint at size "
        f"{result.tree_size} to {out}"
    )
    if result.uncovered:
        print_ok(
            f"{result.uncovered} newer entries are not covered yet: run `govml audit checkpoint`"
            " first to include them"
        )


@app.command("attest")
def attest(
    ctx: typer.Context,
    ref: str | None = typer.Argument(None, help="NAME@VERSION to attest.", metavar="NAME@VERSION"),
    out: Path | None = ENVELOPE_OUT,
    verify_file: Path | None = VERIFY_FILE,
    key: Path | None = KEY_FILE,
    json_out: bool = JSON_OPTION,
) -> None:
    """Write an in-toto attestation (DSSE-signed) whose subject is the version's artifact digest.

    With --verify FILE, check an attestation: its signature, its statement, and its ledger
    entry's inclusion proof against the signed checkpoint it carries.
    """
    if (ref is None) == (verify_file is None):
        raise InputError("give either NAME@VERSION (with --out) or --verify FILE")
    if verify_file is not None:
        with client(ctx) as opened:
            report = opened.verify_attestation(
                _read(verify_file, "attestation") or "", key=_read(key, "key")
            )
        if json_out:
            print_json(
                {
                    "ok": True,
                    "subject": report.subject,
                    "sha256": report.sha256,
                    "key": report.key.label,
                    "ledger_entry": report.entry_index,
                    "tree_size": report.tree_size,
                }
            )
            return
        print_ok(f"signed by {report.key.label}")
        print_ok(f"subject {report.subject}, sha256:{report.sha256}")
        print_ok(
            f"registered in ledger entry {report.entry_index}, proven against the signed "
            f"checkpoint at size {report.tree_size}"
        )
        return
    if out is None:
        raise InputError("give --out FILE for the attestation")
    assert ref is not None
    with client(ctx) as opened:
        envelope = opened.attest(ref)
    _write(out, json.dumps(envelope, indent=2) + "\n")
    if json_out:
        print_json({"out": str(out), "subject": ref, "payloadType": envelope["payloadType"]})
        return
    print_ok(f"wrote the attestation of {ref} to {out}")


@app.command("key")
def key(ctx: typer.Context, json_out: bool = JSON_OPTION) -> None:
    """Print this instance's public ledger key: the signed-note verifier key, then PEM."""
    with client(ctx) as opened:
        info = opened.ledger_key()
    if json_out:
        print_json(info.to_dict())
        return
    print(info.verifier_key)
    print(info.pem, end="")


@app.command("log")
def log(
    ctx: typer.Context,
    model: str | None = MODEL_OPTION,
    action: str | None = typer.Option(
        None, "--action", help="Only this action (model.created, ...).", metavar="ACTION"
    ),
    limit: int | None = typer.Option(
        None, "--limit", min=1, help="Only the newest N entries.", metavar="N"
    ),
    json_out: bool = JSON_OPTION,
) -> None:
    """List ledger entries, oldest first."""
    with client(ctx) as opened:
        entries = opened.audit_log(model=model, action=action, limit=limit)
    if json_out:
        print_json([e.to_dict() for e in entries])
        return
    print_table(
        "ledger",
        ["seq", "time", "actor", "action", "subject", "details"],
        [
            (
                e.seq,
                e.time[:19].replace("T", " "),
                e.actor,
                e.action,
                e.subject,
                _details(e.payload),
            )
            for e in entries
        ],
    )


def _details(payload: dict[str, object]) -> str:
    text = json.dumps(payload, sort_keys=True)
    return text if len(text) <= 60 else text[:59] + "…"


def _read(path: Path | None, what: str) -> str | None:
    if path is None:
        return None
    try:
        return path.read_text(encoding="utf-8")
    except OSError as error:
        raise InputError(f"cannot read the {what} file {path}: {error.strerror}") from None
    except UnicodeDecodeError:
        if what == "key":
            raise InputError(f"the key file {path} is not UTF-8 text") from None
        raise LedgerVerificationError(f"the {what} file {path} is not UTF-8 text") from None


def _write(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as error:
        raise InputError(f"cannot write {path}: {error.strerror}") from None
