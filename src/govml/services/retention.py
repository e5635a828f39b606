"""Keeping the prediction log lawfully: purge past retention, erase one data subject.

* `RetentionService.purge` removes whole date partitions (predictions, feedback, events) of a
  model older than the policy's ``retention.days``.
* `RetentionService.erase` removes the rows of one data subject (found by the policy's
  ``retention.subject_key`` fields in the log's ``subject`` column, pseudonymised values
  matched with ``GOVML_LOG_PSEUDONYM_KEY``) and the labels sent for those requests: each
  affected Parquet file is rewritten as a new file without those rows, and the old one is
  removed.

Both need an admin or a risk officer, work on a log folder on this machine, and write one
ledger entry (``log.purged``, ``log.erased``) that records what was removed by count and by
SHA-256 of the files (old digest and new digest, with the reason), never the personal data
itself: not the subject's key, not even hashed.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from govml.domain.lifecycle import Permission, Role
from govml.errors import ForbiddenError, InputError, ValidationError
from govml.services.access import authorize
from govml.services.context import ServiceContext
from govml.services.registry import model_subject
from govml.store import records
from govml.store.ledger import NewEntry, append

ERR_ROLE = "{actor} ({held}) may not {verb} the prediction log: that needs admin or risk_officer"
ERR_NO_DAYS = (
    "no retention period for {model}: the policy in force for its tier has no retention.days "
    "(or give --days)"
)
ERR_NO_SUBJECT_KEY = (
    "the policy in force for {model} declares no retention.subject_key: which fields "
    "identify a person is not known"
)
ERR_UNKNOWN_FIELD = "{name!r} is not one of the policy's subject_key fields ({fields})"
ERR_FOLDER = "no prediction log of {model} in {folder}"
ERR_NOT_FOLDER = "log_dir: {folder} is not a folder (give the gateway's --log-dir)"
ERR_REASON = "reason: an erasure needs a reason (1 to 2000 characters)"
ERR_KEY = "the policy pseudonymises {name}; set GOVML_LOG_PSEUDONYM_KEY to the key the gateways use"


def file_digest(path: Path) -> str:
    """Return ``sha256:<hex>`` of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return "sha256:" + digest.hexdigest()


def log_files(root: Path, model: str) -> Iterator[tuple[str, Path]]:
    """Yield ``(kind, path)`` of a model's closed log files (predictions, feedback, events)."""
    base = root / f"model={model}"
    for path in sorted(base.glob("*/date=*/*.parquet")):
        if path.name.startswith("."):
            continue
        part = path.parent.parent.name
        kind = "predictions" if part.startswith("version=") else part
        yield kind, path


def _day(path: Path) -> date:
    return date.fromisoformat(path.parent.name.removeprefix("date="))


@dataclass
class Removal:
    """What a purge or an erasure removed (and wrote), for the ledger and the caller."""

    model: str
    files: list[dict[str, Any]] = field(default_factory=list)
    rows: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dictionary."""
        return {"model": self.model, "rows": self.rows, "files": list(self.files)}


class RetentionService:
    """Purge and erasure of a model's prediction log in a local folder."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def retention(self, model: str) -> Any:
        """Return the retention section of the policy in force for ``model``, or None."""
        from govml.services.policy import PolicyService

        with self.ctx.store.read() as conn:
            found = records.load_model(conn, model)
        tier = getattr(found.risk_tier, "value", found.risk_tier)
        stored = PolicyService(self.ctx).for_tier(str(tier))
        return None if stored is None else stored.policy.retention

    def _check_role(self, conn: Any, verb: str) -> None:
        user = authorize(conn, self.ctx, Permission.READ)
        if Permission.ADMINISTER not in user.permissions() and Role.RISK_OFFICER not in user.roles:
            held = ", ".join(role.value for role in user.roles) or "no role"
            raise ForbiddenError(ERR_ROLE.format(actor=self.ctx.actor, held=held, verb=verb))

    def purge(
        self, model: str, log_dir: Path, *, days: int | None = None, dry_run: bool = False
    ) -> Removal:
        """Remove the model's date partitions older than the retention period.

        ``days`` defaults to the policy's ``retention.days``. With ``dry_run`` nothing is
        removed or ledgered; the answer lists what would be.
        """
        retention = self.retention(model)
        period = days if days is not None else getattr(retention, "days", None)
        if period is None or period < 1:
            raise ValidationError(ERR_NO_DAYS.format(model=model))
        if not Path(log_dir).is_dir():
            raise InputError(ERR_NOT_FOLDER.format(folder=os.fspath(log_dir)))
        if not dry_run:
            with self.ctx.store.read() as conn:
                self._check_role(conn, "purge")
        today = self.ctx.clock().date()
        cutoff = today - timedelta(days=period)
        removal = Removal(model)
        doomed = [(kind, path) for kind, path in log_files(log_dir, model) if _day(path) < cutoff]
        for kind, path in doomed:
            removal.files.append(
                {
                    "kind": kind,
                    "path": str(path.relative_to(log_dir)),
                    "old": file_digest(path),
                    "new": None,
                    "rows": _rows(path),
                }
            )
        removal.rows = sum(item["rows"] for item in removal.files)
        if dry_run or not doomed:
            return removal
        with self.ctx.store.write() as conn:
            self._check_role(conn, "purge")
            for _, path in doomed:
                path.unlink()
                sent = path.with_name(f".{path.name}.sent")
                if sent.exists():
                    sent.unlink()
            payload = {
                "model": model,
                "before": cutoff.isoformat(),
                "days": period,
                "rows": removal.rows,
                "files": removal.files,
                "reason": f"retention: older than {period} days",
            }
            append(
                conn,
                actor=self.ctx.actor,
                now=self.ctx.clock(),
                entries=[
                    NewEntry(action="log.purged", subject=model_subject(model), payload=payload)
                ],
            )
        for _, path in doomed:
            _remove_empty(path.parent)
        return removal

    def erase(
        self, model: str, log_dir: Path, subject: Mapping[str, str], *, reason: str
    ) -> Removal:
        """Remove every logged row of one data subject, and the labels of their requests.

        Raises
        ------
        ValidationError
            When the policy declares no subject key, a field is not one of them, or the reason
            is missing.
        InputError
            When the folder holds no log of the model.
        """
        from govml.serving.privacy import pseudonym_key

        text = (reason or "").strip()
        if not 0 < len(text) <= 2000:
            raise ValidationError(ERR_REASON)
        retention = self.retention(model)
        declared = [] if retention is None else list(retention.subject_key)
        if not declared:
            raise ValidationError(ERR_NO_SUBJECT_KEY.format(model=model))
        for name in subject:
            if name not in declared:
                raise ValidationError(
                    ERR_UNKNOWN_FIELD.format(name=name, fields=", ".join(declared))
                )
        with self.ctx.store.read() as conn:
            self._check_role(conn, "erase rows of")
        key = pseudonym_key()
        hidden = set(retention.pseudonymise) & set(subject)
        if hidden and key is None:
            raise ValidationError(ERR_KEY.format(name=", ".join(sorted(hidden))))
        files = list(log_files(log_dir, model))
        if not files:
            raise InputError(ERR_FOLDER.format(model=model, folder=os.fspath(log_dir)))
        with self.ctx.store.write() as conn:
            self._check_role(conn, "erase rows of")
            removal = Removal(model)
            requests: set[str] = set()
            for kind, path in files:
                if kind == "predictions":
                    requests |= _erase_subject(path, subject, key, log_dir, removal)
            for kind, path in files:
                if kind == "feedback" and requests:
                    _erase_requests(path, requests, log_dir, removal)
            if removal.files:
                payload = {
                    "model": model,
                    "rows": removal.rows,
                    "files": removal.files,
                    "reason": text,
                }
                append(
                    conn,
                    actor=self.ctx.actor,
                    now=self.ctx.clock(),
                    entries=[
                        NewEntry(action="log.erased", subject=model_subject(model), payload=payload)
                    ],
                )
        return removal


def _rows(path: Path) -> int:
    import pyarrow.parquet as pq

    return int(pq.ParquetFile(path).metadata.num_rows)


def _remove_empty(folder: Path) -> None:
    try:
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
    except OSError:
        pass


def _rewrite(path: Path, keep: Any, log_dir: Path, removal: Removal, kind: str) -> None:
    """Write the kept rows to a new file (or none when no row is left), remove the old one."""
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    kept = table.filter(keep)
    removed = table.num_rows - kept.num_rows
    if removed == 0:
        return
    old = file_digest(path)
    new_path: Path | None = None
    if kept.num_rows:
        new_path = path.with_name(f"part-{uuid.uuid4().hex}.parquet")
        temporary = path.with_name(f".{new_path.name}.tmp")
        pq.write_table(kept, temporary)
        temporary.replace(new_path)
    path.unlink()
    sent = path.with_name(f".{path.name}.sent")
    if sent.exists():
        sent.unlink()
    removal.rows += removed
    removal.files.append(
        {
            "kind": kind,
            "path": str(path.relative_to(log_dir)),
            "old": old,
            "new": None if new_path is None else file_digest(new_path),
            "new_path": None if new_path is None else str(new_path.relative_to(log_dir)),
            "rows": removed,
        }
    )


def _erase_subject(
    path: Path, subject: Mapping[str, str], key: bytes | None, log_dir: Path, removal: Removal
) -> set[str]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from govml.serving.privacy import subject_matches

    schema = pq.read_schema(path)
    if "subject" not in schema.names:
        return set()
    table = pq.read_table(path, columns=["request_id", "subject"])
    matched = [subject_matches(text, subject, key) for text in table.column("subject").to_pylist()]
    if not any(matched):
        return set()
    ids = table.column("request_id").to_pylist()
    requests = {rid for rid, hit in zip(ids, matched, strict=True) if hit}
    _rewrite(path, pa.array([not hit for hit in matched]), log_dir, removal, "predictions")
    return requests


def _erase_requests(path: Path, requests: set[str], log_dir: Path, removal: Removal) -> None:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    ids = pq.read_table(path, columns=["request_id"]).column("request_id")
    hit = pc.is_in(ids, value_set=pa.array(sorted(requests), type=pa.string()))
    if not pc.any(hit).as_py():
        return
    _rewrite(path, pc.invert(hit), log_dir, removal, "feedback")
