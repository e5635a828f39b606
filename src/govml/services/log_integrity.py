"""Integrity of the prediction log: every closed file named by its SHA-256 in the ledger.

A gateway reports each batch of files it closed (one ``log.files_closed`` entry per batch:
path under the log folder, SHA-256, rows). Erasure (``log.erased``: old digest to new digest)
and purge (``log.purged``) entries say which files changed and why. `verify_log_files` replays
those entries for a log folder and re-hashes the files there: a file whose bytes changed, a
file the ledger names that is gone, and a file the ledger does not know are each named.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Connection

from govml.errors import IntegrityError, ValidationError
from govml.services.context import ServiceContext
from govml.services.registry import model_subject
from govml.services.retention import file_digest
from govml.store import records
from govml.store.ledger import NewEntry, append, iter_entries

ACTIONS = ("log.files_closed", "log.erased", "log.purged")
MAX_FILES = 10_000
ERR_PATH = "log file path {path!r} must be relative, under model={model}/"


@dataclass
class LogCheck:
    """What `verify_log_files` found in a log folder."""

    checked: int = 0
    changed: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether every file matches the ledger."""
        return not (self.changed or self.missing or self.extra)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dictionary."""
        return {
            "ok": self.ok,
            "checked": self.checked,
            "changed": self.changed,
            "missing": self.missing,
            "extra": self.extra,
        }

    def message(self) -> str:
        """Say what does not match, naming the files."""
        parts = []
        if self.changed:
            parts.append("changed since the ledger named them: " + ", ".join(self.changed))
        if self.missing:
            parts.append("named by the ledger but missing: " + ", ".join(self.missing))
        if self.extra:
            parts.append("not named by the ledger: " + ", ".join(self.extra))
        return "prediction log files do not match the ledger; " + "; ".join(parts)


class LogIntegrityService:
    """Records the files a gateway closed."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def record_files(self, model: str, files: Sequence[dict[str, Any]]) -> int:
        """Write one ``log.files_closed`` entry naming ``files`` (path, sha256, rows, kind)."""
        if not files:
            return 0
        listed = []
        for item in files[:MAX_FILES]:
            path = str(item["path"])
            if (
                path.startswith("/")
                or ".." in Path(path).parts
                or not path.startswith(f"model={model}/")
            ):
                raise ValidationError(ERR_PATH.format(path=path[:200], model=model))
            listed.append({"path": path, "sha256": str(item["sha256"]), "rows": int(item["rows"])})
        with self.ctx.store.write() as conn:
            records.model_id(conn, model)
            append(
                conn,
                actor=self.ctx.actor,
                now=self.ctx.clock(),
                entries=[
                    NewEntry(
                        action="log.files_closed",
                        subject=model_subject(model),
                        payload={"model": model, "files": listed},
                    )
                ],
            )
        return len(listed)


def expected_files(conn: Connection, model: str | None = None) -> dict[str, tuple[str, int]]:
    """Replay the log entries: each file the ledger says is there, with its digest and entry."""
    expected: dict[str, tuple[str, int]] = {}
    # A gateway ledgers a closed file a moment after writing it, so an erasure or purge may
    # name a file before its log.files_closed entry does: that later entry, for the same
    # bytes, does not bring the file back.
    gone: dict[str, str] = {}
    for entry in iter_entries(conn, actions=ACTIONS):
        payload = entry.payload
        if model is not None and payload.get("model") != model:
            continue
        if entry.action == "log.files_closed":
            for item in payload["files"]:
                if gone.get(item["path"]) != item["sha256"]:
                    expected[item["path"]] = (item["sha256"], entry.seq)
            continue
        for item in payload["files"]:
            expected.pop(item["path"], None)
            gone[item["path"]] = item["old"]
            if item.get("new_path"):
                expected[item["new_path"]] = (item["new"], entry.seq)
    return expected


def verify_log_files(ctx: ServiceContext, root: Path, model: str | None = None) -> LogCheck:
    """Re-hash the log folder's closed files against the ledger.

    Raises
    ------
    IntegrityError
        Naming each changed, missing and extra file.
    """
    with ctx.store.read() as conn:
        expected = expected_files(conn, model)
    check = LogCheck()
    pattern = f"model={model}/*/date=*/*.parquet" if model else "model=*/*/date=*/*.parquet"
    present = {
        str(path.relative_to(root)): path
        for path in sorted(root.glob(pattern))
        if not path.name.startswith(".")
    }
    for name, path in present.items():
        check.checked += 1
        known = expected.get(name)
        if known is None:
            check.extra.append(name)
        elif file_digest(path) != known[0]:
            check.changed.append(f"{name} (ledger entry {known[1]})")
    for name, (_, seq) in expected.items():
        if name not in present:
            check.missing.append(f"{name} (ledger entry {seq})")
    if not check.ok:
        raise IntegrityError(check.message())
    return check
