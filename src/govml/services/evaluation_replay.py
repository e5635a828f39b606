"""Replay of the ``evaluation.recorded`` entries against the stored evaluations.

Kept apart from `govml.services.evaluation` so that `audit verify` does not import the
evaluation machinery (metrics, scipy, pandas) to compare digests.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy.engine import Connection

from govml.errors import IntegrityError
from govml.store import evaluation_records as rows
from govml.store.ledger import iter_entries

RECORDED = "evaluation.recorded"


def document_digest(text: str) -> str:
    """Return the digest an evaluation's ledger entry records for its document."""
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def verify_evaluation_records(conn: Connection) -> int:
    """Check every stored evaluation against its ``evaluation.recorded`` ledger entry.

    Returns the number of evaluations.

    Raises
    ------
    IntegrityError
        Naming the first evaluation whose document, status or digests differ from the
        ledger, or that is missing on either side.
    """
    expected: dict[int, dict[str, Any]] = {}
    for entry in iter_entries(conn, action=RECORDED):
        expected[int(entry.payload["id"])] = {**entry.payload, "seq": entry.seq}
    count = 0
    for row in rows.iter_all(conn):
        count += 1
        recorded = expected.pop(row.id, None)
        what = f"evaluation {row.id}"
        if recorded is None:
            raise IntegrityError(f"{what} has no {RECORDED} ledger entry")
        seq = recorded["seq"]
        actual = document_digest(row.document)
        for part, value, wanted in (
            ("document hashes to", actual, recorded["document_digest"]),
            ("recorded digest is", row.document_digest, recorded["document_digest"]),
            ("status is", row.status, recorded["status"]),
            ("policy digest is", row.policy_digest, recorded["policy_digest"]),
            ("data digest is", row.data_digest, recorded["data_digest"]),
        ):
            if value != wanted:
                raise IntegrityError(
                    f"{what} was changed after it was recorded: its {part} {value}, "
                    f"ledger entry {seq} says {wanted}"
                )
        try:
            document = json.loads(row.document)
        except ValueError:
            raise IntegrityError(f"{what}: the stored document is not JSON") from None
        if document.get("status") != row.status or document.get("id") != row.id:
            raise IntegrityError(f"{what}: the document disagrees with its row")
    if expected:
        missing = min(expected)
        raise IntegrityError(
            f"evaluation {missing} is in the ledger (entry {expected[missing]['seq']}) "
            "but missing from the database"
        )
    return count
